// A compiled PCRE2 regular expression (UTF + Unicode properties, JIT when available) for the Split
// pre-tokenizer and Replace normalizer/decoder. HF tokenizers uses Oniguruma; the GPT-2, Llama-3, Qwen2 and
// DeepSeek patterns (\p{L}, \p{N}, (?i:...), (?!\S)) mean the same in PCRE2. Invalid UTF-8 in the subject is
// allowed (PCRE2_MATCH_INVALID_UTF): such bytes never match, so they fall into the gaps between matches.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace r1::tokenizer {

class Regex {
 public:
  explicit Regex(const std::string& pattern);  // r1::Error with the pattern and PCRE2's message and offset
  const std::string& pattern() const { return pattern_; }
  // All non-overlapping matches [begin, end) in s, left to right (empty matches skipped). Thread-safe.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view s) const;

 private:
  struct Impl;
  std::string pattern_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace r1::tokenizer
