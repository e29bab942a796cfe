// Internal to src/verify: the byte-level scanning helpers the stages share (extraction.cpp, answer-spans.cpp,
// normalize.cpp and its units, the LaTeX lexer and parser) — Python's notion of whitespace (\s, str.isspace) over
// UTF-8, character lengths, ASCII classes and literal matches — so they read text by one rule.
#pragma once

#include <cstddef>
#include <string_view>

namespace r1::verify::scan {

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

// Length in bytes of the UTF-8 character at i (1 for a stray byte).
inline size_t cp_len(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  return i + n <= s.size() ? n : 1;
}

// Length of the whitespace character at i as Python's \s sees it (ASCII and Unicode spaces), else 0.
inline size_t ws_len(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
  if (c < 0x80) return 0;
  auto at = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0; };
  if (c == 0xC2 && (at(1) == 0x85 || at(1) == 0xA0)) return 2;
  if (c == 0xE1 && at(1) == 0x9A && at(2) == 0x80) return 3;  // U+1680
  if (c == 0xE2 && at(1) == 0x80 &&
      ((at(2) >= 0x80 && at(2) <= 0x8A) || at(2) == 0xA8 || at(2) == 0xA9 || at(2) == 0xAF))
    return 3;                                                 // U+2000..200A, 2028, 2029, 202F
  if (c == 0xE2 && at(1) == 0x81 && at(2) == 0x9F) return 3;  // U+205F
  if (c == 0xE3 && at(1) == 0x80 && at(2) == 0x80) return 3;  // U+3000
  return 0;
}

inline size_t skip_ws(std::string_view s, size_t i) {
  for (size_t n; (n = ws_len(s, i)) > 0;) i += n;
  return i;
}

inline bool literal_at(std::string_view s, size_t i, std::string_view lit) {
  return i <= s.size() && s.size() - i >= lit.size() && s.compare(i, lit.size(), lit) == 0;
}

}  // namespace r1::verify::scan
