// UTF-8 and byte-level helpers for the tokenizer: code point decoding that tolerates invalid bytes, the
// GPT-2 byte<->unicode map (bytes_to_unicode in openai/gpt-2 encoder.py), Unicode normalization forms
// and lower-casing through ICU, and character classes used by the BERT components.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace r1::tokenizer {

// Decodes the code point at s[pos] and advances pos. An invalid or truncated sequence yields
// kInvalidCodePoint and advances by exactly one byte, so every byte of the input is visited once.
constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;
char32_t next_code_point(std::string_view s, size_t& pos);
void append_utf8(std::string& out, char32_t cp);
// Length of the longest prefix of s that does not end inside an incomplete (but so far valid) UTF-8
// sequence: what a streaming decoder may emit now; the rest waits for more bytes.
size_t complete_utf8_prefix(std::string_view s);

// Replaces every byte that is not part of a valid UTF-8 sequence with U+FFFD (what HF's decode and a JSON
// response need); valid text is returned unchanged.
std::string to_valid_utf8(std::string_view s);

// GPT-2's reversible map of the 256 byte values onto printable characters (e.g. ' ' -> 'Ġ', '\n' -> 'Ċ').
const std::array<std::string, 256>& byte_to_unicode();
// Inverse: the byte a mapped character stands for, or -1.
int unicode_to_byte(char32_t cp);
std::string bytes_to_unicode_string(std::string_view bytes);

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };
std::string normalize_unicode(std::string_view text, NormalForm form);  // invalid bytes are kept as they are
std::string to_lower_unicode(std::string_view text);
std::string to_upper_unicode(std::string_view text);  // full case mapping ("ß" -> "SS")

bool is_whitespace(char32_t cp);      // Unicode White_Space (BERT: plus \t \n \r)
bool is_punctuation(char32_t cp);     // ASCII symbols plus Unicode P* categories (BERT's _is_punctuation)
bool is_control(char32_t cp);         // Cc/Cf except \t \n \r (BERT's _is_control)
bool is_cjk(char32_t cp);             // CJK Unified Ideograph blocks (BERT's _is_chinese_char)
bool is_combining_mark(char32_t cp);  // Mn, removed by strip_accents after NFD
bool is_alphanumeric(char32_t cp);    // Rust char::is_alphanumeric (L* or N*)
bool is_numeric(char32_t cp);         // Rust char::is_numeric (N*)

}  // namespace r1::tokenizer
