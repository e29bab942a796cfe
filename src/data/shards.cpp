// Token shards: the 128-byte header (layout in include/r1/data.h), the mmap reader that validates it, the
// in-memory writer that commits a shard atomically, and finding the shards of a split. Not here: what goes
// into a shard (prepare.cpp) or how windows are drawn from it (packing.cpp). Reference behaviour: llm.c's
// .bin token files (magic + version + token count header, then raw uint16 tokens), with uint32 for large
// vocabularies and the tokenizer's identity recorded so that mismatched data is refused, not trained on.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "data/hash.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/tokenizer.h"

namespace r1::data {
namespace fs = std::filesystem;

namespace {

template <typename T>
T load_le(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));  // every supported target is little-endian
  return value;
}

template <typename T>
void store_le(uint8_t* p, T value) {
  std::memcpy(p, &value, sizeof(T));
}

}  // namespace

std::string tokenizer_hash(const tokenizer::Tokenizer& tokenizer) {
  return fmt::format("fnv1a64:{:016x}", fnv1a64(tokenizer.to_json()));
}

// ---- TokenShard ---------------------------------------------------------------------------------------

TokenShard TokenShard::open(const fs::path& path) {
  const std::string name = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open token shard: {}", name, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail("{}: cannot stat: {}", name, std::strerror(errno));
  }
  size_t file_bytes = static_cast<size_t>(st.st_size);
  TokenShard shard;
  shard.info_.path = path;
  if (file_bytes > 0) {
    void* map = ::mmap(nullptr, file_bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
      ::close(fd);
      fail("{}: cannot mmap: {}", name, std::strerror(errno));
    }
    shard.map_ = static_cast<const uint8_t*>(map);
    shard.map_bytes_ = file_bytes;
  }
  ::close(fd);
  const uint8_t* h = shard.map_;
  if (file_bytes < kShardHeaderBytes)
    fail("{}: truncated token shard: {} bytes, the header alone needs {}", name, file_bytes, kShardHeaderBytes);
  if (std::memcmp(h, kShardMagic, sizeof kShardMagic) != 0)
    fail("{}: not an r1 token shard (bad magic; expected \"R1TOKENS\")", name);
  uint32_t version = load_le<uint32_t>(h + 8);
  if (version != kShardVersion)
    fail("{}: token shard version {} is not supported (expected {})", name, version, kShardVersion);
  uint32_t width = load_le<uint32_t>(h + 12);
  if (width != 2 && width != 4) fail("{}: bytes per token is {} (expected 2 or 4)", name, width);
  ShardInfo& info = shard.info_;
  info.bytes_per_token = int(width);
  info.tokens = load_le<uint64_t>(h + 16);
  info.documents = load_le<uint64_t>(h + 24);
  info.text_bytes = load_le<uint64_t>(h + 32);
  info.vocab_size = load_le<uint64_t>(h + 40);
  info.eos_id = load_le<int64_t>(h + 48);
  const char* hash = reinterpret_cast<const char*>(h + 56);
  info.tokenizer_hash.assign(hash, strnlen(hash, 64));
  uint64_t payload = file_bytes - kShardHeaderBytes;
  if (info.tokens > payload / width)
    fail("{}: truncated token shard: the header says {} tokens, the file holds {} bytes of tokens ({} tokens)", name,
         info.tokens, payload, payload / width);
  if (payload != info.tokens * width)
    fail("{}: token count mismatch: the header says {} tokens, the file holds {} bytes of tokens", name, info.tokens,
         payload);
  if (width == 2 && info.vocab_size > 65536)
    fail("{}: vocabulary of {} ids stored as uint16 (expected uint32)", name, info.vocab_size);
  return shard;
}

TokenShard::TokenShard(TokenShard&& other) noexcept
    : info_(std::move(other.info_)), map_(std::exchange(other.map_, nullptr)), map_bytes_(other.map_bytes_) {}

TokenShard& TokenShard::operator=(TokenShard&& other) noexcept {
  if (this != &other) {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), map_bytes_);
    info_ = std::move(other.info_);
    map_ = std::exchange(other.map_, nullptr);
    map_bytes_ = other.map_bytes_;
  }
  return *this;
}

TokenShard::~TokenShard() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), map_bytes_);
}

void TokenShard::read(uint64_t offset, size_t count, int64_t* out) const {
  if (offset > info_.tokens || count > info_.tokens - offset)
    fail("{}: read of tokens [{}, {}) is outside the shard's {} tokens", info_.path.string(), offset, offset + count,
         info_.tokens);
  const uint8_t* p = map_ + kShardHeaderBytes + offset * info_.bytes_per_token;
  uint64_t largest = 0;
  if (info_.bytes_per_token == 2) {
    for (size_t i = 0; i < count; ++i)
      largest = std::max<uint64_t>(largest, uint64_t(out[i] = load_le<uint16_t>(p + 2 * i)));
  } else {
    for (size_t i = 0; i < count; ++i)
      largest = std::max<uint64_t>(largest, uint64_t(out[i] = load_le<uint32_t>(p + 4 * i)));
  }
  if (count > 0 && largest >= info_.vocab_size) {  // a corrupted shard: named here, not an index error in the model
    size_t at = 0;
    while (uint64_t(out[at]) < info_.vocab_size) ++at;
    fail("{}: token {} is id {}, outside the shard's vocabulary of {} ids (a corrupted shard: re-run r1 data prepare)",
         info_.path.string(), offset + at, out[at], info_.vocab_size);
  }
}

// ---- ShardWriter --------------------------------------------------------------------------------------

ShardWriter::ShardWriter(fs::path path, uint64_t vocab_size, int64_t eos_id, std::string tokenizer_hash)
    : path_(std::move(path)),
      vocab_size_(vocab_size),
      eos_id_(eos_id),
      tokenizer_hash_(std::move(tokenizer_hash)),
      bytes_per_token_(vocab_size <= 65536 ? 2 : 4) {
  if (tokenizer_hash_.size() > 64) fail("internal: tokenizer hash '{}' longer than 64 bytes", tokenizer_hash_);
}

void ShardWriter::add_document(const std::vector<int32_t>& tokens, uint64_t text_bytes) {
  size_t at = payload_.size();
  payload_.resize(at + tokens.size() * bytes_per_token_);
  uint8_t* p = payload_.data() + at;
  for (int32_t id : tokens) {
    if (id < 0 || uint64_t(id) >= vocab_size_)
      fail("{}: token id {} outside the vocabulary (size {})", path_.string(), id, vocab_size_);
    if (bytes_per_token_ == 2) {
      store_le<uint16_t>(p, uint16_t(id));
      p += 2;
    } else {
      store_le<uint32_t>(p, uint32_t(id));
      p += 4;
    }
  }
  tokens_ += tokens.size();
  documents_ += 1;
  text_bytes_ += text_bytes;
}

ShardInfo ShardWriter::finish() {
  uint8_t header[kShardHeaderBytes] = {};
  std::memcpy(header, kShardMagic, sizeof kShardMagic);
  store_le<uint32_t>(header + 8, kShardVersion);
  store_le<uint32_t>(header + 12, uint32_t(bytes_per_token_));
  store_le<uint64_t>(header + 16, tokens_);
  store_le<uint64_t>(header + 24, documents_);
  store_le<uint64_t>(header + 32, text_bytes_);
  store_le<uint64_t>(header + 40, vocab_size_);
  store_le<int64_t>(header + 48, eos_id_);
  std::memcpy(header + 56, tokenizer_hash_.data(), tokenizer_hash_.size());
  AtomicFile file(path_);
  file.write(header, sizeof header);
  file.write(payload_.data(), payload_.size());
  file.commit();
  ShardInfo info{path_, bytes_per_token_, tokens_, documents_, text_bytes_, tokenizer_hash_, vocab_size_, eos_id_};
  payload_ = {};
  tokens_ = documents_ = text_bytes_ = 0;
  return info;
}

// ---- Finding shards -----------------------------------------------------------------------------------

std::vector<fs::path> list_shards(const fs::path& dir_or_file, const std::string& split) {
  if (split != "train" && split != "validation") fail_usage("split: expected train or validation, got '{}'", split);
  if (fs::is_regular_file(dir_or_file)) return {dir_or_file};
  if (!fs::is_directory(dir_or_file)) fail("{}: no such token shard or prepared data directory", dir_or_file.string());
  std::vector<fs::path> shards;
  fs::path manifest = dir_or_file / "manifest.json";
  if (fs::exists(manifest)) {
    nlohmann::json j;
    if (!parse_json_bounded(read_file(manifest), j, nullptr) || !j.is_object() || !j.contains("splits") ||
        !j["splits"].is_object() || !j["splits"].contains(split))
      fail("{}: not a data manifest with a \"{}\" split", manifest.string(), split);
    const nlohmann::json& entry = j["splits"][split];
    if (!entry.is_object() || (entry.contains("shards") && !entry["shards"].is_array()))
      fail("{}: \"splits\".\"{}\" must be an object with a \"shards\" list", manifest.string(), split);
    for (const auto& s : entry.value("shards", nlohmann::json::array())) {
      if (!s.is_object() || !s.contains("file") || !s["file"].is_string())
        fail("{}: \"splits\".\"{}\".\"shards\": each shard needs a string \"file\", found {}", manifest.string(), split,
             s.dump());
      const std::string file = s["file"].get<std::string>();
      if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
        fail("{}: shard file '{}' is not a file name in this directory", manifest.string(), file);
      shards.push_back(dir_or_file / file);
    }
  } else {
    for (const auto& entry : fs::directory_iterator(dir_or_file)) {
      std::string name = entry.path().filename().string();
      if (name.rfind(split + "-", 0) == 0 && entry.path().extension() == ".bin") shards.push_back(entry.path());
    }
    std::sort(shards.begin(), shards.end());
  }
  if (shards.empty()) fail("{}: no {} shards", dir_or_file.string(), split);
  return shards;
}

uint64_t parse_count(const std::string& text, const std::string& option) {
  size_t pos = 0;
  while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) ++pos;
  std::string number = text.substr(0, pos), unit = text.substr(pos);
  double scale = 0;
  if (unit.empty())
    scale = 1;
  else if (unit == "k" || unit == "K")
    scale = 1e3;
  else if (unit == "M")
    scale = 1e6;
  else if (unit == "B" || unit == "G")
    scale = 1e9;
  else if (unit == "T")
    scale = 1e12;
  double value = -1;
  try {
    size_t used = 0;
    if (!number.empty()) value = std::stod(number, &used);
    if (used != number.size()) value = -1;
  } catch (const std::exception&) {
    value = -1;
  }
  if (scale == 0 || value < 0)
    fail_usage("{}: expected a count such as 100M, 1.5B, 20k or 5000, got '{}'", option, text);
  return static_cast<uint64_t>(std::llround(value * scale));
}

}  // namespace r1::data
