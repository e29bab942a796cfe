// Internal to src/verify: the scanners behind extraction.cpp's patterns, Math-Verify's regular expressions for
// where an answer stands, matched by hand (answer-spans.cpp): LaTeX math spans ($..$, $$..$$, \(..\), \[..\],
// " [..] ", a bare \frac{a}{b}; chains of them joined by "and", "or" or ",") and plain numbers and arithmetic
// expressions ("1,234.5", "25 %", "$100", "2/3"). Finder, the position search they and the extractor share, makes
// every scan linear in the input.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "verify/expr.h"

namespace r1::verify::spans {

inline constexpr size_t npos = std::string_view::npos;

// The first position >= from where pred holds. The first query lists every such position in one pass over
// the text (testing only the bytes pred can hold at); later queries are a step or a binary search in the
// list. So every scan of a pattern and every search for a closing delimiter, from however many starts, costs
// one pass over the text in all.
class Finder {
 public:
  using Pred = bool (*)(std::string_view, size_t);
  // first: the bytes pred can hold at (others are skipped without calling it); empty: any byte.
  Finder(std::string_view s, Pred pred, Ticker& ticker, std::string_view first = {})
      : s_(s), pred_(pred), ticker_(ticker) {
    if (first.empty()) {
      candidate_.fill(true);
    } else {
      candidate_.fill(false);
      for (char c : first) candidate_[static_cast<unsigned char>(c)] = true;
    }
  }

  size_t next(size_t from) {
    if (!built_) build();
    if (cursor_ > 0 && positions_[cursor_ - 1] >= from) cursor_ = 0;  // a query behind the last one
    if (cursor_ < positions_.size() && positions_[cursor_] < from)
      cursor_ =
          size_t(std::lower_bound(positions_.begin() + long(cursor_), positions_.end(), from) - positions_.begin());
    return cursor_ < positions_.size() ? positions_[cursor_] : npos;
  }

 private:
  void build() {
    built_ = true;
    const char* d = s_.data();
    const size_t n = s_.size();
    for (size_t chunk = 0; chunk < n; chunk += 4096) {
      ticker_.tick();
      const size_t end = std::min(n, chunk + 4096);
      for (size_t i = chunk; i < end; ++i)
        if (candidate_[static_cast<unsigned char>(d[i])] && pred_(s_, i)) positions_.push_back(i);
    }
  }
  std::string_view s_;
  Pred pred_;
  Ticker& ticker_;
  std::array<bool, 256> candidate_;
  bool built_ = false;
  std::vector<size_t> positions_;
  size_t cursor_ = 0;
};

// ---- LaTeX math spans ------------------------------------------------------------------------------------------

enum class SpanKind { kDisplayDollar, kDisplayBracket, kInlineDollar, kInlineParen, kInlineBracket, kFraction, kBoxed };

struct Span {
  size_t start = 0, end = 0;                  // the whole match, with the spaces and percent sign after it
  size_t content_begin = 0, content_end = 0;  // what is normalised and parsed
  SpanKind kind = SpanKind::kInlineDollar;
  bool percent = false;
};

struct Chain {
  std::vector<Span> spans;
  size_t end = 0;
};

class LatexScanner {
 public:
  LatexScanner(std::string_view s, Ticker& ticker);

  // One span starting exactly at p (the alternatives in Math-Verify's order), with the spaces and percent sign
  // after it. In a box context the content must hold \boxed{...} and bare fractions are not spans.
  std::optional<Span> span_at(size_t p, bool boxed);
  // `\s*` then a span: the spaces are given back one by one when the span does not start after them, which
  // only helps the " [..] " form (the one that starts with a space).
  std::optional<Span> span_after_ws(size_t q, bool boxed);

  // A span and up to five more joined by "and", "or" or ",". In a box context each of the five slots first
  // takes the spaces after the previous span, even when no span follows.
  std::optional<Chain> chain_at(size_t p, bool boxed) { return chain_from(span_at(p, boxed), boxed); }
  std::optional<Chain> chain_after_ws(size_t q, bool boxed) { return chain_from(span_after_ws(q, boxed), boxed); }

 private:
  std::optional<Chain> chain_from(std::optional<Span> first, bool boxed);
  size_t tail(size_t end, bool& percent);
  std::optional<Span> delimited(size_t p, size_t open_len, Finder& close, size_t close_len, SpanKind kind);
  std::optional<Span> inline_dollar(size_t p);
  std::optional<Span> inline_paren(size_t p);
  std::optional<Span> inline_bracket(size_t p);
  std::optional<Span> fraction(size_t p);
  bool holds_box(const Span& span);

  std::string_view s_;
  Ticker& ticker_;
  Finder double_dollar_, close_bracket_, close_paren_, newline_, unescaped_dollar_, bracket_stop_, boxed_open_,
      close_brace_;
};

// ---- Plain numbers and expressions ---------------------------------------------------------------------------

struct NumberMatch {
  size_t end = 0;
  size_t int_begin = 0, int_end = 0;  // the integer part as written (separators and a sign included)
  size_t dec_begin = 0, dec_end = 0;  // the decimal part with its point or comma
  bool percent = false;
};

struct ExprMatch {
  size_t start = 0, end = 0;
  bool is_number = false;
  NumberMatch number;
  size_t expr_begin = 0, expr_end = 0;
};

using Accept = std::function<bool(const ExprMatch&)>;

class ExprScanner {
 public:
  ExprScanner(std::string_view s, Ticker& ticker);

  // expr_or_number with its anchor (a space, "=" or the start of the text) at s: the ways it matches in the
  // regular expression's order of preference until accept takes one (none: the first). Bounded: at most
  // kMaxTries candidates each for the expression and the number.
  std::optional<ExprMatch> expr_or_number(size_t s, const Accept& accept);
  std::optional<ExprMatch> expression_only(size_t s);
  std::optional<ExprMatch> number_only(size_t s);

 private:
  static constexpr int kMaxTries = 64;

  std::array<size_t, 3> prefix_choices(size_t s) const;
  size_t suffix_end(size_t e) const;
  size_t previous_char(size_t e) const;
  std::optional<ExprMatch> expression(size_t s, size_t body, const Accept& accept);
  std::optional<ExprMatch> number(size_t s, size_t body, const Accept& accept);
  size_t percent_end(size_t e) const;
  size_t digits_end(size_t k) const;
  template <typename Fn>
  void each_number(size_t n, Fn fn) const;
  size_t run_end(size_t t);

  std::string_view s_;
  Ticker& ticker_;
  Finder operator_;
  size_t walk_from_ = npos, walk_end_ = npos;
  size_t last_run_end_ = npos, last_valid_ = npos;
};

}  // namespace r1::verify::spans
