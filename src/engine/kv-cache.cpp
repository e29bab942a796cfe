// SlotCache (kv-cache.h): row moves and re-alignment of the preallocated per-slot KV cache. Every move is a
// narrow + copy per layer on the cache's device; overlapping moves go through a temporary.
#include "engine/kv-cache.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace r1::engine {

SlotCache::SlotCache(const model::ModelConfig& config, int64_t slots, int64_t capacity, at::ScalarType dtype,
                     at::Device device)
    : cache_(model::KvCache::allocate(config, slots, capacity, dtype, device)) {}

model::KvCache SlotCache::view(int64_t rows) const {
  model::KvCache v;
  for (size_t l = 0; l < cache_.key.size(); ++l) {
    v.key.push_back(cache_.key[l].narrow(0, 0, rows));      // (rows, Hkv, S_max, D)
    v.value.push_back(cache_.value[l].narrow(0, 0, rows));  // (rows, Hkv, S_max, D)
  }
  v.length = cache_.length;
  return v;
}

void SlotCache::realign(int64_t rows, int64_t new_length, int64_t keep) {
  const int64_t L = cache_.length;
  if (keep > L || keep > new_length || new_length > capacity())
    throw std::logic_error("SlotCache::realign: keep exceeds the old or new length, or capacity");
  if (new_length != L && rows > 0 && keep > 0) {
    for (auto* tensors : {&cache_.key, &cache_.value})
      for (at::Tensor& t : *tensors) {
        at::Tensor rows_view = t.narrow(0, 0, rows);                                   // (rows, Hkv, S_max, D)
        at::Tensor src = rows_view.narrow(2, L - keep, keep);                          // (rows, Hkv, keep, D)
        const bool overlap = std::abs(new_length - L) < keep;
        rows_view.narrow(2, new_length - keep, keep).copy_(overlap ? src.clone() : src);
      }
  }
  cache_.length = new_length;
}

void SlotCache::move_row(int64_t src, int64_t dst, int64_t keep) {
  const int64_t L = cache_.length;
  for (auto* tensors : {&cache_.key, &cache_.value})
    for (at::Tensor& t : *tensors) t[dst].narrow(1, L - keep, keep).copy_(t[src].narrow(1, L - keep, keep));
}

void SlotCache::place(int64_t dst, const model::KvCache& source, int64_t source_row, int64_t source_start,
                      int64_t count) {
  const int64_t L = cache_.length;
  if (count > L) throw std::logic_error("SlotCache::place: sequence longer than the cache length");
  for (size_t l = 0; l < cache_.key.size(); ++l) {
    cache_.key[l][dst].narrow(1, L - count, count).copy_(source.key[l][source_row].narrow(1, source_start, count));
    cache_.value[l][dst].narrow(1, L - count, count).copy_(source.value[l][source_row].narrow(1, source_start, count));
  }
}

}  // namespace r1::engine
