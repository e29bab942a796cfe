// Math answer verification: a native, thread-safe, time-bounded equivalent of Hugging Face's Math-Verify
// (parse + verify), used by the `accuracy` reward, rejection sampling and evaluation. It extracts the final
// answer from a model's output (and from a gold solution) with Math-Verify's extraction model (LaTeX,
// expression and string targets with priorities, rightmost match first within a priority), normalises LaTeX
// as latex2sympy2_extended does, parses it into an expression and decides equivalence with exact arithmetic and
// the GiNaC computer algebra system. Multiple-choice letters (GPQA style) are extracted separately. Departures
// from Math-Verify are listed in src/verify/verify.cpp.
//
// Usage:
//   r1::verify::VerifyResult result = r1::verify::verify("\\frac{1}{2}", "... so the answer is $\\boxed{0.5}$.");
//   if (result.verdict == r1::verify::Verdict::kCorrect) { /* result.answer, result.gold; result.detail says why */ }
//   r1::verify::VerifyOptions open_r1 = r1::verify::verify_preset("open-r1");  // open-r1's accuracy_reward
//   r1::verify::set_verify_option(open_r1, "float_rounding", "4");               // any option by name
//   std::vector<r1::verify::VerifyResult> all = r1::verify::verify_batch(gold_output_pairs, open_r1);  // threaded
//   std::vector<r1::verify::Extraction> found = r1::verify::extract(model_output);  // Math-Verify's parse()
//   std::optional<char> letter = r1::verify::extract_choice("Answer: C");  // GPQA: 'C'
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace r1::verify {

// ---- Extracting answers (Math-Verify's parse) -----------------------------------------------------------------------
// LaTeX clean-up before parsing, latex2sympy2_extended's NormalizationConfig field for field.
enum class BoxedMode { kNone, kLast, kAll };  // keep \boxed{} / the last box(es) / every box, joined by commas
struct NormalizationConfig {
  bool basic_latex = true;          // \mathrm -> \text, \dfrac -> \frac, \left( -> (, $ and \displaystyle gone, ...
  bool units = true;                // trailing unit words ("5 cm", "10\text{ m}^2") removed
  bool malformed_operators = true;  // \frac12 -> \frac{1}{2}, \sqrt3 -> \sqrt{3}, 1/2 -> \frac{1}{2}
  bool nits = true;                 // ".5" -> "0.5", "0.5" -> \frac{1}{2}
  BoxedMode boxed = BoxedMode::kAll;
  bool equations = false;  // "a = b = c" -> "c" (deprecated in Math-Verify, used by open-r1)
};

// LaTeX math: \boxed{}, $...$, $$...$$, \(...\), \[...\], " [...] " and bare \frac{a}{b}, after "final answer is",
// "answer:" or anywhere (without an anchor).
struct LatexTarget {
  bool try_extract_without_anchor = true;
  int boxed_match_priority = 50;  // 0: before "final answer is ..." (50); -1: boxes not matched
  NormalizationConfig normalization;
};
// Plain numbers ("1,234.5", "25 %", "$100") and arithmetic ("2/3", "3*4") outside LaTeX.
struct ExprTarget {
  bool try_extract_without_anchor = true;
};
// Literal strings such as choice letters (lower-cased when lowercase).
struct StringTarget {
  std::vector<std::string> strings = {"A", "B", "C", "D"};
  bool try_extract_without_anchor = true;
  bool lowercase = true;
};
using ExtractionTarget = std::variant<LatexTarget, ExprTarget, StringTarget>;

enum class ExtractionMode { kFirstMatch, kAnyMatch };  // only the best match is parsed / the first that parses
enum class FallbackMode { kNoFallback, kFirstMatch };  // also keep the first match's text when it did not parse

struct ExtractionOptions {
  std::vector<ExtractionTarget> targets = {LatexTarget{}, ExprTarget{}};
  ExtractionMode mode = ExtractionMode::kAnyMatch;
  FallbackMode fallback = FallbackMode::kFirstMatch;
};

// What parse() returns: at most one parsed answer (parsed = true; text is its normalised LaTeX or number) and,
// with FallbackMode::kFirstMatch, the first matched text (parsed = false), compared only as a string.
struct Extraction {
  std::string text;
  bool parsed = false;
};
std::vector<Extraction> extract(std::string_view text, const ExtractionOptions& options = {});

// The chosen letter of a multiple-choice answer among the first num_choices letters (A, B, ...), from
// "\boxed{C}", "Answer: C", "the answer is (C)", "(C)" alone, or a bare letter; the last explicit one wins.
// nullopt when none is found. num_choices must be in [2, 26] (r1::UsageError otherwise).
std::optional<char> extract_choice(std::string_view text, int num_choices = 4);

// ---- Verifying an answer against a gold answer (rewards, evaluation) ------------------------------------------------
// Comparison as Math-Verify's verify(): floats rounded to float_rounding decimal places (1/3 = 0.333333 but
// 1/3 != 0.333); closed forms evaluated to numeric_precision digits; strict = variables matter (x+1 != y+1);
// allow_set_relation_comp = a gold set or interval also matches an answer relation (1 < x < 2 vs (1, 2)).
struct VerifyOptions {
  double timeout_seconds = 5;  // wall-clock bound for one verify() call (extract + parse + compare), no signals
  // Input sizes (r1's, not Math-Verify's): a model output longer than max_output_bytes is cut to its last
  // max_output_bytes (where final answers are; at a UTF-8 character boundary) before extraction, so every scan of
  // a runaway completion stays short; a gold answer is read whole up to max_gold_bytes (a longer one is
  // kUnparseableGold, said in the detail), so a long set or a full solution is never cut.
  size_t max_output_bytes = 256 * 1024;
  size_t max_gold_bytes = 4 * 1024 * 1024;
  int float_rounding = 6;
  int numeric_precision = 15;
  bool strict = true;
  bool allow_set_relation_comp = false;
  ExtractionOptions gold_extraction;
  ExtractionOptions answer_extraction;
};

// Named configurations: "math-verify" (the library's defaults: verify(parse(gold), parse(answer)); also
// VerifyOptions{}) and "open-r1" (open-r1's accuracy_reward: gold parsed with first_match; the answer only from
// LaTeX, boxes first, no anchor-free matches, no nits or malformed-operator fixes, equations reduced).
VerifyOptions verify_preset(std::string_view name);  // r1::UsageError naming the presets
std::vector<std::string_view> verify_preset_names();

// Every option by name, for the CLI (`--float-rounding 4`) and reward params ({"float_rounding": 4}):
// comparison options, then extraction options for the answer and, prefixed gold_, for the gold side.
struct VerifyOptionInfo {
  std::string_view name;   // e.g. "boxed_match_priority", "gold_extraction_mode"
  std::string_view value;  // what it takes, e.g. "INT", "first_match|any_match"
  std::string_view help;
};
const std::vector<VerifyOptionInfo>& verify_option_list();
// Sets one option from its text form; r1::UsageError naming the option for an unknown name or a bad value.
// Setting `targets` / `gold_targets` keeps the settings of targets of a kind already present.
void set_verify_option(VerifyOptions& options, std::string_view name, std::string_view value);

enum class Verdict {
  kCorrect,
  kWrong,
  kNoAnswer,         // nothing extracted from the model output
  kUnparseableGold,  // nothing extracted from the gold answer
  kTimeout,          // the deadline passed, or the input exceeds the evaluation limits (e.g. 10^(10^10))
};
std::string_view verdict_name(Verdict verdict);  // "correct", "wrong", "no_answer", "unparseable_gold", "timeout"

struct VerifyResult {
  Verdict verdict = Verdict::kNoAnswer;
  std::string gold;    // the gold answer as extracted and normalised ("" if none)
  std::string answer;  // the model's answer as extracted and normalised ("" if none)
  std::string detail;  // why, in words (which rule decided, or what failed to parse)
  double seconds = 0;  // time spent
};

// gold may be a bare answer ("\frac{1}{2}", "x=3", "[1, 2)") or a full solution text; the answer is extracted
// from both (gold with options.gold_extraction, the output with options.answer_extraction). Correct when any
// extracted gold matches any extracted answer, as Math-Verify. Thread-safe; never throws for bad input (an
// unparseable input is a verdict); returns within about timeout_seconds.
VerifyResult verify(std::string_view gold, std::string_view model_output, const VerifyOptions& options = {});

// verify() over (gold, model_output) pairs on `threads` threads (0: one per usable physical core); results in order.
std::vector<VerifyResult> verify_batch(const std::vector<std::pair<std::string, std::string>>& pairs,
                                       const VerifyOptions& options = {}, int threads = 0);

}  // namespace r1::verify
