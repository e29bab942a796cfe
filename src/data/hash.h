// Stable, platform-independent hashes for data preparation and loading: FNV-1a 64 over bytes (document
// dedup keys, the validation split, tokenizer identity, words), SplitMix64 finalisation (counter-based random
// streams and Feistel round functions) and rolling n-gram hashes (near-dedup shingles, decontamination). Not
// cryptographic; std::hash is avoided because it is not stable across standard libraries. References: FNV
// (Fowler/Noll/Vo), SplitMix64 (Steele, Lea, Flood 2014), Karp-Rabin rolling hashes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

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

// The hash of every window of n consecutive token hashes, tokens[i, i+n) for i = 0 .. count-n, into `out`
// (empty when count < n): a polynomial rolling hash (sum of tokens[i+k] * B^(n-1-k) mod 2^64, B odd, updated in
// O(1) per window) finalised with mix64, so word n-grams cost one multiply-add per word whatever n is.
inline void ngram_hashes(const uint64_t* tokens, size_t count, size_t n, std::vector<uint64_t>& out) {
  constexpr uint64_t kBase = 0x9e3779b97f4a7c15ull;  // odd
  out.clear();
  if (n == 0 || count < n) return;
  uint64_t top = 1;  // B^(n-1)
  for (size_t k = 1; k < n; ++k) top *= kBase;
  uint64_t h = 0;
  for (size_t k = 0; k < n; ++k) h = h * kBase + tokens[k];
  out.resize(count - n + 1);
  out[0] = mix64(h, n);
  for (size_t i = 1; i + n <= count; ++i) {
    h = (h - tokens[i - 1] * top) * kBase + tokens[i + n - 1];
    out[i] = mix64(h, n);
  }
}

// A uniform double in [0, 1) from 64 random bits.
inline double unit_interval(uint64_t bits) { return double(bits >> 11) * 0x1.0p-53; }

}  // namespace r1::data
