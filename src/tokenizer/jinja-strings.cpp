// Python str operations for the chat-template built-ins (see jinja-strings.h). upper()/lower() use ICU's
// full case mapping, like CPython ("ß".upper() == "SS"); capitalize/title and the cased test map one code
// point at a time (ICU simple case mapping).
#include "tokenizer/jinja-strings.h"

#include <unicode/uchar.h>

#include "tokenizer/jinja-value.h"
#include "tokenizer/unicode.h"

namespace r1::tokenizer::jinja {
namespace {

char32_t upper(char32_t c) { return char32_t(u_toupper(UChar32(c))); }
char32_t lower(char32_t c) { return char32_t(u_tolower(UChar32(c))); }

bool is_cased(char32_t c) { return upper(c) != c || lower(c) != c; }

bool in_chars(char32_t c, const std::optional<std::u32string>& chars) {
  return chars ? chars->find(c) != std::u32string::npos : is_python_space(c);
}

}  // namespace

std::string py_upper(const std::string& s) { return to_upper_unicode(to_valid_utf8(s)); }

std::string py_lower(const std::string& s) { return to_lower_unicode(to_valid_utf8(s)); }

std::string py_capitalize(const std::string& s) {
  std::u32string cps = utf8_decode(s);
  for (size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? upper(cps[i]) : lower(cps[i]);
  return utf8_encode(cps);
}

std::string py_title(const std::string& s) {
  std::u32string cps = utf8_decode(s);
  bool previous_cased = false;
  for (auto& c : cps) {
    bool cased = is_cased(c);
    c = cased ? (previous_cased ? lower(c) : upper(c)) : c;
    previous_cased = cased;
  }
  return utf8_encode(cps);
}

std::string jinja_title(const std::string& s) {
  std::u32string cps = utf8_decode(s);
  bool word_start = true;
  for (auto& c : cps) {
    bool separator = is_python_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (separator) {
      word_start = true;
    } else {
      c = word_start ? upper(c) : lower(c);
      word_start = false;
    }
  }
  return utf8_encode(cps);
}

std::string py_strip(const std::string& s, const std::optional<std::string>& chars, StripSide side) {
  std::u32string cps = utf8_decode(s);
  std::optional<std::u32string> set;
  if (chars) set = utf8_decode(*chars);
  size_t begin = 0, end = cps.size();
  if (side != StripSide::kRight)
    while (begin < end && in_chars(cps[begin], set)) ++begin;
  if (side != StripSide::kLeft)
    while (end > begin && in_chars(cps[end - 1], set)) --end;
  return utf8_encode(cps.substr(begin, end - begin));
}

std::vector<std::string> py_split(const std::string& s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t start = 0;
    while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
      size_t at = s.find(*sep, start);
      if (at == std::string::npos) break;
      out.push_back(s.substr(start, at - start));
      start = at + sep->size();
    }
    out.push_back(s.substr(start));
    return out;
  }
  std::u32string cps = utf8_decode(s);
  size_t i = 0;
  while (true) {
    while (i < cps.size() && is_python_space(cps[i])) ++i;
    if (i == cps.size()) break;
    if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {
      size_t end = cps.size();
      while (end > i && is_python_space(cps[end - 1])) --end;
      out.push_back(utf8_encode(cps.substr(i, end - i)));
      break;
    }
    size_t j = i;
    while (j < cps.size() && !is_python_space(cps[j])) ++j;
    out.push_back(utf8_encode(cps.substr(i, j - i)));
    i = j;
  }
  return out;
}

std::vector<std::string> py_rsplit(const std::string& s, const std::optional<std::string>& sep, int64_t maxsplit) {
  if (maxsplit < 0) return py_split(s, sep, maxsplit);
  std::vector<std::string> out;
  if (sep) {
    size_t end = s.size();
    while (int64_t(out.size()) < maxsplit) {
      size_t at = end >= sep->size() ? s.rfind(*sep, end - sep->size()) : std::string::npos;
      if (at == std::string::npos) break;
      out.insert(out.begin(), s.substr(at + sep->size(), end - at - sep->size()));
      end = at;
    }
    out.insert(out.begin(), s.substr(0, end));
    return out;
  }
  std::u32string cps = utf8_decode(s);
  size_t j = cps.size();
  while (true) {
    while (j > 0 && is_python_space(cps[j - 1])) --j;
    if (j == 0) break;
    if (int64_t(out.size()) == maxsplit) {
      size_t begin = 0;
      while (begin < j && is_python_space(cps[begin])) ++begin;
      out.insert(out.begin(), utf8_encode(cps.substr(begin, j - begin)));
      break;
    }
    size_t i = j;
    while (i > 0 && !is_python_space(cps[i - 1])) --i;
    out.insert(out.begin(), utf8_encode(cps.substr(i, j - i)));
    j = i;
  }
  return out;
}

std::vector<std::string> py_splitlines(const std::string& s) {
  std::vector<std::string> out;
  std::u32string cps = utf8_decode(s);
  std::u32string line;
  for (size_t i = 0; i < cps.size(); ++i) {
    char32_t c = cps[i];
    bool brk = c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e) || c == 0x85 ||
               c == 0x2028 || c == 0x2029;
    if (!brk) {
      line += c;
      continue;
    }
    if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
    out.push_back(utf8_encode(line));
    line.clear();
  }
  if (!line.empty()) out.push_back(utf8_encode(line));
  return out;
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& replacement, int64_t count) {
  std::string out;
  int64_t done = 0;
  if (old.empty()) {
    std::u32string cps = utf8_decode(s);
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += replacement;
        ++done;
      }
      if (i < cps.size()) utf8_append(out, cps[i]);
    }
    return out;
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    size_t at = s.find(old, start);
    if (at == std::string::npos) break;
    out.append(s, start, at - start);
    out += replacement;
    start = at + old.size();
    ++done;
  }
  out.append(s, start, std::string::npos);
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace r1::tokenizer::jinja
