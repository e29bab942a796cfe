// Math answer verification: a native, thread-safe, time-bounded equivalent of Hugging Face's Math-Verify
// (parse + verify), used by the `accuracy` reward, rejection sampling and evaluation. It extracts the final
// answer from a model's output (and from a gold solution), parses LaTeX or plain math into an expression and
// decides equivalence with exact arithmetic and the GiNaC computer algebra system. Multiple-choice letters
// (GPQA style) are extracted separately. Departures from Math-Verify are listed in src/verify/verify.cpp.
//
// Usage:
//   r1::verify::VerifyResult result = r1::verify::verify("\\frac{1}{2}", "... so the answer is $\\boxed{0.5}$.");
//   if (result.verdict == r1::verify::Verdict::kCorrect) { /* result.answer, result.gold; result.detail says why */ }
//   std::vector<r1::verify::VerifyResult> all = r1::verify::verify_batch(gold_output_pairs);  // in order, threaded
//   std::vector<std::string> candidates = r1::verify::extract_answers(model_output);
//   std::optional<char> letter = r1::verify::extract_choice("Answer: C");  // GPQA: 'C'
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace r1::verify {

// ---- Extracting answers ---------------------------------------------------------------------------------------------
// Where an answer can be found in a text, tried in the order given.
enum class ExtractionTarget {
  kBoxed,         // the last \boxed{...} or \fbox{...} (nested braces kept)
  kAnswerTag,     // the last <answer>...</answer>
  kAnswerPhrase,  // "the final answer is X" / "the answer is X" / "Answer: X" (the last one)
  kLatexMath,     // the last $...$, $$...$$, \(...\) or \[...\]
  kWholeText,     // the whole text, when it is short (a bare gold answer such as "\frac{1}{2}" or "x = 3")
  kLastNumber,    // the last number in the text (fallback)
};

struct ExtractionOptions {
  std::vector<ExtractionTarget> targets = {ExtractionTarget::kBoxed,        ExtractionTarget::kAnswerTag,
                                           ExtractionTarget::kAnswerPhrase, ExtractionTarget::kLatexMath,
                                           ExtractionTarget::kWholeText,    ExtractionTarget::kLastNumber};
};

// Names used by reward params and the CLI: boxed, answer_tag, answer_phrase, latex, whole, number.
ExtractionTarget parse_extraction_target(std::string_view name);  // r1::UsageError naming the valid ones
std::string_view extraction_target_name(ExtractionTarget target);

// Candidate answers in priority order (one per target that matched, duplicates removed), untrimmed of LaTeX.
std::vector<std::string> extract_answers(std::string_view text, const ExtractionOptions& options = {});

// The chosen letter of a multiple-choice answer among the first num_choices letters (A, B, ...), from
// "\boxed{C}", "Answer: C", "the answer is (C)", "(C)" alone, or a bare letter; the last explicit one wins.
// nullopt when none is found. num_choices must be in [2, 26] (r1::UsageError otherwise).
std::optional<char> extract_choice(std::string_view text, int num_choices = 4);

// ---- Verifying an answer against a gold answer (rewards, evaluation) ------------------------------------------------
// Float tolerance, as Math-Verify: when either side is written with a decimal point, both are evaluated
// and rounded to float_rounding decimal places and the rounded values must be equal (so 1/3 = 0.333333 but
// 1/3 != 0.333, and 2 != 2.0001). Otherwise numbers compare exactly (rationals) or, for irrational and
// symbolic expressions, symbolically with GiNaC, falling back to evaluation at fixed pseudo-random points
// with relative tolerance numeric_rel_tol (Math-Verify evaluates with numeric_precision = 15 digits).
struct VerifyOptions {
  double timeout_seconds = 5;     // wall-clock bound for one verify() call (parse + compare), no signals
  int float_rounding = 6;         // decimal places, Math-Verify's float_rounding
  double numeric_rel_tol = 1e-9;  // relative tolerance of the numeric fallback
  ExtractionOptions gold_extraction;
  ExtractionOptions answer_extraction;
};

enum class Verdict {
  kCorrect,
  kWrong,
  kNoAnswer,         // nothing parseable in the model output
  kUnparseableGold,  // nothing parseable in the gold answer
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
// from both (gold with options.gold_extraction, the output with options.answer_extraction). Thread-safe; never
// throws for bad input (an unparseable input is a verdict); returns within about timeout_seconds.
VerifyResult verify(std::string_view gold, std::string_view model_output, const VerifyOptions& options = {});

// verify() over (gold, model_output) pairs on `threads` threads (0: one per usable physical core); results in order.
std::vector<VerifyResult> verify_batch(const std::vector<std::pair<std::string, std::string>>& pairs,
                                       const VerifyOptions& options = {}, int threads = 0);

}  // namespace r1::verify
