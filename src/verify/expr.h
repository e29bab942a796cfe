// Internal to src/verify: the expression tree that parse.cpp builds from normalised LaTeX / plain math (and
// python-expr.cpp from Python syntax), the deadline every loop checks, and the stages' entry points
// (extraction.cpp, normalize.cpp, parse.cpp, python-expr.cpp, compare.cpp, evaluate.cpp, cas.cpp; expr.cpp: the
// tree's own helpers). The tree is plain data with no GiNaC inside, so extraction, normalisation and
// parsing run in parallel without locks; only cas.cpp touches GiNaC (under one process-wide lock).
#pragma once

#include <chrono>
#include <complex>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "r1/verify.h"

namespace r1::verify {

// Thrown when the deadline passes or an input exceeds the evaluation limits; verify() maps it to kTimeout.
class Timeout : public std::runtime_error {
 public:
  explicit Timeout(const std::string& why) : std::runtime_error(why) {}
};

// Thrown by the parser for input it does not understand (the candidate is then skipped).
class ParseError : public std::runtime_error {
 public:
  explicit ParseError(const std::string& why) : std::runtime_error(why) {}
};

class Deadline {
 public:
  explicit Deadline(double seconds)
      : at_(std::chrono::steady_clock::now() +
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds))) {}
  void check() const {
    if (std::chrono::steady_clock::now() > at_) throw Timeout("deadline passed");
  }
  std::chrono::steady_clock::time_point at() const { return at_; }

 private:
  std::chrono::steady_clock::time_point at_;
};

// Checks the deadline every 256th tick: for loops over the input, where a clock read per step would cost more
// than the step.
class Ticker {
 public:
  explicit Ticker(const Deadline& deadline) : deadline_(deadline) {}
  void tick() {
    if ((++count_ & 255) == 0) deadline_.check();
  }

 private:
  const Deadline& deadline_;
  unsigned count_ = 0;
};

// Limits that keep every computation small (beyond them: Timeout, never a long computation).
inline constexpr int kMaxDepth = 200;             // nesting of the parse tree
inline constexpr size_t kMaxInputBytes = 20000;   // a longer candidate answer is not parsed
inline constexpr size_t kMaxCasNodes = 3000;      // larger trees skip GiNaC (numeric comparison only)
inline constexpr double kMaxCasTerms = 20000;     // so do expressions whose expansion may have more terms
inline constexpr double kMaxPowerDigits = 5000;   // exact powers whose result would have more digits
inline constexpr long kMaxSymbolicExponent = 64;  // (x+1)^n with |n| larger is not expanded
inline constexpr long kMaxFactorial = 1000;

enum class Kind {
  kNumber,     // text: the literal digits ("12", "0.5"); is_float when written with a decimal point
  kSymbol,     // text: the name ("x", "x_1", "\alpha")
  kConstant,   // text: "pi", "e", "i", "inf"
  kAdd,        // args summed
  kMul,        // args multiplied
  kNeg,        // -args[0]
  kDiv,        // args[0] / args[1]
  kPow,        // args[0] ^ args[1]
  kFunction,   // text: sin cos tan sec csc cot asin acos atan sinh cosh tanh ln exp abs sqrt root log; args
  kFactorial,  // args[0]!
  kBinomial,   // binomial(args[0], args[1])
  kPercent,    // args[0] %  (value args[0] / 100)
  kPlusMinus,  // args[0] ± args[1] (only at the top: becomes the set {a+b, a-b})
  kTuple,      // (a, b, ...) ordered
  kSet,        // {a, b, ...} order-free; also a bare top-level list "1, 2"
  kInterval,   // args[0], args[1]; left_closed / right_closed
  kUnion,      // args: intervals or sets
  kMatrix,     // args: rows (each a kTuple)
  kRelation,   // args: operands; ops[i] between args[i] and args[i+1]: "=", "!=", "<", "<=", ">", ">="
};

struct Node {
  Kind kind = Kind::kNumber;
  std::string text;
  std::vector<Node> args;
  std::vector<std::string> ops;
  bool is_float = false;
  bool left_closed = false, right_closed = false;
  bool rational_atom =
      false;  // kDiv, kAdd: a rational latex2sympy evaluates (\frac{1}{2}, 3/4, 2\frac{1}{2}): a sympy Number
};

Node make_node(Kind kind, std::vector<Node> args = {}, std::string text = {});

// Appended to the names of a complex answer's symbols (latex2sympy makes them non-real, so they differ from
// the real symbols of the same name, except where symbols are compared by name alone).
inline constexpr std::string_view kComplexMark = "\x01";

// normalize.cpp: latex2sympy2_extended's normalize_latex (see the file header), and its \boxed{} extraction.
std::string normalize_latex(std::string_view text, const NormalizationConfig& config, const Deadline& deadline);
std::string extract_boxed_content(std::string_view text, BoxedMode mode, Ticker& ticker);

// parse.cpp: normalised LaTeX -> tree, as latex2sympy (then, if that fails and the text is a chain a = b = c,
// its last member). Throws ParseError (not math) or Timeout (deadline, depth).
Node parse_math(std::string_view normalized, const Deadline& deadline);
Node parse_latex(std::string_view normalized, const Deadline& deadline);
// python-expr.cpp: a plain arithmetic expression in Python syntax (digits, . + - * / ** and parentheses), as
// sympy's parse_expr.
Node parse_python_expr(std::string_view expr, const Deadline& deadline);
// expr.cpp: the tree printed, and what it holds.
std::string to_string(const Node& node);  // for details and tests
size_t node_count(const Node& node);
bool has_float(const Node& node);
// latex2sympy's is_expr_of_only_symbols: symbols, and sums, products and functions of only symbols.
bool only_symbols(const Node& node);
bool has_symbols(const Node& node);
void collect_symbols(const Node& node, std::vector<std::string>& out);

// evaluate.cpp: numeric value at a point (symbols bound by name); NaN when undefined there.
using Complex = std::complex<long double>;
struct Binding {
  std::vector<std::string> names;
  std::vector<Complex> values;
};
Complex evaluate(const Node& node, const Binding& binding);
// Exact rational value when the tree is built from integers, decimals, + - * / and small integer powers.
struct Rational {
  __int128 num = 0, den = 1;  // den > 0, reduced
};
std::optional<Rational> evaluate_exact(const Node& node);

// cas.cpp: GiNaC under the process-wide lock. Returns whether a - b simplifies to exactly zero (true), to a
// non-zero number (false), or could not be decided (nullopt). Throws Timeout past the deadline or limits.
std::optional<bool> cas_difference_is_zero(const Node& a, const Node& b, bool negate_b, const Deadline& deadline);

// extraction.cpp: Math-Verify's parse(): at most one parsed tree and, with the fallback, the first match's text.
struct Candidate {
  bool answer = false;       // an extracted answer (else the fallback: the first match's text, compared as text)
  std::optional<Node> tree;  // a parsed answer (an answer without a tree is a string target's string)
  std::string text;          // the normalised text (or the string)
};
std::vector<Candidate> extract_candidates(std::string_view text, const ExtractionOptions& options,
                                          const Deadline& deadline);

// compare.cpp: equivalence of a gold tree and an answer tree (Math-Verify's rules, see its header).
struct CompareOptions {
  int float_rounding = 6;
  int numeric_precision = 15;
  bool strict = true;
  bool allow_set_relation_comp = false;
};
bool equivalent(const Node& gold, const Node& answer, const CompareOptions& options, const Deadline& deadline,
                std::string& detail);

}  // namespace r1::verify
