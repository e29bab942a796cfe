// The safetensors format, read and written by r1's own code (spec: huggingface/safetensors README):
//   [8-byte little-endian u64 N][N bytes of JSON header][data section]
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end)} (offsets into the data
// section) plus an optional "__metadata__" string->string map. Files are validated as strictly as the
// reference implementation: offsets must tile the data section exactly (no gaps, no overlap, no trailing
// bytes) and each tensor's byte size must equal numel x dtype size. Every error names the file.
// Sharded checkpoints (model-0000i-of-0000n.safetensors + model.safetensors.index.json) are handled by
// TensorCollection and save_sharded().
//
// Usage:
//   r1::safetensors::File file("model.safetensors");                 // memory-mapped, header validated
//   at::Tensor embed = file.get("model.embed_tokens.weight");        // an owning copy; view() is zero-copy
//   auto all = r1::safetensors::TensorCollection::open_directory(dir);  // model.safetensors or its shards
//   r1::safetensors::save("out.safetensors", {{"embed", embed}});    // atomic; metadata {"format": "pt"}
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace r1::safetensors {

// ---- Tensor entries and dtypes --------------------------------------------------------------------------------------

struct TensorInfo {
  std::string name;
  std::string dtype;  // safetensors spelling: "F32", "BF16", "F16", "I64", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section, [begin, end)
  uint64_t end = 0;
};

// Bytes per element of a safetensors dtype string; throws r1::Error for an unknown one.
size_t dtype_size(const std::string& dtype);
// safetensors dtype string <-> torch dtype (F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL).
at::ScalarType to_torch_dtype(const std::string& dtype);
std::string from_torch_dtype(at::ScalarType dtype);

// ---- Reading files and model directories ----------------------------------------------------------------------------
// One memory-mapped .safetensors file, header validated on open. Cheap to copy (shares the mapping).
class File {
 public:
  explicit File(const std::filesystem::path& path);

  const std::filesystem::path& path() const;
  const std::vector<TensorInfo>& tensors() const;  // in data-offset order
  const std::map<std::string, std::string>& metadata() const;
  const TensorInfo* find(const std::string& name) const;  // nullptr if absent
  uint64_t file_size() const;

  // A CPU tensor over the mapped bytes (zero copy when aligned). Read-only: never write into it; it keeps
  // the mapping alive. Throws r1::Error naming file and tensor if absent or of an unsupported dtype.
  at::Tensor view(const std::string& name) const;
  // An owning copy of the tensor.
  at::Tensor get(const std::string& name) const;

 private:
  struct Mapping;
  std::shared_ptr<const Mapping> map_;
};

// All tensors of a model directory: model.safetensors, or the shards named by model.safetensors.index.json.
class TensorCollection {
 public:
  static TensorCollection open_directory(const std::filesystem::path& dir);

  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;
  const File& file_of(const std::string& name) const;
  at::Tensor view(const std::string& name) const;  // see File::view
  const std::vector<File>& files() const { return files_; }
  uint64_t total_bytes() const;  // sum of the files' sizes

 private:
  std::vector<File> files_;
  std::map<std::string, size_t> index_;  // tensor name -> position in files_
};

// ---- Writing --------------------------------------------------------------------------------------------------------
// Writes tensors (any device, any layout; copied to contiguous CPU) atomically. Names must be unique.
// metadata defaults to {"format": "pt"}, which transformers requires.
void save(const std::filesystem::path& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
          const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Writes "<dir>/model.safetensors" when everything fits in max_shard_bytes (0 = no limit), else shards
// "<dir>/model-0000i-of-0000n.safetensors" plus "<dir>/model.safetensors.index.json" as transformers does.
// Removes weight files of a previous save that the new one does not use. Returns the files written.
std::vector<std::filesystem::path> save_sharded(const std::filesystem::path& dir,
                                                const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                                uint64_t max_shard_bytes);

}  // namespace r1::safetensors
