// Math answer verification (r1/verify.h) against Math-Verify's behaviour: a table of (gold, model output,
// expected verdict) per category with hard negatives (the verdicts are the real Math-Verify 0.8.0's, checked
// with tests/reference/math-verify/ask.py), Math-Verify's extraction model (priorities, rightmost match first,
// first_match / any_match, fallback), the cases issue 17 lists in both presets, presets and options by name,
// multiple-choice letters, the time bound on pathological inputs (linear extraction scans: test-verify-deadline),
// thread-safety (8 threads x 20 passes agree with the serial verdicts), the accuracy reward and the `r1 verify`
// command. The golden set (tests/golden/verify) is compared by tests/reference/math-verify/compare.py.
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
      {"integer", "$5$", "$5$", kOk},
      {"integer", "$-5$", "The answer is $-5$.", kOk},
      {"integer", "$5$", "$6$", kNo},
      {"integer", "$7425000$", "$7,425,000$", kOk},
      {"integer", "$1000000$", "\\boxed{1{,}000{,}000}", kOk},
      {"integer", "$1000$", "$1000.0$", kOk},
      {"integer", "$12$", "so there are 12 ways.", kOk},
      {"integer", "$12$", "\\boxed{13}", kNo},
      {"integer", "$2$", "AZYUK2A", Verdict::kNoAnswer},
      {"decimal", "$0.4$", "$.4$", kOk},
      // Math-Verify: \$ is no currency sign for the number pattern; nothing is extracted
      {"decimal", "$1000.99$", "\\$1,000.99", Verdict::kNoAnswer},
      {"decimal", "$2.5$", "\\boxed{2.50}", kOk},
      {"decimal", "$2$", "$2.0001$", kNo},
      {"decimal", "$2$", "$2.0000001$", kOk},
      {"decimal", "$0.333$", "$\\frac{1}{3}$", kNo},
      {"decimal", "$\\frac{1}{3}$", "$0.333$", kNo},
      {"decimal", "$\\frac{1}{3}$", "$0.333333$", kOk},
      {"decimal", "$\\frac{1}{3}$", "$0.3333333$", kOk},
      {"decimal", "$3.14$", "$3.15$", kNo},
      {"fraction", "$\\frac{1}{2}$", "$\\frac12$", kOk},
      {"fraction", "$\\frac{1}{2}$", "$\\dfrac{1}{2}$", kOk},
      {"fraction", "$\\frac{1}{2}$", "$\\tfrac{1}{2}$", kOk},
      {"fraction", "$1/2$", "$\\frac{2}{4}$", kOk},
      {"fraction", "$\\frac{1}{2}$", "$0.5$", kOk},
      {"fraction", "$\\frac{1}{2}$", "$2$", kNo},
      {"fraction", "$10/9$", "$\\frac{10}{9}$", kOk},
      {"fraction", "$-10/9$", "$-\\frac{10}{9}$", kOk},
      {"fraction", "$\\frac{5}{2}$", "$2\\frac{1}{2}$", kOk},
      {"fraction", "$-\\frac{5}{2}$", "$-2\\frac{1}{2}$", kOk},
      {"fraction", "$\\frac{5}{2}$", "$2\\frac{1}{3}$", kNo},
      {"fraction", "$1$", "$\\frac3{3}$", kOk},
      {"fraction", "$\\frac{14}{3}$", "=2+\\frac{5}{3}+1=\\boxed{\\frac{14}{3}}", kOk},
      {"radical", "$\\sqrt{2}$", "$\\sqrt2$", kOk},
      {"radical", "$2\\sqrt{2}$", "$\\sqrt{8}$", kOk},
      {"radical", "$\\frac{\\sqrt{2}}{2}$", "$\\frac{1}{\\sqrt{2}}$", kOk},
      {"radical", "$\\sqrt[3]{8}$", "$2$", kOk},
      {"radical", "$\\sqrt[3]{x}$", "$x^{1/3}$", kOk},
      {"radical", "$\\sqrt{3}$", "$\\sqrt{2}$", kNo},
      {"radical", "$2$", "$\\frac{1+\\sqrt{5}}{2}$", kNo},
      {"radical", "$\\sqrt{2}$", "$1.414214$", kOk},
      {"radical", "$\\sqrt{2}$", "$1.41$", kNo},
      {"radical", "$\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{15+2\\sqrt{33}}$",
       "$\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{2\\sqrt{33}+15}$", kOk},
      {"radical", "$1\\sqrt{19}$", "$1$", kNo},
      {"radical", "$\\sqrt{2}+\\sqrt{3}$", "$\\sqrt{5+2\\sqrt{6}}$", kOk},
      {"radical", "$\\sin^2(1)+\\cos^2(1)$", "$1$", kOk},
      {"pi", "$2\\pi$", "$2 \\pi$", kOk},
      {"pi", "$\\frac{\\pi}{2}$", "$\\pi/2$", kOk},
      {"pi", "$2\\pi$", "$\\pi$", kNo},
      {"pi", "$\\pi$", "$3.14$", kNo},
      {"pi", "$\\pi r^2$", "$r^2\\pi$", kOk},
      {"pi", "$e^2$", "$\\exp(2)$", kOk},
      {"power", "$2^{10}$", "$1024$", kOk},
      {"power", "$2^10$", "$1024$", kOk},
      {"power", "$x^2$", "$x \\cdot x$", kOk},
      {"power", "$6$", "$2 \\times 3$", kOk},
      {"power", "$6$", "$2 \\cdot 3$", kOk},
      {"power", "$x^{2}$", "$x^3$", kNo},
      {"power", "$2^{100}$", "$1267650600228229401496703205376$", kOk},
      {"power", "$2^{100}$", "$1267650600228229401496703205377$", kNo},
      {"power", "$2^{-1}$", "$\\frac{1}{2}$", kOk},
      {"symbolic", "$2x$", "$x+x$", kOk},
      {"symbolic", "$(x+1)^2$", "$x^2+2x+1$", kOk},
      {"symbolic", "$(x+1)^2$", "$x^2+2x+2$", kNo},
      {"symbolic", "$2-2p$", "Thus $x-p=\\boxed{2-2p}$.", kOk},
      {"symbolic", "$\\frac{x^2-1}{x-1}$", "$x+1$", kOk},
      {"symbolic", "$x+2n+1$", "$x+1$", kNo},
      {"symbolic", "$(a+5)(b+2)$", "$(+5)(b+2)$", kNo},
      {"symbolic", "$\\sin^2 x + \\cos^2 x$", "$1$", kOk},
      // departure: GiNaC proves it (numerically at least); sympy's simplify does not
      {"symbolic", "$\\ln(x^2)$", "$2\\ln|x|$", kOk},
      {"symbolic", "$\\ln(x^2)$", "$2\\ln(x+1)$", kNo},
      {"symbolic", "$\\frac{a}{b}$", "$\\frac{b}{a}$", kNo},
      {"symbolic", "$x_1 + x_2$", "$x_2 + x_1$", kOk},
      {"symbolic", "$\\binom{5}{2}$", "$10$", kOk},
      {"symbolic", "$5!$", "$120$", kOk},
      {"symbolic", "$|-3|$", "$3$", kOk},
      {"set", "$\\{1,2\\}$", "$\\{2,1\\}$", kOk},
      {"set", "$\\{1,2\\}$", "$\\{1,3\\}$", kNo},
      {"set", "$\\{1,2\\}$", "$\\{1,2,3\\}$", kNo},
      {"set", "$1, 2$", "$2, 1$", kOk},
      {"set", "$\\{1,2\\}$", "$x = 1, 2$", kOk},
      {"set", "$\\{1,2\\}$", "$x = 1, 3$", kNo},
      {"set", "$\\{\\frac{1}{2}, 3\\}$", "$\\{3, 0.5\\}$", kOk},
      // Math-Verify: \varnothing is a symbol, \emptyset the empty set
      {"set", "$\\emptyset$", "$\\varnothing$", kNo},
      {"set", "$1 \\pm \\sqrt{2}$", "$1+\\sqrt{2}, 1-\\sqrt{2}$", kOk},
      {"tuple", "$(1,2)$", "$(1, 2)$", kOk},
      {"tuple", "$(1,2)$", "$(2,1)$", kNo},
      {"tuple", "$(3, \\frac{\\pi}{2})$", "\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", kOk},
      {"tuple", "$(7,6)$", "the ordered pair $(x, y)$ that solves the system is $(7, 6)$.", kOk},
      {"tuple", "$(1,2,3)$", "$(1,2)$", kNo},
      {"tuple", "$\\left(\\frac{4}{5},\\frac{1}{5}\\right)$", "\\boxed{\\left( \\frac{4}{5}, \\frac{1}{5} \\right)}",
       kOk},
      {"interval", "$[0,1)$", "$[0,1)$", kOk},
      {"interval", "$[0,9)$", "$[0,1)$", kNo},
      {"interval", "$(0,9)$", "$[0,9)$", kNo},
      {"interval", "$(1,2]$", "$[1,2]$", kNo},
      {"interval", "$(1,2]$", "$(1, 2]$", kOk},
      {"interval", "$[1,\\infty)$", "$[1, \\infty)$", kOk},
      {"interval", "$[1,\\infty)$", "$(1, \\infty)$", kNo},
      {"interval", "$(-\\infty, 3]$", "$(-\\infty,3]$", kOk},
      {"interval", "$(\\frac{3}{5},\\frac{8}{3}]$", "$(0.6, 2.666667]$", kOk},
      {"interval", "$(-\\infty,-3] \\cup [2,\\infty)$", "$[2,\\infty) \\cup (-\\infty,-3]$", kOk},
      {"interval", "$(-\\infty,-3] \\cup [2,\\infty)$", "$(-\\infty,-3) \\cup [2,\\infty)$", kNo},
      {"interval", "$[-3,2]$", "Final Answer: The final answer is $(-\\infty, -3] \\cup [2, \\infty)$.", kNo},
      {"interval", "$x \\in [2, 5]$", "$[2,5]$", kOk},
      {"equation", "$x = 3$", "$3$", kOk},
      {"equation", "$3$", "$x = 3$", kOk},
      {"equation", "$x=3$", "$x=4$", kNo},
      {"equation", "$x+y=3$", "$y=3-x$", kOk},
      {"equation", "$34x+45y-20z+100=0$", "$-34x-45y+20z-100=0$", kOk},
      {"equation", "$y = 2x + 1$", "$y = 2x - 1$", kNo},
      {"equation", "$\\frac{1}{3}$", "$k = \\frac{1}{3}$", kOk},
      {"equation", "$5$", "$2 + 3 = 5$", kOk},
      {"inequality", "$x > 2$", "$2 < x$", kOk},
      {"inequality", "$x > 2$", "$x \\geq 2$", kNo},
      {"inequality", "$x \\le 3$", "$3 \\ge x$", kOk},
      {"inequality", "$x > 2$", "$(2, \\infty)$", kOk},
      {"inequality", "$(2, \\infty)$", "$x > 2$", kNo},
      {"inequality", "$-1 < x \\le 3$", "$(-1, 3]$", kOk},
      {"inequality", "$-1 < x \\le 3$", "$(-1, 3)$", kNo},
      {"inequality", "$x > 2$", "$x > 3$", kNo},
      {"matrix", "$\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}$",
       "$\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}$", kOk},
      {"matrix", "$\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}$",
       "$\\begin{pmatrix} 1 & 2 \\\\ 4 & 3 \\end{pmatrix}$", kNo},
      {"matrix", "$\\begin{pmatrix} \\frac{1}{2} \\\\ 3 \\end{pmatrix}$",
       "$\\begin{pmatrix} 0.5 \\\\ 3 \\end{pmatrix}$", kOk},
      {"matrix", "$\\begin{pmatrix} 1 & 2 \\end{pmatrix}$", "$\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}$", kNo},
      {"matrix", "\\boxed{\n\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}\n}.",
       "\\boxed{\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}}", kOk},
      {"complex", "$3+4i$", "$4i+3$", kOk},
      {"complex", "$3+4i$", "$3-4i$", kNo},
      // Math-Verify: i is a symbol (I is the imaginary unit)
      {"complex", "$i^2$", "$-1$", kNo},
      // Math-Verify: i is a symbol (I is the imaginary unit)
      {"complex", "$\\frac{1}{i}$", "$-i$", kNo},
      // Math-Verify: a percentage is its value / 100, both ways
      {"percent", "$28\\%$", "$28$", kNo},
      {"percent", "$28\\%$", "28 percent", kOk},
      {"percent", "$28\\%$", "\\boxed{28\\%}", kOk},
      {"percent", "$28\\%$", "$0.28$", kOk},
      {"percent", "$0.28$", "$28$", kNo},
      {"percent", "$28$", "$28/100$", kNo},
      {"percent", "$0.1$", "$10\\%$", kOk},
      {"percent", "$0.1$", "$10$", kNo},
      {"percent", "$10\\%$", "$20\\%$", kNo},
      {"units", "$90^\\circ$", "$90$", kOk},
      {"units", "$90$", "$90^{\\circ}$", kOk},
      {"units", "$30$", "30 degrees", kOk},
      {"units", "$5$", "$5 \\text{ cm}$", kOk},
      // Math-Verify: "cm^2" is no unit word (the ^2 after it)
      {"units", "$5$", "$5 cm^2$", kNo},
      {"units", "$\\frac{1}{3}$", "$\\frac{1}{3} \\text{meters}$", kOk},
      {"units", "$\\frac{1}{3}$", "$\\frac{1}{3} \\textbf{meters}$", kOk},
      // Math-Verify: \$ is no currency sign for the number pattern; nothing is extracted
      {"units", "$18$", "\\$18", Verdict::kNoAnswer},
      {"units", "$18$", "18 dollars", kOk},
      {"units", "$16386.20$", "\\boxed{\\$16,\\!386.20}", kOk},
      {"units", "$\\text{Evelyn}$", "Therefore, $\\boxed{\\text{Evelyn}}$ is our answer.", kOk},
      {"units", "$\\text{Evelyn}$", "\\boxed{\\text{Bob}}", kNo},
      {"units", "$\\frac{1}{2}$", "$\\left( \\frac{1}{2} \\right)$", kOk},
      {"units", "$\\frac{1}{2}$", "$\\displaystyle\\frac{1}{2}$", kOk},
      {"units", "$3$", "$3\\,\\,$", kOk},
      // Math-Verify: boxes less than 10 characters apart are one answer, {3, 5}
      {"extraction", "$5$", "\\boxed{3} no wait \\boxed{5}", kNo},
      {"extraction", "$5$", "\\boxed{5} no wait \\boxed{3}", kNo},
      {"extraction", "$\\frac{1}{2}$", "\\boxed{\\frac{1}{2}}", kOk},
      // Math-Verify: no <answer> target; a bare 4 needs a space or = before it
      {"extraction", "We get $x = 2$ so the answer is $\\boxed{4}$.", "<think>...</think><answer>4</answer>",
       Verdict::kNoAnswer},
      {"extraction", "$4$", "<think>maybe 3</think>\n<answer>\\boxed{4}</answer>", kOk},
      {"extraction", "$4$", "The final answer is $4$. I hope it is correct.", kOk},
      {"extraction", "$4$", "The answer is 4.", kOk},
      {"extraction", "$9$", "Answer \\[ 9 \\]", kOk},
      {"extraction", "$9$", "Answer \\( 9 \\)", kOk},
      {"extraction", "$10$", "Answer \\( (9+1) \\)", kOk},
      {"extraction", "$2/3$",
       "P(A) = (1/2) * (4/3) P(A) = 2/3 Therefore, the probability that Alice wins the game is 2/3.", kOk},
      {"extraction", "$12000023$", "Final Answer: The final answer is 12,000,023. I hope it is correct.", kOk},
      {"no-answer", "$5$", "", Verdict::kNoAnswer},
      {"no-answer", "$5$", "I do not know.", Verdict::kNoAnswer},
      {"unparseable", "", "$5$", Verdict::kUnparseableGold},
      {"unparseable", "$\\begin{tikzpicture} \\end{tikzpicture}$", "$5$", kNo},
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

// Math-Verify's parse(): the answer, then the first match's text as a fallback.
TEST(Verify, ExtractionModel) {
  using r1::verify::extract;
  using r1::verify::Extraction;
  auto texts = [](const std::vector<Extraction>& found) {
    std::vector<std::string> out;
    for (const Extraction& e : found) out.push_back((e.parsed ? "" : "text:") + e.text);
    return out;
  };
  // Rightmost first within a priority: the later plain number beats the earlier LaTeX span.
  EXPECT_EQ(texts(extract("as \\( n \\) varies. Thus, there are 6 different possible values")),
            (std::vector<std::string>{"6", "text:6"}));
  // Priorities: "final answer is" (50, with boxes) before "answer:" (100) before anything (300).
  EXPECT_EQ(texts(extract("Answer: $3$. So $4$ and final answer is $5$ here")),
            (std::vector<std::string>{"5", "text:5"}));
  EXPECT_EQ(texts(extract("Answer: $3$. Later $4$.")), (std::vector<std::string>{"3", "text:3"}));
  // Boxes: the last ones, joined into a set when close together; "\boxed{" without its brace is not lost.
  EXPECT_EQ(texts(extract("so \\boxed{\\frac{1}{\\sqrt{2}}} done")),
            (std::vector<std::string>{"\\frac{1}{\\sqrt{2}}", "text:\\frac{1}{\\sqrt{2}}"}));
  EXPECT_EQ(texts(extract("\\boxed{2} and \\boxed{5}")), (std::vector<std::string>{"2,5", "text:2,5"}));
  EXPECT_EQ(texts(extract("$\\boxed{2}$ and $\\boxed{5}$")), (std::vector<std::string>{"2 and 5", "text:2 and 5"}));
  // A match that does not parse: any_match goes on to the next one and keeps the first as the fallback.
  EXPECT_EQ(texts(extract("The answer: 3 \u00d7 4")), (std::vector<std::string>{"4", "text:3 \u00d7 4"}));
  r1::verify::ExtractionOptions first;
  first.mode = r1::verify::ExtractionMode::kFirstMatch;
  EXPECT_EQ(texts(extract("The answer: 3 \u00d7 4", first)), (std::vector<std::string>{"text:3 \u00d7 4"}));
  first.fallback = r1::verify::FallbackMode::kNoFallback;
  EXPECT_TRUE(extract("The answer: 3 \u00d7 4", first).empty());
  // Without anchors only "answer" / "final answer is" count.
  r1::verify::ExtractionOptions anchored;
  anchored.targets = {r1::verify::ExprTarget{false}};
  EXPECT_TRUE(extract("there are 6 of them", anchored).empty());
  EXPECT_EQ(texts(extract("the answer is 6", anchored)), (std::vector<std::string>{"6", "text:6"}));
  // Numbers: thousands separators (comma or space), percentages, currency.
  EXPECT_EQ(texts(extract("There are 4 096 ways")), (std::vector<std::string>{"4096", "text:4096"}));
  EXPECT_EQ(texts(extract("It costs $1,234.50 in total")), (std::vector<std::string>{"1234.50", "text:1234.50"}));
  // Strings (choice letters), lower-cased.
  r1::verify::ExtractionOptions letters;
  letters.targets = {r1::verify::StringTarget{}};
  EXPECT_EQ(texts(extract("The answer is C.", letters)), (std::vector<std::string>{"c", "text:C"}));
  EXPECT_TRUE(extract("no box here and no number").empty());
}

// The cases issue 17 lists, with the real Math-Verify's verdicts in both presets.
TEST(Verify, IssueSeventeenCasesInBothPresets) {
  struct Row {
    const char* gold;
    const char* output;
    bool math_verify, open_r1;
  };
  const std::vector<Row> rows = {
      // The later plain number, not the earlier LaTeX span; open-r1 reads only LaTeX.
      {"6", "...as \\( n \\) varies. Thus, there are 6 different possible values", true, false},
      {"6", "The answer is 6", true, false},
      {"6", "The answer is $6$", true, true},
      // Percentages: n% is n/100 both ways; the plain-text fallback "25" still matches the gold text "25".
      {"\\boxed{198}", "\\boxed{198\\%}", false, false},
      {"\\boxed{198\\%}", "\\boxed{198}", false, false},
      {"25", "The percentage is 25 %", true, false},
      {"$25\\%$", "The answer is $0.25$", true, true},
      // Clock times: \text{4:30 p.m.} is one symbol; 16:30 is 16/30.
      {"\\boxed{\\text{4:30 p.m.}}", "So the meeting starts at \\boxed{\\text{4:30 p.m.}}", true, true},
      {"\\boxed{\\text{4:30 p.m.}}", "So the meeting starts at \\boxed{16:30}", false, false},
      {"\\boxed{\\text{4:30 p.m.}}", "So the meeting starts at \\boxed{30}", false, false},
      // Several boxes are one set.
      {"$2, 5$", "The solutions are \\boxed{2} and \\boxed{5}", true, true},
      {"$2, 5$", "The solutions are $\\boxed{2}$ and $\\boxed{5}$", true, true},
      // \pm is both signs.
      {"$\\pm 3$", "\\boxed{3}", false, false},
      {"$\\pm 3$", "\\boxed{\\pm 3}", true, true},
      {"$\\pm 3$", "\\boxed{3, -3}", true, true},
      // Text answers: a text symbol, also against letters written side by side.
      {"\\boxed{\\text{Tuesday}}", "The day is \\boxed{\\text{Tuesday}}", true, true},
      {"\\boxed{\\text{Tuesday}}", "The day is \\boxed{Tuesday}", true, true},
      {"\\boxed{\\text{Tuesday}}", "The day is \\boxed{\\text{Monday}}", false, false},
      {"\\boxed{\\text{Tuesday}}", "It is day 3, so \\boxed{\\text{Tuesday}}", true, true},
      // Units after \mbox / \text, with a power.
      {"$10$", "The area is \\boxed{10 \\mbox{ m}^2}", true, true},
      {"$10$", "The area is \\boxed{10\\text{ m}^2}", true, true},
      // Space as a thousands separator: plain text yes; in LaTeX "4 096" is the mixed number 4 + 96.
      {"$4096$", "\\boxed{4 096}", false, false},
      {"$4096$", "There are 4 096 ways", true, false},
      {"$4096$", "\\boxed{4,096}", true, true},
      // Equations with the same solutions: a constant factor between them; not inequalities.
      {"$2x+3y=6$", "\\boxed{4x+6y=12}", true, true},
      {"$2x+3y=6$", "\\boxed{4x+6y=13}", false, false},
      {"$y=2x+1$", "\\boxed{2x-y+1=0}", true, true},
      {"$x>2$", "\\boxed{2x>4}", false, false},
      // A sentence's full stop makes a float: 13/5. is 13/5.0, equal to 13/5 in doubles; 9/7.0 is not 9/7.
      {"$\\frac{13}{5}$", "The answer is 13/5.", true, false},
      // 3^(1/2) is 3^{1/2} only after the malformed-operator fix, which open-r1 turns off.
      {"$\\sqrt{3}$", "\\boxed{3^(1/2)}", true, false},
      {"$\\frac{9}{7}$", "The answer is 9/7.", false, false},
      // A tuple is answered by a set in the order written; a set by a tuple in any order.
      {"$(1,2)$", "\\boxed{x=1 \\text{ and } y=2}", true, true},
      {"$(1,2)$", "$x=1$ and $y=2$", true, false},
      {"$\\{1,2\\}$", "$(2,1)$", true, false},
      {"$(1,2)$", "$\\{2,1\\}$", false, false},
      // Floats round to 6 places only against a float alone; a complex answer's symbols are not the real ones.
      {"$\\frac{1}{3}$", "$0.333333$", true, false},
      {"$\\frac{\\pi}{3}$", "$0.333333\\pi$", false, false},
      {"$3+i$", "$3+1i$", false, false},
      {"$x$", "$1x$", false, false},
      // Anchors.
      {"7", "Answer: 7", true, false},
      {"7", "answer: 3 = 7", true, false},
      {"\\boxed{7}", "final answer is $7$. I hope it is correct.", true, true},
      {"\\boxed{7}", "The final answer is 8. Wait, the final answer is $7$.", true, true},
  };
  const auto open_r1 = r1::verify::verify_preset("open-r1");
  for (const Row& row : rows) {
    auto mv = r1::verify::verify(row.gold, row.output);
    EXPECT_EQ(mv.verdict == Verdict::kCorrect, row.math_verify)
        << "math-verify: " << row.gold << " | " << row.output << " -> " << mv.detail << " (" << mv.answer << ")";
    auto o = r1::verify::verify(row.gold, row.output, open_r1);
    EXPECT_EQ(o.verdict == Verdict::kCorrect, row.open_r1)
        << "open-r1: " << row.gold << " | " << row.output << " -> " << o.detail << " (" << o.answer << ")";
  }
}

// Differences that fuzzing r1 against the real Math-Verify found (random answers in random wrappings), with
// its verdicts; the same in both presets.
TEST(Verify, LatexTwoSympyReadings) {
  struct Row {
    const char* gold;
    const char* output;
    bool correct;
  };
  const std::vector<Row> rows = {
      // \approx keeps the exact side, or the value when the left side is only symbols.
      {"The answer is $\\sqrt{2}$.", "$\\boxed{\\sqrt{2}\\approx 1.414}$", true},
      {"$1.414$", "\\boxed{\\sqrt{2}\\approx 1.414}", false},
      {"$1.41$", "\\boxed{x \\approx 1.41}", true},
      // \log is the common logarithm; a capital E writes a float.
      {"$\\log 100$", "\\boxed{2}", true},
      {"$\\ln 8$", "\\boxed{\\log 8}", false},
      {"$1200$", "\\boxed{1.2E3}", true},
      // One unknown: no constant factor between equations; against a set, the equation's solutions.
      {"$2x=6$", "\\boxed{x=3}", false},
      {"$x-3=0$", "\\boxed{\\{3\\}}", true},
      {"$x^2=4$", "\\boxed{\\{-2,2\\}}", true},
      {"$\\{-2,2\\}$", "\\boxed{x^2=4}", false},
      // x \in S is x = S; x = \pm 3 and x = 1, 2 are equations with a set on the right.
      {"$x \\in \\{3\\}$", "\\boxed{3}", true},
      {"$x \\in \\{3\\}$", "\\boxed{x=3}", false},
      {"$\\{-3,3\\}$", "\\boxed{x=\\pm 3}", true},
      {"$x=1, 2$", "\\boxed{\\{1,2\\}}", true},
      // \angle is a symbol, so m\angle A = 30 assigns 30; \varnothing is a symbol too.
      {"$30$", "\\boxed{m\\angle A = 30^\\circ}", true},
      {"$\\frac{1}{2}$", "\\boxed{\\varnothing}", false},
      // sympy's Float 0.0 equals the empty set, one way.
      {"$0.0$", "\\boxed{\\emptyset}", true},
      {"$\\emptyset$", "\\boxed{0.0}", false},
      // Semicolons separate elements; powers chain to the left and take a braced exponent or an atom.
      {"$(1,2)$", "\\boxed{(1;2)}", true},
      {"$\\{1,2\\}$", "\\boxed{1;2}", true},
      {"$64$", "\\boxed{2^3^2}", true},
      {"$\\frac{1}{2}$", "\\boxed{2^-1}", false},
      // A set counts equal numbers once (latex2sympy evaluates \\frac{4}{8} and \\frac{3}{6} to 1/2).
      {"$\\frac{1}{2}$", "\\boxed{\\frac{4}{8}} \\boxed{\\frac{3}{6}}", true},
      // A float under a root is a 53-bit value in sympy, not the exact root.
      {"$\\sqrt{3}$", "\\boxed{\\sqrt{3.0}}", false},
  };
  const auto open_r1 = r1::verify::verify_preset("open-r1");
  for (const Row& row : rows) {
    auto mv = r1::verify::verify(row.gold, row.output);
    EXPECT_EQ(mv.verdict == Verdict::kCorrect, row.correct) << row.gold << " | " << row.output << " -> " << mv.detail;
    auto o = r1::verify::verify(row.gold, row.output, open_r1);
    EXPECT_EQ(o.verdict == Verdict::kCorrect, row.correct) << row.gold << " | " << row.output << " -> " << o.detail;
  }
}

TEST(Verify, PresetsAndOptionsByName) {
  using r1::verify::set_verify_option;
  auto mv = r1::verify::verify_preset("math-verify");
  EXPECT_EQ(mv.answer_extraction.targets.size(), 2u);
  EXPECT_EQ(mv.answer_extraction.mode, r1::verify::ExtractionMode::kAnyMatch);
  auto o = r1::verify::verify_preset("open-r1");
  ASSERT_EQ(o.answer_extraction.targets.size(), 1u);
  const auto& latex = std::get<r1::verify::LatexTarget>(o.answer_extraction.targets[0]);
  EXPECT_EQ(latex.boxed_match_priority, 0);
  EXPECT_FALSE(latex.try_extract_without_anchor);
  EXPECT_FALSE(latex.normalization.nits);
  EXPECT_FALSE(latex.normalization.malformed_operators);
  EXPECT_TRUE(latex.normalization.equations);
  EXPECT_EQ(o.answer_extraction.mode, r1::verify::ExtractionMode::kFirstMatch);
  EXPECT_EQ(o.gold_extraction.mode, r1::verify::ExtractionMode::kFirstMatch);
  R1_EXPECT_THROW_WITH(r1::verify::verify_preset("lighteval"), r1::UsageError, "lighteval", "open-r1");

  set_verify_option(mv, "float_rounding", "2");
  EXPECT_EQ(r1::verify::verify("$\\frac{1}{3}$", "$0.33$", mv).verdict, Verdict::kCorrect);
  set_verify_option(o, "targets", "latex,expr");  // the latex target keeps open-r1's settings
  EXPECT_EQ(std::get<r1::verify::LatexTarget>(o.answer_extraction.targets[0]).boxed_match_priority, 0);
  set_verify_option(o, "try_extract_without_anchor", "true");
  EXPECT_EQ(r1::verify::verify("6", "there are 6 values", o).verdict, Verdict::kCorrect);
  set_verify_option(o, "gold_boxed", "none");
  set_verify_option(o, "strict", "false");
  EXPECT_EQ(r1::verify::verify("$x+1$", "$y+1$", o).verdict, Verdict::kCorrect);
  R1_EXPECT_THROW_WITH(set_verify_option(o, "float_rounding", "many"), r1::UsageError, "float_rounding", "many");
  R1_EXPECT_THROW_WITH(set_verify_option(o, "extraction_mode", "all"), r1::UsageError, "first_match");
  R1_EXPECT_THROW_WITH(set_verify_option(o, "targets", "latex,boxed"), r1::UsageError, "boxed");
  R1_EXPECT_THROW_WITH(set_verify_option(o, "strings", "A,B"), r1::UsageError, "strings", "string target");
  R1_EXPECT_THROW_WITH(set_verify_option(o, "flot_rounding", "2"), r1::UsageError, "flot_rounding", "float_rounding");
  for (const auto& info : r1::verify::verify_option_list()) EXPECT_FALSE(info.help.empty()) << info.name;
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
  // Gold answers in $...$ and outputs in \boxed{} (bare LaTeX is not extracted, as Math-Verify).
  auto math = [](const std::string& s) { return "$" + s + "$"; };
  auto boxed = [](const std::string& s) { return "\\boxed{" + s + "}"; };
  std::vector<std::pair<std::string, std::string>> inputs = {
      {"5", boxed("10^{10^{10^{10}}}")},
      {math("10^{10^{10^{10}}}"), boxed("10^{10^{10^{10}}}+1")},
      {"1", boxed("(x+1)^{100000} - (x+1)^{100000} + 1")},
      {"2", boxed(nested)},
      {math(nested), "1"},
      {"1", boxed(long_sum)},
      {math(long_sum), boxed(long_sum + "+0")},
      {"5", std::string(100000, '{')},
      {math("1000!"), boxed("1000!")},
      {math("100000!"), boxed("3")},
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
  EXPECT_EQ(verdict("5", boxed("10^{10^{10^{10}}}")), Verdict::kWrong);  // overflows: not 5
  EXPECT_EQ(verdict(math("10^{10^{10^{10}}}"), boxed("10^{10^{10^{10}}}+1")), Verdict::kTimeout);
  // Too large for GiNaC to expand (cas.cpp's term bound); decided at the numeric sample points, where it is 1,
  // as Math-Verify's sympy, which cancels the two powers before expanding anything.
  EXPECT_EQ(verdict("1", boxed("(x+1)^{100000} - (x+1)^{100000} + 1")), Verdict::kCorrect);
  // Deeper than the parser's limit: not parsed; only the box's text is left, and it is not "2".
  EXPECT_EQ(verdict("2", boxed(nested)), Verdict::kWrong);
  EXPECT_EQ(verdict("5", std::string(100000, '{')), Verdict::kNoAnswer);
  EXPECT_EQ(verdict(math("100000!"), boxed("3")), Verdict::kWrong);
  EXPECT_EQ(verdict(math("2^{20000}"), boxed("2^{20000}+1")), Verdict::kTimeout);  // beyond the exact-power limit
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
  auto expr = r1::rewards::make_reward("accuracy", {{"targets", {"expr"}}, {"timeout_seconds", 2}});
  EXPECT_EQ(expr({"\\boxed{7} or 8"}, {json{{"answer", "8"}}})[0], 1.0);
  R1_EXPECT_THROW_WITH(r1::rewards::make_reward("accuracy", {{"bogus", 1}, {"timeout", 2}}), r1::Error, "bogus",
                       "timeout", "unknown");
  R1_EXPECT_THROW_WITH(r1::rewards::make_reward("accuracy", {{"targets", {"boxd"}}}), r1::UsageError, "boxd");
  R1_EXPECT_THROW_WITH(r1::rewards::make_reward("accuracy", {{"preset", "lighteval"}}), r1::UsageError, "lighteval");
  R1_EXPECT_THROW_WITH(reward({"1"}, {json{{"problem", "x"}}}), r1::Error, "solution", "answer");
}

// The accuracy reward verifies as open-r1's accuracy_reward (its source): a plain-text answer scores 0 there,
// as in open-r1; the math-verify preset reads it as Math-Verify's defaults do.
TEST(Verify, AccuracyRewardDefaultsToOpenR1) {
  const std::vector<json> six = {{{"solution", "6"}}};
  EXPECT_EQ(r1::rewards::make_reward("accuracy")({"The answer is 6"}, six)[0], 0.0);
  EXPECT_EQ(r1::rewards::make_reward("accuracy")({"The answer is $6$"}, six)[0], 1.0);
  EXPECT_EQ(r1::rewards::make_reward("accuracy", {{"preset", "math-verify"}})({"The answer is 6"}, six)[0], 1.0);
  // open-r1 reads equations as their last member and does not fix \frac12.
  const std::vector<json> half = {{{"solution", "$\\frac{1}{2}$"}}};
  EXPECT_EQ(r1::rewards::make_reward("accuracy")({"$x = 2y = \\frac{1}{2}$"}, half)[0], 0.0);  // no anchor
  EXPECT_EQ(r1::rewards::make_reward("accuracy")({"\\boxed{x = 2y = \\frac{1}{2}}"}, half)[0], 1.0);
  EXPECT_EQ(r1::rewards::make_reward("accuracy")({"\\boxed{\\frac12}"}, half)[0], 0.0);
  EXPECT_EQ(r1::rewards::make_reward("accuracy", {{"preset", "math-verify"}})({"\\boxed{\\frac12}"}, half)[0], 1.0);
  // Options on top of the preset.
  auto anchored = r1::rewards::make_reward("accuracy", {{"try_extract_without_anchor", true}});
  EXPECT_EQ(anchored({"there are $6$ of them"}, six)[0], 1.0);
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
  // Presets and options: open-r1 does not read plain-text answers; each option is a flag.
  EXPECT_EQ(r1::test::run_r1("verify --gold 6 --pred 'The answer is 6'").status, 0);
  EXPECT_EQ(r1::test::run_r1("verify --gold 6 --pred 'The answer is 6' --preset open-r1").status, 1);
  EXPECT_EQ(r1::test::run_r1("verify --gold 6 --pred 'The answer is 6' --preset open-r1 --targets latex,expr").status,
            0);
  EXPECT_EQ(r1::test::run_r1("verify --gold '$\\frac{1}{3}$' --pred '$0.33$' --float-rounding 2").status, 0);
  auto bad_option = r1::test::run_r1("verify --gold 2 --pred 2 --extraction-mode sometimes");
  EXPECT_EQ(bad_option.status, 2) << bad_option.output;
  EXPECT_NE(bad_option.output.find("--extraction-mode"), std::string::npos) << bad_option.output;
  auto help = r1::test::run_r1("verify --help");
  for (const char* flag : {"--preset", "--float-rounding", "--numeric-precision", "--strict", "--extraction-mode",
                           "--boxed-match-priority", "--gold-extraction-mode", "--threads"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;

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
  // Every row is a JSON line with the verdict and both answers (non-ASCII prose included).
  const std::vector<json> results = r1::test::read_jsonl(dir / "out.jsonl");
  for (const json& row : results)
    for (const char* key : {"row", "verdict", "answer", "gold", "detail", "seconds"})
      EXPECT_TRUE(row.contains(key)) << key << " in " << row.dump();
  EXPECT_EQ(results.back()["verdict"], "no_answer") << results.back().dump();
  auto bad = r1::test::run_r1("verify --input " + (dir / "rows.jsonl").string() + " --pred-column nope");
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_NE(bad.output.find("nope"), std::string::npos) << bad.output;
}
