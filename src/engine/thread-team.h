// ThreadTeam: a persistent team of worker threads for the decode step, so one step costs one wake-up instead
// of one OpenMP fork/join per kernel. run(threads, fn) calls fn(tid, threads) on the caller (tid 0) and on
// threads - 1 workers and returns when all have returned; inside fn, sync() is a barrier that spins (a step
// has ~30 of them between a few microseconds of work each, where a sleeping wait costs tens of microseconds).
// Workers spin for a short while after each run (the next decode step follows within microseconds), then
// sleep on a condition variable. Not OpenMP: OMP_WAIT_POLICY=PASSIVE (which the bench and users set for
// OpenBLAS's sake) makes every OpenMP barrier a futex sleep.
// One run at a time: a run() that finds the team busy (another thread's step) runs fn(0, 1) on its caller.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace r1::engine {

class ThreadTeam {
 public:
  static ThreadTeam& global();  // the process's team (workers start on first use)
  ~ThreadTeam();

  using Task = std::function<void(int64_t tid, int64_t threads)>;
  // fn(tid, threads) for tid in [0, threads); threads <= 1 (or a busy team) runs fn(0, 1) inline. fn must not
  // throw. Inside fn, sync(threads) returns once every thread of the run has called it (all must call it
  // equally often; a no-op when threads == 1).
  void run(int64_t threads, const Task& fn);
  void sync(int64_t threads);

 private:
  void worker(int64_t tid, uint64_t seen);

  static constexpr size_t kLine = 64;
  std::mutex run_mutex_;  // one run at a time
  std::vector<std::thread> workers_;
  const Task* task_ = nullptr;
  int64_t threads_ = 1;
  alignas(kLine) std::atomic<uint64_t> epoch_{0};  // bumped by run() to start the workers
  alignas(kLine) std::atomic<int64_t> done_{0};    // workers finished with this run
  alignas(kLine) std::atomic<int64_t> arrived_{0};  // barrier: threads arrived in this round
  alignas(kLine) std::atomic<uint64_t> round_{0};   // barrier: completed rounds
  alignas(kLine) std::atomic<int64_t> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
};

// The [begin, end) share of n items that thread tid of `threads` takes (contiguous, sizes differ by <= 1).
inline std::pair<int64_t, int64_t> share(int64_t n, int64_t tid, int64_t threads) {
  return {n * tid / threads, n * (tid + 1) / threads};
}

}  // namespace r1::engine
