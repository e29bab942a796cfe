// LaTeX / plain-text math -> expression tree (expr.h), a recursive-descent reading of what latex2sympy2 (behind
// Math-Verify) accepts: numbers, letters and Greek symbols (x_1 subscripts), + - * / \cdot \times \div ^ **,
// implicit multiplication (2x, 2\pi, 2(x+1)), \frac (also \frac12), \sqrt, \sqrt[n], functions, ! % |x|,
// \binom, mixed numbers (2\frac{1}{2} = 5/2), tuples, sets, intervals, unions, matrices and relations.
// Departures from latex2sympy2:
//   1. An exponent without braces takes a whole number (2^10 = 1024; LaTeX would typeset 2^1 0).
//   2. Letters multiply (xy = x*y) unless they spell a known function or constant (sin, pi, ...).
//   3. Nesting deeper than kMaxDepth, or an input longer than kMaxInputBytes, is a parse error.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "verify/expr.h"

namespace r1::verify {

Node make_node(Kind kind, std::vector<Node> args, std::string text) {
  Node n;
  n.kind = kind;
  n.args = std::move(args);
  n.text = std::move(text);
  return n;
}

namespace {

// The whole UTF-8 character starting at byte i (one byte if it is not a valid lead byte), so a message quoting
// it stays valid UTF-8 (half an emoji made the JSON output of r1 verify fail for the whole batch).
std::string utf8_character_at(std::string_view s, size_t i) {
  const unsigned char lead = static_cast<unsigned char>(s[i]);
  size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 1;
  if (i + n > s.size()) n = 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) n = 1;
  if (n == 1 && lead >= 0x80) return fmt::format("\\x{:02X}", lead);
  return std::string(s.substr(i, n));
}

enum class Tok { kNum, kIdent, kCmd, kOp, kEnd };

struct Token {
  Tok type;
  std::string text;
};

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

constexpr std::array<std::string_view, 27> kFunctions = {
    "sin",  "cos", "tan", "sec", "csc",  "cot", "arcsin", "arccos", "arctan", "asin", "acos", "atan",  "sinh", "cosh",
    "tanh", "ln",  "log", "exp", "sqrt", "abs", "binom",  "dbinom", "tbinom", "frac", "pi",   "infty", "inf"};
constexpr std::array<std::string_view, 24> kGreek = {"alpha",  "beta",    "gamma", "delta",    "epsilon", "varepsilon",
                                                     "zeta",   "eta",     "theta", "vartheta", "iota",    "kappa",
                                                     "lambda", "mu",      "nu",    "xi",       "rho",     "sigma",
                                                     "tau",    "upsilon", "phi",   "varphi",   "chi",     "psi"};

bool known(std::string_view word) {
  return std::find(kFunctions.begin(), kFunctions.end(), word) != kFunctions.end() || word == "infinity" ||
         word == "omega";
}

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == ' ') {
      ++i;
    } else if (is_digit(c) || (c == '.' && i + 1 < s.size() && is_digit(s[i + 1]))) {
      size_t e = i;
      bool dot = false;
      while (e < s.size() && (is_digit(s[e]) || (s[e] == '.' && !dot && e + 1 < s.size() && is_digit(s[e + 1])))) {
        dot = dot || s[e] == '.';
        ++e;
      }
      out.push_back({Tok::kNum, std::string(s.substr(i, e - i))});
      i = e;
    } else if (c == '\\') {
      if (i + 1 < s.size() && is_alpha(s[i + 1])) {
        size_t e = i + 1;
        while (e < s.size() && is_alpha(s[e])) ++e;
        std::string name(s.substr(i + 1, e - i - 1));
        out.push_back({Tok::kCmd, name});
        i = e;
        if ((name == "begin" || name == "end") && i < s.size() && s[i] == '{') {  // \begin{pmatrix}: one name
          size_t close = s.find('}', i);
          if (close == std::string_view::npos) throw ParseError("unclosed \\" + name);
          out.push_back({Tok::kOp, "{"});
          out.push_back({Tok::kIdent, std::string(s.substr(i + 1, close - i - 1))});
          out.push_back({Tok::kOp, "}"});
          i = close + 1;
        }
      } else if (i + 1 < s.size()) {
        out.push_back({Tok::kCmd, std::string(1, s[i + 1])});  // \{ \} \\ \| \,
        i += 2;
      } else {
        throw ParseError("a lone backslash");
      }
    } else if (is_alpha(c)) {
      size_t e = i;
      while (e < s.size() && is_alpha(s[e])) ++e;
      std::string word(s.substr(i, e - i));
      static constexpr std::array<std::string_view, 16> kEnglish = {"is", "so", "it", "an", "or", "to", "be", "of",
                                                                    "in", "at", "as", "if", "we", "on", "by", "no"};
      if (word.size() > 1 && known(word)) {
        out.push_back({Tok::kCmd, word == "infinity" ? "infty" : word});
      } else if (word.size() > 2 || std::find(kEnglish.begin(), kEnglish.end(), word) != kEnglish.end()) {
        throw ParseError(fmt::format("the word '{}'", word));  // prose, not math (xy is x*y)
      } else {
        for (char letter : word) out.push_back({Tok::kIdent, std::string(1, letter)});
      }
      i = e;
    } else {
      static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kMulti = {{
          {"**", "^"},
          {"<=", "<="},
          {">=", ">="},
          {"!=", "!="},
          {"\xE2\x89\xA4", "<="},
          {"\xE2\x89\xA5", ">="},
          {"\xE2\x89\xA0", "!="},
          {"\xE2\x88\x92", "-"},
          {"\xC3\x97", "*"},
          {"\xC3\xB7", "/"},
          {"\xC2\xB7", "*"},
          {"\xCF\x80", "\\pi"},
          {"\xE2\x88\x9E", "\\infty"},
          {"\xE2\x88\x9A", "\\sqrt"},
      }};
      bool matched = false;
      for (const auto& [from, to] : kMulti)
        if (s.compare(i, from.size(), from) == 0) {
          if (to[0] == '\\')
            out.push_back({Tok::kCmd, std::string(to.substr(1))});
          else
            out.push_back({Tok::kOp, std::string(to)});
          i += from.size();
          matched = true;
          break;
        }
      if (matched) continue;
      if (std::string_view("+-*/^_()[]{},=<>!|&%:").find(c) == std::string_view::npos)
        throw ParseError(fmt::format("unexpected character '{}'", utf8_character_at(s, i)));
      out.push_back({Tok::kOp, std::string(1, c)});
      ++i;
    }
  }
  out.push_back({Tok::kEnd, ""});
  return out;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const Deadline& deadline) : toks_(std::move(tokens)), deadline_(deadline) {}

  Node parse_top() {
    std::vector<Node> items{parse_relation()};
    while (is_op(",")) {
      advance();
      items.push_back(parse_relation());
    }
    if (peek().type != Tok::kEnd) throw ParseError(fmt::format("unexpected '{}'", peek().text));
    if (items.size() == 1) return expand_plus_minus(std::move(items[0]));
    for (Node& n : items) n = expand_plus_minus(std::move(n));
    return make_node(Kind::kSet, std::move(items));
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

  static Node expand_plus_minus(Node n) {
    if (n.kind != Kind::kPlusMinus) return n;
    Node plus = make_node(Kind::kAdd, {n.args[0], n.args[1]});
    Node minus = make_node(Kind::kAdd, {n.args[0], make_node(Kind::kNeg, {n.args[1]})});
    return make_node(Kind::kSet, {std::move(plus), std::move(minus)});
  }

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
      if (t.text == "approx" || t.text == "equiv") return "=";
      if (t.text == "in") return "in";
    }
    return std::nullopt;
  }

  Node parse_relation() {
    DepthGuard guard(depth_);
    Node first = parse_union();
    auto op = relation_op();
    if (!op) return first;
    Node rel = make_node(Kind::kRelation, {std::move(first)});
    while ((op = relation_op())) {
      advance();
      if (*op == "in") return parse_union();  // "x \in [1, 2]": the set is the answer
      rel.ops.push_back(*op);
      rel.args.push_back(parse_union());
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
    Node left = parse_term();
    std::vector<Node> terms{std::move(left)};
    while (true) {
      if (is_op("+")) {
        advance();
        terms.push_back(parse_term());
      } else if (is_op("-")) {
        advance();
        terms.push_back(make_node(Kind::kNeg, {parse_term()}));
      } else if (is_cmd("pm")) {
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
    if (t.type == Tok::kNum || t.type == Tok::kIdent) return true;
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

  Node parse_term() {
    DepthGuard guard(depth_);
    std::vector<Node> factors{parse_unary()};
    while (true) {
      if (is_op("*") || is_cmd("cdot") || is_cmd("times")) {
        advance();
        factors.push_back(parse_unary());
      } else if (is_op("/") || is_cmd("div")) {
        advance();
        Node denominator = parse_unary();
        Node numerator = factors.size() == 1 ? std::move(factors[0]) : make_node(Kind::kMul, std::move(factors));
        factors.clear();
        factors.push_back(make_node(Kind::kDiv, {std::move(numerator), std::move(denominator)}));
      } else if (starts_primary()) {
        bool frac_next = is_cmd("frac");
        Node next = parse_power();
        Node& last = factors.back();
        bool mixed = frac_next && next.kind == Kind::kDiv && is_integer_literal(next.args[0]) &&
                     is_integer_literal(next.args[1]);
        if (mixed && is_integer_literal(last)) {
          last = make_node(Kind::kAdd, {std::move(last), std::move(next)});
        } else if (mixed && last.kind == Kind::kNeg && is_integer_literal(last.args[0])) {
          last = make_node(Kind::kNeg, {make_node(Kind::kAdd, {std::move(last.args[0]), std::move(next)})});
        } else {
          factors.push_back(std::move(next));
        }
      } else {
        break;
      }
    }
    return factors.size() == 1 ? std::move(factors[0]) : make_node(Kind::kMul, std::move(factors));
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

  Node parse_power() {
    DepthGuard guard(depth_);
    Node base = parse_postfix(parse_primary());
    if (!is_op("^")) return base;
    advance();
    Node exponent = power_exponent();
    return parse_postfix(make_node(Kind::kPow, {std::move(base), std::move(exponent)}));
  }

  // The operand after '^' ({...}, -x or one primary); a^b^c = a^(b^c).
  Node power_exponent() {
    DepthGuard guard(depth_);
    Node exponent;
    if (is_op("{")) {
      advance();
      exponent = parse_expr();
      expect_op("}");
    } else if (is_op("-")) {
      advance();
      exponent = make_node(Kind::kNeg, {parse_primary()});
    } else {
      exponent = parse_primary();
    }
    if (!is_op("^")) return exponent;
    advance();
    return make_node(Kind::kPow, {std::move(exponent), power_exponent()});
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
    while (is_op(",")) {
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
    while (is_op(",")) {
      advance();
      items.push_back(parse_union());
    }
    if (!is_op(")") && !is_op("]")) throw ParseError(fmt::format("expected ')' or ']' but found '{}'", peek().text));
    std::string close = advance().text;
    if (items.size() == 1) {
      if ((open == "(") != (close == ")")) throw ParseError("mismatched brackets");
      return std::move(items[0]);
    }
    if (items.size() == 2 && !(open == "(" && close == ")")) {
      Node interval = make_node(Kind::kInterval, std::move(items));
      interval.left_closed = open == "[";
      interval.right_closed = close == "]";
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
      case Tok::kIdent: {
        advance();
        if (is_op("_")) return make_node(Kind::kSymbol, {}, t.text + "_" + subscript());
        if (t.text == "i") return make_node(Kind::kConstant, {}, "i");
        if (t.text == "e") return make_node(Kind::kConstant, {}, "e");
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
      Node numerator = argument();
      Node denominator = argument();
      return make_node(Kind::kDiv, {std::move(numerator), std::move(denominator)});
    }
    if (c == "sqrt") {
      if (is_op("[")) {
        advance();
        Node index = parse_expr();
        expect_op("]");
        Node radicand = argument();
        return make_node(Kind::kFunction, {std::move(radicand), std::move(index)}, "root");
      }
      if (is_op("(")) {
        advance();
        Node inner = parse_expr();
        expect_op(")");
        return make_node(Kind::kFunction, {std::move(inner)}, "sqrt");
      }
      return make_node(Kind::kFunction, {argument()}, "sqrt");
    }
    if (c == "pi") return make_node(Kind::kConstant, {}, "pi");
    if (c == "infty" || c == "inf") return make_node(Kind::kConstant, {}, "inf");
    if (c == "emptyset" || c == "varnothing") return make_node(Kind::kSet);
    if (c == "binom" || c == "dbinom" || c == "tbinom") {
      Node n = argument();
      Node k = argument();
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
    static constexpr std::array<std::string_view, 18> kCalls = {"sin",    "cos",    "tan",    "sec",  "csc",  "cot",
                                                                "arcsin", "arccos", "arctan", "asin", "acos", "atan",
                                                                "sinh",   "cosh",   "tanh",   "ln",   "log",  "exp"};
    if (std::find(kCalls.begin(), kCalls.end(), c) != kCalls.end()) {
      std::string name = c == "arcsin"   ? "asin"
                         : c == "arccos" ? "acos"
                         : c == "arctan" ? "atan"
                         : c == "log"    ? "ln"
                                         : c;
      return function_call(name);
    }
    if (c == "abs") return function_call("abs");
    if (std::find(kGreek.begin(), kGreek.end(), c) != kGreek.end() || c == "omega" || c == "Delta" || c == "Omega") {
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

void print(const Node& n, std::string& out) {
  auto list = [&](std::string_view open, std::string_view sep, std::string_view close) {
    out += open;
    for (size_t i = 0; i < n.args.size(); ++i) {
      if (i) out += sep;
      print(n.args[i], out);
    }
    out += close;
  };
  switch (n.kind) {
    case Kind::kNumber:
    case Kind::kSymbol:
    case Kind::kConstant:
      out += n.text;
      break;
    case Kind::kAdd:
      list("(", " + ", ")");
      break;
    case Kind::kMul:
      list("(", "*", ")");
      break;
    case Kind::kNeg:
      list("-(", "", ")");
      break;
    case Kind::kDiv:
      list("(", ")/(", ")");
      break;
    case Kind::kPow:
      list("(", ")^(", ")");
      break;
    case Kind::kFunction:
      out += n.text;
      list("(", ", ", ")");
      break;
    case Kind::kFactorial:
      list("(", "", ")!");
      break;
    case Kind::kBinomial:
      list("binomial(", ", ", ")");
      break;
    case Kind::kPercent:
      list("(", "", ")%");
      break;
    case Kind::kPlusMinus:
      list("(", " ± ", ")");
      break;
    case Kind::kTuple:
      list("(", ", ", ")");
      break;
    case Kind::kSet:
      list("{", ", ", "}");
      break;
    case Kind::kInterval:
      list(n.left_closed ? "[" : "(", ", ", n.right_closed ? "]" : ")");
      break;
    case Kind::kUnion:
      list("", " ∪ ", "");
      break;
    case Kind::kMatrix:
      list("Matrix[", ", ", "]");
      break;
    case Kind::kRelation:
      for (size_t i = 0; i < n.args.size(); ++i) {
        if (i) out += " " + n.ops[i - 1] + " ";
        print(n.args[i], out);
      }
      break;
  }
}

}  // namespace

Node parse_math(std::string_view normalized, const Deadline& deadline) {
  if (normalized.size() > kMaxInputBytes) throw ParseError(fmt::format("answer longer than {} bytes", kMaxInputBytes));
  if (normalized.empty()) throw ParseError("empty answer");
  Parser parser(tokenize(normalized), deadline);
  return parser.parse_top();
}

std::string to_string(const Node& node) {
  std::string out;
  print(node, out);
  return out;
}

size_t node_count(const Node& node) {
  size_t n = 1;
  for (const Node& a : node.args) n += node_count(a);
  return n;
}

bool has_float(const Node& node) {
  if (node.kind == Kind::kNumber && node.is_float) return true;
  return std::any_of(node.args.begin(), node.args.end(), [](const Node& a) { return has_float(a); });
}

bool has_symbols(const Node& node) {
  if (node.kind == Kind::kSymbol) return true;
  return std::any_of(node.args.begin(), node.args.end(), [](const Node& a) { return has_symbols(a); });
}

void collect_symbols(const Node& node, std::vector<std::string>& out) {
  if (node.kind == Kind::kSymbol && std::find(out.begin(), out.end(), node.text) == out.end()) out.push_back(node.text);
  for (const Node& a : node.args) collect_symbols(a, out);
}

}  // namespace r1::verify
