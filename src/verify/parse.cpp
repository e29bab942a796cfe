// LaTeX / plain-text math -> expression tree (expr.h), a recursive-descent reading of what latex2sympy2_extended
// (behind Math-Verify) accepts: numbers ("1,000" is one number, "1, 2" a set, 1.2E3 a float), letters
// (lower-cased symbols, each its own: "xy" is x*y and "Yes" y*e*s; e is Euler's number, I the imaginary unit,
// "dx" one symbol), Greek letters, \angle and the other symbol commands, \text{...} and other accents as one
// symbol, x_1 subscripts, + - * / : \cdot \times \div ^ **, implicit multiplication (2x, 2\pi, 2(x+1)) where an
// integer before a positive rational adds instead (the mixed number 2\frac{1}{2} = 5/2, and so "2 3" = 5),
// a / b c = a / (b c), powers to the left (a^b^c = (a^b)^c) with a braced or one-atom exponent, \frac{}{} and
// \sqrt{} (braces required), \sqrt[n]{}, functions (\log is base 10, \ln natural), ! % \% |x|, \binom, \pm (a
// set of both signs), tuples, sets, intervals ((a, b) with b <= a is a pair; (1;2) a tuple; 1;2 a set),
// unions, matrices and relations (x \in S is x = S; a \approx b is a, or b when a is only symbols;
// "x = 1, 2" is x = {1, 2}); spacing commands and degree signs are skipped. It reads the tokens of
// latex-lexer.cpp; python-expr.cpp reads Math-Verify's plain Python expressions, expr.cpp prints the tree.
// Departures from latex2sympy2:
//   1. Nesting deeper than kMaxDepth, or an input longer than kMaxInputBytes, is a parse error.
//   2. Calculus, \operatorname functions, set operations other than union and matrix algebra are not read.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "verify/expr.h"
#include "verify/latex-lexer.h"
#include "verify/text-scan.h"

namespace r1::verify {

namespace {

using scan::is_digit;  // the scanning helpers shared with the other stages (text-scan.h)

// latex2sympy's OTHER_SYMBOL commands: symbols named as the command (\varnothing included: not the empty set).
constexpr std::array<std::string_view, 42> kOtherSymbols = {
    "Bbbk",          "wp",     "nabla",          "bigstar",   "angle",        "nexists", "diagdown",    "measuredangle",
    "eth",           "diagup", "sphericalangle", "clubsuit",  "varnothing",   "Diamond", "complement",  "diamondsuit",
    "imath",         "Finv",   "triangledown",   "heartsuit", "jmath",        "Game",    "triangle",    "spadesuit",
    "ell",           "hbar",   "vartriangle",    "hslash",    "blacklozenge", "lozenge", "blacksquare", "mho",
    "blacktriangle", "sharp",  "prime",          "Im",        "flat",         "square",  "backprime",   "Re",
    "natural",       "surd"};

constexpr std::array<std::string_view, 24> kGreek = {"alpha",  "beta",    "gamma", "delta",    "epsilon", "varepsilon",
                                                     "zeta",   "eta",     "theta", "vartheta", "iota",    "kappa",
                                                     "lambda", "mu",      "nu",    "xi",       "rho",     "sigma",
                                                     "tau",    "upsilon", "phi",   "varphi",   "chi",     "psi"};

bool is_greek(std::string_view name) {
  return std::find(kGreek.begin(), kGreek.end(), name) != kGreek.end() || name == "omega" || name == "Delta" ||
         name == "Omega";
}

// latex2sympy reads "1,000" / "-12,345.5" (groups of three after the first comma) as one number, not a set.
std::optional<Node> comma_number(std::string_view s) {
  size_t i = 0;
  auto space = [&](size_t k) { return k < s.size() && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r'); };
  while (space(i)) ++i;
  const bool negative = i < s.size() && s[i] == '-';
  if (negative) ++i;
  const size_t lead = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == lead || i - lead > 3) return std::nullopt;
  std::string digits(s.substr(lead, i - lead));
  size_t groups = 0;
  while (i + 3 < s.size() && s[i] == ',' && is_digit(s[i + 1]) && is_digit(s[i + 2]) && is_digit(s[i + 3])) {
    digits.append(s.substr(i + 1, 3));
    i += 4;
    ++groups;
  }
  if (groups == 0) return std::nullopt;
  std::string decimal;
  if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
    size_t b = i++;
    while (i < s.size() && is_digit(s[i])) ++i;
    decimal = std::string(s.substr(b, i - b));
  }
  while (space(i)) ++i;
  if (i != s.size()) return std::nullopt;
  size_t z = 0;
  while (z + 1 < digits.size() && digits[z] == '0') ++z;
  Node n = make_node(Kind::kNumber, {}, digits.substr(z) + decimal);
  n.is_float = !decimal.empty();
  return negative ? make_node(Kind::kNeg, {std::move(n)}) : n;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const Deadline& deadline) : toks_(std::move(tokens)), deadline_(deadline) {}

  Node parse_top() {
    std::vector<Node> items{parse_relation()};
    std::vector<size_t> groups;  // where each ;-separated group starts (latex2sympy's semicolon_elements)
    while (is_op(",") || is_op(";")) {
      if (is_op(";")) groups.push_back(items.size());
      advance();
      items.push_back(parse_relation());
    }
    if (peek().type != Tok::kEnd) throw ParseError(fmt::format("unexpected '{}'", peek().text));
    if (!groups.empty()) {  // "1;2" is {1, 2}; "1,2;3,4" is {(1, 2), (3, 4)}
      groups.insert(groups.begin(), 0);
      groups.push_back(items.size());
      Node set = make_node(Kind::kSet);
      bool singles = true;
      for (size_t g = 0; g + 1 < groups.size(); ++g) singles = singles && groups[g + 1] - groups[g] == 1;
      for (size_t g = 0; g + 1 < groups.size(); ++g) {
        std::vector<Node> group;
        for (size_t k = groups[g]; k < groups[g + 1]; ++k) group.push_back(expand_plus_minus(std::move(items[k])));
        if (singles) {
          set.args.push_back(std::move(group[0]));
        } else {
          set.args.push_back(make_node(Kind::kTuple, std::move(group)));
        }
      }
      return set;
    }
    if (items.size() == 1) return expand_plus_minus(std::move(items[0]));
    // latex2sympy's set_elements_relation: "x = 1, 2" is x = {1, 2} (the elements after the first hold no
    // relation; the left side is a symbol or a tuple of them), where "x = 1, y = 2" is the set of both.
    const Node& first = items[0];
    const bool assignment =
        first.kind == Kind::kRelation && first.ops.size() == 1 && first.ops[0] == "=" && is_atom_expr(first.args[0]) &&
        std::none_of(items.begin() + 1, items.end(), [](const Node& n) { return n.kind == Kind::kRelation; });
    std::vector<Node> elements;
    auto add = [&](Node n) {  // \pm gives two elements
      if (n.kind == Kind::kPlusMinus) {
        for (Node& e : expand_plus_minus(std::move(n)).args) elements.push_back(std::move(e));
      } else {
        elements.push_back(std::move(n));
      }
    };
    if (assignment) {
      Node lhs = std::move(items[0].args[0]);
      Node rhs = std::move(items[0].args[1]);
      if (rhs.kind == Kind::kSet && rhs.text == kPlusMinusSet) {
        for (Node& e : rhs.args) elements.push_back(std::move(e));
      } else {
        elements.push_back(std::move(rhs));
      }
      for (size_t i = 1; i < items.size(); ++i) add(std::move(items[i]));
      Node rel = make_node(Kind::kRelation, {std::move(lhs), make_node(Kind::kSet, std::move(elements))});
      rel.ops = {"="};
      return rel;
    }
    for (Node& n : items) add(std::move(n));
    return make_node(Kind::kSet, std::move(elements));
  }

  // latex2sympy's atom_expr_list: a symbol (with a sub- or superscript), or a tuple of them.
  static bool is_atom_expr(const Node& n) {
    if (n.kind == Kind::kSymbol) return true;
    if (n.kind == Kind::kPow) return n.args[0].kind == Kind::kSymbol;
    if (n.kind == Kind::kTuple || n.kind == Kind::kInterval)
      return std::all_of(n.args.begin(), n.args.end(), [](const Node& a) { return a.kind == Kind::kSymbol; });
    return false;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(int& d) : depth(d) {
      if (++depth > kMaxDepth) throw ParseError(fmt::format("nested deeper than {} levels", kMaxDepth));
    }
    ~DepthGuard() { --depth; }
    int& depth;
  };

  const Token& peek(size_t ahead = 0) const { return toks_[std::min(pos_ + ahead, toks_.size() - 1)]; }
  Token advance() {
    if ((++steps_ & 63) == 0) deadline_.check();
    Token t = peek();
    if (pos_ < toks_.size() - 1) ++pos_;
    return t;
  }
  bool is_op(std::string_view op) const { return peek().type == Tok::kOp && peek().text == op; }
  bool is_cmd(std::string_view name) const { return peek().type == Tok::kCmd && peek().text == name; }
  void expect_op(std::string_view op) {
    if (!is_op(op)) throw ParseError(fmt::format("expected '{}' but found '{}'", op, peek().text));
    advance();
  }

  // a \pm b: the set {a + b, a - b}; \pm x: {-x, x} (marked, so a list takes its two elements).
  static Node expand_plus_minus(Node n) {
    if (n.kind != Kind::kPlusMinus) return n;
    Node set;
    if (n.args.size() == 1) {
      Node minus = make_node(Kind::kNeg, {n.args[0]});
      set = make_node(Kind::kSet, {std::move(minus), std::move(n.args[0])});
    } else {
      Node plus = make_node(Kind::kAdd, {n.args[0], n.args[1]});
      Node minus = make_node(Kind::kAdd, {n.args[0], make_node(Kind::kNeg, {n.args[1]})});
      set = make_node(Kind::kSet, {std::move(plus), std::move(minus)});
    }
    set.text = kPlusMinusSet;
    return set;
  }
  static constexpr std::string_view kPlusMinusSet = "pm";

  std::optional<std::string> relation_op() const {
    const Token& t = peek();
    if (t.type == Tok::kOp &&
        (t.text == "=" || t.text == "<" || t.text == ">" || t.text == "<=" || t.text == ">=" || t.text == "!="))
      return t.text;
    if (t.type == Tok::kCmd) {
      if (t.text == "le" || t.text == "leq" || t.text == "leqslant") return "<=";
      if (t.text == "ge" || t.text == "geq" || t.text == "geqslant") return ">=";
      if (t.text == "lt") return "<";
      if (t.text == "gt") return ">";
      if (t.text == "ne" || t.text == "neq") return "!=";
      if (t.text == "equiv") return "=";
      if (t.text == "approx") return "~";
      if (t.text == "in") return "in";
    }
    return std::nullopt;
  }

  // Relations chain left to right (a < b <= c). latex2sympy reads x \in S as x = S, and a \approx b as b when
  // a is only symbols (x \approx 1.41 is 1.41), else as a (\sqrt{2} \approx 1.414 is \sqrt{2}); a \pm on
  // either side is the set of both signs.
  Node parse_relation() {
    DepthGuard guard(depth_);
    Node rel = parse_union();
    while (auto op = relation_op()) {
      advance();
      Node rhs = expand_plus_minus(parse_union());
      if (*op == "~") {
        if (rel.kind != Kind::kRelation && only_symbols(rel)) rel = std::move(rhs);
        continue;
      }
      if (rel.kind != Kind::kRelation) {
        rel = make_node(Kind::kRelation, {expand_plus_minus(std::move(rel))});
      }
      rel.ops.push_back(*op == "in" ? "=" : *op);
      rel.args.push_back(std::move(rhs));
    }
    return rel;
  }

  Node parse_union() {
    Node first = parse_expr();
    if (!is_cmd("cup")) return first;
    Node u = make_node(Kind::kUnion, {std::move(first)});
    while (is_cmd("cup")) {
      advance();
      u.args.push_back(parse_expr());
    }
    return u;
  }

  Node parse_expr() {
    DepthGuard guard(depth_);
    if (is_cmd("pm") || is_cmd("mp")) {  // a leading \pm: both signs
      advance();
      return make_node(Kind::kPlusMinus, {parse_expr()});
    }
    Node left = parse_term();
    std::vector<Node> terms{std::move(left)};
    while (true) {
      if (is_op("+")) {
        advance();
        terms.push_back(parse_term());
      } else if (is_op("-")) {
        advance();
        terms.push_back(make_node(Kind::kNeg, {parse_term()}));
      } else if (is_cmd("pm") || is_cmd("mp")) {
        advance();
        Node base = terms.size() == 1 ? std::move(terms[0]) : make_node(Kind::kAdd, std::move(terms));
        return make_node(Kind::kPlusMinus, {std::move(base), parse_expr()});
      } else {
        break;
      }
    }
    return terms.size() == 1 ? std::move(terms[0]) : make_node(Kind::kAdd, std::move(terms));
  }

  bool starts_primary() const {
    const Token& t = peek();
    if (t.type == Tok::kNum || t.type == Tok::kIdent || t.type == Tok::kText) return true;
    if (t.type == Tok::kOp) return t.text == "(" || t.text == "{";
    if (t.type == Tok::kCmd) {
      static constexpr std::array<std::string_view, 10> kNot = {"cdot", "times", "div", "cup", "pm",
                                                                "}",    "\\",    "end", "mp",  "in"};
      if (std::find(kNot.begin(), kNot.end(), t.text) != kNot.end()) return false;
      return !relation_op().has_value();
    }
    return false;
  }

  static bool is_integer_literal(const Node& n) { return n.kind == Kind::kNumber && !n.is_float; }

  // A product or quotient of signed runs: a / b c is a / (b c), as latex2sympy's grammar (mp over unary).
  Node parse_term() {
    DepthGuard guard(depth_);
    std::vector<Node> factors{parse_run()};
    while (true) {
      if (is_op("*") || is_cmd("cdot") || is_cmd("times")) {
        advance();
        factors.push_back(parse_run());
      } else if (is_op("/") || is_cmd("div") || is_op(":") || is_cmd("over")) {
        advance();
        Node denominator = parse_run();
        Node numerator = factors.size() == 1 ? std::move(factors[0]) : make_node(Kind::kMul, std::move(factors));
        factors.clear();
        Node div = make_node(Kind::kDiv, {std::move(numerator), std::move(denominator)});
        div.rational_atom = integer_valued(div.args[0]) && integer_valued(div.args[1]);
        factors.push_back(std::move(div));
      } else {
        break;
      }
    }
    return factors.size() == 1 ? std::move(factors[0]) : make_node(Kind::kMul, std::move(factors));
  }

  // A sign, then factors written side by side (2x, 2\pi, 2(x+1)). latex2sympy folds them from the right: an
  // integer before a positive rational (an integer, a \frac of integers, or such a sum) is added, not
  // multiplied (the mixed number 2\frac{1}{2} = 5/2, but also "2 3" = 5 and "4 096" = 100).
  Node parse_run() {
    DepthGuard guard(depth_);
    if (is_op("-")) {
      advance();
      return make_node(Kind::kNeg, {parse_run()});
    }
    if (is_op("+")) {
      advance();
      return parse_run();
    }
    std::vector<Node> factors{parse_power()};
    while (starts_primary()) factors.push_back(parse_power());
    if (factors.size() == 1) return std::move(factors[0]);
    Node value = std::move(factors.back());
    bool rational = positive_rational(value);
    for (size_t k = factors.size() - 1; k-- > 0;) {
      Node& f = factors[k];
      if (is_integer_literal(f) && rational) {
        value = make_node(Kind::kAdd, {std::move(f), std::move(value)});
        value.rational_atom = true;
      } else {
        std::vector<Node> args{std::move(f)};
        if (value.kind == Kind::kMul) {
          for (Node& a : value.args) args.push_back(std::move(a));
        } else {
          args.push_back(std::move(value));
        }
        value = make_node(Kind::kMul, std::move(args));
        rational = false;
      }
    }
    return value;
  }

  // An integer literal, negated or not (latex2sympy's -3 is the Integer -3).
  static bool integer_valued(const Node& n) {
    return is_integer_literal(n) || (n.kind == Kind::kNeg && integer_valued(n.args[0]));
  }

  // An integer, a \frac of integers or an integer sum of those, with a positive value.
  static bool positive_rational(const Node& n) {
    if (is_integer_literal(n)) return n.text.find_first_not_of('0') != std::string::npos;
    if (n.kind == Kind::kDiv && n.rational_atom) {
      auto v = evaluate_exact(n);
      return v && v->num > 0;
    }
    if (n.kind == Kind::kAdd && n.rational_atom) return positive_rational(n.args[1]);
    return false;
  }

  Node parse_unary() {
    DepthGuard guard(depth_);
    if (is_op("-")) {
      advance();
      return make_node(Kind::kNeg, {parse_unary()});
    }
    if (is_op("+")) {
      advance();
      return parse_unary();
    }
    return parse_power();
  }

  // latex2sympy's exp rule: powers chain to the left (a^b^c = (a^b)^c), and the exponent is a braced expression
  // or an atom (a number, a letter, a Greek letter or symbol command, \text{}), not (…), -x or \frac.
  Node parse_power() {
    DepthGuard guard(depth_);
    Node base = parse_postfix(parse_primary());
    while (is_op("^")) {
      advance();
      Node exponent = power_exponent();
      base = parse_postfix(make_node(Kind::kPow, {std::move(base), std::move(exponent)}));
    }
    return base;
  }

  Node power_exponent() {
    DepthGuard guard(depth_);
    if (is_op("{")) {
      advance();
      Node exponent = parse_expr();
      expect_op("}");
      return exponent;
    }
    const Token& t = peek();
    const bool atom =
        t.type == Tok::kNum || t.type == Tok::kText || (t.type == Tok::kIdent && t.text != "e") ||
        (t.type == Tok::kCmd && (t.text == "infty" || t.text == "pi" || is_greek(t.text) ||
                                 std::find(kOtherSymbols.begin(), kOtherSymbols.end(), t.text) != kOtherSymbols.end()));
    if (!atom) throw ParseError(fmt::format("an exponent must be braced or one atom, not '{}'", t.text));
    return parse_primary();
  }

  Node parse_postfix(Node n) {
    while (true) {
      if (is_op("!")) {
        advance();
        n = make_node(Kind::kFactorial, {std::move(n)});
      } else if (is_op("%")) {
        advance();
        n = make_node(Kind::kPercent, {std::move(n)});
      } else {
        return n;
      }
    }
  }

  // A \frac / \sqrt argument: {...} or a single token (\frac12: the digits one at a time).
  // A \frac / \sqrt / \binom argument: latex2sympy's grammar wants braces (\frac12 parses only after the
  // malformed-operator normalisation has written \frac{1}{2}).
  Node braced_argument() {
    if (!is_op("{")) throw ParseError(fmt::format("expected '{{' but found '{}'", peek().text));
    return argument();
  }

  Node argument() {
    if (is_op("{")) {
      advance();
      Node e = parse_relation();
      expect_op("}");
      return e;
    }
    if (peek().type == Tok::kNum && peek().text.size() > 1 && peek().text.find('.') == std::string::npos) {
      Token& t = toks_[pos_];
      Node digit = make_node(Kind::kNumber, {}, t.text.substr(0, 1));
      t.text.erase(0, 1);
      return digit;
    }
    return parse_primary();
  }

  std::string subscript() {
    advance();  // '_'
    if (is_op("{")) {
      advance();
      std::string text;
      while (!is_op("}")) {
        if (peek().type == Tok::kEnd) throw ParseError("unclosed subscript");
        text += advance().text;
      }
      advance();
      return text;
    }
    return advance().text;
  }

  Node function_call(const std::string& name) {
    Node power;
    bool has_power = false;
    if (is_op("^")) {  // \sin^2 x
      advance();
      power = argument();
      has_power = true;
    }
    Node arg;
    if (is_op("(")) {
      advance();
      arg = parse_expr();
      expect_op(")");
    } else {
      arg = parse_power();
    }
    Node call = make_node(Kind::kFunction, {std::move(arg)}, name);
    if (has_power) return make_node(Kind::kPow, {std::move(call), std::move(power)});
    return call;
  }

  std::vector<Node> list_until(std::string_view closer_cmd) {
    std::vector<Node> items;
    if (is_cmd(closer_cmd)) return items;
    items.push_back(parse_relation());
    while (is_op(",") || is_op(";")) {
      advance();
      items.push_back(parse_relation());
    }
    return items;
  }

  Node matrix() {
    expect_op("{");
    std::string env;
    while (!is_op("}")) {
      if (peek().type == Tok::kEnd) throw ParseError("unclosed \\begin");
      env += advance().text;
    }
    advance();
    if (env != "pmatrix" && env != "bmatrix" && env != "matrix" && env != "array" && env != "smallmatrix" &&
        env != "Bmatrix")
      throw ParseError(fmt::format("unsupported environment '{}'", env));
    if (env == "array" && is_op("{")) {  // column spec
      while (!is_op("}") && peek().type != Tok::kEnd) advance();
      advance();
    }
    Node m = make_node(Kind::kMatrix);
    Node row = make_node(Kind::kTuple);
    while (!is_cmd("end")) {
      if (peek().type == Tok::kEnd) throw ParseError("unclosed matrix");
      row.args.push_back(parse_expr());
      if (is_op("&")) {
        advance();
      } else if (is_cmd("\\")) {
        advance();
        m.args.push_back(std::move(row));
        row = make_node(Kind::kTuple);
      } else if (!is_cmd("end")) {
        throw ParseError(fmt::format("unexpected '{}' in a matrix", peek().text));
      }
    }
    if (!row.args.empty()) m.args.push_back(std::move(row));
    advance();
    expect_op("{");
    while (!is_op("}") && peek().type != Tok::kEnd) advance();
    expect_op("}");
    if (m.args.empty()) throw ParseError("empty matrix");
    for (const Node& r : m.args)
      if (r.args.size() != m.args[0].args.size()) throw ParseError("matrix rows of different lengths");
    return m;
  }

  Node bracketed() {
    std::string open = advance().text;
    std::vector<Node> items{parse_union()};
    bool semicolon = false;  // latex2sympy: (1;2) is the tuple of its elements, never an interval
    while (is_op(",") || is_op(";")) {
      semicolon = semicolon || is_op(";");
      advance();
      items.push_back(parse_union());
    }
    if (semicolon) {
      if (!is_op(")") && !is_op("]")) throw ParseError(fmt::format("expected ')' or ']' but found '{}'", peek().text));
      const std::string close = advance().text;
      if ((open == "(") != (close == ")")) throw ParseError("mismatched brackets");
      return make_node(Kind::kTuple, std::move(items));
    }
    if (!is_op(")") && !is_op("]")) throw ParseError(fmt::format("expected ')' or ']' but found '{}'", peek().text));
    std::string close = advance().text;
    if (items.size() == 1) {
      if ((open == "(") != (close == ")")) throw ParseError("mismatched brackets");
      return std::move(items[0]);
    }
    if (items.size() == 2) {  // latex2sympy: an interval, unless its ends make it empty (then a pair)
      auto lo = evaluate_exact(items[0]), hi = evaluate_exact(items[1]);
      const bool left_closed = open == "[", right_closed = close == "]";
      if (lo && hi && !has_float(items[0]) && !has_float(items[1])) {
        const __int128 l = lo->num * hi->den, h = hi->num * lo->den;  // small literals: no overflow in practice
        const bool empty = (!left_closed && !right_closed && h <= l) || (left_closed && right_closed && h < l);
        if (empty) return make_node(Kind::kTuple, std::move(items));
      }
      Node interval = make_node(Kind::kInterval, std::move(items));
      interval.left_closed = left_closed;
      interval.right_closed = right_closed;
      return interval;
    }
    if ((open == "(") != (close == ")")) throw ParseError("mismatched brackets");
    return make_node(Kind::kTuple, std::move(items));
  }

  Node parse_primary() {
    DepthGuard guard(depth_);
    const Token t = peek();
    switch (t.type) {
      case Tok::kEnd:
        throw ParseError("unexpected end");
      case Tok::kNum: {
        advance();
        Node n = make_node(Kind::kNumber, {}, t.text);
        n.is_float = t.text.find('.') != std::string::npos;
        return n;
      }
      case Tok::kIdent: {  // latex2sympy: letters are lower-cased symbols; e is Euler's number, E the symbol
        advance();         // e, I the imaginary unit (i is a symbol)
        std::string name = t.text;
        if (name == "I" && !is_op("_")) return make_node(Kind::kConstant, {}, "i");
        if (name == "e" && !is_op("_")) return make_node(Kind::kConstant, {}, "e");
        for (char& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        if (is_op("_")) return make_node(Kind::kSymbol, {}, name + "_" + subscript());
        return make_node(Kind::kSymbol, {}, name);
      }
      case Tok::kText: {
        advance();
        if (is_op("_")) return make_node(Kind::kSymbol, {}, t.text + "_" + subscript());
        return make_node(Kind::kSymbol, {}, t.text);
      }
      case Tok::kOp: {
        if (t.text == "(" || t.text == "[") return bracketed();
        if (t.text == "{") {
          advance();
          std::vector<Node> items = list_until("");
          expect_op("}");
          if (items.size() == 1) return std::move(items[0]);
          return make_node(Kind::kSet, std::move(items));
        }
        if (t.text == "|") {
          advance();
          Node inner = parse_expr();
          expect_op("|");
          return make_node(Kind::kFunction, {std::move(inner)}, "abs");
        }
        throw ParseError(fmt::format("unexpected '{}'", t.text));
      }
      case Tok::kCmd:
        break;
    }
    advance();
    const std::string& c = t.text;
    if (c == "frac") {
      Node numerator = braced_argument();
      Node denominator = braced_argument();
      Node div = make_node(Kind::kDiv, {std::move(numerator), std::move(denominator)});
      div.rational_atom = integer_valued(div.args[0]) && integer_valued(div.args[1]);
      return div;
    }
    if (c == "sqrt") {
      if (is_op("[")) {
        advance();
        Node index = parse_expr();
        expect_op("]");
        Node radicand = braced_argument();
        return make_node(Kind::kFunction, {std::move(radicand), std::move(index)}, "root");
      }
      return make_node(Kind::kFunction, {braced_argument()}, "sqrt");
    }
    if (c == "pi") return make_node(Kind::kConstant, {}, "pi");
    if (c == "infty" || c == "inf") return make_node(Kind::kConstant, {}, "inf");
    if (c == "emptyset") return make_node(Kind::kSet);
    if (c == "binom" || c == "dbinom" || c == "tbinom") {
      Node n = braced_argument();
      Node k = braced_argument();
      return make_node(Kind::kBinomial, {std::move(n), std::move(k)});
    }
    if (c == "{") {
      std::vector<Node> items = list_until("}");
      if (!is_cmd("}")) throw ParseError("expected '\\}'");
      advance();
      return make_node(Kind::kSet, std::move(items));
    }
    if (c == "begin") return matrix();
    if (c == "log" && is_op("_")) {
      advance();
      Node base = argument();
      Node arg = function_call("ln");
      return make_node(Kind::kDiv, {std::move(arg), make_node(Kind::kFunction, {std::move(base)}, "ln")});
    }
    if (c == "log") {  // latex2sympy: \log is the common logarithm, log(x, 10)
      Node call = function_call("ln");
      Node ln10 = make_node(Kind::kFunction, {make_node(Kind::kNumber, {}, "10")}, "ln");
      if (call.kind == Kind::kPow) {  // \log^2 x
        call.args[0] = make_node(Kind::kDiv, {std::move(call.args[0]), ln10});
        return call;
      }
      return make_node(Kind::kDiv, {std::move(call), std::move(ln10)});
    }
    static constexpr std::array<std::string_view, 17> kCalls = {"sin",    "cos",    "tan",    "sec",  "csc",  "cot",
                                                                "arcsin", "arccos", "arctan", "asin", "acos", "atan",
                                                                "sinh",   "cosh",   "tanh",   "ln",   "exp"};
    if (std::find(kCalls.begin(), kCalls.end(), c) != kCalls.end()) {
      std::string name = c == "arcsin" ? "asin" : c == "arccos" ? "acos" : c == "arctan" ? "atan" : c;
      return function_call(name);
    }
    if (std::find(kOtherSymbols.begin(), kOtherSymbols.end(), c) != kOtherSymbols.end()) {
      std::string name = c;  // latex2sympy's OTHER_SYMBOL: \angle is the symbol angle
      for (char& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      if (is_op("_")) return make_node(Kind::kSymbol, {}, name + "_" + subscript());
      return make_node(Kind::kSymbol, {}, name);
    }
    if (c == "abs") return function_call("abs");
    if (is_greek(c)) {
      if (is_op("_")) return make_node(Kind::kSymbol, {}, "\\" + c + "_" + subscript());
      return make_node(Kind::kSymbol, {}, "\\" + c);
    }
    throw ParseError(fmt::format("unsupported command '\\{}'", c));
  }

  std::vector<Token> toks_;
  const Deadline& deadline_;
  size_t pos_ = 0, steps_ = 0;
  int depth_ = 0;
};

}  // namespace

Node parse_math(std::string_view normalized, const Deadline& deadline) {
  if (normalized.size() > kMaxInputBytes) throw ParseError(fmt::format("answer longer than {} bytes", kMaxInputBytes));
  if (normalized.empty()) throw ParseError("empty answer");
  if (auto number = comma_number(normalized)) return *number;
  Parser parser(tokenize(normalized), deadline);
  return parser.parse_top();
}

Node parse_latex(std::string_view normalized, const Deadline& deadline) {
  try {
    return parse_math(normalized, deadline);
  } catch (const ParseError&) {
    // Math-Verify's second try: the last member of a chain a = b = c (not when a comma or semicolon shows a
    // list of equations); "=" after \ < ! > is not a split point.
    if (normalized.find(',') != std::string_view::npos || normalized.find(';') != std::string_view::npos) throw;
    size_t count = 0, last = std::string_view::npos;
    for (size_t i = 0; i < normalized.size(); ++i)
      if (normalized[i] == '=' && (i == 0 || (normalized[i - 1] != '\\' && normalized[i - 1] != '<' &&
                                              normalized[i - 1] != '!' && normalized[i - 1] != '>'))) {
        ++count;
        last = i;
      }
    if (count < 2) throw;
    return parse_math(normalized.substr(last + 1), deadline);
  }
}

}  // namespace r1::verify
