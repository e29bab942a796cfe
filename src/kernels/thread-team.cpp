// ThreadTeam (thread-team.h): one atomic claim word per phase carries its sequence number, item count and
// next item, so a helper can only claim (compare-exchange) an item of the phase it read the task of: the
// caller publishes the next phase's task only after every item of this one is done. Waits spin with `pause`;
// past kSpinMicros they yield the core (the thread waited for may have been descheduled), and an idle helper
// sleeps on a condition variable after kIdleMicros.
#include "kernels/thread-team.h"

#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace r1::kernels {

namespace {

constexpr int64_t kSpinMicros = 50;    // the caller spins this long for in-flight items, then yields
constexpr int64_t kIdleMicros = 1000;  // an idle helper spins this long for the next phase, then sleeps
constexpr int kSeqShift = 40, kItemsShift = 20;
constexpr uint64_t kFieldMask = (uint64_t(1) << 20) - 1;
constexpr int64_t kMaxItems = int64_t(kFieldMask);

inline void relax() {
#if defined(__x86_64__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until done() holds; after spin_us microseconds, yields between checks, or returns false (give_up).
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
  for (std::thread& t : helpers_) t.join();
}

void ThreadTeam::work(uint64_t seq) {
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (c >> kSeqShift != seq) return;
    const int64_t item = int64_t(c & kFieldMask), items = int64_t((c >> kItemsShift) & kFieldMask);
    if (item >= items) return;
    const Task* task = task_.load(std::memory_order_acquire);  // this phase's until this item is done
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    (*task)(item);
    done_.fetch_add(1, std::memory_order_release);
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadTeam::helper(int64_t id) {
  uint64_t seen = claim_.load() >> kSeqShift;
  for (;;) {
    auto started = [&] { return claim_.load(std::memory_order_acquire) >> kSeqShift != seen || stop_.load(); };
    if (!spin_until(started, kIdleMicros, /*give_up=*/true)) {
      std::unique_lock<std::mutex> lock(sleep_mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, started);
      sleepers_.fetch_sub(1);
    }
    if (stop_.load()) return;
    seen = claim_.load(std::memory_order_acquire) >> kSeqShift;
    if (id <= helpers_wanted_.load(std::memory_order_relaxed)) work(seen);
  }
}

void ThreadTeam::parallel(int64_t items, int64_t threads, const Task& fn) {
  if (items <= 0) return;
  if (threads <= 1 || items == 1 || items > kMaxItems || busy_.exchange(true)) {
    for (int64_t i = 0; i < items; ++i) fn(i);
    return;
  }
  while (int64_t(helpers_.size()) < threads - 1) {
    const int64_t id = int64_t(helpers_.size()) + 1;
    helpers_.emplace_back([this, id] { helper(id); });
  }
  const uint64_t seq = ((claim_.load() >> kSeqShift) + 1) & ((uint64_t(1) << (64 - kSeqShift)) - 1);
  task_.store(&fn);
  done_.store(0);
  helpers_wanted_.store(threads - 1, std::memory_order_relaxed);
  claim_.store(seq << kSeqShift | uint64_t(items) << kItemsShift);  // seq_cst, as the sleepers_ read below
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(sleep_mutex_);
    wake_.notify_all();
  }
  work(seq);
  spin_until([&] { return done_.load(std::memory_order_acquire) == items; }, kSpinMicros, false);
  task_.store(nullptr);
  busy_.store(false);
}

}  // namespace r1::kernels
