// A plain arithmetic expression in Python syntax -> expression tree (expr.h), as sympy's parse_expr reads
// Math-Verify's expression target: numbers, + - * / **, unary signs and parentheses (^ is written as **).
// Nesting deeper than kMaxDepth, or an input longer than kMaxInputBytes, is a parse error.
#include <fmt/format.h>

#include "verify/expr.h"

namespace r1::verify {

namespace {

// Python arithmetic as sympy's parse_expr reads it (no implicit multiplication): numbers, + - * / ** //
// (floor division is not supported here: a parse error), unary signs, parentheses.
class PythonExprParser {
 public:
  PythonExprParser(std::string_view s, const Deadline& deadline) : s_(s), deadline_(deadline) {}
  Node parse() {
    Node n = sum();
    skip();
    if (i_ != s_.size()) throw ParseError("not a Python expression");
    return n;
  }

 private:
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\f'))
      ++i_;
  }
  bool take(std::string_view op) {
    skip();
    if (s_.compare(i_, op.size(), op) != 0) return false;
    i_ += op.size();
    return true;
  }
  void guard() {
    if (++depth_ > kMaxDepth) throw ParseError("nested too deeply");
    if ((++steps_ & 63) == 0) deadline_.check();
  }
  Node sum() {
    guard();
    std::vector<Node> terms{product()};
    while (true) {
      if (take("+")) {
        terms.push_back(product());
      } else if (take("-")) {
        terms.push_back(make_node(Kind::kNeg, {product()}));
      } else {
        break;
      }
    }
    --depth_;
    return terms.size() == 1 ? std::move(terms[0]) : make_node(Kind::kAdd, std::move(terms));
  }
  Node product() {
    guard();
    Node left = unary();
    while (true) {
      skip();
      if (s_.compare(i_, 2, "**") == 0) break;  // belongs to a power (handled in unary)
      if (s_.compare(i_, 2, "//") == 0) throw ParseError("floor division");
      if (take("*")) {
        left = make_node(Kind::kMul, {std::move(left), unary()});
      } else if (take("/")) {
        left = make_node(Kind::kDiv, {std::move(left), unary()});
      } else {
        break;
      }
    }
    --depth_;
    return left;
  }
  Node unary() {
    guard();
    Node n;
    if (take("-")) {
      n = make_node(Kind::kNeg, {unary()});
    } else if (take("+")) {
      n = unary();
    } else {
      n = power();
    }
    --depth_;
    return n;
  }
  Node power() {  // atom ** unary (right-associative; -2**2 is -(2**2))
    Node base = atom();
    if (take("**")) return make_node(Kind::kPow, {std::move(base), unary()});
    return base;
  }
  Node atom() {
    skip();
    if (take("(")) {
      Node inner = sum();
      if (!take(")")) throw ParseError("unclosed parenthesis");
      return inner;
    }
    const size_t b = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    bool dot = false;
    if (i_ < s_.size() && s_[i_] == '.') {
      dot = true;
      ++i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    if (i_ == b || (dot && i_ == b + 1)) throw ParseError("expected a number");
    std::string text(s_.substr(b, i_ - b));
    if (!dot && text.size() > 1 && text[0] == '0' && text.find_first_not_of('0') != std::string::npos)
      throw ParseError("leading zeros");  // Python rejects 007
    if (dot) {
      if (text[0] == '.') text.insert(text.begin(), '0');
      if (text.back() == '.') text.pop_back();
    }
    Node n = make_node(Kind::kNumber, {}, text);
    n.is_float = dot;
    return n;
  }

  std::string_view s_;
  const Deadline& deadline_;
  size_t i_ = 0, steps_ = 0;
  int depth_ = 0;
};

}  // namespace

Node parse_python_expr(std::string_view expr, const Deadline& deadline) {
  if (expr.size() > kMaxInputBytes) throw ParseError(fmt::format("expression longer than {} bytes", kMaxInputBytes));
  std::string python;  // Math-Verify writes ^ as **
  for (char c : expr) python += c == '^' ? std::string("**") : std::string(1, c);
  PythonExprParser parser(python, deadline);
  return parser.parse();
}

}  // namespace r1::verify
