// ThreadTeam (thread-team.h): an epoch counter starts a run, a done counter ends it, a counting barrier with a
// round number serves sync(). Waits spin with `pause`; past kSpinMicros they yield the core (a loaded machine
// may have descheduled the thread being waited for), and an idle worker sleeps on a condition variable.
#include "engine/thread-team.h"

#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace r1::engine {

namespace {

constexpr int64_t kSpinMicros = 50;    // spin, then yield, in sync() and while the caller waits for workers
constexpr int64_t kIdleMicros = 1000;  // an idle worker spins this long for the next run, then sleeps

inline void relax() {
#if defined(__x86_64__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until done() holds; after spin_us microseconds, yields between checks (or returns false when
// give_up, so the caller can sleep instead).
template <typename Done>
bool spin_until(Done done, int64_t spin_us, bool give_up) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  bool yielding = false;
  for (uint64_t i = 1;; ++i) {
    if (done()) return true;
    if (yielding) {
      std::this_thread::yield();
    } else {
      relax();
      if (i % 256 == 0 && Clock::now() - start > std::chrono::microseconds(spin_us)) {
        if (give_up) return false;
        yielding = true;
      }
    }
  }
}

}  // namespace

ThreadTeam& ThreadTeam::global() {
  static ThreadTeam team;
  return team;
}

ThreadTeam::~ThreadTeam() {
  stop_.store(true);
  {
    std::lock_guard<std::mutex> lock(sleep_mutex_);
    wake_.notify_all();
  }
  for (std::thread& t : workers_) t.join();
}

void ThreadTeam::worker(int64_t tid, uint64_t seen) {
  for (;;) {
    auto started = [&] { return epoch_.load(std::memory_order_acquire) != seen || stop_.load(); };
    if (!spin_until(started, kIdleMicros, /*give_up=*/true)) {
      std::unique_lock<std::mutex> lock(sleep_mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, started);
      sleepers_.fetch_sub(1);
    }
    if (stop_.load()) return;
    seen = epoch_.load(std::memory_order_acquire);
    if (tid < threads_) (*task_)(tid, threads_);
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadTeam::run(int64_t threads, const Task& fn) {
  std::unique_lock<std::mutex> lock(run_mutex_, std::try_to_lock);
  if (threads <= 1 || !lock.owns_lock()) {
    fn(0, 1);
    return;
  }
  while (int64_t(workers_.size()) < threads - 1) {
    const int64_t tid = int64_t(workers_.size()) + 1;
    const uint64_t seen = epoch_.load();
    workers_.emplace_back([this, tid, seen] { worker(tid, seen); });
  }
  task_ = &fn;
  threads_ = threads;
  done_.store(0);
  arrived_.store(0);
  epoch_.fetch_add(1);  // seq_cst, as the sleepers_ read below: a sleeping worker is either seen or sees it
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> sleep_lock(sleep_mutex_);
    wake_.notify_all();
  }
  fn(0, threads);
  const int64_t workers = int64_t(workers_.size());
  spin_until([&] { return done_.load(std::memory_order_acquire) == workers; }, kSpinMicros, false);
  task_ = nullptr;
}

void ThreadTeam::sync(int64_t threads) {
  if (threads <= 1) return;
  const uint64_t round = round_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads) {
    arrived_.store(0, std::memory_order_relaxed);
    round_.store(round + 1, std::memory_order_release);
    return;
  }
  spin_until([&] { return round_.load(std::memory_order_acquire) != round; }, kSpinMicros, false);
}

}  // namespace r1::engine
