// The engine thread and the per-request event channels (see engine-thread.h). Invariant: a request id is in
// live_ from submit() until its kDone event; the engine is stepped only on this thread, and no engine call
// is made while mu_ is held (the engine's callbacks take mu_, so holding it around submit could deadlock).
#include "server/engine-thread.h"

#include <fmt/format.h>

#include <algorithm>

#include "r1/error.h"

namespace r1::server {

void EventChannel::push(ChannelEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
  }
  cv_.notify_one();
}

bool EventChannel::pop(ChannelEvent& out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  out = std::move(events_.front());
  events_.pop_front();
  return true;
}

EngineThread::EngineThread(engine::Engine& engine) : engine_(engine), thread_([this] { loop(); }) {}

EngineThread::~EngineThread() { stop(); }

uint64_t EngineThread::submit(engine::Request request, std::shared_ptr<EventChannel> channel, int32_t prompt) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) fail("the server is shutting down");
  }
  auto on_event = [this, channel, prompt](const engine::Event& e) {
    ChannelEvent out;
    out.prompt = prompt;
    out.sample = e.sample;
    switch (e.kind) {
      case engine::Event::Kind::kToken:
        out.kind = ChannelEvent::Kind::kToken;
        out.token = e.token;
        out.logprob = e.logprob;
        out.top_logprobs = e.top_logprobs;
        break;
      case engine::Event::Kind::kFinished:
        out.kind = ChannelEvent::Kind::kFinished;
        out.finish_reason = e.finish_reason;
        if (e.finish_reason == engine::FinishReason::kCancelled) ++cancelled_samples_;
        break;
      case engine::Event::Kind::kDone: {
        out.kind = ChannelEvent::Kind::kDone;
        if (e.result) out.result = *e.result;
        std::lock_guard<std::mutex> lock(mu_);
        auto it = std::find_if(live_.begin(), live_.end(), [&](const auto& l) { return l.first == e.request_id; });
        if (it != live_.end())
          live_.erase(it);
        else
          finished_early_.insert(e.request_id);
        break;
      }
    }
    channel->push(std::move(out));
  };
  uint64_t id = engine_.submit(std::move(request), on_event);
  bool orphaned = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    orphaned = loop_done_;  // stop() finished between the check above and the engine's submit
    if (!orphaned && !finished_early_.erase(id)) live_.emplace_back(id, channel);
    ++submitted_;
  }
  if (orphaned) {
    engine_.cancel(id);
    fail("the server is shutting down");
  }
  cv_.notify_one();
  return id;
}

void EngineThread::cancel(uint64_t id) {
  bool live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    live = std::any_of(live_.begin(), live_.end(), [&](const auto& l) { return l.first == id; });
    ++submitted_;  // wake the loop so the cancellation is stepped even if it was idle
  }
  if (live) engine_.cancel(id);
  cv_.notify_one();
}

size_t EngineThread::live_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

void EngineThread::stop() {
  std::vector<uint64_t> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    for (const auto& l : live_) ids.push_back(l.first);
  }
  for (uint64_t id : ids) engine_.cancel(id);
  cv_.notify_one();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void EngineThread::fail_all(const std::string& message) {
  std::vector<std::pair<uint64_t, std::shared_ptr<EventChannel>>> failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failed.swap(live_);
  }
  for (auto& [id, channel] : failed) {
    ChannelEvent e;
    e.kind = ChannelEvent::Kind::kError;
    e.error = message;
    channel->push(std::move(e));
    try {
      engine_.cancel(id);
    } catch (const std::exception&) {
      // the engine is already failing; the request is reported as failed either way
    }
  }
}

void EngineThread::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || submitted_ != seen_; });
      seen_ = submitted_;
    }
    bool stepped = false;
    try {
      while (engine_.step()) stepped = true;
    } catch (const std::exception& e) {
      fail_all(fmt::format("generation failed: {}", e.what()));
      // drain what the engine still holds (the cancellations above) so it is left clean
      try {
        while (engine_.step()) {
        }
      } catch (const std::exception&) {
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && (live_.empty() || !stepped)) {
      if (!live_.empty()) {
        std::vector<std::pair<uint64_t, std::shared_ptr<EventChannel>>> left;
        left.swap(live_);
        for (auto& [id, channel] : left) {
          ChannelEvent e;
          e.kind = ChannelEvent::Kind::kError;
          e.error = "the server is shutting down";
          channel->push(std::move(e));
        }
      }
      loop_done_ = true;
      return;
    }
  }
}

}  // namespace r1::server
