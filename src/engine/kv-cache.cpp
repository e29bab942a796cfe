// SlotCache (kv-cache.h): row moves and re-alignment of the preallocated per-slot KV cache. Every move is a
// narrow + copy per layer on the cache's device; overlapping moves go through a temporary. Pages are populated
// ahead of the positions written (prefault).
#include "engine/kv-cache.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>

#include "common/pages.h"

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
  prefault(new_length);
  if (new_length != L && rows > 0 && keep > 0) {
    for (auto* tensors : {&cache_.key, &cache_.value})
      for (at::Tensor& t : *tensors) {
        at::Tensor rows_view = t.narrow(0, 0, rows);           // (rows, Hkv, S_max, D)
        at::Tensor src = rows_view.narrow(2, L - keep, keep);  // (rows, Hkv, keep, D)
        const bool overlap = std::abs(new_length - L) < keep;
        rows_view.narrow(2, new_length - keep, keep).copy_(overlap ? src.clone() : src);
      }
  }
  cache_.length = new_length;
}

void SlotCache::prefault(int64_t end) {
  constexpr int64_t kChunk = 64;  // positions populated per call: one madvise per row, head and tensor
  if (end <= prefaulted_ || !allocated() || !cache_.key[0].is_cpu()) return;
  const int64_t to = std::min(capacity(), std::max(end, prefaulted_ + kChunk));
  for (auto* tensors : {&cache_.key, &cache_.value})
    for (at::Tensor& t : *tensors) {  // (slots, Hkv, capacity, D), contiguous
      const int64_t rows = t.size(0) * t.size(1), row_bytes = t.stride(1) * int64_t(t.element_size());
      const int64_t position_bytes = t.stride(2) * int64_t(t.element_size());
      char* base = static_cast<char*>(t.data_ptr());
      const size_t span = size_t((to - prefaulted_) * position_bytes);
      for (int64_t r = 0; r < rows; ++r) prefault_pages(base + r * row_bytes + prefaulted_ * position_bytes, span);
    }
  prefaulted_ = to;
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
  prefault(L);
  for (size_t l = 0; l < cache_.key.size(); ++l) {
    cache_.key[l][dst].narrow(1, L - count, count).copy_(source.key[l][source_row].narrow(1, source_start, count));
    cache_.value[l][dst].narrow(1, L - count, count).copy_(source.value[l][source_row].narrow(1, source_start, count));
  }
}

}  // namespace r1::engine
