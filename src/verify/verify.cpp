// verify() and verify_batch(): Math-Verify's parse(gold) / parse(answer) / verify(gold, answer) in one call.
// Each side's candidates (extraction.cpp) are normalised and the first that parses is used; the normalised
// strings are also compared as text (a text answer such as "Evelyn" matches itself, case-insensitively).
// One steady-clock deadline bounds the whole call (no signals, so any thread may call it); limits on sizes
// and exponents make every GiNaC call short (expr.h). Departures from Math-Verify:
//   1. A gold answer that nothing parses from is a verdict of its own (kUnparseableGold), not "wrong".
//   2. Inputs beyond the evaluation limits (10^(10^10), 5000 nested brackets) are kTimeout or unparseable at
//      once, instead of running until the timer fires.
#include <algorithm>
#include <cctype>

#include "r1/runtime.h"
#include "r1/verify.h"
#include "verify/expr.h"

namespace r1::verify {

namespace {

std::string squash(std::string_view s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) out += char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_prose(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == ' ' || c == '-' || c == '\'';
  });
}

struct Side {
  std::string text;  // normalised, of the parsed candidate (else of the first candidate)
  std::optional<Node> tree;
  bool found = false;  // any candidate at all
  std::string error;   // why the first candidate did not parse
};

Side read_side(std::string_view raw, const ExtractionOptions& extraction, const Deadline& deadline) {
  Side side;
  for (const std::string& candidate : extract_answers(raw, extraction)) {
    deadline.check();
    std::string normalized = normalize_answer(candidate);
    if (normalized.empty()) continue;
    if (!side.found) side.text = normalized;
    side.found = true;
    try {
      side.tree = parse_math(normalized, deadline);
      side.text = normalized;
      return side;
    } catch (const ParseError& e) {
      if (side.error.empty()) side.error = e.what();
    }
  }
  return side;
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
    Side g = read_side(gold, options.gold_extraction, deadline);
    Side a = read_side(model_output, options.answer_extraction, deadline);
    r.gold = g.text;
    r.answer = a.text;
    if (!g.found) {
      r.verdict = Verdict::kUnparseableGold;
      r.detail = "no answer found in the gold text";
    } else if (!a.found) {
      r.verdict = Verdict::kNoAnswer;
      r.detail = "no answer found in the output";
    } else if (squash(g.text) == squash(a.text)) {
      r.verdict = Verdict::kCorrect;
      r.detail = "identical after normalisation";
    } else if (!g.tree && is_prose(g.text)) {
      r.verdict = Verdict::kWrong;
      r.detail = "text answers differ";
    } else if (!g.tree) {
      r.verdict = Verdict::kUnparseableGold;
      r.detail = "gold: " + g.error;
    } else if (!a.tree) {
      r.verdict = Verdict::kNoAnswer;
      r.detail = "answer: " + a.error;
    } else {
      CompareOptions compare{options.float_rounding, options.numeric_rel_tol};
      bool same = equivalent(*g.tree, *a.tree, compare, deadline, r.detail);
      r.verdict = same ? Verdict::kCorrect : Verdict::kWrong;
      if (r.detail.empty()) r.detail = same ? "equivalent" : "different structure";
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

}  // namespace r1::verify
