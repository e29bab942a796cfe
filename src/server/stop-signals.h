// Clean shutdown on SIGINT / SIGTERM for the long-running servers (`r1 serve`, `r1 dashboard`): the handler only
// writes a byte to a self-pipe, and a watcher thread calls `stop` (so stop never runs inside a signal handler,
// whichever thread the signal lands on); a second signal exits at once, so a stop that hangs can be cut short.
// One StopOnSignals at a time in a process.
#pragma once

#include <functional>
#include <thread>

namespace r1::server {

class StopOnSignals {
 public:
  // Installs the handlers and starts the watcher.
  explicit StopOnSignals(std::function<void()> stop);
  // Without a signal so far, calls `stop` too (the server is being left: an error while starting it); joins the
  // watcher and restores the previous handlers.
  ~StopOnSignals();
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  std::function<void()> stop_;
  std::thread watcher_;
};

}  // namespace r1::server
