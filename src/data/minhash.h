// MinHash-LSH building blocks for near-duplicate removal (`r1 data dedup`, near-dedup.cpp): the text
// normalisation and shingling rule, MinHash signatures, the band/row choice and exact Jaccard on shingle sets.
// Not here: reading and writing documents, the passes over the inputs, clustering (near-dedup.cpp).
// Reference behaviour: datasketch (ekzhu/datasketch: MinHash, MinHashLSH, lsh.py _optimal_param) and
// text-dedup (ChenghaoMou/text-dedup minhash.py: word 5-grams of the lower-cased text split at non-word
// characters, threshold 0.7). Departures:
//  1. Shingles are hashed with FNV-1a 64 per token and a rolling hash per n-gram (hash.h), where datasketch
//     uses the first 4 bytes of SHA-1. The permutations are datasketch's ((a x + b) mod (2^61 - 1)) & (2^32 - 1)
//     on the top 32 bits x of that hash, with a x exact (datasketch's NumPy product wraps at 2^64), and a, b
//     drawn from a seeded SplitMix64 stream instead of NumPy's RandomState.
//  2. Text is NFKC-normalised before lower-casing, and combining marks (Mn) stay inside words.
//  3. In the default `auto` shingling every CJK ideograph and kana is a word of its own, so CJK text (written
//     without spaces) gets character n-grams where text-dedup would see one long word.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "r1/data.h"

namespace r1::data {

// The normalised tokens of `text`, each as its UTF-8 bytes:
//  1. NFKC, then lower case (ICU full case mapping);
//  2. words are maximal runs of letters, digits (Unicode L* / N*), combining marks and '_'; everything else
//     (whitespace, punctuation, symbols, invalid UTF-8 bytes) separates words and is dropped;
//  3. Auto: every CJK ideograph or kana (Hiragana, Katakana) is a token of its own; Word: words as in 2;
//     Char: the code points of the words joined by single spaces (one token per code point, spaces included).
std::vector<std::string> dedup_tokens(std::string_view text, ShingleKind kind);

// The shingle set of `text`: the 64-bit hashes of its n-grams of consecutive tokens, sorted and unique. A
// text with fewer than `ngram` tokens (but at least one) has one shingle, of all its tokens (text-dedup); a
// text without tokens has none.
std::vector<uint64_t> shingle_set(std::string_view text, ShingleKind kind, int ngram);

// |A ∩ B| / |A ∪ B| of two sorted unique sets; 0 when both are empty.
double jaccard(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b);

// MinHash with `num_perm` seeded permutations h_i(x) = ((a_i x + b_i) mod (2^61 - 1)) & (2^32 - 1) of the
// top 32 bits x of each shingle hash (datasketch's family). Pr[sig_i(A) == sig_i(B)] ≈ Jaccard(A, B).
class MinHasher {
 public:
  MinHasher(int num_perm, uint64_t seed);
  int num_perm() const { return int(b_.size()); }
  // out[0..num_perm): the signature of a shingle set (all 0xffffffff for an empty set).
  void signature(const std::vector<uint64_t>& shingles, uint32_t* out) const;
  std::vector<uint32_t> signature(const std::vector<uint64_t>& shingles) const;

 private:
  std::vector<uint32_t> a_lo_, a_hi_;  // a_i = a_hi * 2^32 + a_lo, 1 <= a_i < 2^61 - 1
  std::vector<uint64_t> b_;            // 0 <= b_i < 2^61 - 1
};

// The fraction of equal positions of two signatures: the MinHash estimate of their sets' Jaccard.
double estimated_jaccard(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b);

// One 64-bit key per band: band k hashes signature values [k*rows, (k+1)*rows). Two documents are LSH
// candidates when some band's keys are equal.
void band_keys(const uint32_t* signature, int bands, int rows, uint64_t* out);

// Probability that a pair of Jaccard s shares at least one of `bands` bands of `rows` rows: 1 - (1 - s^r)^b.
double lsh_candidate_probability(double s, int bands, int rows);

}  // namespace r1::data
