// parallel_for (see include/r1/runtime.h for the contract): one shared atomic cursor hands out indices; the first
// exception is kept in an exception_ptr, the cursor is moved past the end so no worker takes another item, and the
// caller rethrows it after joining every thread.
#include "r1/runtime.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace r1 {

size_t resolve_threads(int threads) {
  return threads > 0 ? size_t(threads) : size_t(std::max(1, physical_core_count()));
}

size_t parallel_workers(size_t count, int threads) { return std::min(resolve_threads(threads), count); }

void parallel_for_workers(size_t count, int threads, const std::function<void(size_t worker, size_t i)>& fn) {
  const size_t workers = parallel_workers(count, threads);
  if (workers <= 1) {
    for (size_t i = 0; i < count; ++i) fn(0, i);
    return;
  }
  std::atomic<size_t> cursor{0};
  std::mutex mutex;  // guards error
  std::exception_ptr error;
  auto stop_with = [&](std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!error) error = std::move(e);
    cursor = count;  // every later fetch_add returns >= count: no new items
  };
  auto work = [&](size_t w) {
    try {
      for (size_t i; (i = cursor++) < count;) fn(w, i);
    } catch (...) {
      stop_with(std::current_exception());
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  try {
    for (size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
  } catch (...) {  // std::system_error: no more threads; the ones started stop and are joined below
    stop_with(std::current_exception());
  }
  work(0);
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

void parallel_for(size_t count, int threads, const std::function<void(size_t i)>& fn) {
  parallel_for_workers(count, threads, [&](size_t, size_t i) { fn(i); });
}

}  // namespace r1
