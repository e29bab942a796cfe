// A terminal progress bar on stderr ("label [#####.....] 1200/30000 3.1s ETA 12s"), redrawn at most 10 times
// a second, drawn only when stderr is a terminal (logs and CI stay clean). Thread-safe updates.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace r1 {

class Progress {
 public:
  Progress(std::string label, uint64_t total, bool enabled = true);
  ~Progress();
  void add(uint64_t n = 1);
  void set(uint64_t done);
  void set_total(uint64_t total);
  void finish();  // draws the final state and a newline

 private:
  void draw(bool force);
  std::string label_;
  std::atomic<uint64_t> done_{0}, total_;
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mutex_;
};

}  // namespace r1
