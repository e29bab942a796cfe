// The verifier's deadline is its contract (r1/verify.h: "returns within about timeout_seconds"): one family of
// hostile inputs per test, generated here (gold answers in $...$: Math-Verify extracts no bare LaTeX), each
// asserting that verify() returns within the deadline plus a small margin on a steady clock — the one timing
// assertion the project allows, because the deadline is what RL rollouts wait on. Unclosed delimiters by the
// 100,000 must also be decided, not timed out: extraction scans the text once, not once per start. A batch test checks
// that one hostile row does not hold the others up (GiNaC runs under a process-wide lock, so a long CAS call once made
// every other row time out). Also: long gold answers are read whole (a 99-element set verifies against itself).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "r1/verify.h"

using r1::verify::Verdict;

namespace {

constexpr double kDeadline = 1.0;  // seconds, every case
constexpr double kMargin = 0.2;    // seconds past the deadline a verdict may take (measured: see README)

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// Verifies (gold, output) and asserts the deadline held; returns the result for further checks.
r1::verify::VerifyResult bounded(const std::string& gold, const std::string& output) {
  r1::verify::VerifyOptions options;
  options.timeout_seconds = kDeadline;
  const auto start = std::chrono::steady_clock::now();
  r1::verify::VerifyResult r = r1::verify::verify(gold, output, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, kDeadline + kMargin) << "gold " << gold.substr(0, 60) << " | output " << output.substr(0, 60)
                                          << " | " << r1::verify::verdict_name(r.verdict) << ": " << r.detail;
  return r;
}

struct Family {
  const char* name;
  std::vector<std::pair<std::string, std::string>> cases;  // (gold, output)
};

std::vector<Family> families() {
  const std::string prose = repeat("We consider the next step of the argument carefully. ", 20000);  // ~1 MB
  return {
      {"expansion in the CAS",
       {{"$(a+b+c+d)^{64}(a+b+c-d)^{64}$", "\\boxed{((a+b+c)^2-d^2)^{64}}"},
        {"$(x+y+z)^{64}(x-y)^{64}$", "\\boxed{(x^2-y^2+xz-yz)^{64}}"},
        {"$\\frac{(a+b+c+d+e)^{40}}{(a-b)^{30}}$", "\\boxed{\\frac{(e+d+c+b+a)^{40}(a+b)^{9}}{(a-b)^{30}(a+b)^{9}}}"}}},
      {"unclosed openers, as gold and as output",
       {{"5", repeat("<answer>", 50000)},
        {"5", repeat("\\frac{", 100000)},
        {repeat("\\boxed{", 100000), "5"},
        {repeat("$", 100001), "$5$"}}},
      {"nesting",
       {{"5", "\\boxed{" + repeat("\\mathrm{", 20000) + "5" + repeat("}", 20000) + "}"},
        {"5", "\\boxed{" + repeat("\\text{", 20000) + "5" + repeat("}", 20000) + "}"},
        {"5", "\\boxed{" + repeat("\\sqrt{", 20000) + "5" + repeat("}", 20000) + "}"},
        {"5", "\\boxed{" + repeat("(", 100000) + "5" + repeat(")", 100000) + "}"},
        {"5", repeat("{", 100000) + "5" + repeat("}", 100000)},
        {"5", "\\boxed{" + repeat("\\left(", 20000) + "5" + repeat("\\right)", 20000) + "}"}}},
      {"long texts",
       {{"5", prose + "The answer is \\boxed{5}."},
        {"5", prose + repeat("$x$ ", 50000) + "\\boxed{5}"},
        {"5", repeat("the answer is 1, ", 60000) + "the answer is 5"},
        {"5", repeat("1+", 200000) + "1"},
        {"5", "\\boxed{" + repeat("1+", 200000) + "1}"},
        {repeat("9", 100000), "\\boxed{" + repeat("9", 100000) + "}"},
        {"5", repeat("12,345 ", 100000)},
        {"5", repeat("\\begin{pmatrix}", 20000)}}},
      {"large values",
       {{"5", "\\boxed{9^{9^{9^{9}}}}"},
        {"$10^{10^{10}}$", "\\boxed{10^{10^{10}}+1}"},
        {"5", "\\boxed{100000!}"},
        {"5", "\\boxed{\\binom{100000}{50000}}"},
        {"$2^{20000}$", "\\boxed{2^{20000}-1}"},
        {"1", "\\boxed{(x+1)^{100000}-(x+1)^{100000}+1}"}}},
      {"large structures",
       {{"\\{" +
             [] {
               std::string s;
               for (int i = 1; i <= 3000; ++i) s += std::to_string(i) + (i < 3000 ? "," : "");
               return s;
             }() +
             "\\}",
         "\\boxed{\\{" +
             [] {
               std::string s;
               for (int i = 3000; i >= 1; --i) s += std::to_string(i) + (i > 1 ? "," : "");
               return s;
             }() +
             "\\}}"},
        {"\\begin{pmatrix}" + repeat(repeat("1&", 99) + "1\\\\", 100) + "\\end{pmatrix}",
         "\\boxed{\\begin{pmatrix}" + repeat(repeat("1&", 99) + "1\\\\", 100) + "\\end{pmatrix}}"}}},
  };
}

// Extraction is linear in the input: 10^5 unclosed \\boxed{, \\(, $$, \\[ or "answer" anchors are decided (not timed
// out) in both presets, where a rescan from every start would take 10^10 steps.
TEST(VerifyDeadline, UnclosedDelimitersAreScannedOnce) {
  const std::vector<std::string> outputs = {
      repeat("\\boxed{", 100000),   repeat("\\(", 100000),          repeat("$$", 100000) + "x", repeat("\\[", 100000),
      repeat("answer ", 100000),    repeat("final answer ", 50000), repeat("1 ", 100000) + "x", repeat(" [1", 100000),
      repeat("$\\boxed{1", 100000), repeat("\\frac{1}{", 100000)};
  for (const char* preset : {"math-verify", "open-r1"}) {
    r1::verify::VerifyOptions options = r1::verify::verify_preset(preset);
    options.timeout_seconds = kDeadline;
    for (const std::string& output : outputs) {
      const auto start = std::chrono::steady_clock::now();
      const r1::verify::VerifyResult r = r1::verify::verify("5", output, options);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      EXPECT_LT(seconds, kDeadline + kMargin) << preset << ": " << output.substr(0, 20);
      EXPECT_NE(r.verdict, Verdict::kTimeout) << preset << ": " << output.substr(0, 20) << " -> " << r.detail;
    }
  }
}

TEST(VerifyDeadline, EveryPathologicalFamilyReturnsWithinTheDeadline) {
  for (const Family& family : families()) {
    SCOPED_TRACE(family.name);
    for (const auto& [gold, output] : family.cases) bounded(gold, output);
  }
}

// In a batch, a hostile row does not delay the others: each easy row is decided (correct, not timeout) in
// well under the deadline even while the hostile one runs beside it.
TEST(VerifyDeadline, OneHostileRowDoesNotHoldUpABatch) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (int i = 0; i < 8; ++i) {
    rows.push_back({"$(a+b+c+d)^{64}(a+b+c-d)^{64}$", "\\boxed{((a+b+c)^2-d^2)^{64}}"});
    rows.push_back({"$x^2-1$", "so the answer is $\\boxed{(x-1)(x+1)}$"});
    rows.push_back({"$\\frac{1}{2}$", "\\boxed{0.5}"});
  }
  r1::verify::VerifyOptions options;
  options.timeout_seconds = kDeadline;
  const auto start = std::chrono::steady_clock::now();
  const auto results = r1::verify::verify_batch(rows, options, 2);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(results.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_LT(results[i].seconds, kDeadline + kMargin) << i;
    if (i % 3 != 0) {
      EXPECT_EQ(results[i].verdict, Verdict::kCorrect) << i << ": " << results[i].detail;
      EXPECT_LT(results[i].seconds, kDeadline / 2) << i;
    }
  }
  EXPECT_LT(seconds, rows.size() * (kDeadline + kMargin) / 2 + kMargin);  // two threads, each row bounded
}

// A gold answer is read whole, however long: a set of 99 numbers is the same set written in another order,
// and not the set with one member changed.
TEST(VerifyDeadline, LongGoldAnswersAreReadWhole) {
  std::string forward, backward, changed;
  for (int i = 1; i <= 99; ++i) {
    forward += std::to_string(i * 7) + (i < 99 ? ", " : "");
    backward += std::to_string((100 - i) * 7) + (i < 99 ? ", " : "");
    changed += std::to_string(i == 50 ? 1 : i * 7) + (i < 99 ? ", " : "");
  }
  EXPECT_EQ(bounded("$\\{" + forward + "\\}$", "$\\boxed{\\{" + forward + "\\}}$").verdict, Verdict::kCorrect);
  EXPECT_EQ(bounded("$\\{" + forward + "\\}$", "$\\boxed{\\{" + backward + "\\}}$").verdict, Verdict::kCorrect);
  EXPECT_EQ(bounded("$\\{" + forward + "\\}$", "$\\boxed{\\{" + changed + "\\}}$").verdict, Verdict::kWrong);
  EXPECT_EQ(bounded("\\boxed{" + forward + "}", "\\boxed{" + forward + "}").verdict, Verdict::kCorrect);
}

}  // namespace

namespace {

// The input-size policy (VerifyOptions::max_output_bytes / max_gold_bytes): a runaway output is read from its tail,
// where the final answer is, and a long gold answer is read whole.
TEST(VerifyDeadline, OutputsAreReadFromTheirTailAndGoldsWhole) {
  const std::string prose = repeat("Some more reasoning here. ", 40000);  // ~1 MB, past max_output_bytes
  EXPECT_EQ(bounded("$5$", "\\boxed{7} is wrong, so " + prose + "the answer is $\\boxed{5}$").verdict,
            Verdict::kCorrect);
  EXPECT_EQ(bounded("$5$", "the answer is $\\boxed{5}$ " + prose).verdict, Verdict::kNoAnswer);  // beyond the tail
  r1::verify::VerifyOptions options;
  options.max_gold_bytes = 10;
  const auto r = r1::verify::verify("$\\frac{1234}{5678}$", "$\\frac{1234}{5678}$", options);
  EXPECT_EQ(r.verdict, Verdict::kUnparseableGold);
  EXPECT_NE(r.detail.find("max_gold_bytes"), std::string::npos) << r.detail;
  // A cut inside a multi-byte character starts the tail at the next character.
  options = {};
  options.max_output_bytes = 13;  // the cut falls inside the last é
  EXPECT_EQ(r1::verify::verify("$5$", "\u00e9\u00e9\u00e9\u00e9 $\\boxed{5}$", options).verdict, Verdict::kCorrect);
}

}  // namespace
