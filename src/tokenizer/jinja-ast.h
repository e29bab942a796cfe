// The parsed form of a chat template: expression and statement nodes built by jinja-parser and walked by
// jinja-eval. Mirrors jinja2's node types (Const, Name, Getattr, Getitem, Slice, Call, Filter, Test,
// CondExpr, Compare, And/Or/Not, BinExpr; Output, If, For, Assign, AssignBlock, Macro, CallBlock,
// FilterBlock) plus transformers' {% generation %} block.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja-value.h"

namespace r1::tokenizer::jinja {

enum class ExprKind {
  kLiteral,   // literal
  kName,      // name
  kList,      // [args...]
  kTuple,     // (args...) -- a list at runtime
  kDict,      // {keys[i]: args[i]}
  kGetAttr,   // args[0].name
  kGetItem,   // args[0][args[1]]
  kSlice,     // args[0][args[1]:args[2]:args[3]], absent parts are nullptr
  kCall,      // args[0](args[1..], keywords)
  kFilter,    // args[0] | name(args[1..], keywords)
  kTest,      // args[0] is [not] name(args[1..])
  kUnary,     // name ("-" / "+") args[0]
  kBinary,    // args[0] name args[1], name in + - * / // % ** ~
  kCompare,   // args[0] ops[0] args[1] ops[1] args[2] ... (Python chained comparison)
  kAnd,       // args[0] and args[1]
  kOr,        // args[0] or args[1]
  kNot,       // not args[0]
  kCondExpr,  // args[1] if args[0] else args[2] (args[2] nullptr: undefined)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  Location where;
  std::string name;
  Value literal;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
  std::vector<ExprPtr> keys;     // kDict
  std::vector<std::string> ops;  // kCompare: == != < <= > >= in "not in"
  bool negated = false;          // kTest
};

enum class StmtKind {
  kText,
  kOutput,       // {{ expr }}
  kIf,           // branches: (condition, body)..., else_body
  kFor,          // targets in expr [if condition]: body {% else %} else_body
  kSet,          // targets (or attribute target) = expr
  kSetBlock,     // {% set name %}body{% endset %}
  kMacro,        // {% macro name(params) %}body{% endmacro %}
  kCallBlock,    // {% call(params) expr %}body{% endcall %}
  kFilterBlock,  // {% filter expr %}body{% endfilter %}: expr is a kFilter on a nullptr operand
  kBreak,
  kContinue,
  kGeneration,  // {% generation %}body{% endgeneration %}
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Param {
  std::string name;
  ExprPtr default_value;  // nullptr: none
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  Location where;
  std::string text;                  // kText; kMacro name
  ExprPtr expr;                      // kOutput, kFor iterable, kSet value, kCallBlock call, kFilterBlock filter
  ExprPtr condition;                 // kFor filter
  std::vector<std::string> targets;  // kFor / kSet / kSetBlock names
  std::string attribute;             // kSet "ns.attr = ...": targets[0] is ns, this is attr
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf
  Body body;
  Body else_body;
  std::vector<Param> params;  // kMacro, kCallBlock
};

struct Template {
  Body body;
};

}  // namespace r1::tokenizer::jinja
