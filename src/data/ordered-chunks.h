// A parallel map over the chunks of a ChunkReader whose results are consumed in input order: batches of
// chunks are read on the calling thread, mapped on parallel_for's workers, then committed one by one in
// reading order. Used by the streaming passes of `r1 data dedup` and `r1 data decontaminate`. Not here:
// `data prepare`'s pipelined workers (prepare.cpp), which overlap reading and committing.
// Determinism: the results and the error do not depend on the thread count (a failing batch reports the
// error of its earliest failing chunk).
#pragma once

#include <exception>
#include <utility>
#include <vector>

#include "data/documents.h"
#include "r1/runtime.h"

namespace r1::data {

// map(const Chunk&) -> Result runs in parallel; commit(const Chunk&, Result&) runs in chunk order on the
// calling thread. Batches hold up to 4 chunks per worker.
template <typename Map, typename Commit>
void map_chunks_in_order(ChunkReader& reader, int threads, Map&& map, Commit&& commit) {
  using Result = decltype(map(std::declval<const Chunk&>()));
  const size_t batch = 4 * resolve_threads(threads);
  std::vector<Chunk> chunks;
  std::vector<Result> results;
  std::vector<std::exception_ptr> errors;
  bool more = true;
  while (more) {
    chunks.clear();
    while (chunks.size() < batch) {
      Chunk chunk;
      if (!reader.next(chunk)) {
        more = false;
        break;
      }
      chunks.push_back(std::move(chunk));
    }
    results.assign(chunks.size(), Result{});
    errors.assign(chunks.size(), nullptr);
    parallel_for(chunks.size(), threads, [&](size_t i) {
      try {
        results[i] = map(chunks[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (errors[i]) std::rethrow_exception(errors[i]);
      commit(chunks[i], results[i]);
    }
  }
}

}  // namespace r1::data
