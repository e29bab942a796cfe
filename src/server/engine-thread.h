// EngineThread: the server's one thread that steps the engine (the engine schedules; this thread only drives
// it). HTTP threads submit native engine requests; this thread runs Engine::step() while any request is live, so
// concurrent requests are decoded together (continuous batching, as vLLM's engine loop / llama-server's slot loop).
// Engine events are copied into a per-request EventChannel that the submitting HTTP thread waits on. A client that goes
// away cancels its request. Not here: JSON (protocol.h) and text (text-output.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "r1/engine.h"

namespace r1::server {

// An engine event, owned (engine::Event's result pointer is valid only during the callback).
struct ChannelEvent {
  enum class Kind { kToken, kFinished, kDone, kError };
  Kind kind = Kind::kToken;
  int32_t prompt = 0;  // which of the HTTP request's prompts (completions may batch several)
  int32_t sample = 0;
  int32_t token = 0;
  float logprob = 0;
  std::vector<engine::TokenLogprob> top_logprobs;
  engine::FinishReason finish_reason = engine::FinishReason::kLength;
  std::optional<engine::Result> result;  // kDone
  std::string error;                     // kError: the engine failed while running this request
};

// A many-producer, one-consumer queue of events for one HTTP request.
class EventChannel {
 public:
  void push(ChannelEvent event);
  // Waits up to `timeout` for an event; false if none came.
  bool pop(ChannelEvent& out, std::chrono::milliseconds timeout);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ChannelEvent> events_;
};

class EngineThread {
 public:
  explicit EngineThread(engine::Engine& engine);
  ~EngineThread();  // stop()
  EngineThread(const EngineThread&) = delete;
  EngineThread& operator=(const EngineThread&) = delete;

  // Submits a request whose events go to `channel`, tagged with `prompt`. Returns the engine's id.
  // Throws r1::Error if the engine rejects it or the thread is stopping.
  uint64_t submit(engine::Request request, std::shared_ptr<EventChannel> channel, int32_t prompt);
  void cancel(uint64_t id);
  // Cancels every live request, lets the engine finish them (their channels get kDone), joins the thread.
  void stop();
  size_t live_requests() const;
  int64_t cancelled_samples() const { return cancelled_samples_.load(); }  // finished with kCancelled so far

 private:
  void loop();
  void fail_all(const std::string& message);

  engine::Engine& engine_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool loop_done_ = false;             // the loop has returned: nothing submitted now would ever be stepped
  uint64_t submitted_ = 0, seen_ = 0;  // submissions, and those the loop has woken up for
  // Live request ids and their channels; ids that finished before submit() recorded them (the loop may
  // deliver kDone before submit returns) are kept in finished_early_ so they are never recorded as live.
  std::vector<std::pair<uint64_t, std::shared_ptr<EventChannel>>> live_;
  std::set<uint64_t> finished_early_;
  std::atomic<int64_t> cancelled_samples_{0};
  std::thread thread_;
};

}  // namespace r1::server
