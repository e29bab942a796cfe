// verify() and verify_batch(): Math-Verify's verify(parse(gold), parse(answer)) in one call, and the named
// presets and options. Each side is extracted as Math-Verify's parse() (extraction.cpp): at most one parsed
// answer and the first match's text as a fallback; the verdict is correct when any gold item matches any answer
// item (trees by compare.cpp's rules, texts by equality after stripping, a tree never matches a text).
// One steady-clock deadline bounds the whole call (no signals, so any thread may call it); limits on sizes
// and exponents make every GiNaC call short (expr.h).
// Departures from Math-Verify (what r1 chose not to follow, and why):
//   1. Nothing extracted from the gold is a verdict of its own (kUnparseableGold), nothing from the output is
//      kNoAnswer; Math-Verify returns False for both. Rewards need the difference (an unparseable gold is not
//      applicable, as open-r1's None).
//   2. One deadline covers the whole call, and inputs beyond the evaluation limits (10^(10^10), 5000 nested
//      brackets) are kTimeout or unparseable at once; Math-Verify times parse and verify separately with
//      signals, which threads cannot use.
//   3. The expression tree is r1's own (parse.cpp), not latex2sympy's ANTLR grammar and sympy: its reading is
//      followed where answers meet it (letters multiply, "2 3" is 5, "4:30" is 4/30, \text{...} is a symbol,
//      \frac12 needs the malformed-operator fix), not in calculus (derivatives, integrals, limits, sums),
//      \operatorname functions, set operations other than union, or matrix algebra, which do not parse here.
//   4. Comparison: equations are equal up to a constant factor rather than by sympy's solve(); GiNaC proves
//      some identities sympy's simplify does not (ln(x^2) = 2 ln|x|), and where GiNaC cannot decide, the
//      numeric check at sample points does (sympy's undecided simplify is "different").
//   5. Numbers compare as sympy 1.11 does (Math-Verify's golden verdicts): an integer equals a float that rounds
//      to it (2 = 2.0000001 at 6 places); sympy 1.13 and later say Integer(2) != Float(2.0) there.
//   6. Patterns: \d and case-insensitive matching are ASCII (Python's cover every Unicode digit and letter);
//      where a pattern must be followed by something ("I hope", not "="), at most 64 shorter matches are
//      tried, and the regular expressions' backtracking into a match's middle is followed only where it
//      changes a result.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "r1/error.h"
#include "r1/runtime.h"
#include "r1/verify.h"
#include "verify/expr.h"

namespace r1::verify {

namespace {

std::string strip_spaces(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// The text shown for a side: the parsed answer's, else the fallback's.
std::string shown(const std::vector<Candidate>& side) {
  for (const Candidate& c : side)
    if (c.answer) return c.text;
  return side.empty() ? "" : side.front().text;
}

}  // namespace

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kCorrect:
      return "correct";
    case Verdict::kWrong:
      return "wrong";
    case Verdict::kNoAnswer:
      return "no_answer";
    case Verdict::kUnparseableGold:
      return "unparseable_gold";
    case Verdict::kTimeout:
      return "timeout";
  }
  return "?";
}

VerifyResult verify(std::string_view gold, std::string_view model_output, const VerifyOptions& options) {
  auto start = std::chrono::steady_clock::now();
  Deadline deadline(options.timeout_seconds);
  VerifyResult r;
  try {
    if (gold.size() > options.max_gold_bytes) {
      r.verdict = Verdict::kUnparseableGold;
      r.detail = fmt::format("the gold answer has {} bytes, more than max_gold_bytes ({})", gold.size(),
                             options.max_gold_bytes);
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return r;
    }
    if (model_output.size() > options.max_output_bytes) {  // keep the tail, from a character's first byte
      size_t cut = model_output.size() - options.max_output_bytes;
      while (cut < model_output.size() && (static_cast<unsigned char>(model_output[cut]) & 0xC0) == 0x80) ++cut;
      model_output.remove_prefix(cut);
    }
    const std::vector<Candidate> g = extract_candidates(gold, options.gold_extraction, deadline);
    const std::vector<Candidate> a = extract_candidates(model_output, options.answer_extraction, deadline);
    r.gold = shown(g);
    r.answer = shown(a);
    if (g.empty()) {
      r.verdict = Verdict::kUnparseableGold;
      r.detail = "no answer found in the gold text";
    } else if (a.empty()) {
      r.verdict = Verdict::kNoAnswer;
      r.detail = "no answer found in the output";
    } else {
      const CompareOptions compare{options.float_rounding, options.numeric_precision, options.strict,
                                   options.allow_set_relation_comp};
      r.verdict = Verdict::kWrong;
      std::string why;
      for (const Candidate& gc : g) {
        for (const Candidate& ac : a) {
          if (gc.tree && ac.tree) {
            std::string detail;
            bool same = false;
            try {
              same = equivalent(*gc.tree, *ac.tree, compare, deadline, detail);
            } catch (const ParseError& e) {  // a tree the comparison cannot read: not equal, as Math-Verify's errors
              detail = e.what();
            }
            if (same) {
              r.verdict = Verdict::kCorrect;
              r.detail = detail.empty() ? "equivalent" : detail;
              r.gold = gc.text;
              r.answer = ac.text;
              break;
            }
            if (why.empty()) why = detail.empty() ? "different" : detail;
          } else if (!gc.tree && !ac.tree) {
            const std::string x = strip_spaces(gc.text), y = strip_spaces(ac.text);
            if (!x.empty() && x == y) {
              r.verdict = Verdict::kCorrect;
              r.detail = gc.answer && ac.answer ? "the same string" : "the same text (neither parsed)";
              r.gold = gc.text;
              r.answer = ac.text;
              break;
            }
          }
        }
        if (r.verdict == Verdict::kCorrect) break;
      }
      if (r.verdict != Verdict::kCorrect) {
        const bool gold_parsed = std::any_of(g.begin(), g.end(), [](const Candidate& c) { return c.answer; });
        const bool answer_parsed = std::any_of(a.begin(), a.end(), [](const Candidate& c) { return c.answer; });
        r.detail = !gold_parsed     ? "the gold answer did not parse; texts differ"
                   : !answer_parsed ? "the answer did not parse; texts differ"
                   : why.empty()    ? "different"
                                    : why;
      }
    }
  } catch (const Timeout& e) {
    r.verdict = Verdict::kTimeout;
    r.detail = e.what();
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::vector<VerifyResult> verify_batch(const std::vector<std::pair<std::string, std::string>>& pairs,
                                       const VerifyOptions& options, int threads) {
  std::vector<VerifyResult> results(pairs.size());
  parallel_for(pairs.size(), threads, [&](size_t i) { results[i] = verify(pairs[i].first, pairs[i].second, options); });
  return results;
}

// ---- Presets and options by name -----------------------------------------------------------------------------------

std::vector<std::string_view> verify_preset_names() { return {"math-verify", "open-r1"}; }

VerifyOptions verify_preset(std::string_view name) {
  VerifyOptions o;
  if (name == "math-verify" || name == "math_verify") return o;
  if (name == "open-r1" || name == "open_r1") {
    o.gold_extraction.mode = ExtractionMode::kFirstMatch;
    LatexTarget latex;
    latex.normalization.nits = false;
    latex.normalization.malformed_operators = false;
    latex.normalization.basic_latex = true;
    latex.normalization.equations = true;
    latex.normalization.boxed = BoxedMode::kAll;
    latex.normalization.units = true;
    latex.boxed_match_priority = 0;
    latex.try_extract_without_anchor = false;
    o.answer_extraction.targets = {latex};
    o.answer_extraction.mode = ExtractionMode::kFirstMatch;
    return o;
  }
  fail_usage("unknown verify preset '{}' (expected math-verify or open-r1)", name);
}

namespace {

// The extraction options, once for the answer and once (prefixed gold_) for the gold side.
constexpr VerifyOptionInfo kSideOptions[] = {
    {"targets", "latex,expr,string", "what is extracted, in this order (default latex,expr)"},
    {"extraction_mode", "first_match|any_match", "parse only the best match, or go on until one parses"},
    {"fallback_mode", "first_match|no_fallback", "keep the first match's text as an answer compared as text"},
    {"boxed_match_priority", "INT", "LaTeX: priority of \\boxed{} (0 first, 50 after \"final answer is\", -1 off)"},
    {"try_extract_without_anchor", "BOOL", "also match answers without \"answer\" / \"final answer is\" before them"},
    {"basic_latex", "BOOL", "LaTeX normalisation: \\left, \\mathrm, \\dfrac, $ and the like"},
    {"units", "BOOL", "LaTeX normalisation: remove trailing units"},
    {"malformed_operators", "BOOL", "LaTeX normalisation: \\frac12, \\sqrt3, a/b"},
    {"nits", "BOOL", "LaTeX normalisation: .5 -> 0.5, 0.5 -> \\frac{1}{2}"},
    {"boxed", "all|last|none", "LaTeX normalisation: keep every box's content, the last box's, or the box"},
    {"equations", "BOOL", "LaTeX normalisation: a = b = c -> c"},
    {"strings", "A,B,C,D", "string target: the strings"},
    {"lowercase", "BOOL", "string target: compare lower-cased"},
};

const std::vector<VerifyOptionInfo>& all_options() {
  static const std::vector<VerifyOptionInfo> options = [] {
    std::vector<VerifyOptionInfo> out = {
        {"timeout_seconds", "SECONDS", "wall-clock bound of one verification"},
        {"max_output_bytes", "BYTES", "a longer model output is cut to its last BYTES before extraction"},
        {"max_gold_bytes", "BYTES", "a gold answer is read whole up to BYTES (longer: unparseable_gold)"},
        {"float_rounding", "INT", "decimal places floats are rounded to before comparing"},
        {"numeric_precision", "INT", "digits to which closed forms are compared numerically"},
        {"strict", "BOOL", "variables matter (x+1 != y+1) and sets differ from tuples"},
        {"allow_set_relation_comp", "BOOL", "a gold set or interval also matches an answer relation"},
    };
    for (const auto& o : kSideOptions) out.push_back(o);
    static std::vector<std::string> gold_names;
    gold_names.reserve(std::size(kSideOptions));
    for (const auto& o : kSideOptions) gold_names.push_back("gold_" + std::string(o.name));
    static std::vector<std::string> gold_help;
    gold_help.reserve(std::size(kSideOptions));
    for (const auto& o : kSideOptions) gold_help.push_back("the gold answer's " + std::string(o.name));
    for (size_t i = 0; i < std::size(kSideOptions); ++i)
      out.push_back({gold_names[i], kSideOptions[i].value, gold_help[i]});
    return out;
  }();
  return options;
}

bool parse_bool(std::string_view name, std::string_view value) {
  if (value == "true" || value == "1" || value == "yes" || value == "on") return true;
  if (value == "false" || value == "0" || value == "no" || value == "off") return false;
  fail_usage("verify option '{}': expected true or false, got '{}'", name, value);
}

int parse_int(std::string_view name, std::string_view value, int lo, int hi) {
  int v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || v < lo || v > hi)
    fail_usage("verify option '{}': expected an integer in [{}, {}], got '{}'", name, lo, hi, value);
  return v;
}

std::vector<std::string> split_list(std::string_view value) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= value.size()) {
    size_t e = value.find(',', b);
    if (e == std::string_view::npos) e = value.size();
    std::string item = strip_spaces(value.substr(b, e - b));
    if (!item.empty()) out.push_back(item);
    b = e + 1;
  }
  return out;
}

// Applies fn to every target of type T on a side; a usage error when the side has none.
template <typename T, typename Fn>
void each_target(ExtractionOptions& side, std::string_view name, std::string_view kind, Fn fn) {
  bool any = false;
  for (ExtractionTarget& t : side.targets)
    if (T* target = std::get_if<T>(&t)) {
      fn(*target);
      any = true;
    }
  if (!any) fail_usage("verify option '{}': this side extracts no {} target (set targets first)", name, kind);
}

void set_side_option(ExtractionOptions& side, std::string_view full, std::string_view name, std::string_view value) {
  auto latex = [&](auto fn) { each_target<LatexTarget>(side, full, "latex", fn); };
  if (name == "targets") {
    std::vector<ExtractionTarget> targets;
    for (const std::string& kind : split_list(value)) {
      auto keep = [&](auto fresh) -> ExtractionTarget {  // an existing target of the kind keeps its settings
        for (const ExtractionTarget& t : side.targets)
          if (t.index() == ExtractionTarget(fresh).index()) return t;
        return fresh;
      };
      if (kind == "latex") {
        targets.push_back(keep(LatexTarget{}));
      } else if (kind == "expr") {
        targets.push_back(keep(ExprTarget{}));
      } else if (kind == "string") {
        targets.push_back(keep(StringTarget{}));
      } else {
        fail_usage("verify option '{}': unknown target '{}' (expected latex, expr or string)", full, kind);
      }
    }
    if (targets.empty()) fail_usage("verify option '{}': give at least one of latex, expr, string", full);
    side.targets = std::move(targets);
  } else if (name == "extraction_mode") {
    if (value == "first_match") {
      side.mode = ExtractionMode::kFirstMatch;
    } else if (value == "any_match") {
      side.mode = ExtractionMode::kAnyMatch;
    } else {
      fail_usage("verify option '{}': expected first_match or any_match, got '{}'", full, value);
    }
  } else if (name == "fallback_mode") {
    if (value == "first_match") {
      side.fallback = FallbackMode::kFirstMatch;
    } else if (value == "no_fallback") {
      side.fallback = FallbackMode::kNoFallback;
    } else {
      fail_usage("verify option '{}': expected first_match or no_fallback, got '{}'", full, value);
    }
  } else if (name == "boxed_match_priority") {
    const int v = parse_int(full, value, -1, 1000000);
    latex([&](LatexTarget& t) { t.boxed_match_priority = v; });
  } else if (name == "try_extract_without_anchor") {
    const bool v = parse_bool(full, value);
    bool any = false;
    for (ExtractionTarget& t : side.targets) {
      std::visit([&](auto& target) { target.try_extract_without_anchor = v; }, t);
      any = true;
    }
    if (!any) fail_usage("verify option '{}': this side has no targets", full);
  } else if (name == "basic_latex" || name == "units" || name == "malformed_operators" || name == "nits" ||
             name == "equations") {
    const bool v = parse_bool(full, value);
    latex([&](LatexTarget& t) {
      NormalizationConfig& n = t.normalization;
      (name == "basic_latex" ? n.basic_latex
       : name == "units"     ? n.units
       : name == "nits"      ? n.nits
       : name == "equations" ? n.equations
                             : n.malformed_operators) = v;
    });
  } else if (name == "boxed") {
    BoxedMode mode = BoxedMode::kAll;
    if (value == "last") {
      mode = BoxedMode::kLast;
    } else if (value == "none") {
      mode = BoxedMode::kNone;
    } else if (value != "all") {
      fail_usage("verify option '{}': expected all, last or none, got '{}'", full, value);
    }
    latex([&](LatexTarget& t) { t.normalization.boxed = mode; });
  } else if (name == "strings") {
    std::vector<std::string> strings = split_list(value);
    if (strings.empty()) fail_usage("verify option '{}': give at least one string", full);
    each_target<StringTarget>(side, full, "string", [&](StringTarget& t) { t.strings = strings; });
  } else if (name == "lowercase") {
    const bool v = parse_bool(full, value);
    each_target<StringTarget>(side, full, "string", [&](StringTarget& t) { t.lowercase = v; });
  } else {
    fail_usage("unknown verify option '{}'", full);
  }
}

}  // namespace

const std::vector<VerifyOptionInfo>& verify_option_list() { return all_options(); }

void set_verify_option(VerifyOptions& options, std::string_view name, std::string_view value) {
  if (name == "timeout_seconds") {
    double v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || !(v > 0))
      fail_usage("verify option 'timeout_seconds': expected a positive number of seconds, got '{}'", value);
    options.timeout_seconds = v;
  } else if (name == "max_output_bytes" || name == "max_gold_bytes") {
    (name == "max_output_bytes" ? options.max_output_bytes : options.max_gold_bytes) =
        size_t(parse_int(name, value, 1, std::numeric_limits<int>::max()));
  } else if (name == "float_rounding") {
    options.float_rounding = parse_int(name, value, 0, 15);
  } else if (name == "numeric_precision") {
    options.numeric_precision = parse_int(name, value, 1, 30);
  } else if (name == "strict") {
    options.strict = parse_bool(name, value);
  } else if (name == "allow_set_relation_comp") {
    options.allow_set_relation_comp = parse_bool(name, value);
  } else if (name.substr(0, 5) == "gold_") {
    set_side_option(options.gold_extraction, name, name.substr(5), value);
  } else {
    bool known = std::any_of(std::begin(kSideOptions), std::end(kSideOptions),
                             [&](const VerifyOptionInfo& o) { return o.name == name; });
    if (!known) {
      std::string names;
      for (const auto& o : all_options()) {
        if (!names.empty()) names += ", ";
        names += o.name;
      }
      fail_usage("unknown verify option '{}' (known: {})", name, names);
    }
    set_side_option(options.answer_extraction, name, name, value);
  }
}

}  // namespace r1::verify
