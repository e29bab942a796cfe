// The expression tree (expr.h): building a node, printing a tree (for details and tests) and the questions the
// stages ask of one (its size, whether it holds a float or symbols, which symbols).
#include <algorithm>

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

bool only_symbols(const Node& n) {
  if (n.kind == Kind::kSymbol) return true;
  if (n.kind == Kind::kNumber || n.kind == Kind::kConstant || n.kind == Kind::kNeg || n.args.empty()) return false;
  return std::all_of(n.args.begin(), n.args.end(), [](const Node& a) { return only_symbols(a); });
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
