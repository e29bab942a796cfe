// Stable, platform-independent hashes for data preparation and loading: FNV-1a 64 over bytes (document
// dedup keys, the validation split, tokenizer identity) and SplitMix64 finalisation (counter-based random
// streams and Feistel round functions). Not cryptographic; std::hash is avoided because it is not stable
// across standard libraries. References: FNV (Fowler/Noll/Vo), SplitMix64 (Steele, Lea, Flood 2014).
#pragma once

#include <cstdint>
#include <string_view>

namespace r1::data {

inline uint64_t fnv1a64(std::string_view bytes, uint64_t hash = 0xcbf29ce484222325ull) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint64_t mix64(uint64_t a, uint64_t b) { return mix64(a ^ mix64(b)); }
inline uint64_t mix64(uint64_t a, uint64_t b, uint64_t c) { return mix64(mix64(a, b), c); }

// A uniform double in [0, 1) from 64 random bits.
inline double unit_interval(uint64_t bits) { return double(bits >> 11) * 0x1.0p-53; }

}  // namespace r1::data
