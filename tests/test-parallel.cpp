// r1::parallel_for (include/r1/runtime.h): every index runs exactly once for any count and thread number,
// never more workers than items, one worker runs inline on the caller's thread, items run concurrently, and
// an item's exception is rethrown with its type only after every worker has ended. Plus the regression that
// made it: an exception inside Tokenizer::encode_batch's workers called std::terminate. (verify_batch used the
// same kind of pool, but verify() throws for no input, so its order and results are tested in test-verify.)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "r1/error.h"
#include "r1/runtime.h"
#include "r1/tokenizer.h"
#include "test-helpers.h"

namespace {

using Clock = std::chrono::steady_clock;

// Spins until `done()` or ten seconds pass; false on timeout (a test then fails instead of hanging).
template <typename F>
bool wait_for(F done) {
  const auto give_up = Clock::now() + std::chrono::seconds(10);
  while (!done())
    if (Clock::now() > give_up)
      return false;
    else
      std::this_thread::yield();
  return true;
}

TEST(Parallel, EveryIndexRunsExactlyOnce) {
  for (size_t count : {0, 1, 2, 3, 7, 64, 1000})
    for (int threads : {-1, 0, 1, 2, 3, 8, 100}) {
      std::vector<std::atomic<int>> runs(count);
      r1::parallel_for(count, threads, [&](size_t i) { ++runs[i]; });
      for (size_t i = 0; i < count; ++i)
        EXPECT_EQ(runs[i], 1) << "count " << count << " threads " << threads << " i " << i;

      const size_t workers = r1::parallel_workers(count, threads);
      std::vector<std::atomic<int>> again(count);
      std::vector<std::atomic<size_t>> per_worker(std::max<size_t>(1, workers));
      std::atomic<bool> worker_in_range{true};
      r1::parallel_for_workers(count, threads, [&](size_t w, size_t i) {
        if (w >= workers)
          worker_in_range = false;
        else
          ++per_worker[w];
        ++again[i];
      });
      EXPECT_TRUE(worker_in_range) << "count " << count << " threads " << threads;
      size_t total = 0;
      for (auto& n : per_worker) total += n;
      EXPECT_EQ(total, count);
      for (size_t i = 0; i < count; ++i)
        EXPECT_EQ(again[i], 1) << "count " << count << " threads " << threads << " i " << i;
    }
}

TEST(Parallel, ThreadCountsFollowTheContract) {
  const size_t cores = size_t(r1::physical_core_count());
  EXPECT_EQ(r1::resolve_threads(0), cores);
  EXPECT_EQ(r1::resolve_threads(-3), cores);
  EXPECT_EQ(r1::resolve_threads(5), 5u);
  EXPECT_EQ(r1::parallel_workers(0, 8), 0u);
  EXPECT_EQ(r1::parallel_workers(3, 100), 3u);  // never more threads than items
  EXPECT_EQ(r1::parallel_workers(1000, 4), 4u);
  EXPECT_EQ(r1::parallel_workers(1000, 0), std::min<size_t>(cores, 1000));

  // 3 items on 100 threads: at most 3 distinct threads ever run one.
  std::mutex mutex;
  std::set<std::thread::id> seen;
  r1::parallel_for(3, 100, [&](size_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard<std::mutex> lock(mutex);
    seen.insert(std::this_thread::get_id());
  });
  EXPECT_LE(seen.size(), 3u);
}

TEST(Parallel, OneWorkerRunsInlineOnTheCallersThreadInOrder) {
  const std::thread::id caller = std::this_thread::get_id();
  for (auto [count, threads] : {std::pair<size_t, int>{5, 1}, {1, 8}}) {
    std::vector<size_t> order;
    bool on_caller = true;
    r1::parallel_for(count, threads, [&](size_t i) {  // no lock: inline means one thread
      order.push_back(i);
      on_caller = on_caller && std::this_thread::get_id() == caller;
    });
    EXPECT_TRUE(on_caller) << "count " << count << " threads " << threads;
    std::vector<size_t> expected(count);
    for (size_t i = 0; i < count; ++i) expected[i] = i;
    EXPECT_EQ(order, expected);
  }
}

TEST(Parallel, ItemsRunConcurrently) {
  // Each of the two items waits for the other to start: only two threads at once can finish it.
  std::atomic<int> started{0};
  std::atomic<bool> both{true};
  std::set<std::thread::id> threads;
  std::mutex mutex;
  r1::parallel_for(2, 2, [&](size_t) {
    ++started;
    if (!wait_for([&] { return started == 2; })) both = false;
    std::lock_guard<std::mutex> lock(mutex);
    threads.insert(std::this_thread::get_id());
  });
  EXPECT_TRUE(both);
  EXPECT_EQ(threads.size(), 2u);
  EXPECT_TRUE(threads.count(std::this_thread::get_id())) << "the caller's thread is worker 0";
}

struct NotAStdException {
  int code;
};

TEST(Parallel, AnItemsExceptionIsRethrownWithItsTypeAfterEveryWorkerEnded) {
  for (int threads : {1, 2, 4}) {
    // Item 0 is slow and records its end; item 1 throws once item 0 is running (on another worker when there
    // are several). The call must return only after item 0 ended.
    std::atomic<bool> slow_started{false}, slow_ended{false};
    try {
      r1::parallel_for(50, threads, [&](size_t i) {
        if (i == 0) {
          slow_started = true;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          slow_ended = true;
        } else if (i == 1) {
          EXPECT_TRUE(wait_for([&] { return slow_started.load(); }));
          throw r1::UsageError("--widgets: item 1 is bad");
        }
      });
      ADD_FAILURE() << "no exception with " << threads << " threads";
    } catch (const r1::UsageError& e) {
      EXPECT_STREQ(e.what(), "--widgets: item 1 is bad");
      EXPECT_TRUE(slow_ended) << "parallel_for returned while a worker was still running (" << threads << " threads)";
    }

    // Any type, not only std::exception, and not sliced to a base class.
    try {
      r1::parallel_for(20, threads, [&](size_t i) {
        if (i == 7) throw NotAStdException{7};
      });
      ADD_FAILURE() << "no exception with " << threads << " threads";
    } catch (const NotAStdException& e) {
      EXPECT_EQ(e.code, 7);
    }
  }
}

TEST(Parallel, AnExceptionStopsHandingOutItems) {
  // Item 0 throws; the other items take 1 ms each. Without the stop, the other worker runs all 200 (200 ms).
  std::atomic<int> ran{0};
  EXPECT_THROW(r1::parallel_for(200, 2,
                                [&](size_t i) {
                                  if (i == 0) throw r1::Error("first");
                                  std::this_thread::sleep_for(std::chrono::milliseconds(1));
                                  ++ran;
                                }),
               r1::Error);
  EXPECT_LT(ran, 100);
}

TEST(Parallel, TokenizerEncodeBatchRethrowsAnEncodeError) {
  // A Split pre-tokenizer whose regex backtracks catastrophically on "aaa...acb": PCRE2 stops at its match
  // limit and encode() throws r1::Error. Before parallel_for the exception left a worker thread: terminate.
  nlohmann::json j = {
      {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"c", 2}}}, {"merges", nlohmann::json::array()}}},
      {"pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "(a+)+b"}}}, {"behavior", "Isolated"}}}};
  const auto tok = r1::tokenizer::Tokenizer::from_json(j.dump(), "backtracking");
  const std::string bad = std::string(40, 'a') + "cb";
  EXPECT_EQ(tok.encode("aab c"), (std::vector<int32_t>{0, 0, 1, 2}));
  R1_EXPECT_THROW_WITH(tok.encode(bad), r1::Error, "matching failed");

  std::vector<std::string> texts(12, "ab");
  texts[5] = bad;
  for (int threads : {0, 1, 2, 4})
    R1_EXPECT_THROW_WITH(tok.encode_batch(texts, true, threads), r1::Error, "(a+)+b", "matching failed");
  texts[5] = "c";
  auto ids = tok.encode_batch(texts, true, 4);
  ASSERT_EQ(ids.size(), texts.size());
  EXPECT_EQ(ids[5], std::vector<int32_t>{2});
  EXPECT_EQ(ids[11], (std::vector<int32_t>{0, 1}));
}

}  // namespace
