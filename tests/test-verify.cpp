// Math answer verification (r1/verify.h) against Math-Verify's behaviour: a table of (gold, model output,
// expected verdict) per category with hard negatives, extraction and multiple-choice letters, the time bound on
// pathological inputs, thread-safety (8 threads x 20 passes agree with the serial verdicts), the accuracy
// reward and the `r1 verify` command.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "r1/error.h"
#include "r1/rewards.h"
#include "r1/verify.h"
#include "test-helpers.h"

using nlohmann::json;
using r1::verify::Verdict;

namespace {

struct Case {
  const char* category;
  const char* gold;
  const char* output;
  Verdict want;
};

constexpr Verdict kOk = Verdict::kCorrect;
constexpr Verdict kNo = Verdict::kWrong;

const std::vector<Case>& table() {
  static const std::vector<Case> cases = {
      // Integers, decimals, thousands separators, trailing punctuation.
      {"integer", "5", "5", kOk},
      {"integer", "-5", "The answer is $-5$.", kOk},
      {"integer", "5", "6", kNo},
      {"integer", "7425000", "7,425,000", kOk},
      {"integer", "1000000", "\\boxed{1{,}000{,}000}", kOk},
      {"integer", "1000", "1000.0", kOk},
      {"integer", "12", "so there are 12 ways.", kOk},
      {"integer", "12", "\\boxed{13}", kNo},
      {"integer", "2", "AZYUK2A", Verdict::kNoAnswer},
      {"decimal", "0.4", ".4", kOk},
      {"decimal", "1000.99", "\\$1,000.99", kOk},
      {"decimal", "2.5", "\\boxed{2.50}", kOk},
      {"decimal", "2", "2.0001", kNo},
      {"decimal", "2", "2.0000001", kOk},
      {"decimal", "0.333", "\\frac{1}{3}", kNo},
      {"decimal", "\\frac{1}{3}", "0.333", kNo},
      {"decimal", "\\frac{1}{3}", "0.333333", kOk},
      {"decimal", "\\frac{1}{3}", "0.3333333", kOk},
      {"decimal", "3.14", "3.15", kNo},
      // Fractions, mixed numbers, \dfrac / \tfrac / \frac12.
      {"fraction", "\\frac{1}{2}", "\\frac12", kOk},
      {"fraction", "\\frac{1}{2}", "\\dfrac{1}{2}", kOk},
      {"fraction", "\\frac{1}{2}", "\\tfrac{1}{2}", kOk},
      {"fraction", "1/2", "\\frac{2}{4}", kOk},
      {"fraction", "\\frac{1}{2}", "0.5", kOk},
      {"fraction", "\\frac{1}{2}", "2", kNo},
      {"fraction", "10/9", "\\frac{10}{9}", kOk},
      {"fraction", "-10/9", "-\\frac{10}{9}", kOk},
      {"fraction", "\\frac{5}{2}", "2\\frac{1}{2}", kOk},
      {"fraction", "-\\frac{5}{2}", "-2\\frac{1}{2}", kOk},
      {"fraction", "\\frac{5}{2}", "2\\frac{1}{3}", kNo},
      {"fraction", "1", "\\frac3{3}", kOk},
      {"fraction", "\\frac{14}{3}", "=2+\\frac{5}{3}+1=\\boxed{\\frac{14}{3}}", kOk},
      // Radicals.
      {"radical", "\\sqrt{2}", "\\sqrt2", kOk},
      {"radical", "2\\sqrt{2}", "\\sqrt{8}", kOk},
      {"radical", "\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", kOk},
      {"radical", "\\sqrt[3]{8}", "2", kOk},
      {"radical", "\\sqrt[3]{x}", "x^{1/3}", kOk},
      {"radical", "\\sqrt{3}", "\\sqrt{2}", kNo},
      {"radical", "2", "\\frac{1+\\sqrt{5}}{2}", kNo},
      {"radical", "\\sqrt{2}", "1.414214", kOk},
      {"radical", "\\sqrt{2}", "1.41", kNo},
      {"radical", "\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{15+2\\sqrt{33}}",
       "\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{2\\sqrt{33}+15}", kOk},
      {"radical", "1\\sqrt{19}", "1", kNo},
      {"radical", "\\sqrt{2}+\\sqrt{3}", "\\sqrt{5+2\\sqrt{6}}", kOk},
      {"radical", "\\sin^2(1)+\\cos^2(1)", "1", kOk},
      // Pi, e, infinity.
      {"pi", "2\\pi", "2 \\pi", kOk},
      {"pi", "\\frac{\\pi}{2}", "\\pi/2", kOk},
      {"pi", "2\\pi", "\\pi", kNo},
      {"pi", "\\pi", "3.14", kNo},
      {"pi", "\\pi r^2", "r^2\\pi", kOk},
      {"pi", "e^2", "\\exp(2)", kOk},
      // Powers, \cdot / \times, implicit multiplication.
      {"power", "2^{10}", "1024", kOk},
      {"power", "2^10", "1024", kOk},
      {"power", "x^2", "x \\cdot x", kOk},
      {"power", "6", "2 \\times 3", kOk},
      {"power", "6", "2 \\cdot 3", kOk},
      {"power", "x^{2}", "x^3", kNo},
      {"power", "2^{100}", "1267650600228229401496703205376", kOk},
      {"power", "2^{100}", "1267650600228229401496703205377", kNo},
      {"power", "2^{-1}", "\\frac{1}{2}", kOk},
      // Symbolic expressions.
      {"symbolic", "2x", "x+x", kOk},
      {"symbolic", "(x+1)^2", "x^2+2x+1", kOk},
      {"symbolic", "(x+1)^2", "x^2+2x+2", kNo},
      {"symbolic", "2-2p", "Thus $x-p=\\boxed{2-2p}$.", kOk},
      {"symbolic", "\\frac{x^2-1}{x-1}", "x+1", kOk},
      {"symbolic", "x+2n+1", "x+1", kNo},
      {"symbolic", "(a+5)(b+2)", "(+5)(b+2)", kNo},
      {"symbolic", "\\sin^2 x + \\cos^2 x", "1", kOk},
      {"symbolic", "\\ln(x^2)", "2\\ln|x|", kOk},
      {"symbolic", "\\ln(x^2)", "2\\ln(x+1)", kNo},
      {"symbolic", "\\frac{a}{b}", "\\frac{b}{a}", kNo},
      {"symbolic", "x_1 + x_2", "x_2 + x_1", kOk},
      {"symbolic", "\\binom{5}{2}", "10", kOk},
      {"symbolic", "5!", "120", kOk},
      {"symbolic", "|-3|", "3", kOk},
      // Sets (order-free).
      {"set", "\\{1,2\\}", "\\{2,1\\}", kOk},
      {"set", "\\{1,2\\}", "\\{1,3\\}", kNo},
      {"set", "\\{1,2\\}", "\\{1,2,3\\}", kNo},
      {"set", "1, 2", "2, 1", kOk},
      {"set", "\\{1,2\\}", "x = 1, 2", kOk},
      {"set", "\\{1,2\\}", "x = 1, 3", kNo},
      {"set", "\\{\\frac{1}{2}, 3\\}", "\\{3, 0.5\\}", kOk},
      {"set", "\\emptyset", "\\varnothing", kOk},
      {"set", "1 \\pm \\sqrt{2}", "1+\\sqrt{2}, 1-\\sqrt{2}", kOk},
      // Tuples / points (ordered).
      {"tuple", "(1,2)", "(1, 2)", kOk},
      {"tuple", "(1,2)", "(2,1)", kNo},
      {"tuple", "(3, \\frac{\\pi}{2})", "\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", kOk},
      {"tuple", "(7,6)", "the ordered pair $(x, y)$ that solves the system is $(7, 6)$.", kOk},
      {"tuple", "(1,2,3)", "(1,2)", kNo},
      {"tuple", "\\left(\\frac{4}{5},\\frac{1}{5}\\right)", "\\boxed{\\left( \\frac{4}{5}, \\frac{1}{5} \\right)}",
       kOk},
      // Intervals (open / closed ends matter).
      {"interval", "[0,1)", "[0,1)", kOk},
      {"interval", "[0,9)", "[0,1)", kNo},
      {"interval", "(0,9)", "[0,9)", kNo},
      {"interval", "(1,2]", "[1,2]", kNo},
      {"interval", "(1,2]", "(1, 2]", kOk},
      {"interval", "[1,\\infty)", "[1, \\infty)", kOk},
      {"interval", "[1,\\infty)", "(1, \\infty)", kNo},
      {"interval", "(-\\infty, 3]", "(-\\infty,3]", kOk},
      {"interval", "(\\frac{3}{5},\\frac{8}{3}]", "(0.6, 2.666667]", kOk},
      {"interval", "(-\\infty,-3] \\cup [2,\\infty)", "[2,\\infty) \\cup (-\\infty,-3]", kOk},
      {"interval", "(-\\infty,-3] \\cup [2,\\infty)", "(-\\infty,-3) \\cup [2,\\infty)", kNo},
      {"interval", "[-3,2]", "Final Answer: The final answer is $(-\\infty, -3] \\cup [2, \\infty)$.", kNo},
      {"interval", "x \\in [2, 5]", "[2,5]", kOk},
      // Equations.
      {"equation", "x = 3", "3", kOk},
      {"equation", "3", "x = 3", kOk},
      {"equation", "x=3", "x=4", kNo},
      {"equation", "x+y=3", "y=3-x", kOk},
      {"equation", "34x+45y-20z+100=0", "-34x-45y+20z-100=0", kOk},
      {"equation", "y = 2x + 1", "y = 2x - 1", kNo},
      {"equation", "\\frac{1}{3}", "k = \\frac{1}{3}", kOk},
      {"equation", "5", "2 + 3 = 5", kOk},
      // Inequalities (gold inequality matches an interval, not the reverse).
      {"inequality", "x > 2", "2 < x", kOk},
      {"inequality", "x > 2", "x \\geq 2", kNo},
      {"inequality", "x \\le 3", "3 \\ge x", kOk},
      {"inequality", "x > 2", "(2, \\infty)", kOk},
      {"inequality", "(2, \\infty)", "x > 2", kNo},
      {"inequality", "-1 < x \\le 3", "(-1, 3]", kOk},
      {"inequality", "-1 < x \\le 3", "(-1, 3)", kNo},
      {"inequality", "x > 2", "x > 3", kNo},
      // Matrices.
      {"matrix", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}",
       kOk},
      {"matrix", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\\\ 4 & 3 \\end{pmatrix}",
       kNo},
      {"matrix", "\\begin{pmatrix} \\frac{1}{2} \\\\ 3 \\end{pmatrix}", "\\begin{pmatrix} 0.5 \\\\ 3 \\end{pmatrix}",
       kOk},
      {"matrix", "\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", kNo},
      {"matrix", "\\boxed{\n\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}\n}.",
       "\\boxed{\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}}", kOk},
      // Complex numbers.
      {"complex", "3+4i", "4i+3", kOk},
      {"complex", "3+4i", "3-4i", kNo},
      {"complex", "i^2", "-1", kOk},
      {"complex", "\\frac{1}{i}", "-i", kOk},
      // Percent (a gold percentage matches the number and its /100 value; not the reverse).
      {"percent", "28\\%", "28", kOk},
      {"percent", "28\\%", "28 percent", kOk},
      {"percent", "28\\%", "\\boxed{28\\%}", kOk},
      {"percent", "28\\%", "0.28", kOk},
      {"percent", "0.28", "28", kNo},
      {"percent", "28", "28/100", kNo},
      {"percent", "0.1", "10\\%", kOk},
      {"percent", "0.1", "10", kNo},
      {"percent", "10\\%", "20\\%", kNo},
      // Units, degrees, currency, text wrappers.
      {"units", "90^\\circ", "90", kOk},
      {"units", "90", "90^{\\circ}", kOk},
      {"units", "30", "30 degrees", kOk},
      {"units", "5", "5 \\text{ cm}", kOk},
      {"units", "5", "5 cm^2", kOk},
      {"units", "\\frac{1}{3}", "\\frac{1}{3} \\text{meters}", kOk},
      {"units", "\\frac{1}{3}", "\\frac{1}{3} \\textbf{meters}", kOk},
      {"units", "18", "\\$18", kOk},
      {"units", "18", "18 dollars", kOk},
      {"units", "16386.20", "\\boxed{\\$16,\\!386.20}", kOk},
      {"units", "\\text{Evelyn}", "Therefore, $\\boxed{\\text{Evelyn}}$ is our answer.", kOk},
      {"units", "\\text{Evelyn}", "\\boxed{\\text{Bob}}", kNo},
      {"units", "\\frac{1}{2}", "\\left( \\frac{1}{2} \\right)", kOk},
      {"units", "\\frac{1}{2}", "\\displaystyle\\frac{1}{2}", kOk},
      {"units", "3", "3\\,\\,", kOk},
      // Extraction from full outputs and gold solutions.
      {"extraction", "5", "\\boxed{3} no wait \\boxed{5}", kOk},
      {"extraction", "5", "\\boxed{5} no wait \\boxed{3}", kNo},
      {"extraction", "\\frac{1}{2}", "\\boxed{\\frac{1}{2}}", kOk},
      {"extraction", "We get $x = 2$ so the answer is $\\boxed{4}$.", "<think>...</think><answer>4</answer>", kOk},
      {"extraction", "4", "<think>maybe 3</think>\n<answer>\\boxed{4}</answer>", kOk},
      {"extraction", "4", "The final answer is $4$. I hope it is correct.", kOk},
      {"extraction", "4", "The answer is 4.", kOk},
      {"extraction", "9", "Answer \\[ 9 \\]", kOk},
      {"extraction", "9", "Answer \\( 9 \\)", kOk},
      {"extraction", "10", "Answer \\( (9+1) \\)", kOk},
      {"extraction", "2/3",
       "P(A) = (1/2) * (4/3) P(A) = 2/3 Therefore, the probability that Alice wins the game is 2/3.", kOk},
      {"extraction", "12000023", "Final Answer: The final answer is 12,000,023. I hope it is correct.", kOk},
      // No answer / unparseable gold.
      {"no-answer", "5", "", Verdict::kNoAnswer},
      {"no-answer", "5", "I do not know.", Verdict::kNoAnswer},
      {"unparseable", "", "5", Verdict::kUnparseableGold},
      {"unparseable", "\\begin{tikzpicture} \\end{tikzpicture}", "5", Verdict::kUnparseableGold},
  };
  return cases;
}

std::string describe(const Case& c, const r1::verify::VerifyResult& r) {
  return std::string("[") + c.category + "] gold=" + json(c.gold).dump() + " output=" + json(c.output).dump() + " -> " +
         std::string(r1::verify::verdict_name(r.verdict)) + " (" + r.detail + "; gold '" + r.gold + "', answer '" +
         r.answer + "')";
}

}  // namespace

TEST(Verify, TableOfVerdicts) {
  EXPECT_GE(table().size(), 120u);
  for (const Case& c : table()) {
    auto r = r1::verify::verify(c.gold, c.output);
    EXPECT_EQ(r.verdict, c.want) << describe(c, r);
  }
}

TEST(Verify, ExtractionTargets) {
  using r1::verify::extract_answers;
  using r1::verify::ExtractionTarget;
  r1::verify::ExtractionOptions boxed{{ExtractionTarget::kBoxed}};
  EXPECT_EQ(extract_answers("so \\boxed{\\frac{1}{\\sqrt{2}}} done", boxed),
            std::vector<std::string>{"\\frac{1}{\\sqrt{2}}"});
  EXPECT_EQ(extract_answers("\\boxed{1} then \\fbox{2}", boxed), std::vector<std::string>{"2"});
  EXPECT_EQ(extract_answers("\\boxed{1} then \\boxed{2} and \\boxed{3", boxed), std::vector<std::string>{"2"});
  EXPECT_EQ(extract_answers("\\boxed 7", boxed), std::vector<std::string>{"7"});
  EXPECT_TRUE(extract_answers("no box here", boxed).empty());
  r1::verify::ExtractionOptions tag{{ExtractionTarget::kAnswerTag}};
  EXPECT_EQ(extract_answers("<think>x</think><answer> 42 </answer>", tag), std::vector<std::string>{"42"});
  r1::verify::ExtractionOptions phrase{{ExtractionTarget::kAnswerPhrase}};
  EXPECT_EQ(extract_answers("The final answer is $\\frac{1}{2}$. I hope", phrase),
            std::vector<std::string>{"\\frac{1}{2}"});
  EXPECT_EQ(extract_answers("Thus the answer is 17 apples. Done", phrase), std::vector<std::string>{"17 apples"});
  r1::verify::ExtractionOptions math{{ExtractionTarget::kLatexMath}};
  EXPECT_EQ(extract_answers("a $1$ b $$2$$ c \\(3\\) d", math), std::vector<std::string>{"3"});
  EXPECT_EQ(extract_answers("cost \\$5 and $x+1$", math), std::vector<std::string>{"x+1"});
  r1::verify::ExtractionOptions number{{ExtractionTarget::kLastNumber}};
  EXPECT_EQ(extract_answers("from 3 to 1,234.5 items", number), std::vector<std::string>{"1,234.5"});
  // Default order: boxed before the answer phrase.
  auto all = extract_answers("The answer is 3. Actually \\boxed{4}");
  ASSERT_GE(all.size(), 2u);
  EXPECT_EQ(all[0], "4");
  EXPECT_EQ(all[1], "3");
  // A custom order changes the verdict.
  r1::verify::VerifyOptions phrase_first;
  phrase_first.answer_extraction.targets = {ExtractionTarget::kAnswerPhrase, ExtractionTarget::kBoxed};
  EXPECT_EQ(r1::verify::verify("3", "The answer is 3. Actually \\boxed{4}", phrase_first).verdict, Verdict::kCorrect);
  EXPECT_EQ(r1::verify::verify("3", "The answer is 3. Actually \\boxed{4}").verdict, Verdict::kWrong);
  EXPECT_EQ(r1::verify::parse_extraction_target("answer_tag"), ExtractionTarget::kAnswerTag);
  R1_EXPECT_THROW_WITH(r1::verify::parse_extraction_target("boxxed"), r1::UsageError, "boxxed", "boxed");
}

TEST(Verify, MultipleChoiceLetters) {
  using r1::verify::extract_choice;
  EXPECT_EQ(extract_choice("Answer: C"), 'C');
  EXPECT_EQ(extract_choice("so the answer is (B)."), 'B');
  EXPECT_EQ(extract_choice("Therefore \\boxed{D}"), 'D');
  EXPECT_EQ(extract_choice("I pick (A)"), 'A');
  EXPECT_EQ(extract_choice("the answer is c"), 'C');
  EXPECT_EQ(extract_choice("A is wrong, B too. Answer: D"), 'D');
  EXPECT_EQ(extract_choice("Answer: A ... on reflection the answer is B"), 'B');
  EXPECT_EQ(extract_choice("Answer: E"), std::nullopt);  // beyond 4 choices
  EXPECT_EQ(extract_choice("Answer: E", 5), 'E');
  EXPECT_EQ(extract_choice("A cat sat"), std::nullopt);
  EXPECT_EQ(extract_choice("no letter here"), std::nullopt);
  EXPECT_EQ(extract_choice("...\nB"), 'B');
  R1_EXPECT_THROW_WITH(extract_choice("A", 1), r1::UsageError, "num_choices");
}

TEST(Verify, PathologicalInputsAreTimeBounded) {
  r1::verify::VerifyOptions options;
  options.timeout_seconds = 1;
  std::string nested = std::string(5000, '(') + "1" + std::string(5000, ')');
  std::string long_sum;
  while (long_sum.size() < 100000) long_sum += "x^2+3x-1+";
  long_sum += "1";
  std::vector<std::pair<std::string, std::string>> inputs = {
      {"5", "10^{10^{10^{10}}}"},
      {"10^{10^{10^{10}}}", "10^{10^{10^{10}}}+1"},
      {"1", "(x+1)^{100000} - (x+1)^{100000} + 1"},
      {"2", "\\boxed{" + nested + "}"},
      {nested, "1"},
      {"1", long_sum},
      {long_sum, long_sum + "+0"},
      {"5", std::string(100000, '{')},
      {"1000!", "1000!"},
      {"100000!", "3"},
  };
  for (const auto& [gold, output] : inputs) {
    auto start = std::chrono::steady_clock::now();
    auto r = r1::verify::verify(gold, output, options);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 2 * options.timeout_seconds) << gold.substr(0, 40) << " vs " << output.substr(0, 40);
    EXPECT_LT(r.seconds, 2 * options.timeout_seconds);
  }
  auto verdict = [&](const std::string& gold, const std::string& output) {
    return r1::verify::verify(gold, output, options).verdict;
  };
  EXPECT_EQ(verdict("5", "10^{10^{10^{10}}}"), Verdict::kWrong);  // overflows: not 5
  EXPECT_EQ(verdict("10^{10^{10^{10}}}", "10^{10^{10^{10}}}+1"), Verdict::kTimeout);
  // Too large for GiNaC to expand (cas.cpp's term bound); decided at the numeric sample points, where it is 1,
  // as Math-Verify's sympy, which cancels the two powers before expanding anything.
  EXPECT_EQ(verdict("1", "(x+1)^{100000} - (x+1)^{100000} + 1"), Verdict::kCorrect);
  // Deeper than the parser's limit: not parsed; the last-number fallback still reads the "1" inside.
  EXPECT_EQ(verdict("2", "\\boxed{" + nested + "}"), Verdict::kWrong);
  EXPECT_EQ(verdict("5", std::string(100000, '{')), Verdict::kNoAnswer);
  EXPECT_EQ(verdict("100000!", "3"), Verdict::kWrong);
  EXPECT_EQ(verdict("2^{20000}", "2^{20000}+1"), Verdict::kTimeout);  // beyond the exact-power limit
}

TEST(Verify, ThreadsAgreeWithSerial) {
  const auto& cases = table();
  std::vector<Verdict> serial;
  for (const Case& c : cases) serial.push_back(r1::verify::verify(c.gold, c.output).verdict);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(8, 0);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int pass = 0; pass < 20; ++pass)
        for (size_t i = 0; i < cases.size(); ++i) {
          size_t k = (i + size_t(t) * 17) % cases.size();  // different orders per thread
          if (r1::verify::verify(cases[k].gold, cases[k].output).verdict != serial[k]) ++mismatches[t];
        }
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const Case& c : cases) pairs.emplace_back(c.gold, c.output);
  auto batch = r1::verify::verify_batch(pairs, {}, 4);
  ASSERT_EQ(batch.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(batch[i].verdict, serial[i]) << i;
}

TEST(Verify, AccuracyReward) {
  auto reward = r1::rewards::make_reward("accuracy");
  std::vector<std::string> completions = {"<answer>\\boxed{\\frac{1}{2}}</answer>", "\\boxed{0.6}", "I think 7",
                                          "\\boxed{3}", "\\boxed{2}"};
  std::vector<json> examples = {{{"solution", "The value is $\\boxed{0.5}$."}},
                                {{"solution", "$\\frac{3}{5}$"}},
                                {{"answer", "8"}},
                                {{"solution", ""}},
                                {{"answer", 2}}};
  auto scores = reward(completions, examples);
  ASSERT_EQ(scores.size(), 5u);
  EXPECT_EQ(scores[0], 1.0);
  EXPECT_EQ(scores[1], 1.0);
  EXPECT_EQ(scores[2], 0.0);
  EXPECT_EQ(scores[3], std::nullopt);  // unparseable gold: not applicable
  EXPECT_EQ(scores[4], 1.0);
  auto hackable = r1::rewards::make_reward("accuracy", {{"unparseable_gold_is_correct", true}});
  EXPECT_EQ(hackable(completions, examples)[3], 1.0);
  auto ordered = r1::rewards::make_reward("accuracy", {{"extraction_order", {"number"}}, {"timeout_seconds", 2}});
  EXPECT_EQ(ordered({"\\boxed{7} or 8"}, {json{{"answer", "8"}}})[0], 1.0);
  R1_EXPECT_THROW_WITH(r1::rewards::make_reward("accuracy", {{"bogus", 1}, {"timeout", 2}}), r1::Error, "bogus",
                       "timeout", "unknown");
  R1_EXPECT_THROW_WITH(r1::rewards::make_reward("accuracy", {{"extraction_order", {"boxd"}}}), r1::UsageError, "boxd");
  R1_EXPECT_THROW_WITH(reward({"1"}, {json{{"problem", "x"}}}), r1::Error, "solution", "answer");
}

TEST(Verify, Command) {
  auto ok = r1::test::run_r1("verify --gold '\\frac{1}{2}' --pred 'so \\boxed{0.5}'");
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("correct"), std::string::npos) << ok.output;
  auto wrong = r1::test::run_r1("verify --gold 2 --pred '\\boxed{3}'");
  EXPECT_EQ(wrong.status, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("wrong"), std::string::npos) << wrong.output;
  auto usage = r1::test::run_r1("verify --gold 2");
  EXPECT_EQ(usage.status, 2) << usage.output;

  r1::test::TempDir dir;
  std::string rows;
  rows += json{{"solution", "$\\boxed{4}$"}, {"completion", "\\boxed{4}"}}.dump() + "\n";
  rows += json{{"solution", "7"}, {"completion", "the answer is 8"}}.dump() + "\n";
  rows += json{{"solution", ""}, {"completion", "1"}}.dump() + "\n";
  rows += json{{"solution", "\\boxed{1}"}, {"completion", "\u00e9\u00e9 \U0001F600"}}.dump() + "\n";  // non-ASCII prose
  r1::test::write_bytes(dir / "rows.jsonl", rows);
  auto batch = r1::test::run_r1("verify --input " + (dir / "rows.jsonl").string() + " --out " +
                                (dir / "out.jsonl").string() + " --threads 2");
  EXPECT_EQ(batch.status, 0) << batch.output;
  EXPECT_NE(batch.output.find("correct 1"), std::string::npos) << batch.output;
  EXPECT_NE(batch.output.find("wrong 1"), std::string::npos) << batch.output;
  EXPECT_NE(batch.output.find("unparseable gold 1"), std::string::npos) << batch.output;
  std::string out = r1::test::read_bytes(dir / "out.jsonl");
  size_t lines = std::count(out.begin(), out.end(), '\n');
  EXPECT_EQ(lines, 4u);
  EXPECT_EQ(json::parse(out.substr(0, out.find('\n')))["verdict"], "correct");
  // The last row's detail quotes whole characters (half of one made the batch's JSON output fail).
  const json last = r1::test::read_jsonl(dir / "out.jsonl").back();
  EXPECT_EQ(last["verdict"], "no_answer") << last.dump();
  EXPECT_EQ(last["detail"], "answer: unexpected character '\u00e9'") << last.dump();
  auto bad = r1::test::run_r1("verify --input " + (dir / "rows.jsonl").string() + " --pred-column nope");
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_NE(bad.output.find("nope"), std::string::npos) << bad.output;
}
