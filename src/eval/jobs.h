// run_jobs: fn(i) for i in [0, count) on `concurrency` threads, for the evaluation's HTTP requests (remote
// generation, the judge). The first exception stops the remaining jobs and is rethrown as r1::Error once
// every thread has joined. Not a compute pool: the model's own work uses LibTorch's intra-op threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "r1/error.h"

namespace r1::eval {

inline void run_jobs(size_t count, int32_t concurrency, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> cursor{0};
  std::mutex mutex;
  std::string error;
  std::vector<std::thread> workers;
  for (int32_t w = 0; w < std::max(1, concurrency); ++w)
    workers.emplace_back([&] {
      for (size_t i; (i = cursor++) < count;) {
        try {
          fn(i);
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(mutex);
          if (error.empty()) error = e.what();
          cursor = count;
        }
      }
    });
  for (auto& t : workers) t.join();
  if (!error.empty()) fail("{}", error);
}

}  // namespace r1::eval
