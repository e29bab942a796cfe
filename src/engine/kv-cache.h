// SlotCache: the engine's preallocated KV cache, one row per sequence slot, over the model's KvCache
// (rows share one length L). Layout invariant: the active sequences occupy rows [0, active) and each one's
// cached tokens are contiguous and right-aligned, ending at L (positions [L - cached, L)); everything to
// their left is stale and masked. So a decode step is one forward over a prefix view of the cache, a new
// sequence is placed right-aligned into a free row, and a finished row is refilled by moving the last row.
// Contiguity keeps slot distance == token distance, which ALiBi relies on.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "r1/model.h"

namespace r1::engine {

class SlotCache {
 public:
  SlotCache() = default;
  SlotCache(const model::ModelConfig& config, int64_t slots, int64_t capacity, at::ScalarType dtype, at::Device device);

  bool allocated() const { return !cache_.key.empty(); }
  int64_t length() const { return cache_.length; }
  int64_t capacity() const { return cache_.capacity(); }
  int64_t slots() const { return allocated() ? cache_.key[0].size(0) : 0; }

  // A KvCache over rows [0, rows) sharing this cache's storage and length, for one forward; afterwards pass
  // it to commit() to adopt the advanced length.
  model::KvCache view(int64_t rows) const;
  void commit(const model::KvCache& view) { cache_.length = view.length; }
  void reset() { cache_.length = 0; }

  // Re-aligns rows [0, rows) so their tokens end at `new_length` instead of L; `keep` (<= both) is the most
  // tokens any of those rows holds. Moves only [L - keep, L).
  void realign(int64_t rows, int64_t new_length, int64_t keep);
  // Copies row `src` positions [L - keep, L) into row `dst` (the rest of `dst` becomes stale).
  void move_row(int64_t src, int64_t dst, int64_t keep);
  // Writes `count` positions of `source` row `source_row` starting at `source_start` into row `dst`,
  // right-aligned at L. Requires count <= L.
  void place(int64_t dst, const model::KvCache& source, int64_t source_row, int64_t source_start, int64_t count);
  // Makes positions [0, end) of every row ready to be written without page faults (CPU; see
  // common/pages.h): the engine calls it before a step writes position L. Pages are populated a chunk of
  // positions ahead, each at most once; realign() and place() call it for what they write.
  void prefault(int64_t end);

 private:
  model::KvCache cache_;
  int64_t prefaulted_ = 0;  // positions [0, prefaulted_) of every row are populated (or were tried)
};

}  // namespace r1::engine
