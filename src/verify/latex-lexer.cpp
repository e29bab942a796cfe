// LaTeX -> tokens, as latex2sympy2_extended's lexer reads them for parse.cpp: numbers (1.2E3, latex2sympy's
// E_NOTATION, as the float literal 1200.0), letters one at a time (d then a letter is the differential "dx"),
// commands, \text{...} and the other accents as one symbol, operators (also their Unicode forms: ≤ × ÷ π ∞ ...);
// spacing commands and degree signs (^\circ) are dropped, and the lexer's multi-letter words (function and
// matrix names) make the text unparseable.
#include "verify/latex-lexer.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

#include "verify/expr.h"
#include "verify/text-scan.h"

namespace r1::verify {

namespace {

using scan::is_digit;  // the scanning helpers shared with the other stages (text-scan.h)

// The whole UTF-8 character starting at byte i (one byte if it is not a valid lead byte), so a message quoting
// it stays valid UTF-8 (half an emoji made the JSON output of r1 verify fail for the whole batch).
std::string utf8_character_at(std::string_view s, size_t i) {
  const unsigned char lead = static_cast<unsigned char>(s[i]);
  size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 1;
  if (i + n > s.size()) n = 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) n = 1;
  if (n == 1 && lead >= 0x80) return fmt::format("\\x{:02X}", lead);
  return std::string(s.substr(i, n));
}

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// latex2sympy's skipped spacing commands (\, \: \; \! \$ are handled with the one-character commands).
bool is_spacing(std::string_view name) {
  static constexpr std::array<std::string_view, 14> kSkipped = {
      "quad",          "qquad", "thinspace", "medspace", "thickspace", "negthinspace", "negmedspace",
      "negthickspace", "vrule", "vcenter",   "vbox",     "vskip",      "vspace",       "hfil"};
  return std::find(kSkipped.begin(), kSkipped.end(), name) != kSkipped.end();
}

// latex2sympy's ACCENT token: \text{...}, \mathrm{...}, \hat{...} (an optional space, then braces closed by
// the first } not escaped). Its symbol name: the content without spaces, lower-cased; for \text and \mbox
// also without parentheses, for the others wrapped as bar{x}, vec{x}, tilde{x}, math{x} or name{x}. The name
// starts at name_at (after the backslash); end is set after the closing brace.
std::optional<std::string> accent(std::string_view s, size_t name_at, const std::string& name, size_t& end) {
  static constexpr std::array<std::string_view, 44> kAccents = {
      "acute",     "bar",        "overline",   "breve",    "check",     "widecheck",    "dot",
      "ddot",      "grave",      "hat",        "tilde",    "widetilde", "vec",          "overrightarrow",
      "bm",        "boldsymbol", "text",       "textit",   "textbf",    "textnormal",   "mathbb",
      "mathbin",   "mathbf",     "mathcal",    "mathclap", "mathclose", "mathellipsis", "mathfrak",
      "mathinner", "mathit",     "mathnormal", "mathop",   "mathopen",  "mathord",      "mathpunct",
      "mathrel",   "mathring",   "mathrlap",   "mathrm",   "mathscr",   "mathsf",       "mathsterling",
      "mathtt",    "mbox"};
  if (std::find(kAccents.begin(), kAccents.end(), name) == kAccents.end()) return std::nullopt;
  size_t i = name_at + name.size();
  if (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
  if (i >= s.size() || s[i] != '{') return std::nullopt;
  size_t close = i + 1;
  while (close < s.size() && s[close] != '}')
    close += (s[close] == '\\' && close + 1 < s.size() && s[close + 1] == '}') ? 2 : 1;
  if (close >= s.size()) return std::nullopt;
  std::string content;
  for (char ch : s.substr(i + 1, close - i - 1))
    if (ch != ' ') content += char(std::tolower(static_cast<unsigned char>(ch)));
  end = close + 1;
  std::string kind = name;
  if (kind == "overline") kind = "bar";
  if (kind == "overrightarrow") kind = "vec";
  if (kind == "widetilde") kind = "tilde";
  if (kind.find("text") != std::string::npos || kind == "mbox") {
    std::string bare;
    for (char ch : content)
      if (ch != '(' && ch != ')') bare += ch;
    return bare;
  }
  if (kind.compare(0, 4, "math") == 0) kind = "math";
  return kind + "{" + content + "}";
}

// latex2sympy's lexer words longer than a letter (FUNC_*_NAME and MATRIX_TYPE tokens), longest first where
// one is a prefix of another.
constexpr std::array<std::string_view, 41> kLexerWords = {
    "orthogonalize", "eigenvectors", "eigenvalues", "diagonalize", "orthogonal", "eigenvects", "nullspace",
    "eigenvals",     "arcsinh",      "arccosh",     "arctanh",     "pmatrix",    "bmatrix",    "vmatrix",
    "arsinh",        "arcosh",       "artanh",      "hstack",      "vstack",     "matrix",     "floor",
    "zeros",         "trace",        "ortho",       "eigen",       "ceil",       "ones",       "cols",
    "rows",          "diag",         "norm",        "rank",        "rref",       "orth",       "gcd",
    "lcm",           "eye",          "eig",         "svd",         "SVD",        "tr"};

// mantissa x 10^exponent as a decimal literal with a point ("1.2", "3" -> "1200.0"; "5", "-2" -> "0.05").
std::string scientific(std::string_view mantissa, std::string_view exponent) {
  long e = 0;
  bool negative = !exponent.empty() && exponent[0] == '-';
  for (char c : exponent)
    if (is_digit(c)) {
      e = e * 10 + (c - '0');
      if (e > 400) throw ParseError("exponent beyond the evaluation limit");
    }
  if (negative) e = -e;
  std::string digits;
  long point = 0;  // digits before the point
  bool seen_point = false;
  for (char c : mantissa) {
    if (c == '.') {
      seen_point = true;
      continue;
    }
    digits += c;
    if (!seen_point) ++point;
  }
  point += e;
  if (point <= 0) return "0." + std::string(size_t(-point), '0') + digits;
  if (size_t(point) >= digits.size()) return digits + std::string(size_t(point) - digits.size(), '0') + ".0";
  return digits.substr(0, size_t(point)) + "." + digits.substr(size_t(point));
}

}  // namespace

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '^') {  // ^\circ, ^{\circ}, ^\degree, ^° ...: latex2sympy's degree postfix, ignored
      bool skipped = false;
      for (std::string_view degree :
           {"\\circ", "{\\circ}", "\\degree", "{\\degree}", "\\circle", "{\\circle}", "\xC2\xB0", "{\xC2\xB0}"}) {
        if (s.compare(i + 1, degree.size(), degree) == 0 &&
            !(degree.back() != '}' && degree[0] == '\\' && i + 1 + degree.size() < s.size() &&
              is_alpha(s[i + 1 + degree.size()]))) {
          i += 1 + degree.size();
          skipped = true;
          break;
        }
      }
      if (skipped) continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
    } else if (is_digit(c) || (c == '.' && i + 1 < s.size() && is_digit(s[i + 1]))) {
      size_t e = i;
      bool dot = false;
      while (e < s.size() && (is_digit(s[e]) || (s[e] == '.' && !dot && e + 1 < s.size() && is_digit(s[e + 1])))) {
        dot = dot || s[e] == '.';
        ++e;
      }
      // latex2sympy's E_NOTATION: 1.2E3 (a capital E, a sign, digits) is the float 1200.0.
      size_t x = e < s.size() && s[e] == 'E' ? e + 1 : std::string_view::npos;
      if (x != std::string_view::npos && x < s.size() && (s[x] == '+' || s[x] == '-')) ++x;
      if (x != std::string_view::npos && x < s.size() && is_digit(s[x])) {
        size_t y = x;
        while (y < s.size() && is_digit(s[y])) ++y;
        out.push_back({Tok::kNum, scientific(s.substr(i, e - i), s.substr(e + 1, y - e - 1))});
        i = y;
        continue;
      }
      out.push_back({Tok::kNum, std::string(s.substr(i, e - i))});
      i = e;
    } else if (c == '\\') {
      if (i + 1 < s.size() && is_alpha(s[i + 1])) {
        size_t e = i + 1;
        while (e < s.size() && is_alpha(s[e])) ++e;
        std::string name(s.substr(i + 1, e - i - 1));
        if (is_spacing(name)) {  // skipped by latex2sympy's lexer
          i = e;
          continue;
        }
        if (auto text = accent(s, i + 1, name, e)) {  // \text{...} and the like: one symbol
          out.push_back({Tok::kText, *text});
          i = e;
          continue;
        }
        out.push_back({Tok::kCmd, name});
        i = e;
        if ((name == "begin" || name == "end") && i < s.size() && s[i] == '{') {  // \begin{pmatrix}: one name
          size_t close = s.find('}', i);
          if (close == std::string_view::npos) throw ParseError("unclosed \\" + name);
          out.push_back({Tok::kOp, "{"});
          out.push_back({Tok::kIdent, std::string(s.substr(i + 1, close - i - 1))});
          out.push_back({Tok::kOp, "}"});
          i = close + 1;
        }
      } else if (i + 1 < s.size()) {
        const char next = s[i + 1];
        if (next == ',' || next == ':' || next == ';' || next == '!' || next == '$') {  // spacing, \$: skipped
          i += 2;
          continue;
        }
        if (next == '%') {
          out.push_back({Tok::kOp, "%"});
        } else {
          out.push_back({Tok::kCmd, std::string(1, next)});  // \{ \} \\ \|
        }
        i += 2;
      } else {
        throw ParseError("a lone backslash");
      }
    } else if (is_alpha(c)) {  // letters, as latex2sympy's lexer reads them
      // Its multi-letter tokens (function and matrix names usable only in \operatorname{} or \begin{}) are
      // not math on their own: the longest one starting here makes the answer unparseable.
      for (std::string_view name : kLexerWords)
        if (s.compare(i, name.size(), name) == 0) throw ParseError(fmt::format("the word '{}'", name));
      if (c == 'd') {  // d then a letter (spaces between allowed): the differential dx, one symbol
        size_t k = i + 1;
        while (k < s.size() && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n')) ++k;
        if (k < s.size() && is_alpha(s[k])) {
          out.push_back({Tok::kIdent, std::string("d") + char(std::tolower(static_cast<unsigned char>(s[k])))});
          i = k + 1;
          continue;
        }
      }
      out.push_back({Tok::kIdent, std::string(1, c)});
      ++i;
    } else {
      static constexpr std::array<std::pair<std::string_view, std::string_view>, 15> kMulti = {{
          {"**", "^"},
          {"<=", "<="},
          {">=", ">="},
          {"!=", "!="},
          {"\xE2\x89\xA4", "<="},
          {"\xE2\x89\xA5", ">="},
          {"\xE2\x89\xA0", "!="},
          {"\xE2\x89\x88", "\\approx"},
          {"\xE2\x88\x92", "-"},
          {"\xC3\x97", "*"},
          {"\xC3\xB7", "/"},
          {"\xC2\xB7", "*"},
          {"\xCF\x80", "\\pi"},
          {"\xE2\x88\x9E", "\\infty"},
          {"\xE2\x88\x9A", "\\sqrt"},
      }};
      bool matched = false;
      for (const auto& [from, to] : kMulti)
        if (s.compare(i, from.size(), from) == 0) {
          if (to[0] == '\\')
            out.push_back({Tok::kCmd, std::string(to.substr(1))});
          else
            out.push_back({Tok::kOp, std::string(to)});
          i += from.size();
          matched = true;
          break;
        }
      if (matched) continue;
      if (std::string_view("+-*/^_()[]{},;=<>!|&%:").find(c) == std::string_view::npos)
        throw ParseError(fmt::format("unexpected character '{}'", utf8_character_at(s, i)));
      out.push_back({Tok::kOp, std::string(1, c)});
      ++i;
    }
  }
  out.push_back({Tok::kEnd, ""});
  return out;
}

}  // namespace r1::verify
