// Math-Verify's answer-locating regular expressions, matched by hand with the same results (leftmost-first
// alternation, lazy and greedy repetition, the backtracking that matters): the LaTeX math spans a LaTeX target
// takes ($..$, $$..$$, \(..\), \[..\], " [..] " or a bare \frac{a}{b}, an optional percent sign after it, up to
// five more joined by "and", "or" or ","), and the plain numbers ("1,234.5", "25 %", "$100") and arithmetic
// expressions ("2/3") an expression target takes. extraction.cpp anchors them ("final answer is", "answer:", ...)
// and turns the matches into answers. The searches for a closing delimiter remember their last answer (Finder),
// so every scan is linear in the input; the deadline is checked inside every loop over it.
#include "verify/answer-spans.h"

#include "verify/text-scan.h"

namespace r1::verify::spans {

using namespace scan;  // the scanning helpers shared with the other stages (text-scan.h)

// ---- LaTeX math spans ------------------------------------------------------------------------------------------

LatexScanner::LatexScanner(std::string_view s, Ticker& ticker)
    : s_(s),
      ticker_(ticker),
      double_dollar_(
          s, [](std::string_view t, size_t i) { return literal_at(t, i, "$$"); }, ticker, "$"),
      close_bracket_(
          s, [](std::string_view t, size_t i) { return literal_at(t, i, "\\]"); }, ticker, "\\"),
      close_paren_(
          s, [](std::string_view t, size_t i) { return literal_at(t, i, "\\)"); }, ticker, "\\"),
      newline_(
          s, [](std::string_view t, size_t i) { return t[i] == '\n'; }, ticker, "\n"),
      unescaped_dollar_(
          s, [](std::string_view t, size_t i) { return t[i] == '$' && (i == 0 || t[i - 1] != '\\'); }, ticker, "$"),
      bracket_stop_(
          s, [](std::string_view t, size_t i) { return t[i] == '\n' || t[i] == '[' || t[i] == ']'; }, ticker, "\n[]"),
      boxed_open_(
          s, [](std::string_view t, size_t i) { return literal_at(t, i, "\\boxed{"); }, ticker, "\\"),
      close_brace_(
          s, [](std::string_view t, size_t i) { return t[i] == '}'; }, ticker, "}") {}

std::optional<Span> LatexScanner::span_at(size_t p, bool boxed) {
  if (p >= s_.size()) return std::nullopt;
  const char c = s_[p];
  const bool after_backslash = p > 0 && s_[p - 1] == '\\';
  std::optional<Span> found;
  if (c == '$' && !after_backslash) {
    if (s_.size() - p >= 2 && s_[p + 1] == '$') found = delimited(p, 2, double_dollar_, 2, SpanKind::kDisplayDollar);
    if (!found && !(p > 0 && is_digit(s_[p - 1]))) found = inline_dollar(p);
  } else if (c == '\\' && !after_backslash && p + 1 < s_.size() && (s_[p + 1] == '[' || s_[p + 1] == '(')) {
    if (s_[p + 1] == '[') {
      found = delimited(p, 2, close_bracket_, 2, SpanKind::kDisplayBracket);
    } else {
      found = inline_paren(p);
    }
  }
  if (!found && ws_len(s_, p) > 0) found = inline_bracket(p);
  if (found && boxed && !holds_box(*found)) found.reset();
  if (!found && !boxed) found = fraction(p);
  if (found) found->end = tail(found->end, found->percent);
  return found;
}

std::optional<Span> LatexScanner::span_after_ws(size_t q, bool boxed) {
  const size_t r = skip_ws(s_, q);
  if (auto span = span_at(r, boxed)) return span;
  if (r > q && r < s_.size() && s_[r] == '[') {
    size_t last = q;  // the last space before the bracket
    for (size_t i = q; i < r; i += ws_len(s_, i)) last = i;
    return span_at(last, boxed);
  }
  return std::nullopt;
}

std::optional<Chain> LatexScanner::chain_from(std::optional<Span> first, bool boxed) {
  if (!first) return std::nullopt;
  Chain chain;
  chain.end = first->end;
  chain.spans.push_back(*first);
  for (int k = 0; k < 5; ++k) {
    size_t q = boxed ? skip_ws(s_, chain.end) : chain.end;
    if (boxed) chain.end = q;
    size_t r = skip_ws(s_, q);
    size_t after = npos;
    if (literal_at(s_, r, ",and")) {
      after = r + 4;
    } else if (literal_at(s_, r, "and")) {
      after = r + 3;
    } else if (literal_at(s_, r, ",or")) {
      after = r + 3;
    } else if (literal_at(s_, r, "or")) {
      after = r + 2;
    } else if (literal_at(s_, r, ",")) {
      after = r + 1;
    }
    if (after == npos) break;
    auto next = span_after_ws(after, boxed);
    if (!next) break;
    chain.spans.push_back(*next);
    chain.end = next->end;
  }
  return chain;
}

// `\s*` and an optional percent sign (\%, %, percent, pct) after a span's closing delimiter.
size_t LatexScanner::tail(size_t end, bool& percent) {
  size_t r = skip_ws(s_, end);
  size_t after = npos;
  if (literal_at(s_, r, "\\%")) {
    after = r + 2;
  } else if (literal_at(s_, r, "%")) {
    after = r + 1;
  } else if (r < s_.size() && (s_[r] == 'P' || s_[r] == 'p') && literal_at(s_, r + 1, "ercent")) {
    after = r + 7;
  } else if (r < s_.size() && (s_[r] == 'P' || s_[r] == 'p') && literal_at(s_, r + 1, "ct")) {
    after = r + 3;
  }
  percent = after != npos;
  return percent ? after : r;
}

// $$..$$ and \[..\]: the content runs to the first closing delimiter, which must not follow a backslash.
std::optional<Span> LatexScanner::delimited(size_t p, size_t open_len, Finder& close, size_t close_len, SpanKind kind) {
  const size_t from = p + open_len;
  const size_t c = close.next(from);
  if (c == npos || c <= from || s_[c - 1] == '\\') return std::nullopt;
  return Span{p, c + close_len, from, c, kind, false};
}

// $..$ on one line; \$ inside is part of the content.
std::optional<Span> LatexScanner::inline_dollar(size_t p) {
  const size_t from = p + 1;
  const size_t c = unescaped_dollar_.next(from);
  if (c == npos || c <= from) return std::nullopt;
  const size_t nl = newline_.next(from);
  if (nl != npos && nl < c) return std::nullopt;
  return Span{p, c + 1, from, c, SpanKind::kInlineDollar, false};
}

// \(..\) on one line.
std::optional<Span> LatexScanner::inline_paren(size_t p) {
  const size_t from = p + 2;
  const size_t c = close_paren_.next(from);
  if (c == npos || c <= from || s_[c - 1] == '\\') return std::nullopt;
  const size_t nl = newline_.next(from);
  if (nl != npos && nl < c) return std::nullopt;
  return Span{p, c + 2, from, c, SpanKind::kInlineParen, false};
}

// " [..] ": a space, brackets on one line without brackets inside, a space.
std::optional<Span> LatexScanner::inline_bracket(size_t p) {
  const size_t w = ws_len(s_, p);
  if (w == 0 || p + w >= s_.size() || s_[p + w] != '[') return std::nullopt;
  const size_t from = p + w + 1;
  const size_t c = bracket_stop_.next(from);
  if (c == npos || c <= from || s_[c] != ']') return std::nullopt;
  const size_t after = ws_len(s_, c + 1);
  if (after == 0) return std::nullopt;
  return Span{p, c + 1 + after, from, c, SpanKind::kInlineBracket, false};
}

// -?\frac{N}{N} with N = -?\d+([.,]\d+)?
std::optional<Span> LatexScanner::fraction(size_t p) {
  size_t i = p;
  if (i < s_.size() && s_[i] == '-') ++i;
  if (!literal_at(s_, i, "\\frac{")) return std::nullopt;
  i += 6;
  auto number = [&](size_t k) -> size_t {  // the end of N at k, npos if none
    if (k < s_.size() && s_[k] == '-') ++k;
    const size_t d = k;
    while (k < s_.size() && is_digit(s_[k])) ++k;
    if (k == d) return npos;
    if (k + 1 < s_.size() && (s_[k] == '.' || s_[k] == ',') && is_digit(s_[k + 1])) {
      k += 2;
      while (k < s_.size() && is_digit(s_[k])) ++k;
    }
    return k;
  };
  size_t e = number(i);
  if (e == npos || !literal_at(s_, e, "}{")) return std::nullopt;
  e = number(e + 2);
  if (e == npos || !literal_at(s_, e, "}")) return std::nullopt;
  return Span{p, e + 1, p, e + 1, SpanKind::kFraction, false};
}

// The box context's content: \boxed{ then at least one character and a } later in the content.
bool LatexScanner::holds_box(const Span& span) {
  const size_t b = boxed_open_.next(span.content_begin);
  if (b == npos || b >= span.content_end) return false;
  const size_t r = close_brace_.next(b + 8);
  return r != npos && r < span.content_end;
}

// ---- Plain numbers and expressions ---------------------------------------------------------------------------

namespace {

// Length of a character of the expression class [\d.\s+\-*×/^()÷] at i, else 0.
size_t expr_char_len(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const char c = s[i];
  if (is_digit(c) || c == '.' || c == '+' || c == '-' || c == '*' || c == '/' || c == '^' || c == '(' || c == ')')
    return 1;
  if (literal_at(s, i, "\xC3\x97") || literal_at(s, i, "\xC3\xB7")) return 2;  // × ÷
  return ws_len(s, i);
}

// Length of an operator [+\-*×/^()÷] at i, else 0.
size_t operator_len(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const char c = s[i];
  if (c == '+' || c == '-' || c == '*' || c == '/' || c == '^' || c == '(' || c == ')') return 1;
  if (literal_at(s, i, "\xC3\x97") || literal_at(s, i, "\xC3\xB7")) return 2;
  return 0;
}

// Length of a currency sign at i (the $€£¥₹₽₪₩₫฿ ... of Math-Verify's list), else 0.
size_t currency_len(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  if (s[i] == '$') return 1;
  if (literal_at(s, i, "\xC2\xA3") || literal_at(s, i, "\xC2\xA5")) return 2;  // £ ¥
  if (literal_at(s, i, "\xE0\xB8\xBF")) return 3;                              // ฿
  // U+20A0..U+20C0 (₠ ... ₿): E2 82 A0..BF and E2 83 80
  if (i + 2 < s.size() && static_cast<unsigned char>(s[i]) == 0xE2) {
    const unsigned char b1 = static_cast<unsigned char>(s[i + 1]), b2 = static_cast<unsigned char>(s[i + 2]);
    if ((b1 == 0x82 && b2 >= 0xA1 && b2 <= 0xBF) || (b1 == 0x83 && b2 == 0x80)) return 3;
  }
  return 0;
}

}  // namespace

ExprScanner::ExprScanner(std::string_view s, Ticker& ticker)
    : s_(s),
      ticker_(ticker),
      operator_(
          s, [](std::string_view t, size_t i) { return operator_len(t, i) > 0; }, ticker, "+-*/^()\xC3") {}

std::optional<ExprMatch> ExprScanner::expr_or_number(size_t s, const Accept& accept) {
  for (size_t body : prefix_choices(s))
    if (auto m = expression(s, body, accept)) return m;
  for (size_t body : prefix_choices(s))
    if (auto m = number(s, body, accept)) return m;
  return std::nullopt;
}
std::optional<ExprMatch> ExprScanner::expression_only(size_t s) {
  for (size_t body : prefix_choices(s))
    if (auto m = expression(s, body, nullptr)) return m;
  return std::nullopt;
}
std::optional<ExprMatch> ExprScanner::number_only(size_t s) {
  for (size_t body : prefix_choices(s))
    if (auto m = number(s, body, nullptr)) return m;
  return std::nullopt;
}

// Where the body starts after (?:^|\s|=)(?:\*\*)?, each alternative in order (at most three).
std::array<size_t, 3> ExprScanner::prefix_choices(size_t s) const {
  std::array<size_t, 3> out = {npos, npos, npos};
  size_t n = 0;
  auto stars = [&](size_t k) { return literal_at(s_, k, "**") ? k + 2 : k; };
  if (s == 0) out[n++] = stars(0);
  if (size_t w = ws_len(s_, s)) out[n++] = stars(s + w);
  if (s < s_.size() && s_[s] == '=') out[n++] = stars(s + 1);
  return out;
}

// The end of the suffix (?:\*\*)?(?:\.|,|:|\s|\)|\$|$) at e, npos if it does not match.
size_t ExprScanner::suffix_end(size_t e) const {
  if (e >= s_.size()) return s_.size();
  if (literal_at(s_, e, "**")) {
    const size_t f = e + 2;
    if (f >= s_.size()) return f;
    if (const char c = s_[f]; c == '.' || c == ',' || c == ':' || c == ')' || c == '$') return f + 1;
    if (size_t w = ws_len(s_, f)) return f + w;
  }
  if (const char c = s_[e]; c == '.' || c == ',' || c == ':' || c == ')' || c == '$') return e + 1;
  if (size_t w = ws_len(s_, e)) return e + w;
  return npos;
}

// The start of the character before e.
size_t ExprScanner::previous_char(size_t e) const {
  size_t k = e - 1;
  while (k > 0 && (static_cast<unsigned char>(s_[k]) & 0xC0) == 0x80) --k;
  return k;
}

// -?\(?-?\d[A]*[O][A]+\)? then the suffix, A the expression characters and O the operators. The expression
// ends at a place e in the digit's run of expression characters where the suffix matches, with an operator
// at least two characters before e; the regular expression prefers the last such place, and which operator
// it pairs with does not change the match. The last place of a run is the same for every start in the run
// (remembered), so the spaces of a long run, each a start, cost one walk.
std::optional<ExprMatch> ExprScanner::expression(size_t s, size_t body, const Accept& accept) {
  if (body == npos) return std::nullopt;
  size_t i = body;
  if (i < s_.size() && s_[i] == '-') ++i;
  if (i < s_.size() && s_[i] == '(') ++i;
  if (i < s_.size() && s_[i] == '-') ++i;
  if (i >= s_.size() || !is_digit(s_[i])) return std::nullopt;
  const size_t t = i + 1;
  const size_t u = run_end(t);
  const size_t op = operator_.next(t);
  if (op == npos || op >= u) return std::nullopt;
  const size_t min_e = op + operator_len(s_, op) + 1;
  if (!accept) {
    if (u != last_run_end_) {
      last_run_end_ = u;
      last_valid_ = npos;
      for (size_t e = u;; e = previous_char(e)) {
        if (suffix_end(e) != npos) {
          last_valid_ = e;
          break;
        }
        if (e == 0 || expr_char_len(s_, previous_char(e)) == 0) break;
      }
    }
    if (last_valid_ == npos || last_valid_ < min_e) return std::nullopt;
    return ExprMatch{s, suffix_end(last_valid_), false, {}, body, last_valid_};
  }
  int tries = 0;
  for (size_t e = u; e >= min_e; e = previous_char(e)) {
    if (size_t end = suffix_end(e); end != npos) {
      ExprMatch m{s, end, false, {}, body, e};
      if (accept(m)) return m;
      if (++tries >= kMaxTries) break;
    }
    if (e == 0) break;
  }
  return std::nullopt;
}

// [currency]?(?<!\d)(?:-?[1-9]\d{0,2}(?:[ ,]\d{3})+(\.\d+)? | -?\d+[.,]\d+ | \.\d+ | -?\d+)
// (\s*(?:%|[Pp]ercent|[Pp]ct))?
std::optional<ExprMatch> ExprScanner::number(size_t s, size_t body, const Accept& accept) {
  if (body == npos) return std::nullopt;
  const size_t currency = currency_len(s_, body);
  int tries = 0;
  for (size_t n : {currency ? body + currency : npos, body}) {
    if (n == npos || (n > 0 && is_digit(s_[n - 1]))) continue;
    std::optional<ExprMatch> found;
    each_number(n, [&](const NumberMatch& option) {
      for (bool with_percent : {true, false}) {
        NumberMatch m = option;
        if (with_percent) {
          const size_t p = percent_end(m.end);
          if (p == npos) continue;
          m.end = p;
          m.percent = true;
        }
        ExprMatch match{s, m.end, true, m, 0, 0};
        if (!accept || accept(match)) {
          found = match;
          return true;
        }
        if (++tries >= kMaxTries) return true;
      }
      return false;
    });
    if (found) return found;
    if (tries >= kMaxTries) return std::nullopt;
  }
  return std::nullopt;
}

// \s*(?:%|[Pp]ercent|[Pp]ct) at e (percentage is percent then age): its end, else npos.
size_t ExprScanner::percent_end(size_t e) const {
  const size_t r = skip_ws(s_, e);
  if (r < s_.size() && s_[r] == '%') return r + 1;
  if (r < s_.size() && (s_[r] == 'P' || s_[r] == 'p')) {
    if (literal_at(s_, r + 1, "ercent")) return r + 7;
    if (literal_at(s_, r + 1, "ct")) return r + 3;
  }
  return npos;
}

size_t ExprScanner::digits_end(size_t k) const {
  while (k < s_.size() && is_digit(s_[k])) ++k;
  return k;
}

// The number's alternatives at n in the order a backtracking matcher tries them (longest first within
// each), until fn returns true.
template <typename Fn>
void ExprScanner::each_number(size_t n, Fn fn) const {
  const size_t sign = n < s_.size() && s_[n] == '-' ? n + 1 : n;
  const size_t de = digits_end(sign);
  // 1: a lead of one to three digits, then groups of a space or comma and three digits.
  if (sign < s_.size() && s_[sign] >= '1' && s_[sign] <= '9' && de - sign <= 3) {
    size_t groups = 0;
    for (size_t k = de; k < s_.size() && (s_[k] == ' ' || s_[k] == ',') && digits_end(k + 1) - (k + 1) >= 3; k += 4)
      ++groups;
    for (size_t g = groups; g > 0; --g) {
      const size_t ge = de + 4 * g;
      if (ge + 1 < s_.size() && s_[ge] == '.' && is_digit(s_[ge + 1]))
        for (size_t fe = digits_end(ge + 1); fe > ge + 1; --fe)
          if (fn(NumberMatch{fe, n, ge, ge, fe, false})) return;
      if (fn(NumberMatch{ge, n, ge, ge, ge, false})) return;
    }
  }
  // 2: digits, a point or comma, digits.
  if (de > sign && de + 1 < s_.size() && (s_[de] == '.' || s_[de] == ',') && is_digit(s_[de + 1]))
    for (size_t fe = digits_end(de + 1); fe > de + 1; --fe)
      if (fn(NumberMatch{fe, n, de, de, fe, false})) return;
  // 3: only a decimal part.
  if (n + 1 < s_.size() && s_[n] == '.' && is_digit(s_[n + 1]))
    for (size_t fe = digits_end(n + 1); fe > n + 1; --fe)
      if (fn(NumberMatch{fe, n, n, n, fe, false})) return;
  // 4: an integer.
  for (size_t k = de; k > sign; --k)
    if (fn(NumberMatch{k, n, k, k, k, false})) return;
}

// The end of the run of expression characters from t. Most characters end a run, so this walks instead of
// listing them; the last walk is remembered, so the starts inside one long run ("1 1 1 ...") walk it once.
size_t ExprScanner::run_end(size_t t) {
  if (walk_from_ != npos && t >= walk_from_ && t <= walk_end_) return walk_end_;
  size_t i = t;
  for (size_t n; i < s_.size() && (n = expr_char_len(s_, i)) > 0; i += n)
    if ((i & 1023) == 0) ticker_.tick();
  walk_from_ = t;
  walk_end_ = i;
  return i;
}

}  // namespace r1::verify::spans
