// LaTeX normalisation before parsing: latex2sympy2_extended's normalize_latex (1.10.2, behind Math-Verify 0.8),
// step for step, each group switched by a NormalizationConfig field:
//   boxed        the content of the last \boxed{} / \fbox{} (several when close together or separated by
//                "and", "or", "," or ";"), or of every box, joined by commas;
//   basic_latex  \mathrm{T} -> T, \left( -> (, "(n)_{k}" -> n!/(n-k)!, $ \displaystyle \! quotes and empty
//                \text{} removed, \mathrm / \textbf ... -> \text, \dfrac -> \frac, " ." -> " 0.", "and" / "or" ->
//                ",", infinity / inf -> \infty, \ldots removed, percent / percentage / pct -> \%, newlines -> spaces,
//                "\\x" -> "\x" outside matrices;
//   equations    "a = b = c" -> "c" (when there is no comma or semicolon);
//   units        a trailing \text{...} / \mbox{...} (with ^2) and a trailing unit word (latex2sympy's list,
//                twice) after a digit, "}" or a space (normalize-units.cpp);
//   nits         ".5" -> "0.5", "0.5" -> \frac{1}{2};
//   malformed    ^(x) -> ^{x}, sqrt(x) -> \sqrt{x}, \frac12 -> \frac{1}{2}, \sqrt3 -> \sqrt{3}, a/b -> \frac{a}{b}.
// The regular expressions of the original are hand-written scans here with the same results (lazy and
// greedy repetition, leftmost alternatives), each one pass over the text.
#include <algorithm>
#include <array>

#include "verify/expr.h"
#include "verify/normalize-units.h"
#include "verify/text-scan.h"

namespace r1::verify {

namespace {

constexpr size_t npos = std::string::npos;
using namespace scan;  // the scanning helpers shared with the other stages (text-scan.h)

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Python's str.strip(): Unicode whitespace at both ends.
std::string strip(std::string_view s) {
  size_t b = skip_ws(s, 0);
  size_t e = s.size();
  while (e > b) {
    size_t k = e - 1;
    while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
    if (ws_len(s, k) != e - k) break;
    e = k;
  }
  return std::string(s.substr(b, e - b));
}

size_t count_chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  size_t pos = s.find(from);
  if (pos == npos) return;
  std::string out;
  out.reserve(s.size());
  size_t done = 0;
  for (; pos != npos; pos = s.find(from, done)) {
    out.append(s, done, pos - done).append(to);
    done = pos + from.size();
  }
  out.append(s, done, npos);
  s = std::move(out);
}

// One left-to-right substitution pass: at each position, match(s, i, out) appends the replacement and returns
// the end of a match starting at i, or npos (the character is copied).
template <typename MatchAt>
void substitute(std::string& s, MatchAt match, Ticker& ticker) {
  std::string out;
  out.reserve(s.size());
  bool changed = false;
  for (size_t i = 0; i < s.size();) {
    ticker.tick();
    const size_t mark = out.size();
    const size_t end = match(std::string_view(s), i, out);
    if (end != npos && end > i) {
      changed = true;
      i = end;
    } else {
      out.resize(mark);
      out += s[i++];
    }
  }
  if (changed) s = std::move(out);
}

// The first position >= from where pred holds (s.size() if none), remembering its last answer: the queries of
// one left-to-right pass (each lazy `.*?` of a pattern, from each place the pattern starts) cost one walk.
template <typename Pred>
class NextCache {
 public:
  NextCache(std::string_view s, Pred pred) : s_(s), pred_(pred) {}
  size_t next(size_t from) {
    if (lo_ != npos && from >= lo_ && from <= hi_) return hi_;
    size_t i = from;
    while (i < s_.size() && !pred_(s_, i)) ++i;
    lo_ = from;
    hi_ = i;
    return i;
  }

 private:
  std::string_view s_;
  Pred pred_;
  size_t lo_ = npos, hi_ = npos;
};

// ---- \boxed{} extraction ---------------------------------------------------------------------------------------

// The closing brace of the box whose { is at open, before max_pos (braces counted, no escapes), else npos.
size_t box_close(std::string_view s, size_t open, size_t max_pos) {
  int depth = 1;
  for (size_t i = open + 1; i < max_pos; ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return npos;
}

// Separators that let an earlier box join the last ones: and, or, a comma or a semicolon.
bool has_separator(std::string_view between) {
  return between.find("and") != npos || between.find("or") != npos || between.find(',') != npos ||
         between.find(';') != npos;
}

}  // namespace

std::string extract_boxed_content(std::string_view text, BoxedMode mode, Ticker& ticker) {
  std::vector<std::string> results;
  size_t current = text.size(), max_pos = text.size();
  size_t last_box_start = npos;
  while (true) {
    ticker.tick();
    const std::string_view head = text.substr(0, current);  // Python's rfind(x, 0, current)
    const size_t b = head.rfind("\\boxed"), f = head.rfind("\\fbox");
    if (b == npos && f == npos) break;
    const bool is_boxed = f == npos || (b != npos && b > f);
    const size_t start = is_boxed ? b : f;
    size_t next = start + (is_boxed ? 6 : 5);
    while (next < max_pos && ws_len(text, next) > 0) next += ws_len(text, next);
    if (next >= max_pos) break;
    if (text[next] != '{') {
      if (results.empty()) results.emplace_back(text.substr(next));
      break;
    }
    const size_t close = box_close(text, next, max_pos);
    if (close == npos) {
      if (results.empty()) results.emplace_back(text.substr(next));
      break;
    }
    std::string content = strip(text.substr(next + 1, close - next - 1));
    if (mode == BoxedMode::kLast && last_box_start != npos) {
      const std::string_view between = text.substr(close + 1, last_box_start - std::min(last_box_start, close + 1));
      const size_t n = count_chars(between);
      const bool join =
          n < 10 || (content != (results.empty() ? "" : results.back()) && n < 70 && has_separator(between));
      if (!join) break;
    }
    results.push_back(std::move(content));
    last_box_start = start;
    max_pos = start;
    current = start;
  }
  if (results.empty()) return std::string(text);
  std::string out;
  for (size_t i = results.size(); i-- > 0;) {
    out += results[i];
    if (i) out += ',';
  }
  return out;
}

namespace {

// ---- basic_latex ---------------------------------------------------------------------------------------------------

// What may follow \left / \mleft (then the command is dropped) and \right / \mright.
constexpr std::array<std::string_view, 19> kLeftFollowers = {
    "\\{",    "{",       "\\|",     "|",        "[",      "(",       "\\rbracl", "\\lgroup",   "\\lbrace",  "\\lbrack",
    "\\vert", "\\lvert", "\\lceil", "\\lfloor", "\\vert", "\\lvert", "\\langle", "\\llcorner", "\\ulcorner"};
constexpr std::array<std::string_view, 19> kRightFollowers = {
    "\\}",    "}",       "\\|",     "|",        "]",      ")",       "\\rbrack", "\\rgroup",   "\\rbrace",  "\\rbrack",
    "\\vert", "\\rvert", "\\rceil", "\\rfloor", "\\vert", "\\rvert", "\\rangle", "\\lrcorner", "\\urcorner"};

void drop_left_right(std::string& s, Ticker& ticker) {
  for (int pass = 0; pass < 2; ++pass) {
    const std::string_view word = pass == 0 ? "left" : "right";
    const auto& followers = pass == 0 ? kLeftFollowers : kRightFollowers;
    substitute(
        s,
        [&](std::string_view t, size_t i, std::string&) -> size_t {
          if (t[i] != '\\') return npos;
          size_t k = i + 1;
          if (k < t.size() && t[k] == 'm') ++k;  // \mleft: "left" can only follow the m
          if (!literal_at(t, k, word)) return npos;
          const size_t after = k + word.size();
          for (std::string_view f : followers)
            if (literal_at(t, after, f)) return after;  // the follower stays
          return npos;
        },
        ticker);
  }
}

// (n)_{k} -> \frac{(n)!}{((n)-(k))!}, n and k of [a-zA-Z0-9+\-*/\\ ] (lazily the shortest).
void permutations(std::string& s, Ticker& ticker) {
  if (s.find(")_{") == npos) return;
  auto allowed = [](char c) {
    return is_letter(c) || is_digit(c) || c == '+' || c == '-' || c == '*' || c == '/' || c == '\\' || c == ' ';
  };
  substitute(
      s,
      [&](std::string_view t, size_t i, std::string& out) -> size_t {
        if (t[i] != '(') return npos;
        size_t k = i + 1;
        while (k < t.size() && allowed(t[k])) ++k;
        // the lazy group ends at the first ")_{" reachable through allowed characters
        size_t close = npos;
        for (size_t j = i + 2; j <= k && j < t.size(); ++j)
          if (literal_at(t, j, ")_{")) {
            close = j;
            break;
          }
        if (close == npos) return npos;
        const size_t b = close + 3;
        size_t e = b;
        while (e < t.size() && allowed(t[e])) ++e;
        if (e == b || e >= t.size() || t[e] != '}') return npos;
        const std::string_view n = t.substr(i + 1, close - i - 1), r = t.substr(b, e - b);
        out.append("\\frac{(").append(n).append(")!}{((").append(n).append(")-(").append(r).append("))!}");
        return e + 1;
      },
      ticker);
}

// \mathrm{th}, \! and the spaces after it, empty \text{}, \$ and $, unescaped quotes, \displaystyle.
void remove_useless(std::string& s, Ticker& ticker) {
  substitute(
      s,
      [](std::string_view t, size_t i, std::string&) -> size_t {
        const char c = t[i];
        if (c == '$') return i + 1;
        if ((c == '"' || c == '\'') && (i == 0 || t[i - 1] != '\\')) return i + 1;
        if (c != '\\') return npos;
        if (literal_at(t, i, "\\mathrm{th}")) return i + 11;
        if (literal_at(t, i, "\\!")) return skip_ws(t, i + 2);
        if (literal_at(t, i, "\\text")) {
          size_t k = skip_ws(t, i + 5);
          if (k < t.size() && t[k] == '{') {
            k = skip_ws(t, k + 1);
            if (k < t.size() && t[k] == '}') return k + 1;
          }
        }
        if (literal_at(t, i, "\\$")) return i + 2;
        if (literal_at(t, i, "\\displaystyle")) return i + 13;
        return npos;
      },
      ticker);
}

// latex2sympy2_extended's replace_in_latex: one alternation of named replacements, leftmost first.
void replace_in_latex(std::string& s, Ticker& ticker) {
  substitute(
      s,
      [](std::string_view t, size_t i, std::string& out) -> size_t {
        const char c = t[i];
        if (c == '\\') {
          if (literal_at(t, i, "\\mathrm") || literal_at(t, i, "\\mathit") || literal_at(t, i, "\\mathbf")) {
            out += "\\text";
            return i + 7;
          }
          for (std::string_view v : {"\\textnormal", "\\textbf", "\\textit", "\\textrm"})
            if (literal_at(t, i, v)) {
              out += "\\text";
              return i + v.size();
            }
          if (literal_at(t, i, "\\dfrac") || literal_at(t, i, "\\tfrac") || literal_at(t, i, "\\cfrac")) {
            out += "\\frac";
            return i + 6;
          }
        }
        if (ws_len(t, i) && literal_at(t, i + ws_len(t, i), ".")) {  // decimal_space
          out += " 0.";
          return i + ws_len(t, i) + 1;
        }
        if (c == '{' && literal_at(t, i + 1, ".")) {  // decimal_brace
          out += "{0.";
          return i + 2;
        }
        if (literal_at(t, i, "~=")) {
          out += "\\approx";
          return i + 2;
        }
        {  // comma: \s*\{\s*,\s*\}
          size_t k = skip_ws(t, i);
          if (k < t.size() && t[k] == '{') {
            k = skip_ws(t, k + 1);
            if (k < t.size() && t[k] == ',') {
              k = skip_ws(t, k + 1);
              if (k < t.size() && t[k] == '}') {
                out += ",";
                return k + 1;
              }
            }
          }
        }
        if (i == 0 || !is_letter(t[i - 1])) {  // and_or: (?<![a-zA-Z]),?\s*(?:and|or)(?![a-zA-Z])
          size_t k = i;
          if (t[k] == ',') ++k;
          for (size_t b : {k, i}) {  // the comma, then (backtracking) without it
            if (b != i && b == k && t[i] != ',') continue;
            size_t w = skip_ws(t, b);
            for (std::string_view word : {"and", "or"})
              if (literal_at(t, w, word) && (w + word.size() >= t.size() || !is_letter(t[w + word.size()]))) {
                out += ",";
                return w + word.size();
              }
            if (t[i] != ',') break;
          }
        }
        {  // and_or_text: ,?\s*\\text{\s*(?:and|or)\s*}
          size_t k = i;
          if (t[k] == ',') ++k;
          k = skip_ws(t, k);
          if (literal_at(t, k, "\\text{")) {
            size_t w = skip_ws(t, k + 6);
            for (std::string_view word : {"and", "or"})
              if (literal_at(t, w, word)) {
                size_t e = skip_ws(t, w + word.size());
                if (e < t.size() && t[e] == '}') {
                  out += ",";
                  return e + 1;
                }
              }
          }
        }
        if (c == '\\' && (i == 0 || t[i - 1] != '\\') && ws_len(t, i + 1)) {  // backslash_space
          out += " ";
          return i + 1 + ws_len(t, i + 1);
        }
        if (literal_at(t, i, "infinity")) {
          out += "\\infty";
          return i + 8;
        }
        {  // dot: ,?\\ldots
          size_t k = i;
          if (t[k] == ',' && literal_at(t, k + 1, "\\ldots")) {
            out += " ";
            return k + 7;
          }
          if (literal_at(t, k, "\\ldots")) {
            out += " ";
            return k + 6;
          }
        }
        {  // \s*percentage, \text{percentage}, \s*percent, \text{percent}, \s*pct, \text{pct}
          const size_t k = skip_ws(t, i);
          if (literal_at(t, k, "percentage")) {
            out += "\\%";
            return k + 10;
          }
          if (literal_at(t, i, "\\text{percentage}")) {
            out += "\\%";
            return i + 17;
          }
          if (literal_at(t, k, "percent")) {
            out += "\\%";
            return k + 7;
          }
          if (literal_at(t, i, "\\text{percent}")) {
            out += "\\%";
            return i + 14;
          }
          if (literal_at(t, k, "pct")) {
            out += "\\%";
            return k + 3;
          }
          if (literal_at(t, i, "\\text{pct}")) {
            out += "\\%";
            return i + 10;
          }
        }
        if (literal_at(t, i, "inf") && (i == 0 || t[i - 1] != '\\') && !literal_at(t, i + 3, "inity")) {
          out += "\\infty";
          return i + 3;
        }
        if (literal_at(t, i, " sqrt")) {
          out += "\\sqrt";
          return i + 5;
        }
        return npos;
      },
      ticker);
}

// ---- malformed operators ---------------------------------------------------------------------------------------

// pattern "X\s?(" .*? ")" -> replacement around the group: ^(x) -> ^{x}, sqrt(x) -> \sqrt{x}.
void fix_parenthesised(std::string& s, std::string_view head, std::string_view open, std::string_view close,
                       Ticker& ticker) {
  if (s.find(head) == npos) return;
  NextCache stop(s, [](std::string_view t, size_t i) { return t[i] == ')' || t[i] == '\n'; });
  substitute(
      s,
      [&](std::string_view t, size_t i, std::string& out) -> size_t {
        if (!literal_at(t, i, head)) return npos;
        size_t k = i + head.size();
        if (k < t.size() && ws_len(t, k) == 1) ++k;
        if (k >= t.size() || t[k] != '(') return npos;
        const size_t c = stop.next(k + 1);
        if (c >= t.size() || t[c] != ')') return npos;
        out.append(open).append(t.substr(k + 1, c - k - 1)).append(close);
        return c + 1;
      },
      ticker);
}

void fix_malformed_operators(std::string& s, Ticker& ticker) {
  fix_parenthesised(s, "^", "^{", "}", ticker);
  fix_parenthesised(s, "sqrt", "\\sqrt{", "}", ticker);
  auto opt_space = [](std::string_view t, size_t k) { return k < t.size() && ws_len(t, k) == 1 ? k + 1 : k; };
  // \frac\s?(\d)\s?(\d+) -> \frac{a}{bc}
  substitute(
      s,
      [&](std::string_view t, size_t i, std::string& out) -> size_t {
        if (!literal_at(t, i, "\\frac")) return npos;
        size_t k = opt_space(t, i + 5);
        if (k >= t.size() || !is_digit(t[k])) return npos;
        const char a = t[k];
        size_t d = opt_space(t, k + 1);
        size_t e = d;
        while (e < t.size() && is_digit(t[e])) ++e;
        if (e == d) return npos;
        out.append("\\frac{").append(1, a).append("}{").append(t.substr(d, e - d)).append("}");
        return e;
      },
      ticker);
  // \log_\s?(\d)\s?(\d+) -> \log_{a}{bc}
  substitute(
      s,
      [&](std::string_view t, size_t i, std::string& out) -> size_t {
        if (!literal_at(t, i, "\\log_")) return npos;
        size_t k = opt_space(t, i + 5);
        if (k >= t.size() || !is_digit(t[k])) return npos;
        const char a = t[k];
        size_t d = opt_space(t, k + 1);
        size_t e = d;
        while (e < t.size() && is_digit(t[e])) ++e;
        if (e == d) return npos;
        out.append("\\log_{").append(1, a).append("}{").append(t.substr(d, e - d)).append("}");
        return e;
      },
      ticker);
  // \frac\s?{(.*?)}\s?(\d) -> \frac{x}{d}: the first } (lazily) followed by an optional space and a digit
  {
    NextCache brace_digit(s, [](std::string_view t, size_t c) {
      if (t[c] == '\n') return true;
      if (t[c] != '}') return false;
      const size_t d = c + 1 < t.size() && ws_len(t, c + 1) == 1 ? c + 2 : c + 1;
      return d < t.size() && is_digit(t[d]);
    });
    substitute(
        s,
        [&](std::string_view t, size_t i, std::string& out) -> size_t {
          if (!literal_at(t, i, "\\frac")) return npos;
          size_t k = opt_space(t, i + 5);
          if (k >= t.size() || t[k] != '{') return npos;
          const size_t c = brace_digit.next(k + 1);
          if (c >= t.size() || t[c] != '}') return npos;
          const size_t d = opt_space(t, c + 1);
          out.append("\\frac{").append(t.substr(k + 1, c - k - 1)).append("}{").append(1, t[d]).append("}");
          return d + 1;
        },
        ticker);
  }
  // \frac\s?(\d)\s?{(.*?)} -> \frac{d}{x}
  NextCache brace(s, [](std::string_view t, size_t i) { return t[i] == '}' || t[i] == '\n'; });
  substitute(
      s,
      [&](std::string_view t, size_t i, std::string& out) -> size_t {
        if (!literal_at(t, i, "\\frac")) return npos;
        size_t k = opt_space(t, i + 5);
        if (k >= t.size() || !is_digit(t[k])) return npos;
        size_t d = opt_space(t, k + 1);
        if (d >= t.size() || t[d] != '{') return npos;
        const size_t c = brace.next(d + 1);
        if (c >= t.size() || t[c] != '}') return npos;
        out.append("\\frac{").append(1, t[k]).append("}{").append(t.substr(d + 1, c - d - 1)).append("}");
        return c + 1;
      },
      ticker);
  // \sqrt\s?(\d) -> \sqrt{d}
  substitute(
      s,
      [&](std::string_view t, size_t i, std::string& out) -> size_t {
        if (!literal_at(t, i, "\\sqrt")) return npos;
        size_t k = opt_space(t, i + 5);
        if (k >= t.size() || !is_digit(t[k])) return npos;
        out.append("\\sqrt{").append(1, t[k]).append("}");
        return k + 1;
      },
      ticker);
  replace_all(s, " sqrt", "\\sqrt");
}

// Python's str.lstrip() on s[b, e): the first non-space.
size_t lstrip_from(std::string_view s, size_t b) { return skip_ws(s, b); }

// The MATH grader's _fix_sqrt: "\sqrt3" -> "\sqrt{3}" (the first character after \sqrt, when not { or [).
std::string fix_sqrt(const std::string& s) {
  if (s.find("\\sqrt") == npos) return s;
  std::string out;
  size_t pos = s.find("\\sqrt");
  out.append(s, 0, pos);
  while (pos != npos) {
    const size_t from = pos + 5;
    size_t next = s.find("\\sqrt", from);
    const size_t end = next == npos ? s.size() : next;
    const size_t b = lstrip_from(s, from);
    if (b < end && s[b] != '{' && s[b] != '[') {
      const size_t n = cp_len(s, b);
      out.append("\\sqrt{").append(s, b, n).append("}").append(s, b + n, end - b - n);
    } else {
      out.append("\\sqrt").append(s, std::min(b, end), end - std::min(b, end));
    }
    pos = next;
  }
  return out;
}

// The MATH grader's _fix_fracs: "\frac12" -> "\frac{1}{2}", "\frac1{2}" -> "\frac{1}{2}".
std::string fix_fracs(const std::string& s) {
  size_t pos = s.find("\\frac");
  if (pos == npos) return s;
  std::string out(s, 0, pos);
  while (pos != npos) {
    const size_t from = pos + 5;
    size_t next = s.find("\\frac", from);
    const size_t end = next == npos ? s.size() : next;
    const size_t b = lstrip_from(s, from);
    out += "\\frac";
    const std::string_view rest(s.data() + std::min(b, end), end - std::min(b, end));
    if (!rest.empty() && rest[0] == '{') {
      out += rest;
    } else if (rest.size() < 2) {
      return s;
    } else {
      const size_t na = cp_len(rest, 0);
      const std::string_view a = rest.substr(0, na);
      if (na >= rest.size()) return s;
      const size_t nb = cp_len(rest, na);
      const std::string_view c = rest.substr(na, nb);
      if (c != "{") {
        out.append("{").append(a).append("}{").append(c).append("}").append(rest.substr(na + nb));
      } else {
        out.append("{").append(a).append("}").append(c).append(rest.substr(na + nb));
      }
    }
    pos = next;
  }
  return out;
}

// Python's int(): optional spaces and sign, digits (underscores between digits allowed). nullopt if not one.
bool python_int(std::string_view s, std::string& canonical) {
  size_t b = skip_ws(s, 0), e = s.size();
  while (e > b && ws_len(s, e - 1) == 1) --e;
  std::string_view t = s.substr(b, e - b);
  bool negative = false;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    negative = t[0] == '-';
    t.remove_prefix(1);
  }
  if (t.empty() || !is_digit(t[0]) || !is_digit(t.back())) return false;
  std::string digits;
  for (size_t i = 0; i < t.size(); ++i) {
    if (is_digit(t[i])) {
      digits += t[i];
    } else if (t[i] == '_' && is_digit(t[i + 1])) {
      continue;
    } else {
      return false;
    }
  }
  if (digits.size() > 1 && digits[0] == '0') {  // int("007") is 7 (leading zeros allowed for int() of str)
    size_t z = 0;
    while (z + 1 < digits.size() && digits[z] == '0') ++z;
    digits.erase(0, z);
  }
  canonical = (negative && digits != "0" ? "-" : "") + digits;
  return true;
}

// The MATH grader's _fix_a_slash_b: "3/4" -> "\frac{3}{4}" when both sides are integers written plainly.
std::string fix_a_slash_b(const std::string& s) {
  const size_t slash = s.find('/');
  if (slash == npos || s.find('/', slash + 1) != npos) return s;
  std::string a, b;
  if (!python_int(std::string_view(s).substr(0, slash), a) || !python_int(std::string_view(s).substr(slash + 1), b))
    return s;
  if (s != a + "/" + b) return s;
  return "\\frac{" + a + "}{" + b + "}";
}

}  // namespace

std::string normalize_latex(std::string_view input, const NormalizationConfig& config, const Deadline& deadline) {
  Ticker ticker(deadline);
  std::string s(input);
  if (config.boxed == BoxedMode::kAll || config.boxed == BoxedMode::kLast)
    s = extract_boxed_content(s, config.boxed, ticker);

  if (config.basic_latex) {
    replace_all(s, "\\mathrm{T}", "T");
    replace_all(s, "\\mathrm{d}", "d");
    replace_all(s, "{\\rm d}", "d");
    replace_all(s, "\\left[\\begin{matrix}", "\\begin{bmatrix}");
    replace_all(s, "\\end{matrix}\\right]", "\\end{bmatrix}");
    drop_left_right(s, ticker);
    permutations(s, ticker);
    remove_useless(s, ticker);
    replace_in_latex(s, ticker);
    for (char& c : s)
      if (c == '\n' || c == '\t') c = ' ';
    if (s.find("matrix") == npos) {  // "\\frac" -> "\frac" (a doubled backslash before a letter)
      std::string out;
      out.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 2 < s.size() && s[i + 1] == '\\' && is_letter(s[i + 2])) {
          out += '\\';
          ++i;
          continue;
        }
        out += s[i];
      }
      s = std::move(out);
    }
  }

  if (config.equations && s.find(',') == npos && s.find(';') == npos) {
    // The part after the last "=" that follows no \, <, ! or >, when there are at least two such signs.
    size_t count = 0, last = npos;
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] == '=' && (i == 0 || (s[i - 1] != '\\' && s[i - 1] != '<' && s[i - 1] != '!' && s[i - 1] != '>'))) {
        ++count;
        last = i;
      }
    if (count >= 2) s = s.substr(last + 1);
  }

  if (config.units) {
    std::string t = strip(remove_trailing_text(s));
    if (!t.empty() && t != s) s = std::move(t);
    for (int pass = 0; pass < 2; ++pass) {
      std::string u = remove_unit_word(s);
      if (!u.empty() && u != s) s = std::move(u);
    }
  }

  if (config.nits) {
    if (!s.empty() && s[0] == '.') s = "0" + s;
    if (s == "0.5") s = "\\frac{1}{2}";
  }

  if (config.malformed_operators) {
    fix_malformed_operators(s, ticker);
    s = fix_sqrt(s);
    s = fix_fracs(s);
    s = fix_a_slash_b(s);
  }
  return strip(s);
}

}  // namespace r1::verify
