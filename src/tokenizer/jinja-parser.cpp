// Parser of the chat-template Jinja subset (see jinja-parser.h), a recursive-descent port of jinja2's
// Parser: parse_tuple / parse_condexpr / parse_or / parse_and / parse_not / parse_compare / parse_math1 /
// parse_concat / parse_math2 / parse_pow / parse_unary / parse_primary / parse_postfix /
// parse_filter_expr, and the statements jinja2 + loopcontrols + transformers' generation tag define.
// Departures from jinja2: `*args` / `**kwargs` in calls, recursive loops and the statements in
// kUnsupported are rejected by name rather than parsed.
#include "tokenizer/jinja-parser.h"

#include <fmt/format.h>

#include <algorithm>

#include "tokenizer/jinja-builtins.h"
#include "tokenizer/jinja-lexer.h"

namespace r1::tokenizer::jinja {
namespace {

constexpr int kMaxNesting = 100;

const char* const kUnsupported[] = {"include", "extends",    "block", "import", "from",  "raw",
                                    "with",    "autoescape", "trans", "do",     "print", "pluralize"};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::shared_ptr<const Template> run() {
    auto t = std::make_shared<Template>();
    t->body = parse_body({}, nullptr, "");
    return t;
  }

 private:
  const Token& peek(size_t k = 0) const { return tokens_[std::min(pos_ + k, tokens_.size() - 1)]; }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool at_op(const char* op, size_t k = 0) const { return peek(k).kind == TokenKind::kOperator && peek(k).text == op; }
  bool at_name(const char* name, size_t k = 0) const {
    return peek(k).kind == TokenKind::kName && peek(k).text == name;
  }

  [[noreturn]] void fail(const Token& t, const std::string& message) const { fail_at(t.where, message); }

  void expect_op(const char* op, const char* context) {
    if (!at_op(op)) fail(peek(), fmt::format("expected '{}' {}, found {}", op, context, describe(peek())));
    next();
  }

  std::string expect_name(const char* context) {
    if (peek().kind != TokenKind::kName)
      fail(peek(), fmt::format("expected a name {}, found {}", context, describe(peek())));
    return next().text;
  }

  void expect_block_end(const std::string& after) {
    if (peek().kind != TokenKind::kBlockEnd)
      fail(peek(), fmt::format("expected '%}}' to end '{}', found {}", after, describe(peek())));
    next();
  }

  // Parses statements until `{% name %}` with name in `ends` (consumed up to the name, which is stored in
  // *ended_by) or, when `ends` is empty, the end of the template.
  Body parse_body(const std::vector<std::string>& ends, std::string* ended_by, const std::string& opener,
                  Location opened_at = {}) {
    if (++nesting_ > kMaxNesting) fail(peek(), "statements nested too deeply");
    Body body;
    while (true) {
      const Token& t = peek();
      if (t.kind == TokenKind::kEnd) {
        if (!ends.empty()) fail_at(opened_at, fmt::format("'{}' has no matching {{% {} %}}", opener, ends.back()));
        break;
      }
      if (t.kind == TokenKind::kText) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kText;
        s->where = t.where;
        s->text = t.text;
        body.push_back(std::move(s));
        next();
      } else if (t.kind == TokenKind::kVarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kOutput;
        s->where = t.where;
        next();
        s->expr = parse_tuple(true);
        if (peek().kind != TokenKind::kVarEnd) fail(peek(), fmt::format("expected '}}}}', found {}", describe(peek())));
        next();
        body.push_back(std::move(s));
      } else if (t.kind == TokenKind::kBlockBegin) {
        const Token& name = peek(1);
        if (name.kind == TokenKind::kName && std::find(ends.begin(), ends.end(), name.text) != ends.end()) {
          next();
          *ended_by = next().text;
          break;
        }
        body.push_back(parse_statement(ends, opener));
      } else {
        fail(t, fmt::format("unexpected {}", describe(t)));
      }
    }
    --nesting_;
    return body;
  }

  StmtPtr parse_statement(const std::vector<std::string>& ends, const std::string& opener) {
    next();  // {%
    const Token& name_token = peek();
    if (name_token.kind != TokenKind::kName)
      fail(name_token, fmt::format("expected a statement name after '{{%', found {}", describe(name_token)));
    const std::string name = name_token.text;
    auto s = std::make_unique<Stmt>();
    s->where = name_token.where;
    next();
    if (name == "if") {
      parse_if(*s);
    } else if (name == "for") {
      parse_for(*s);
    } else if (name == "set") {
      parse_set(*s);
    } else if (name == "macro") {
      parse_macro(*s);
    } else if (name == "call") {
      parse_call_block(*s);
    } else if (name == "filter") {
      s->kind = StmtKind::kFilterBlock;
      s->expr = parse_filter_chain(nullptr);
      expect_block_end("filter");
      std::string ended;
      s->body = parse_body({"endfilter"}, &ended, "filter", s->where);
      expect_block_end("endfilter");
    } else if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) fail(name_token, fmt::format("'{}' outside of a for loop", name));
      s->kind = name == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      expect_block_end(name);
    } else if (name == "generation") {
      s->kind = StmtKind::kGeneration;
      expect_block_end(name);
      std::string ended;
      s->body = parse_body({"endgeneration"}, &ended, "generation", s->where);
      expect_block_end("endgeneration");
    } else if (std::find(std::begin(kUnsupported), std::end(kUnsupported), name) != std::end(kUnsupported)) {
      fail(name_token, fmt::format("unsupported statement '{}' (chat templates are self-contained)", name));
    } else if (name.rfind("end", 0) == 0 || name == "else" || name == "elif") {
      std::string expected;
      for (const auto& e : ends) expected += (expected.empty() ? "" : " or ") + ("'" + e + "'");
      fail(name_token, ends.empty() ? fmt::format("unexpected '{}' with no open block", name)
                                    : fmt::format("unexpected '{}' inside '{}' (expected {})", name, opener, expected));
    } else {
      fail(name_token, fmt::format("unknown statement '{}'", name));
    }
    return s;
  }

  void parse_if(Stmt& s) {
    s.kind = StmtKind::kIf;
    std::string ended = "if";
    while (true) {
      ExprPtr condition = parse_tuple(true);
      expect_block_end(ended);
      Body body = parse_body({"elif", "else", "endif"}, &ended, "if", s.where);
      s.branches.emplace_back(std::move(condition), std::move(body));
      if (ended != "elif") break;
    }
    if (ended == "else") {
      expect_block_end("else");
      s.else_body = parse_body({"endif"}, &ended, "if", s.where);
    }
    expect_block_end("endif");
  }

  std::vector<std::string> parse_target_names(const char* context) {
    std::vector<std::string> names;
    bool parens = at_op("(");
    if (parens) next();
    names.push_back(expect_name(context));
    while (at_op(",")) {
      next();
      if (peek().kind != TokenKind::kName) break;
      names.push_back(expect_name(context));
    }
    if (parens) expect_op(")", context);
    return names;
  }

  void parse_for(Stmt& s) {
    s.kind = StmtKind::kFor;
    s.targets = parse_target_names("as the for-loop variable");
    if (!at_name("in")) fail(peek(), fmt::format("expected 'in' in the for loop, found {}", describe(peek())));
    next();
    s.expr = parse_tuple(false);
    if (at_name("if")) {
      next();
      s.condition = parse_tuple(true);
    }
    if (at_name("recursive")) fail(peek(), "unsupported: recursive for loops");
    expect_block_end("for");
    std::string ended;
    ++loop_depth_;
    s.body = parse_body({"else", "endfor"}, &ended, "for", s.where);
    --loop_depth_;
    if (ended == "else") {
      expect_block_end("else");
      s.else_body = parse_body({"endfor"}, &ended, "for", s.where);
    }
    expect_block_end("endfor");
  }

  void parse_set(Stmt& s) {
    s.kind = StmtKind::kSet;
    if (peek().kind == TokenKind::kName && at_op(".", 1)) {
      s.targets.push_back(next().text);
      next();
      s.attribute = expect_name("after '.' in the set target");
    } else {
      s.targets = parse_target_names("as the set target");
    }
    if (at_op("=")) {
      next();
      s.expr = parse_tuple(true);
      expect_block_end("set");
      return;
    }
    if (s.targets.size() != 1 || !s.attribute.empty())
      fail(peek(), fmt::format("expected '=' in the set statement, found {}", describe(peek())));
    if (at_op("|")) fail(peek(), "unsupported: filters on a {% set %} block");
    s.kind = StmtKind::kSetBlock;
    expect_block_end("set");
    std::string ended;
    s.body = parse_body({"endset"}, &ended, "set", s.where);
    expect_block_end("endset");
  }

  std::vector<Param> parse_params(const char* context) {
    std::vector<Param> params;
    expect_op("(", context);
    while (!at_op(")")) {
      if (!params.empty()) expect_op(",", "between parameters");
      if (at_op(")")) break;
      Param p;
      p.name = expect_name("as a parameter");
      if (at_op("=")) {
        next();
        p.default_value = parse_expression(true);
      } else if (!params.empty() && params.back().default_value) {
        fail(peek(), fmt::format("parameter '{}' without a default follows one with a default", p.name));
      }
      params.push_back(std::move(p));
    }
    next();
    return params;
  }

  void parse_macro(Stmt& s) {
    s.kind = StmtKind::kMacro;
    s.text = expect_name("as the macro name");
    s.params = parse_params("after the macro name");
    expect_block_end("macro");
    int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    std::string ended;
    s.body = parse_body({"endmacro"}, &ended, "macro", s.where);
    loop_depth_ = saved_loop_depth;
    if (peek().kind == TokenKind::kName) next();  // {% endmacro name %}
    expect_block_end("endmacro");
  }

  void parse_call_block(Stmt& s) {
    s.kind = StmtKind::kCallBlock;
    if (at_op("(")) s.params = parse_params("for the caller");
    s.expr = parse_expression(true);
    if (s.expr->kind != ExprKind::kCall) fail_at(s.expr->where, "expected a macro call after 'call'");
    expect_block_end("call");
    int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    std::string ended;
    s.body = parse_body({"endcall"}, &ended, "call", s.where);
    loop_depth_ = saved_loop_depth;
    expect_block_end("endcall");
  }

  // ---- expressions ----

  ExprPtr make(ExprKind kind, Location where) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->where = where;
    return e;
  }

  ExprPtr parse_tuple(bool with_condexpr) {
    Location where = peek().where;
    ExprPtr first = parse_expression(with_condexpr);
    if (!at_op(",")) return first;
    auto tuple = make(ExprKind::kTuple, where);
    tuple->args.push_back(std::move(first));
    while (at_op(",")) {
      next();
      if (peek().kind == TokenKind::kBlockEnd || peek().kind == TokenKind::kVarEnd || at_op(")") || at_name("in"))
        break;
      tuple->args.push_back(parse_expression(with_condexpr));
    }
    return tuple;
  }

  ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprPtr parse_condexpr() {
    ExprPtr expr1 = parse_or();
    while (at_name("if")) {
      auto cond = make(ExprKind::kCondExpr, peek().where);
      next();
      cond->args.push_back(parse_or());
      cond->args.push_back(std::move(expr1));
      if (at_name("else")) {
        next();
        cond->args.push_back(parse_condexpr());
      } else {
        cond->args.push_back(nullptr);
      }
      expr1 = std::move(cond);
    }
    return expr1;
  }

  ExprPtr binary(ExprKind kind, ExprPtr left, ExprPtr right, Location where, std::string op = {}) {
    auto e = make(kind, where);
    e->name = std::move(op);
    e->args.push_back(std::move(left));
    e->args.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (at_name("or")) {
      Location where = next().where;
      left = binary(ExprKind::kOr, std::move(left), parse_and(), where);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (at_name("and")) {
      Location where = next().where;
      left = binary(ExprKind::kAnd, std::move(left), parse_not(), where);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (at_name("not")) {
      auto e = make(ExprKind::kNot, next().where);
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    Location where = peek().where;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      const Token& t = peek();
      if (t.kind == TokenKind::kOperator &&
          (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == ">" || t.text == "<=" || t.text == ">=")) {
        op = t.text;
        next();
      } else if (at_name("in")) {
        op = "in";
        next();
      } else if (at_name("not") && at_name("in", 1)) {
        op = "not in";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(ExprKind::kCompare, where);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (at_op("+") || at_op("-")) {
      const Token& t = next();
      left = binary(ExprKind::kBinary, std::move(left), parse_concat(), t.where, t.text);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (at_op("~")) {
      const Token& t = next();
      left = binary(ExprKind::kBinary, std::move(left), parse_math2(), t.where, "~");
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      const Token& t = next();
      left = binary(ExprKind::kBinary, std::move(left), parse_pow(), t.where, t.text);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (at_op("**")) {
      const Token& t = next();
      left = binary(ExprKind::kBinary, std::move(left), parse_unary(true), t.where, "**");
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    ExprPtr node;
    if (at_op("-") || at_op("+")) {
      const Token& t = next();
      node = make(ExprKind::kUnary, t.where);
      node->name = t.text;
      node->args.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = peek();
    if (nesting_ + bracket_depth_ > kMaxNesting) fail(t, "expression nested too deeply");
    switch (t.kind) {
      case TokenKind::kName: {
        next();
        auto e = make(ExprKind::kLiteral, t.where);
        if (t.text == "true" || t.text == "True") {
          e->literal = Value::boolean(true);
        } else if (t.text == "false" || t.text == "False") {
          e->literal = Value::boolean(false);
        } else if (t.text == "none" || t.text == "None") {
          e->literal = Value::none();
        } else {
          e->kind = ExprKind::kName;
          e->name = t.text;
        }
        return e;
      }
      case TokenKind::kString: {
        auto e = make(ExprKind::kLiteral, t.where);
        std::string s;
        while (peek().kind == TokenKind::kString) s += next().text;
        e->literal = Value::string(std::move(s));
        return e;
      }
      case TokenKind::kInt: {
        auto e = make(ExprKind::kLiteral, t.where);
        e->literal = Value::integer(next().int_value);
        return e;
      }
      case TokenKind::kFloat: {
        auto e = make(ExprKind::kLiteral, t.where);
        e->literal = Value::floating(next().float_value);
        return e;
      }
      case TokenKind::kOperator:
        if (t.text == "(") {
          next();
          ++bracket_depth_;
          ExprPtr e;
          if (at_op(")")) {
            e = make(ExprKind::kTuple, t.where);
          } else {
            e = parse_tuple(true);
          }
          --bracket_depth_;
          expect_op(")", "to close '('");
          return e;
        }
        if (t.text == "[") {
          next();
          ++bracket_depth_;
          auto e = make(ExprKind::kList, t.where);
          while (!at_op("]")) {
            if (!e->args.empty()) expect_op(",", "between list items");
            if (at_op("]")) break;
            e->args.push_back(parse_expression(true));
          }
          --bracket_depth_;
          next();
          return e;
        }
        if (t.text == "{") {
          next();
          ++bracket_depth_;
          auto e = make(ExprKind::kDict, t.where);
          while (!at_op("}")) {
            if (!e->keys.empty()) expect_op(",", "between dict items");
            if (at_op("}")) break;
            e->keys.push_back(parse_expression(true));
            expect_op(":", "after a dict key");
            e->args.push_back(parse_expression(true));
          }
          --bracket_depth_;
          next();
          return e;
        }
        break;
      default:
        break;
    }
    fail(t, fmt::format("expected an expression, found {}", describe(t)));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (at_op(".")) {
        const Token& dot = next();
        const Token& t = peek();
        if (t.kind == TokenKind::kName) {
          auto e = make(ExprKind::kGetAttr, dot.where);
          e->name = next().text;
          e->args.push_back(std::move(node));
          node = std::move(e);
        } else if (t.kind == TokenKind::kInt) {
          auto e = make(ExprKind::kGetItem, dot.where);
          auto index = make(ExprKind::kLiteral, t.where);
          index->literal = Value::integer(next().int_value);
          e->args.push_back(std::move(node));
          e->args.push_back(std::move(index));
          node = std::move(e);
        } else {
          fail(t, fmt::format("expected an attribute name after '.', found {}", describe(t)));
        }
      } else if (at_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (at_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    Location where = next().where;  // [
    ++bracket_depth_;
    ExprPtr parts[3];
    bool is_slice = false;
    if (!at_op(":")) parts[0] = parse_expression(true);
    if (at_op(":")) {
      is_slice = true;
      next();
      if (!at_op("]") && !at_op(":")) parts[1] = parse_expression(true);
      if (at_op(":")) {
        next();
        if (!at_op("]")) parts[2] = parse_expression(true);
      }
    }
    --bracket_depth_;
    expect_op("]", "to close '['");
    auto e = make(is_slice ? ExprKind::kSlice : ExprKind::kGetItem, where);
    e->args.push_back(std::move(node));
    if (is_slice) {
      for (auto& p : parts) e->args.push_back(std::move(p));
    } else {
      e->args.push_back(std::move(parts[0]));
    }
    return e;
  }

  // Parses "(args)" into e->args (after any already there) and e->keywords.
  void parse_arguments(Expr& e) {
    expect_op("(", "to start the arguments");
    ++bracket_depth_;
    bool first = true;
    while (!at_op(")")) {
      if (!first) expect_op(",", "between arguments");
      first = false;
      if (at_op(")")) break;
      if (at_op("*") || at_op("**")) fail(peek(), "unsupported: '*' / '**' argument unpacking");
      if (peek().kind == TokenKind::kName && at_op("=", 1)) {
        std::string key = next().text;
        next();
        e.keywords.emplace_back(key, parse_expression(true));
      } else {
        if (!e.keywords.empty()) fail(peek(), "positional argument follows keyword argument");
        e.args.push_back(parse_expression(true));
      }
    }
    --bracket_depth_;
    next();
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make(ExprKind::kCall, peek().where);
    e->args.push_back(std::move(callee));
    parse_arguments(*e);
    return e;
  }

  ExprPtr parse_filter_chain(ExprPtr operand) {
    do {
      if (at_op("|")) next();
      const Token& t = peek();
      std::string name = expect_name("as the filter name");
      if (!is_filter(name)) fail(t, fmt::format("unknown filter '{}'", name));
      auto e = make(ExprKind::kFilter, t.where);
      e->name = name;
      e->args.push_back(std::move(operand));
      if (at_op("(")) parse_arguments(*e);
      operand = std::move(e);
    } while (at_op("|"));
    return operand;
  }

  bool starts_test_argument() const {
    const Token& t = peek();
    if (t.kind == TokenKind::kString || t.kind == TokenKind::kInt || t.kind == TokenKind::kFloat) return true;
    if (t.kind == TokenKind::kOperator) return t.text == "[" || t.text == "{";
    if (t.kind != TokenKind::kName) return false;
    static const char* const kStop[] = {"else", "or", "and", "if", "in", "is", "not"};
    return std::find(std::begin(kStop), std::end(kStop), t.text) == std::end(kStop);
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (at_op("|")) {
        node = parse_filter_chain(std::move(node));
      } else if (at_name("is")) {
        auto e = make(ExprKind::kTest, next().where);
        if (at_name("not")) {
          next();
          e->negated = true;
        }
        const Token& t = peek();
        std::string name = expect_name("as the test name");
        if (!is_test(name)) fail(t, fmt::format("unknown test '{}'", name));
        e->name = name;
        e->args.push_back(std::move(node));
        if (at_op("(")) {
          parse_arguments(*e);
        } else if (starts_test_argument()) {
          e->args.push_back(parse_postfix(parse_primary()));
        }
        node = std::move(e);
      } else if (at_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int nesting_ = 0;
  int bracket_depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

std::shared_ptr<const Template> parse(const std::string& source) { return Parser(tokenize(source)).run(); }

}  // namespace r1::tokenizer::jinja
