// Hasher: four independent multiply-rotate lanes over 32-byte blocks (the structure of xxHash64, with its
// primes), then a length-salted avalanche. Every input bit reaches every output bit; order matters.
#include "common/checksum.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "r1/error.h"

namespace r1 {
namespace {
constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full, kP3 = 0x165667B19E3779F9ull;
inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t round(uint64_t acc, uint64_t word) { return rotl(acc + word * kP2, 31) * kP1; }
inline uint64_t load64(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
inline uint64_t avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}
}  // namespace

void Hasher::update(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  length_ += size;
  if (tail_size_ > 0) {
    size_t take = std::min(size, sizeof tail_ - tail_size_);
    std::memcpy(tail_ + tail_size_, p, take);
    tail_size_ += take, p += take, size -= take;
    if (tail_size_ < sizeof tail_) return;
    for (int i = 0; i < 4; ++i) state_[i] = round(state_[i], load64(tail_ + 8 * i));
    tail_size_ = 0;
  }
  for (; size >= 32; p += 32, size -= 32)
    for (int i = 0; i < 4; ++i) state_[i] = round(state_[i], load64(p + 8 * i));
  std::memcpy(tail_, p, size);
  tail_size_ = size;
}

uint64_t Hasher::digest() const {
  uint64_t h = rotl(state_[0], 1) + rotl(state_[1], 7) + rotl(state_[2], 12) + rotl(state_[3], 18);
  for (int i = 0; i < 4; ++i) h = (h ^ round(0, state_[i])) * kP1 + kP3;
  h += length_;
  size_t i = 0;
  for (; i + 8 <= tail_size_; i += 8) h = rotl(h ^ round(0, load64(tail_ + i)), 27) * kP1 + kP3;
  for (; i < tail_size_; ++i) h = rotl(h ^ (uint64_t(tail_[i]) * kP3), 11) * kP1;
  return avalanche(h);
}

std::string Hasher::hex() const { return fmt::format("{:016x}", digest()); }

std::string checksum_bytes(std::string_view bytes) {
  Hasher h;
  h.update(bytes);
  return h.hex();
}

std::string checksum_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read '{}'", path.string());
  Hasher h;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), std::streamsize(buffer.size()));
    h.update(buffer.data(), size_t(in.gcount()));
  }
  if (in.bad()) fail("error reading '{}'", path.string());
  return h.hex();
}

}  // namespace r1
