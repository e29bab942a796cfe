// Answer extraction: Math-Verify's parse() — where in a model output (or a gold solution) the final answer is.
// Each target (LaTeX, plain expression, literal strings) contributes patterns with priorities; patterns of the
// same priority are matched together and their matches tried rightmost first (by end, then by start); the
// first match whose text parses is the answer, and with fallback the first match's text is kept as a string.
// The patterns are Math-Verify's regular expressions, matched by hand-written scanners with the same results
// (leftmost-first alternation, lazy and greedy repetition, the backtracking that matters): the anchors and the
// strings here, the LaTeX spans and the numbers and expressions in answer-spans.cpp:
//   LaTeX    "final answer is $X$. I hope" (0), "final answer ... is $X$" (50), "answer: ... $X$" (100),
//            "answer ... $X$" (200), $X$ anywhere (300); boxes at boxed_match_priority: a math span holding a
//            \boxed{}, or from the first \boxed{ to the last }. A span is $..$, $$..$$, \(..\), \[..\],
//            " [..] " or a bare \frac{a}{b} (not in boxes), with an optional percent sign after it; up to five
//            more joined by "and", "or" or "," make a set.
//   Expr     the same anchors around a number ("1,234.5", "25 %", "$100") or an arithmetic expression ("2/3")
//            that starts after a space, "=" or the start of the text.
//   Strings  the same anchors around one of the strings, alone as a word.
// Every scan is linear in the input: the searches for a closing delimiter remember their last answer (a later
// start finds the same one), so 10^5 unclosed "\(" or "\boxed{" cost one pass, not 10^5. Deadline checks run
// inside every loop over the input.
#include <algorithm>
#include <array>
#include <cstdint>

#include "verify/answer-spans.h"
#include "verify/expr.h"
#include "verify/text-scan.h"

namespace r1::verify {

namespace {

using namespace scan;   // the scanning helpers shared with the other stages (text-scan.h)
using namespace spans;  // the LaTeX span and number / expression scanners (answer-spans.h)

bool literal_at_ci(std::string_view s, size_t i, std::string_view lit) {
  if (i > s.size() || s.size() - i < lit.size()) return false;
  for (size_t k = 0; k < lit.size(); ++k)
    if (lower_ascii(s[i + k]) != lit[k]) return false;
  return true;
}

// ---- Complex answers ---------------------------------------------------------------------------------------------

bool word_char(std::string_view s, size_t i) {
  if (i >= s.size()) return false;
  const char c = s[i];
  return is_digit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Math-Verify's should_treat_as_complex: an i on its own (\bi\b, \i, \text{i}, \imath), \mathbb{C}, \det, \Re,
// \Im, \arg and the like. latex2sympy then makes the symbols complex, and a complex x is not a real x.
bool treat_as_complex(std::string_view s) {
  static constexpr std::array<std::string_view, 15> kMarks = {
      "\\mathbb{C}",          "\\text{i}",          "\\mathrm{i}", "\\det",      "\\operatorname{tr}",
      "\\operatorname{rank}", "\\text{rank}",       "\\arg{",      "\\Re{",      "\\Im{",
      "\\operatorname{Re}",   "\\operatorname{Im}", "\\text{Re}",  "\\text{Im}", "\\imath"};
  for (std::string_view mark : kMarks) {
    for (size_t at = s.find(mark); at != npos; at = s.find(mark, at + 1)) {
      const bool word_end = mark.back() == '}' || mark.back() == '{' || !word_char(s, at + mark.size());
      if (mark == "\\imath" && !word_end) continue;
      return true;
    }
  }
  for (size_t at = s.find('i'); at != npos; at = s.find('i', at + 1)) {
    const bool alone = !word_char(s, at + 1) && (at == 0 || !word_char(s, at - 1));
    const bool command = at > 0 && s[at - 1] == '\\' && !word_char(s, at + 1);  // \i
    if (alone || command) return true;
  }
  return false;
}

void mark_complex_symbols(Node& n) {
  if (n.kind == Kind::kSymbol) n.text += kComplexMark;
  for (Node& a : n.args) mark_complex_symbols(a);
}

// ---- Matches and their priorities ----------------------------------------------------------------------------

enum class Pattern {
  kFinalAnswerHope,  // "final answer is X. I hope"
  kFinalAnswerIs,    // "final answer ... is X"
  kAnswerColon,      // "answer: ... X"
  kAnswer,           // "answer ... X"
  kPlain,            // X anywhere (LaTeX, strings)
  kPlainExpr,        // an expression anywhere
  kPlainNumber,      // a number anywhere
  kLineStart,        // strings: at the start of the text
  kBoxSpan,          // LaTeX: a math span holding \boxed{}
  kBoxToLastBrace,   // LaTeX: \boxed{ to the last }
};

struct PatternRef {
  int priority;
  size_t target;
  Pattern pattern;
};

struct Match {
  size_t start = 0, end = 0;
  size_t target = 0;
  size_t order = 0;  // the pattern's position in the priority group, for ties
  Chain chain;       // LaTeX
  ExprMatch expr;    // Expr
  std::string key;   // String
};

std::vector<PatternRef> patterns_of(const ExtractionTarget& target, size_t index) {
  std::vector<PatternRef> out;
  auto add = [&](int priority, Pattern p) { out.push_back({priority, index, p}); };
  add(0, Pattern::kFinalAnswerHope);
  add(50, Pattern::kFinalAnswerIs);
  add(100, Pattern::kAnswerColon);
  add(200, Pattern::kAnswer);
  if (const auto* latex = std::get_if<LatexTarget>(&target)) {
    if (latex->try_extract_without_anchor) add(300, Pattern::kPlain);
    if (latex->boxed_match_priority >= 0) {
      add(latex->boxed_match_priority, Pattern::kBoxSpan);
      add(latex->boxed_match_priority, Pattern::kBoxToLastBrace);
    }
  } else if (std::get_if<ExprTarget>(&target)) {
    if (std::get<ExprTarget>(target).try_extract_without_anchor) {
      add(300, Pattern::kPlainExpr);
      add(300, Pattern::kPlainNumber);
    }
  } else if (const auto* strings = std::get_if<StringTarget>(&target)) {
    if (strings->try_extract_without_anchor) {
      add(250, Pattern::kLineStart);
      add(300, Pattern::kPlain);
    }
  }
  return out;
}

class Extractor {
 public:
  Extractor(std::string_view s, const ExtractionOptions& options, const Deadline& deadline)
      : s_(s),
        options_(options),
        deadline_(deadline),
        ticker_(deadline),
        latex_(s, ticker_),
        expr_(s, ticker_),
        answer_(
            s, [](std::string_view t, size_t i) { return literal_at_ci(t, i, "answer"); }, ticker_, "aA"),
        final_answer_(
            s, [](std::string_view t, size_t i) { return literal_at_ci(t, i, "final answer"); }, ticker_, "fF"),
        span_start_(s, &could_start_span, ticker_, kSpanStartBytes),
        expr_anchor_(s, &could_anchor_expr, ticker_, kAnchorBytes) {}

  std::vector<Candidate> run() {
    std::vector<PatternRef> all;
    for (size_t t = 0; t < options_.targets.size(); ++t)
      for (const PatternRef& p : patterns_of(options_.targets[t], t)) all.push_back(p);
    std::stable_sort(all.begin(), all.end(),
                     [](const PatternRef& a, const PatternRef& b) { return a.priority < b.priority; });
    std::vector<Candidate> out;
    std::vector<std::string> fallbacks;
    bool match_found = false;
    const bool first_match = options_.mode == ExtractionMode::kFirstMatch;
    for (size_t g = 0; g < all.size();) {
      size_t h = g;
      while (h < all.size() && all[h].priority == all[g].priority) ++h;
      std::vector<Match> matches;
      for (size_t k = g; k < h; ++k) {
        std::vector<Match> found = find_all(all[k]);
        for (Match& m : found) {
          m.order = k;
          matches.push_back(std::move(m));
        }
      }
      std::stable_sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) {
        if (a.end != b.end) return a.end > b.end;
        return a.start < b.start;
      });
      for (const Match& m : matches) {
        deadline_.check();
        Candidate c = extract_match(m);
        match_found = true;
        if (!c.text.empty()) fallbacks.push_back(c.text);
        if (c.answer) {
          if (!c.tree && std::holds_alternative<StringTarget>(options_.targets[m.target]) &&
              std::get<StringTarget>(options_.targets[m.target]).lowercase)
            for (char& ch : c.text) ch = lower_ascii(ch);
          out.push_back(std::move(c));
          break;
        }
        if (first_match) break;
      }
      if (!out.empty() || (match_found && first_match)) break;
      g = h;
    }
    if (options_.fallback == FallbackMode::kFirstMatch && !fallbacks.empty())
      out.push_back({false, std::nullopt, fallbacks[0]});
    return out;
  }

 private:
  // Where a span can start: $, \\[ \\( \\frac, -\\frac, or the space before a [ (found at the [: spaces are
  // too common to stop at; span_start() steps back to the space).
  static constexpr std::string_view kSpanStartBytes = "$\\-[";
  static bool could_start_span(std::string_view t, size_t i) {
    const char c = t[i];
    if (c == '$') return true;
    if (c == '\\') return i + 1 < t.size() && (t[i + 1] == '[' || t[i + 1] == '(' || t[i + 1] == 'f');
    if (c == '-') return i + 1 < t.size() && t[i + 1] == '\\';
    return c == '[' && space_before(t, i) != npos;
  }
  // The start of the whitespace character just before i, npos if none.
  static size_t space_before(std::string_view t, size_t i) {
    for (size_t n = 1; n <= 3 && n <= i; ++n)
      if (ws_len(t, i - n) == n) return i - n;
    return npos;
  }
  // A candidate from span_start_ as the position the span pattern is tried at (npos: before the scan position).
  size_t span_start(size_t a) const {
    if (s_[a] != '[') return a;
    const size_t w = space_before(s_, a);
    return w >= scan_pos_ ? w : npos;
  }

  // Where a plain number or expression can start: a space or "=" (and the start of the text, tried apart)
  // followed by what can begin one (a digit, sign, parenthesis, point, ** or a currency sign).
  static constexpr std::string_view kAnchorBytes = "= \t\n\r\f\v\x1c\x1d\x1e\x1f\xC2\xE1\xE2\xE3";
  static bool could_anchor_expr(std::string_view t, size_t i) {
    const size_t n = t[i] == '=' ? 1 : ws_len(t, i);
    if (n == 0 || i + n >= t.size()) return false;
    const char c = t[i + n];
    return is_digit(c) || c == '-' || c == '(' || c == '.' || c == '*' || c == '$' ||
           static_cast<unsigned char>(c) >= 0x80;
  }

  // finditer: every non-overlapping match, left to right.
  template <typename TryAt>
  std::vector<Match> scan(Finder* starts, TryAt try_at, bool from_start = false) {
    std::vector<Match> out;
    for (size_t pos = 0; pos <= s_.size();) {
      ticker_.tick();
      size_t a = starts && !(from_start && pos == 0) ? starts->next(pos) : pos;
      scan_pos_ = pos;
      if (a == npos) break;
      std::optional<Match> m = try_at(a);
      if (m) {
        pos = m->end > a ? m->end : a + 1;
        out.push_back(std::move(*m));
      } else {
        pos = a + 1;
      }
    }
    return out;
  }

  // `.{0,max_chars}?` then fn: fn at q and after each of the next max_chars characters, lazily (without
  // DOTALL the dot stops at a newline: Math-Verify compiles only the LaTeX patterns with it).
  template <typename Fn>
  std::optional<Match> lazy_window(size_t q, size_t max_chars, bool dotall, Fn fn) {
    for (size_t k = 0; k <= max_chars; ++k) {
      if (auto m = fn(q)) return m;
      if (q >= s_.size() || (!dotall && s_[q] == '\n')) break;
      q += cp_len(s_, q);
    }
    return std::nullopt;
  }

  std::vector<Match> find_all(const PatternRef& ref) {
    const ExtractionTarget& target = options_.targets[ref.target];
    std::vector<Match> out;
    if (std::holds_alternative<LatexTarget>(target)) {
      out = find_latex(ref.pattern);
    } else if (std::holds_alternative<ExprTarget>(target)) {
      out = find_expr(ref.pattern);
    } else {
      out = find_strings(ref.pattern, std::get<StringTarget>(target));
    }
    for (Match& m : out) m.target = ref.target;
    return out;
  }

  // After "final answer" at a: the ends of `.{0,100}?\s+is` (each place where spaces then "is" follow), lazily.
  template <typename Fn>
  std::optional<Match> after_final_answer_is(size_t a, bool dotall, Fn fn) {
    return lazy_window(a + 12, 100, dotall, [&](size_t q) -> std::optional<Match> {
      if (ws_len(s_, q) == 0) return std::nullopt;
      const size_t w = skip_ws(s_, q);
      if (!literal_at(s_, w, "is")) return std::nullopt;
      return fn(w + 2);
    });
  }

  std::vector<Match> find_latex(Pattern pattern) {
    auto from_chain = [&](size_t start, std::optional<Chain> chain) -> std::optional<Match> {
      if (!chain) return std::nullopt;
      Match m;
      m.start = start;
      m.end = chain->end;
      m.chain = std::move(*chain);
      return m;
    };
    switch (pattern) {
      case Pattern::kFinalAnswerHope:
        return scan(&final_answer_, [&](size_t a) -> std::optional<Match> {
          if (!literal_at_ci(s_, a, "final answer is")) return std::nullopt;
          size_t q = a + 15;
          std::vector<size_t> after_colon{q};
          if (literal_at(s_, q, ":")) after_colon.insert(after_colon.begin(), q + 1);
          for (size_t c : after_colon) {
            auto chain = latex_.chain_after_ws(c, false);
            if (!chain) continue;
            // The longest chain first, then shorter ones; each end with its trailing spaces, then fewer.
            for (size_t n = chain->spans.size(); n > 0; --n) {
              const Span& last = chain->spans[n - 1];
              size_t end = n == chain->spans.size() ? chain->end : last.end;
              if (size_t hope = hope_end(end); hope != npos) {
                Chain kept = *chain;
                kept.spans.resize(n);
                kept.end = hope;
                return from_chain(a, kept);
              }
            }
          }
          return std::nullopt;
        });
      case Pattern::kFinalAnswerIs:
        return scan(&final_answer_, [&](size_t a) {
          return after_final_answer_is(a, true, [&](size_t is_end) -> std::optional<Match> {
            if (literal_at(s_, is_end, ":"))
              if (auto m = from_chain(a, latex_.chain_after_ws(is_end + 1, false))) return m;
            return from_chain(a, latex_.chain_after_ws(is_end, false));
          });
        });
      case Pattern::kAnswerColon:
      case Pattern::kAnswer:
        return scan(&answer_, [&](size_t a) -> std::optional<Match> {
          size_t q = a + 6;
          if (pattern == Pattern::kAnswerColon) {
            if (!literal_at(s_, q, ":")) return std::nullopt;
            ++q;
          }
          return lazy_window(q, 50, true, [&](size_t p) { return from_chain(a, latex_.chain_at(p, false)); });
        });
      case Pattern::kPlain:
      case Pattern::kBoxSpan:
        return scan(&span_start_, [&](size_t a) -> std::optional<Match> {
          const size_t start = span_start(a);
          if (start == npos) return std::nullopt;
          return from_chain(start, latex_.chain_at(start, pattern == Pattern::kBoxSpan));
        });
      case Pattern::kBoxToLastBrace: {
        std::vector<Match> out;
        const size_t b = s_.find("\\boxed{");
        const size_t r = s_.rfind('}');
        if (b != npos && r != npos && r >= b + 8) {
          Match m;
          m.start = b;
          m.end = r + 1;
          m.chain.spans.push_back(Span{b, r + 1, b, r + 1, SpanKind::kBoxed, false});
          m.chain.end = r + 1;
          out.push_back(std::move(m));
        }
        return out;
      }
      default:
        return {};
    }
  }

  // \.?\s?I hope at e: the end, else npos.
  size_t hope_end(size_t e) {
    for (size_t dot : {size_t(1), size_t(0)}) {
      if (dot && !literal_at(s_, e, ".")) continue;
      const size_t f = e + dot;
      const size_t w = ws_len(s_, f);
      for (size_t sp : {w, size_t(0)}) {
        if (literal_at(s_, f + sp, "I hope")) return f + sp + 6;
        if (w == 0) break;
      }
    }
    return npos;
  }

  std::vector<Match> find_expr(Pattern pattern) {
    auto wrap = [&](size_t start, std::optional<ExprMatch> e) -> std::optional<Match> {
      if (!e) return std::nullopt;
      Match m;
      m.start = start;
      m.end = e->end;
      m.expr = *e;
      return m;
    };
    // (?!\s*=) after the match.
    auto not_before_equals = [&](const ExprMatch& m) {
      const size_t r = skip_ws(s_, m.end);
      return !(r < s_.size() && s_[r] == '=');
    };
    switch (pattern) {
      case Pattern::kFinalAnswerHope:
        return scan(&final_answer_, [&](size_t a) -> std::optional<Match> {
          if (!literal_at_ci(s_, a, "final answer is")) return std::nullopt;
          size_t q = a + 15;
          std::vector<size_t> after_colon{q};
          if (literal_at(s_, q, ":")) after_colon.insert(after_colon.begin(), q + 1);
          for (size_t c : after_colon) {
            // \s* greedily, then the anchor: from the last space back to the first.
            const size_t r = skip_ws(s_, c);
            std::vector<size_t> anchors{r};
            for (size_t k = c; k < r; k += ws_len(s_, k)) anchors.insert(anchors.begin() + 1, k);
            for (size_t anchor : anchors) {
              size_t hope = npos;
              auto e = expr_.expr_or_number(anchor, [&](const ExprMatch& m) {
                hope = hope_end(m.end);
                return hope != npos;
              });
              if (e) {
                auto m = wrap(a, e);
                m->end = hope;
                return m;
              }
            }
          }
          return std::nullopt;
        });
      case Pattern::kFinalAnswerIs:
        return scan(&final_answer_, [&](size_t a) {
          return after_final_answer_is(a, false, [&](size_t is_end) -> std::optional<Match> {
            if (literal_at(s_, is_end, ":"))
              if (auto m = wrap(a, expr_.expr_or_number(is_end + 1, nullptr))) return m;
            return wrap(a, expr_.expr_or_number(is_end, nullptr));
          });
        });
      case Pattern::kAnswerColon:
      case Pattern::kAnswer:
        return scan(&answer_, [&](size_t a) -> std::optional<Match> {
          size_t q = a + 6;
          if (pattern == Pattern::kAnswerColon) {
            if (!literal_at(s_, q, ":")) return std::nullopt;
            ++q;
          }
          // (?:.{0,100}=\s*|.{0,50}?): the last "=" within 100 characters first (then earlier ones), each with
          // its spaces given back one by one; then lazily 0..50 characters.
          std::vector<size_t> equals;
          size_t p = q;
          for (size_t k = 0; k <= 100 && p < s_.size() && s_[p] != '\n'; ++k) {
            if (s_[p] == '=') equals.push_back(p);
            p += cp_len(s_, p);
          }
          for (size_t eq = equals.size(); eq-- > 0;) {
            const size_t from = equals[eq] + 1;
            const size_t r = skip_ws(s_, from);
            std::vector<size_t> anchors{r};
            for (size_t k = from; k < r; k += ws_len(s_, k)) anchors.insert(anchors.begin() + 1, k);
            for (size_t anchor : anchors)
              if (auto m = wrap(a, expr_.expr_or_number(anchor, not_before_equals))) return m;
          }
          return lazy_window(q, 50, false,
                             [&](size_t r) { return wrap(a, expr_.expr_or_number(r, not_before_equals)); });
        });
      case Pattern::kPlainExpr:
        return scan(
            &expr_anchor_, [&](size_t a) { return wrap(a, expr_.expression_only(a)); }, true);
      case Pattern::kPlainNumber:
        return scan(
            &expr_anchor_, [&](size_t a) { return wrap(a, expr_.number_only(a)); }, true);
      default:
        return {};
    }
  }

  // A key at i: its end, trying the keys in order; npos if none.
  size_t key_at(size_t i, const StringTarget& target, std::string& key) {
    for (const std::string& k : target.strings)
      if (!k.empty() && literal_at(s_, i, k)) {
        key = k;
        return i + k.size();
      }
    return npos;
  }

  // (?:\*\*)?(?:\.|,|:|\s|$) at e.
  bool key_suffix(size_t e) {
    if (literal_at(s_, e, "**")) {
      const size_t f = e + 2;
      if (f >= s_.size() || s_[f] == '.' || s_[f] == ',' || s_[f] == ':' || ws_len(s_, f)) return true;
    }
    return e >= s_.size() || s_[e] == '.' || s_[e] == ',' || s_[e] == ':' || ws_len(s_, e);
  }

  // (^|\s)(?:\*\*)?KEY(?:\*\*)?(?:\.|,|:|\s|$) at p: the match end, else npos.
  size_t spaced_key(size_t p, const StringTarget& target, std::string& key) {
    std::vector<size_t> bodies;
    if (p == 0) bodies.push_back(0);
    if (size_t w = ws_len(s_, p)) bodies.push_back(p + w);
    for (size_t body : bodies) {
      for (size_t b : {literal_at(s_, body, "**") ? body + 2 : npos, body}) {
        if (b == npos) continue;
        for (const std::string& k : target.strings) {
          if (k.empty() || !literal_at(s_, b, k)) continue;
          size_t e = b + k.size();
          if (!key_suffix(e)) continue;
          key = k;
          if (literal_at(s_, e, "**") && (e + 2 >= s_.size() || key_suffix(e + 2))) e += 2;
          return e >= s_.size() ? e : e + std::max<size_t>(1, ws_len(s_, e));
        }
      }
    }
    return npos;
  }

  std::vector<Match> find_strings(Pattern pattern, const StringTarget& target) {
    auto make = [&](size_t start, size_t end, std::string key) {
      Match m;
      m.start = start;
      m.end = end;
      m.key = std::move(key);
      return m;
    };
    switch (pattern) {
      case Pattern::kFinalAnswerHope:
        return scan(&final_answer_, [&](size_t a) -> std::optional<Match> {
          if (!literal_at_ci(s_, a, "final answer is")) return std::nullopt;
          size_t q = a + 15;
          if (literal_at(s_, q, ":")) ++q;
          q = skip_ws(s_, q);
          std::string key;
          size_t e = key_at(q, target, key);
          if (e == npos) return std::nullopt;
          size_t hope = hope_end(e);
          if (hope == npos) return std::nullopt;
          return make(a, hope, key);
        });
      case Pattern::kFinalAnswerIs:
        return scan(&final_answer_, [&](size_t a) {
          return after_final_answer_is(a, false, [&](size_t is_end) -> std::optional<Match> {
            size_t q = is_end;
            if (literal_at(s_, q, ":")) ++q;
            q = skip_ws(s_, q);
            std::string key;
            size_t e = key_at(q, target, key);
            if (e == npos) return std::nullopt;
            return make(a, e, key);
          });
        });
      case Pattern::kAnswerColon:
      case Pattern::kAnswer:
        return scan(&answer_, [&](size_t a) -> std::optional<Match> {
          size_t q = a + 6;
          if (pattern == Pattern::kAnswerColon) {
            if (!literal_at(s_, q, ":")) return std::nullopt;
            ++q;
          }
          return lazy_window(q, 50, false, [&](size_t p) -> std::optional<Match> {
            std::string key;
            size_t e = spaced_key(p, target, key);
            if (e == npos) return std::nullopt;
            return make(a, e, key);
          });
        });
      case Pattern::kLineStart:
        return scan(nullptr, [&](size_t a) -> std::optional<Match> {
          if (a != 0) return std::nullopt;
          size_t b = literal_at(s_, 0, "**") ? 2 : 0;
          for (size_t body : {b, size_t(0)}) {
            for (const std::string& k : target.strings) {
              if (k.empty() || !literal_at(s_, body, k)) continue;
              size_t e = body + k.size();
              if (!key_suffix(e)) continue;
              if (literal_at(s_, e, "**") && (e + 2 >= s_.size() || key_suffix(e + 2))) e += 2;
              return make(0, e >= s_.size() ? e : e + std::max<size_t>(1, ws_len(s_, e)), k);
            }
            if (b == 0) break;
          }
          return std::nullopt;
        });
      case Pattern::kPlain:
        return scan(nullptr, [&](size_t a) -> std::optional<Match> {
          if (a != 0 && ws_len(s_, a) == 0) return std::nullopt;
          std::string key;
          size_t e = spaced_key(a, target, key);
          if (e == npos) return std::nullopt;
          return make(a, e, key);
        });
      default:
        return {};
    }
  }

  // ---- Turning a match into a candidate ----

  // The answer (Candidate::answer set when it parsed, or for a string target) and the text kept as fallback.
  Candidate extract_match(const Match& m) {
    const ExtractionTarget& target = options_.targets[m.target];
    if (const auto* latex = std::get_if<LatexTarget>(&target)) return extract_latex(m, *latex);
    if (std::holds_alternative<ExprTarget>(target)) return extract_expr(m);
    Candidate c;
    c.answer = true;
    c.text = m.key;
    return c;
  }

  Candidate extract_latex(const Match& m, const LatexTarget& target) {
    std::vector<std::optional<Node>> trees;
    std::vector<std::string> texts;
    for (const Span& span : m.chain.spans) {
      NormalizationConfig config = target.normalization;
      if (span.kind == SpanKind::kBoxed) config.boxed = BoxedMode::kLast;
      std::string normalized =
          normalize_latex(s_.substr(span.content_begin, span.content_end - span.content_begin), config, deadline_);
      std::optional<Node> tree;
      try {
        tree = parse_latex(normalized, deadline_);
        if (treat_as_complex(normalized)) mark_complex_symbols(*tree);
        if (span.percent) tree = make_node(Kind::kPercent, {std::move(*tree)});
      } catch (const ParseError&) {
      }
      texts.push_back(std::move(normalized));
      trees.push_back(std::move(tree));
    }
    Candidate c;
    if (trees.empty()) return c;
    const bool all_parsed = std::all_of(trees.begin(), trees.end(), [](const auto& t) { return t.has_value(); });
    if (trees.size() > 1 && all_parsed) {  // "$1$ and $2$": the set of both (a set's elements taken as they are)
      Node set = make_node(Kind::kSet);
      for (auto& t : trees) {
        if (t->kind == Kind::kSet) {
          for (Node& e : t->args) set.args.push_back(std::move(e));
        } else {
          set.args.push_back(std::move(*t));
        }
      }
      for (size_t i = 0; i < texts.size(); ++i) {
        if (i) c.text += " and ";
        c.text += texts[i];
      }
      c.tree = std::move(set);
      c.answer = true;
      return c;
    }
    c.tree = std::move(trees[0]);
    c.answer = c.tree.has_value();
    c.text = std::move(texts[0]);
    return c;
  }

  Candidate extract_expr(const Match& m) {
    Candidate c;
    if (m.expr.is_number) {  // the integer without separators and leading zeros, the decimal with a point
      const NumberMatch& n = m.expr.number;
      std::string integer;
      for (size_t i = n.int_begin; i < n.int_end; ++i)
        if (s_[i] != ',' && s_[i] != ' ') integer += s_[i];
      size_t zeros = 0;
      while (zeros < integer.size() && integer[zeros] == '0') ++zeros;
      integer.erase(0, zeros);
      if (integer.empty()) integer.push_back('0');
      std::string decimal(s_.substr(n.dec_begin, n.dec_end - n.dec_begin));
      if (!decimal.empty()) decimal[0] = '.';
      c.text = integer + decimal;
      const bool negative = integer[0] == '-';
      std::string digits = negative ? integer.substr(1) : integer;
      size_t lead = 0;
      while (lead + 1 < digits.size() && digits[lead] == '0') ++lead;
      if (digits.empty()) digits.push_back('0');
      Node number = make_node(Kind::kNumber, {}, digits.substr(lead) + decimal);
      number.is_float = !decimal.empty();
      Node tree = negative ? make_node(Kind::kNeg, {std::move(number)}) : std::move(number);
      if (n.percent) tree = make_node(Kind::kPercent, {std::move(tree)});
      c.tree = std::move(tree);
      c.answer = true;
      return c;
    }
    c.text = std::string(s_.substr(m.expr.expr_begin, m.expr.expr_end - m.expr.expr_begin));
    try {
      c.tree = parse_python_expr(c.text, deadline_);
      c.answer = true;
    } catch (const ParseError&) {
    }
    return c;
  }

  std::string_view s_;
  const ExtractionOptions& options_;
  const Deadline& deadline_;
  Ticker ticker_;
  LatexScanner latex_;
  ExprScanner expr_;
  Finder answer_, final_answer_, span_start_, expr_anchor_;
  size_t scan_pos_ = 0;  // where the current scan() searches from
};

}  // namespace

std::vector<Candidate> extract_candidates(std::string_view text, const ExtractionOptions& options,
                                          const Deadline& deadline) {
  Extractor extractor(text, options, deadline);
  return extractor.run();
}

std::vector<Extraction> extract(std::string_view text, const ExtractionOptions& options) {
  Deadline deadline(5);
  std::vector<Extraction> out;
  try {
    for (Candidate& c : extract_candidates(text, options, deadline)) out.push_back({std::move(c.text), c.answer});
  } catch (const Timeout&) {
  }
  return out;
}

}  // namespace r1::verify
