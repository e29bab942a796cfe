// safetensors reading (mmap + strict header validation) and writing (atomic, 8-byte aligned header),
// plus the sharded layout of transformers' save_pretrained. Format and rules: include/r1/safetensors.h.
// Validation follows the reference Rust crate: header <= 100 MB, a JSON object, known dtypes, offsets that
// tile the data section exactly. Departure: an empty name or a duplicate is an error here too.
#include "r1/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <torch/types.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "r1/error.h"
#include "r1/io.h"

namespace r1::safetensors {
namespace fs = std::filesystem;
using nlohmann::json;

static_assert(std::endian::native == std::endian::little,
              "safetensors is little-endian; r1 assumes a little-endian host");

namespace {
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DTypeEntry {
  const char* name;
  size_t size;
  at::ScalarType torch;  // Undefined when LibTorch has no equivalent
};
constexpr DTypeEntry kDTypes[] = {
    {"F64", 8, at::kDouble},
    {"F32", 4, at::kFloat},
    {"F16", 2, at::kHalf},
    {"BF16", 2, at::kBFloat16},
    {"I64", 8, at::kLong},
    {"I32", 4, at::kInt},
    {"I16", 2, at::kShort},
    {"I8", 1, at::kChar},
    {"U8", 1, at::kByte},
    {"BOOL", 1, at::kBool},
    {"U16", 2, at::ScalarType::Undefined},
    {"U32", 4, at::ScalarType::Undefined},
    {"U64", 8, at::ScalarType::Undefined},
    {"F8_E4M3", 1, at::ScalarType::Undefined},
    {"F8_E5M2", 1, at::ScalarType::Undefined},
};

const DTypeEntry* find_dtype(const std::string& name) {
  for (const auto& e : kDTypes)
    if (name == e.name) return &e;
  return nullptr;
}
}  // namespace

size_t dtype_size(const std::string& dtype) {
  const DTypeEntry* e = find_dtype(dtype);
  if (e == nullptr) fail("unknown safetensors dtype '{}'", dtype);
  return e->size;
}

at::ScalarType to_torch_dtype(const std::string& dtype) {
  const DTypeEntry* e = find_dtype(dtype);
  if (e == nullptr) fail("unknown safetensors dtype '{}'", dtype);
  if (e->torch == at::ScalarType::Undefined) fail("safetensors dtype {} has no LibTorch equivalent", dtype);
  return e->torch;
}

std::string from_torch_dtype(at::ScalarType dtype) {
  for (const auto& e : kDTypes)
    if (e.torch == dtype && e.torch != at::ScalarType::Undefined) return e.name;
  fail("tensor dtype {} cannot be stored in safetensors", c10::toString(dtype));
}

// ---- reading ----------------------------------------------------------------------------------------

struct File::Mapping {
  fs::path path;
  const uint8_t* base = nullptr;  // whole file
  uint64_t size = 0;
  uint64_t data_start = 0;  // 8 + N
  std::vector<TensorInfo> tensors;
  std::map<std::string, size_t> by_name;
  std::map<std::string, std::string> metadata;

  ~Mapping() {
    if (base != nullptr && size > 0) ::munmap(const_cast<uint8_t*>(base), size);
  }
};

namespace {
[[noreturn]] void bad(const fs::path& path, const std::string& what) {
  fail("{}: not a valid safetensors file: {}", path.string(), what);
}

TensorInfo parse_entry(const fs::path& path, const std::string& name, const json& entry) {
  if (!entry.is_object()) bad(path, fmt::format("entry '{}' is not a JSON object", name));
  TensorInfo info;
  info.name = name;
  auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) bad(path, fmt::format("tensor '{}' has no string \"dtype\"", name));
  info.dtype = dtype->get<std::string>();
  if (find_dtype(info.dtype) == nullptr) bad(path, fmt::format("tensor '{}' has unknown dtype '{}'", name, info.dtype));
  auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) bad(path, fmt::format("tensor '{}' has no \"shape\" array", name));
  uint64_t numel = 1;
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned())
      bad(path, fmt::format("tensor '{}' has a shape entry that is not a non-negative integer", name));
    uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (v != 0 && numel > std::numeric_limits<uint64_t>::max() / v))
      bad(path, fmt::format("tensor '{}' has an overflowing shape", name));
    numel *= v;
    info.shape.push_back(static_cast<int64_t>(v));
  }
  auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned())
    bad(path, fmt::format("tensor '{}' needs \"data_offsets\": [begin, end] with non-negative integers", name));
  info.begin = (*offsets)[0].get<uint64_t>();
  info.end = (*offsets)[1].get<uint64_t>();
  if (info.end < info.begin) bad(path, fmt::format("tensor '{}' has data_offsets end < begin", name));
  size_t elem = dtype_size(info.dtype);
  if (numel > std::numeric_limits<uint64_t>::max() / elem || info.end - info.begin != numel * elem)
    bad(path, fmt::format("tensor '{}' ({} {}) needs {} bytes but data_offsets span {}", name, info.dtype,
                          json(info.shape).dump(), numel * elem, info.end - info.begin));
  return info;
}
}  // namespace

File::File(const fs::path& path) {
  auto m = std::make_shared<Mapping>();
  m->path = path;
  // O_NONBLOCK: opening a FIFO for reading must not wait for a writer; it is refused below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail("cannot open {}: {}", path.string(), std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail("cannot stat {}: {}", path.string(), std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path.string());
  }
  m->size = static_cast<uint64_t>(st.st_size);
  if (m->size > 0) {
    void* p = ::mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      fail("cannot map {}: {}", path.string(), std::strerror(errno));
    }
    m->base = static_cast<const uint8_t*>(p);
  }
  ::close(fd);

  if (m->size < 8) bad(path, fmt::format("the file is {} bytes, shorter than the 8-byte header length", m->size));
  uint64_t n = 0;
  std::memcpy(&n, m->base, 8);
  if (n > kMaxHeaderBytes) bad(path, fmt::format("header length {} exceeds the 100 MB limit (corrupt length?)", n));
  if (n > m->size - 8)
    bad(path, fmt::format("header length {} exceeds the {} bytes after it (truncated file?)", n, m->size - 8));
  m->data_start = 8 + n;
  std::string_view text(reinterpret_cast<const char*>(m->base) + 8, n);
  if (text.empty() || text[0] != '{') bad(path, "the header does not start with '{'");
  json header;
  std::string error;
  if (!parse_json_bounded(text, header, &error)) bad(path, fmt::format("the header is not valid JSON ({})", error));
  if (!header.is_object()) bad(path, "the header is not a JSON object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) bad(path, "\"__metadata__\" is not an object");
      for (auto mt = it->begin(); mt != it->end(); ++mt) {
        if (!mt->is_string()) bad(path, fmt::format("metadata value for '{}' is not a string", mt.key()));
        m->metadata[mt.key()] = mt->get<std::string>();
      }
      continue;
    }
    if (it.key().empty()) bad(path, "a tensor has an empty name");
    m->tensors.push_back(parse_entry(path, it.key(), *it));
  }
  std::sort(m->tensors.begin(), m->tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t data_size = m->size - m->data_start;
  uint64_t expected = 0;
  for (size_t i = 0; i < m->tensors.size(); ++i) {
    const TensorInfo& t = m->tensors[i];
    if (t.begin != expected)
      bad(path, fmt::format("tensor '{}' starts at byte {} of the data section, expected {} ({})", t.name, t.begin,
                            expected, t.begin < expected ? "overlaps the previous tensor" : "gap in the data"));
    expected = t.end;
    m->by_name[t.name] = i;
  }
  if (expected != data_size)
    bad(path, fmt::format("the data section is {} bytes but the header describes {} bytes{}", data_size, expected,
                          data_size < expected ? " (truncated file?)" : " (trailing bytes)"));
  map_ = std::move(m);
}

const fs::path& File::path() const { return map_->path; }
const std::vector<TensorInfo>& File::tensors() const { return map_->tensors; }
const std::map<std::string, std::string>& File::metadata() const { return map_->metadata; }
uint64_t File::file_size() const { return map_->size; }

const TensorInfo* File::find(const std::string& name) const {
  auto it = map_->by_name.find(name);
  return it == map_->by_name.end() ? nullptr : &map_->tensors[it->second];
}

at::Tensor File::view(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (info == nullptr) fail("{}: no tensor named '{}'", map_->path.string(), name);
  at::ScalarType dtype;
  try {
    dtype = to_torch_dtype(info->dtype);
  } catch (const Error& e) {
    fail("{}: tensor '{}': {}", map_->path.string(), name, e.what());
  }
  const uint8_t* p = map_->base + map_->data_start + info->begin;
  auto options = torch::TensorOptions().dtype(dtype).device(torch::kCPU);
  size_t elem = dtype_size(info->dtype);
  if (info->end == info->begin) return torch::empty(info->shape, options);
  if (reinterpret_cast<uintptr_t>(p) % elem != 0) {  // unaligned (writer did not pad the header): copy
    at::Tensor out = torch::empty(info->shape, options);
    std::memcpy(out.data_ptr(), p, info->end - info->begin);
    return out;
  }
  auto keep = map_;
  return torch::from_blob(
      const_cast<uint8_t*>(p), info->shape, [keep](void*) mutable { keep.reset(); }, options);
}

at::Tensor File::get(const std::string& name) const { return view(name).clone(); }

// ---- writing ----------------------------------------------------------------------------------------

void save(const fs::path& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
          const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  data.reserve(tensors.size());
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__") fail("{}: invalid tensor name '{}'", path.string(), name);
    if (!seen.insert(name).second) fail("{}: tensor '{}' given twice", path.string(), name);
    if (!tensor.defined()) fail("{}: tensor '{}' is undefined", path.string(), name);
    at::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    std::string dtype;
    try {
      dtype = from_torch_dtype(t.scalar_type());
    } catch (const Error& e) {
      fail("{}: tensor '{}': {}", path.string(), name, e.what());
    }
    uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", dtype}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data section starts 8-byte aligned
  uint64_t n = text.size();
  AtomicFile out(path);
  out.write(&n, 8);
  out.write(text);
  for (const at::Tensor& t : data) out.write(t.data_ptr(), static_cast<size_t>(t.numel()) * t.element_size());
  out.commit();
}

std::vector<fs::path> save_sharded(const fs::path& dir, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                   uint64_t max_shard_bytes) {
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  uint64_t shard_bytes = 0, total = 0;
  for (const auto& entry : tensors) {
    uint64_t nbytes = static_cast<uint64_t>(entry.second.numel()) * entry.second.element_size();
    if (max_shard_bytes > 0 && !shards.back().empty() && shard_bytes + nbytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(entry);
    shard_bytes += nbytes;
    total += nbytes;
  }
  std::vector<fs::path> written;
  if (shards.size() == 1) {
    written.push_back(dir / "model.safetensors");
    save(written.back(), shards[0]);
  } else {
    json weight_map = json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
      std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, shards.size());
      written.push_back(dir / file);
      save(written.back(), shards[i]);
      for (const auto& entry : shards[i]) weight_map[entry.first] = file;
    }
    json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    written.push_back(dir / "model.safetensors.index.json");
    write_file_atomic(written.back(), index.dump(2) + "\n");
  }
  // Remove weight files of an earlier save that this one replaced (a stale index would shadow the new file).
  std::set<fs::path> keep(written.begin(), written.end());
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    bool weight_file =
        name == "model.safetensors" || name == "model.safetensors.index.json" ||
        (name.rfind("model-", 0) == 0 && name.size() > 12 && name.compare(name.size() - 12, 12, ".safetensors") == 0 &&
         name.find("-of-") != std::string::npos);
    if (weight_file && !keep.count(entry.path())) fs::remove(entry.path());
  }
  return written;
}

// ---- collections (single file or shards) ------------------------------------------------------------

TensorCollection TensorCollection::open_directory(const fs::path& dir) {
  TensorCollection c;
  fs::path single = dir / "model.safetensors";
  fs::path index_path = dir / "model.safetensors.index.json";
  if (fs::exists(single)) {
    c.files_.emplace_back(single);
  } else if (fs::exists(index_path)) {
    const json index = parse_json(read_file(index_path), index_path.string());
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      fail("{}: missing the \"weight_map\" object", index_path.string());
    std::map<std::string, size_t> file_pos;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it->is_string()) fail("{}: weight_map entry '{}' is not a file name", index_path.string(), it.key());
      std::string file = it->get<std::string>();
      if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
        fail("{}: weight_map entry '{}' names '{}', not a plain file name in the directory", index_path.string(),
             it.key(), file);
      if (!file_pos.count(file)) {
        fs::path shard = dir / file;
        if (!fs::exists(shard))
          fail("{}: shard {} is missing (named for tensor '{}')", index_path.string(), shard.string(), it.key());
        file_pos[file] = c.files_.size();
        c.files_.emplace_back(shard);
      }
      size_t pos = file_pos[file];
      if (c.files_[pos].find(it.key()) == nullptr)
        fail("{}: tensor '{}' is mapped to {} but that file does not contain it", index_path.string(), it.key(), file);
    }
  } else {
    fail("{}: no model.safetensors or model.safetensors.index.json (only safetensors weights are supported)",
         dir.string());
  }
  for (size_t i = 0; i < c.files_.size(); ++i) {
    for (const auto& t : c.files_[i].tensors()) {
      auto [it, inserted] = c.index_.emplace(t.name, i);
      if (!inserted && it->second != i)
        fail("{}: tensor '{}' appears in both {} and {}", dir.string(), t.name, c.files_[it->second].path().string(),
             c.files_[i].path().string());
    }
  }
  return c;
}

std::vector<std::string> TensorCollection::names() const {
  std::vector<std::string> out;
  for (const auto& [name, pos] : index_) out.push_back(name);
  return out;
}
bool TensorCollection::contains(const std::string& name) const { return index_.count(name) > 0; }
const File& TensorCollection::file_of(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail("no tensor named '{}' in the model's weight files", name);
  return files_[it->second];
}
const TensorInfo& TensorCollection::info(const std::string& name) const { return *file_of(name).find(name); }
at::Tensor TensorCollection::view(const std::string& name) const { return file_of(name).view(name); }
uint64_t TensorCollection::total_bytes() const {
  uint64_t total = 0;
  for (const auto& f : files_) total += f.file_size();
  return total;
}

}  // namespace r1::safetensors
