// Content checksums for corruption detection (checkpoint manifests, shard headers): a 64-bit hash over
// 8-byte words, ~8 GB/s, printed as 16 hex digits. It catches truncation, flipped bytes and swapped
// blocks; it is not a cryptographic hash and must never be used for authentication.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace r1 {

class Hasher {
 public:
  void update(const void* data, size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  uint64_t digest() const;  // does not change the state
  std::string hex() const;  // 16 lowercase hex digits

 private:
  uint64_t state_[4] = {0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full, 0x165667b19e3779f9ull, 0x27d4eb2f165667c5ull};
  unsigned char tail_[32] = {};
  size_t tail_size_ = 0;
  uint64_t length_ = 0;
};

std::string checksum_bytes(std::string_view bytes);
// Streams the file; r1::Error naming it if it cannot be read.
std::string checksum_file(const std::filesystem::path& path);

}  // namespace r1
