// Shingling, MinHash signatures, LSH band keys and the band/row choice; see minhash.h for the rules and the
// departures from datasketch / text-dedup.
#include "data/minhash.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "data/hash.h"
#include "kernels/simd.h"
#include "r1/error.h"
#include "tokenizer/unicode.h"

namespace r1::data {

namespace {

constexpr uint64_t kMersenne61 = (uint64_t(1) << 61) - 1;
constexpr uint64_t kLow29 = (uint64_t(1) << 29) - 1;
constexpr uint64_t kPermutationStream = 0x6d696e686173682dull;  // "minhash-"

bool is_cjk_or_kana(char32_t cp) {
  if (cp < 0x3040) return false;  // below Hiragana: neither (and the common case)
  return tokenizer::is_cjk(cp) || cp <= 0x30FF || (cp >= 0x31F0 && cp <= 0x31FF);
}

bool is_word_char(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '_';
  return tokenizer::is_alphanumeric(cp) || tokenizer::is_combining_mark(cp);
}

// The normalised text: NFKC then lower case; ASCII text (the common case) skips ICU (NFKC is the identity on
// ASCII and lower-casing is bytewise).
std::string normalise(std::string_view text) {
  bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) {
    std::string out(text);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
  }
  return tokenizer::to_lower_unicode(tokenizer::normalize_unicode(text, tokenizer::NormalForm::kNfkc));
}

// Calls emit(token) for every token of `text` (see dedup_tokens); tokens point into a buffer of this call.
template <typename Emit>
void for_each_token(std::string_view text, ShingleKind kind, Emit&& emit) {
  const std::string norm = normalise(text);
  const std::string_view s = norm;
  bool first_word = true;
  auto word = [&](size_t begin, size_t end) {
    if (begin == end) return;
    if (kind != ShingleKind::Char) {
      emit(s.substr(begin, end - begin));
      return;
    }
    if (!first_word) emit(std::string_view(" "));
    first_word = false;
    for (size_t pos = begin; pos < end;) {
      size_t start = pos;
      tokenizer::next_code_point(s, pos);
      emit(s.substr(start, pos - start));
    }
  };
  size_t word_start = 0;
  for (size_t pos = 0; pos < s.size();) {
    const size_t start = pos;
    const char32_t cp =
        static_cast<unsigned char>(s[pos]) < 0x80 ? char32_t(s[pos++]) : tokenizer::next_code_point(s, pos);
    if (cp == tokenizer::kInvalidCodePoint || !is_word_char(cp)) {
      word(word_start, start);
      word_start = pos;
    } else if (kind == ShingleKind::Auto && is_cjk_or_kana(cp)) {
      word(word_start, start);
      word(start, pos);
      word_start = pos;
    }
  }
  word(word_start, s.size());
}

double simpson(double a, double b, int intervals, const auto& f) {
  const double h = (b - a) / intervals;
  double sum = f(a) + f(b);
  for (int i = 1; i < intervals; ++i) sum += (i % 2 ? 4.0 : 2.0) * f(a + i * h);
  return sum * h / 3.0;
}

// sig[i] = min(sig[i], ((a_i x + b_i) mod (2^61 - 1)) & (2^32 - 1)) for every shingle x (its top 32 bits), in
// 32x32->64-bit products only, so the loop over permutations vectorises: a x = a_hi x 2^32 + a_lo x, and
// 2^61 = 1 (mod 2^61 - 1) folds each part below 2^61 without a 128-bit product. The bounds: the five terms of
// t are < 2^61, 2^32, 2^61, 8 and 2^61, so t < 2^63; one fold and one conditional subtraction reduce it.
R1_VECTOR_CLONES void minhash_update(const uint32_t* a_lo, const uint32_t* a_hi, const uint64_t* b, int num_perm,
                                     const uint64_t* shingles, size_t count, uint32_t* sig) {
  for (size_t s = 0; s < count; ++s) {
    const uint64_t x = shingles[s] >> 32;
    for (int i = 0; i < num_perm; ++i) {
      const uint64_t lo = uint64_t(a_lo[i]) * x;
      const uint64_t hi = uint64_t(a_hi[i]) * x;
      const uint64_t t = ((hi & kLow29) << 32) + (hi >> 29) + (lo & kMersenne61) + (lo >> 61) + b[i];
      uint64_t r = (t & kMersenne61) + (t >> 61);
      r = r >= kMersenne61 ? r - kMersenne61 : r;
      const uint32_t v = uint32_t(r);
      sig[i] = v < sig[i] ? v : sig[i];
    }
  }
}

}  // namespace

ShingleKind parse_shingle_kind(const std::string& name) {
  if (name == "auto") return ShingleKind::Auto;
  if (name == "word") return ShingleKind::Word;
  if (name == "char") return ShingleKind::Char;
  fail_usage("--shingle: expected auto, word or char, got '{}'", name);
}

std::vector<std::string> dedup_tokens(std::string_view text, ShingleKind kind) {
  std::vector<std::string> tokens;
  for_each_token(text, kind, [&](std::string_view t) { tokens.emplace_back(t); });
  return tokens;
}

std::vector<uint64_t> shingle_set(std::string_view text, ShingleKind kind, int ngram) {
  if (ngram < 1) fail_usage("--ngram: must be at least 1, got {}", ngram);
  std::vector<uint64_t> token_hashes;
  for_each_token(text, kind, [&](std::string_view t) { token_hashes.push_back(fnv1a64(t)); });
  std::vector<uint64_t> out;
  if (token_hashes.empty()) return out;
  // Fewer tokens than ngram: one shingle of all of them (text-dedup's ngrams()).
  ngram_hashes(token_hashes.data(), token_hashes.size(), std::min(size_t(ngram), token_hashes.size()), out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

double jaccard(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  if (a.empty() && b.empty()) return 0.0;
  size_t i = 0, j = 0, common = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] < b[j])
      ++i;
    else if (b[j] < a[i])
      ++j;
    else
      ++common, ++i, ++j;
  }
  return double(common) / double(a.size() + b.size() - common);
}

MinHasher::MinHasher(int num_perm, uint64_t seed) {
  if (num_perm < 2) fail_usage("--num-perm: must be at least 2, got {}", num_perm);
  a_lo_.resize(size_t(num_perm));
  a_hi_.resize(size_t(num_perm));
  b_.resize(size_t(num_perm));
  for (size_t i = 0; i < b_.size(); ++i) {
    const uint64_t a = 1 + mix64(seed, kPermutationStream, 2 * i) % (kMersenne61 - 1);  // [1, p)
    a_lo_[i] = uint32_t(a);
    a_hi_[i] = uint32_t(a >> 32);
    b_[i] = mix64(seed, kPermutationStream, 2 * i + 1) % kMersenne61;  // [0, p)
  }
}

void MinHasher::signature(const std::vector<uint64_t>& shingles, uint32_t* out) const {
  std::fill(out, out + b_.size(), std::numeric_limits<uint32_t>::max());
  minhash_update(a_lo_.data(), a_hi_.data(), b_.data(), num_perm(), shingles.data(), shingles.size(), out);
}

std::vector<uint32_t> MinHasher::signature(const std::vector<uint64_t>& shingles) const {
  std::vector<uint32_t> out(b_.size());
  signature(shingles, out.data());
  return out;
}

double estimated_jaccard(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  if (a.size() != b.size() || a.empty()) fail("estimated_jaccard: signatures of {} and {} values", a.size(), b.size());
  size_t equal = 0;
  for (size_t i = 0; i < a.size(); ++i) equal += a[i] == b[i];
  return double(equal) / double(a.size());
}

void band_keys(const uint32_t* signature, int bands, int rows, uint64_t* out) {
  for (int k = 0; k < bands; ++k) {
    uint64_t h = mix64(uint64_t(k));
    for (int r = 0; r < rows; ++r) h = mix64(h, signature[k * rows + r]);
    out[k] = h;
  }
}

double lsh_candidate_probability(double s, int bands, int rows) {
  return 1.0 - std::pow(1.0 - std::pow(s, rows), bands);
}

LshParams optimal_lsh_params(double threshold, int num_perm, double false_positive_weight,
                             double false_negative_weight) {
  if (!(threshold > 0.0 && threshold <= 1.0)) fail_usage("--threshold: expected a value in (0, 1], got {}", threshold);
  if (num_perm < 2) fail_usage("--num-perm: must be at least 2, got {}", num_perm);
  constexpr int kIntervals = 256;  // Simpson's rule: error far below the differences between candidates
  double best = std::numeric_limits<double>::infinity();
  LshParams out;
  for (int b = 1; b <= num_perm; ++b) {
    for (int r = 1; r <= num_perm / b; ++r) {
      const double fp =
          simpson(0.0, threshold, kIntervals, [&](double s) { return lsh_candidate_probability(s, b, r); });
      const double fn =
          simpson(threshold, 1.0, kIntervals, [&](double s) { return 1.0 - lsh_candidate_probability(s, b, r); });
      const double error = false_positive_weight * fp + false_negative_weight * fn;
      if (error < best) best = error, out = {b, r};
    }
  }
  return out;
}

}  // namespace r1::data
