// UTF-8 decoding, the GPT-2 byte map, and ICU-backed normalization and character classes; see unicode.h.
#include "tokenizer/unicode.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <mutex>
#include <unordered_map>

#include "r1/error.h"

namespace r1::tokenizer {

char32_t next_code_point(std::string_view s, size_t& pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  unsigned char c = p[pos];
  if (c < 0x80) {
    ++pos;
    return c;
  }
  int len;
  char32_t cp;
  if ((c & 0xE0) == 0xC0)
    len = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0)
    len = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0)
    len = 4, cp = c & 0x07;
  else {
    ++pos;
    return kInvalidCodePoint;
  }
  if (pos + len > n) {
    ++pos;
    return kInvalidCodePoint;
  }
  for (int i = 1; i < len; ++i) {
    if ((p[pos + i] & 0xC0) != 0x80) {
      ++pos;
      return kInvalidCodePoint;
    }
    cp = (cp << 6) | (p[pos + i] & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  static constexpr char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    ++pos;
    return kInvalidCodePoint;
  }
  pos += len;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

size_t complete_utf8_prefix(std::string_view s) {
  // Look back at most 3 bytes for the start of a multi-byte sequence that the end cuts short.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead byte
    int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return int(back) < len ? n - back : n;
  }
  return n;
}

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    if (next_code_point(s, pos) == kInvalidCodePoint)
      out += "\xEF\xBF\xBD";
    else
      out.append(s.substr(start, pos - start));
  }
  return out;
}

const std::array<std::string, 256>& byte_to_unicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      append_utf8(t[b], printable ? char32_t(b) : char32_t(256 + extra++));
    }
    return t;
  }();
  return table;
}

int unicode_to_byte(char32_t cp) {
  static const std::unordered_map<char32_t, int> inverse = [] {
    std::unordered_map<char32_t, int> m;
    const auto& t = byte_to_unicode();
    for (int b = 0; b < 256; ++b) {
      size_t pos = 0;
      m[next_code_point(t[b], pos)] = b;
    }
    return m;
  }();
  auto it = inverse.find(cp);
  return it == inverse.end() ? -1 : it->second;
}

std::string bytes_to_unicode_string(std::string_view bytes) {
  const auto& t = byte_to_unicode();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += t[b];
  return out;
}

namespace {
const icu::Normalizer2& normalizer_for(NormalForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case NormalForm::kNfc:
      n = icu::Normalizer2::getNFCInstance(status);
      break;
    case NormalForm::kNfd:
      n = icu::Normalizer2::getNFDInstance(status);
      break;
    case NormalForm::kNfkc:
      n = icu::Normalizer2::getNFKCInstance(status);
      break;
    case NormalForm::kNfkd:
      n = icu::Normalizer2::getNFKDInstance(status);
      break;
  }
  if (U_FAILURE(status) || n == nullptr) fail("ICU normalizer unavailable: {}", u_errorName(status));
  return *n;
}

// Applies f to each maximal run of valid UTF-8, copying invalid bytes through unchanged.
template <typename F>
std::string map_valid_runs(std::string_view text, F f) {
  std::string out;
  size_t pos = 0, run = 0;
  while (pos < text.size()) {
    size_t start = pos;
    if (next_code_point(text, pos) == kInvalidCodePoint) {
      if (start > run) out += f(text.substr(run, start - run));
      out += text[start];
      run = pos;
    }
  }
  if (run < text.size()) out += f(text.substr(run));
  return out;
}
}  // namespace

std::string normalize_unicode(std::string_view text, NormalForm form) {
  const icu::Normalizer2& n = normalizer_for(form);
  return map_valid_runs(text, [&](std::string_view run) {
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(run.data(), int32_t(run.size())));
    UErrorCode status = U_ZERO_ERROR;
    if (n.isNormalized(u, status) && U_SUCCESS(status)) return std::string(run);
    status = U_ZERO_ERROR;
    icu::UnicodeString r = n.normalize(u, status);
    if (U_FAILURE(status)) fail("Unicode normalization failed: {}", u_errorName(status));
    std::string out;
    r.toUTF8String(out);
    return out;
  });
}

std::string to_lower_unicode(std::string_view text) {
  return map_valid_runs(text, [](std::string_view run) {
    std::string out;
    icu::UnicodeString::fromUTF8(icu::StringPiece(run.data(), int32_t(run.size())))
        .toLower(icu::Locale::getRoot())
        .toUTF8String(out);
    return out;
  });
}

std::string to_upper_unicode(std::string_view text) {
  return map_valid_runs(text, [](std::string_view run) {
    std::string out;
    icu::UnicodeString::fromUTF8(icu::StringPiece(run.data(), int32_t(run.size())))
        .toUpper(icu::Locale::getRoot())
        .toUTF8String(out);
    return out;
  });
}

bool is_whitespace(char32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  return cp != kInvalidCodePoint && u_hasBinaryProperty(UChar32(cp), UCHAR_WHITE_SPACE);
}

bool is_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  return cp != kInvalidCodePoint && u_ispunct(UChar32(cp));
}

bool is_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r' || cp == kInvalidCodePoint) return false;
  int8_t type = u_charType(UChar32(cp));
  return type == U_CONTROL_CHAR || type == U_FORMAT_CHAR;
}

bool is_cjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_combining_mark(char32_t cp) { return cp != kInvalidCodePoint && u_charType(UChar32(cp)) == U_NON_SPACING_MARK; }

bool is_alphanumeric(char32_t cp) { return cp != kInvalidCodePoint && (u_isalpha(UChar32(cp)) || is_numeric(cp)); }

bool is_numeric(char32_t cp) {
  if (cp == kInvalidCodePoint) return false;
  int8_t t = u_charType(UChar32(cp));
  return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
}

}  // namespace r1::tokenizer
