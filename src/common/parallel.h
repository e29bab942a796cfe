// parallel_for: fn(i) for every i in [0, count) on a few threads of its own, the one pool of r1's batch work
// (math verification, tokenization, tokenizer training, data preparation, sandboxed programs, HTTP requests).
// Not here: LibTorch's intra-op threads (at::parallel_for, the model's compute), the decode compute team
// (kernels/thread-team.h) and the server's threads. Each call starts and joins its threads; no state outlives it.
//
// Contract:
//   1. threads <= 0 means physical_core_count() (r1/runtime.h: the cores this process's affinity mask allows,
//      hyper-threads counted once); the call runs parallel_workers(count, threads) workers, never more than
//      count. count 0 calls nothing.
//   2. One worker runs every item inline on the caller's thread in index order (no thread is created). With
//      more, the caller's thread is worker 0 and the rest are new threads.
//   3. Items are handed out one at a time from a shared cursor (dynamic load balance): each index runs exactly
//      once, in no particular order and on no particular worker; a caller that needs a deterministic result
//      writes it by index or merges per-worker state in a way that does not depend on which worker ran what.
//   4. The first exception caught (the first in time, not in index order) stops the handing out of items; items
//      already running finish; every worker is joined; then that exception is rethrown in the caller's thread
//      with its type (std::rethrow_exception), so r1::UsageError stays a usage error. Later ones are dropped.
//      If a thread cannot be created, that std::system_error is the exception.
#pragma once

#include <cstddef>
#include <functional>

namespace r1 {

// threads > 0: threads; else physical_core_count(). At least 1.
size_t resolve_threads(int threads);

// The number of workers parallel_for(count, threads, ...) runs: min(resolve_threads(threads), count).
size_t parallel_workers(size_t count, int threads);

void parallel_for(size_t count, int threads, const std::function<void(size_t i)>& fn);

// The same, also passing the worker that runs item i (w in [0, parallel_workers(count, threads))), for
// per-worker state such as partial counts; one worker runs its items one at a time.
void parallel_for_workers(size_t count, int threads, const std::function<void(size_t worker, size_t i)>& fn);

}  // namespace r1
