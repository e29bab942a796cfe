// ThreadTeam: persistent helper threads for the decode step's parallel phases (dozens per step, each a few
// microseconds of work), so a phase costs a cache-line handoff instead of an OpenMP fork/join (with
// OMP_WAIT_POLICY=PASSIVE, which the bench and users set for OpenBLAS's sake, every OpenMP region and barrier
// is a futex sleep and wake-up). parallel(items, threads, fn) runs fn(i) for every item on the caller and on
// up to threads - 1 helpers; items are claimed one at a time from a shared counter, so a helper that a busy
// machine has descheduled holds up at most the item it has claimed: the caller takes the rest (a barrier
// would wait for it). Helpers spin for a while after each phase (the next one follows within microseconds),
// then sleep on a condition variable. A nested call, or one made while another thread's phase runs, runs
// its items inline on its caller.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace r1::kernels {

class ThreadTeam {
 public:
  static ThreadTeam& global();  // the process's team (helpers start on first use)
  ~ThreadTeam();

  using Task = std::function<void(int64_t item)>;
  // fn(i) for i in [0, items), each once, on the caller and up to threads - 1 helpers; returns when all have
  // returned. fn must not throw.
  void parallel(int64_t items, int64_t threads, const Task& fn);

 private:
  void helper(int64_t id);
  // Claims and runs items of the phase whose claim word has sequence number `seq` until none is left.
  void work(uint64_t seq);

  static constexpr size_t kLine = 64;
  std::vector<std::thread> helpers_;
  std::atomic<bool> busy_{false};  // a phase is running (nested or concurrent calls run inline)
  std::atomic<const Task*> task_{nullptr};
  // claim word: phase sequence (bits 40-63) | items (bits 20-39) | next unclaimed item (bits 0-19)
  alignas(kLine) std::atomic<uint64_t> claim_{0};
  alignas(kLine) std::atomic<int64_t> done_{0};  // items finished in this phase
  alignas(kLine) std::atomic<int64_t> helpers_wanted_{0};
  std::atomic<int64_t> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
};

// The [begin, end) share of n items that part `part` of `parts` takes (contiguous, sizes differ by <= 1).
inline std::pair<int64_t, int64_t> share(int64_t n, int64_t part, int64_t parts) {
  return {n * part / parts, n * (part + 1) / parts};
}

}  // namespace r1::kernels
