// The chat-template interpreter (see jinja-eval.h). Semantics are jinja2's under transformers'
// ImmutableSandboxedEnvironment: Python operators and truthiness, undefined renders as "" and iterates as
// empty but raises on attribute access, arithmetic and ordering; `set` in a for loop or macro stays local
// (namespace() objects carry state out); for-loop filters apply before loop.length is counted.
// Where @huggingface/jinja differs from jinja2 this follows jinja2, because transformers renders with it:
//   1. `{{ none }}` renders "None", lists and dicts render as Python repr ("['a', 1]"), floats as Python
//      floats ("1.0"); @huggingface/jinja renders "", JSON, and "1".
//   2. `str + int` and attribute access on an undefined value are errors; e/escape HTML-escape (markupsafe).
// Departures from jinja2, each rejected with an error rather than rendered differently unless noted:
//   1. Dict keys are strings; integers are 64-bit (overflow is an error); dict.items() returns a list.
//   2. {% generation %} inside a macro, call, filter or set block is rejected (spans would be lost).
//   3. A for loop's scope persists across its iterations (as @huggingface/jinja; jinja2 also keeps them).
#include "tokenizer/jinja-eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tokenizer/jinja-builtins.h"

namespace r1::tokenizer::jinja {

void fail_undefined(const Value& v, Location where) {
  fail_at(where, v.undefined_hint().empty() ? "use of an undefined value" : v.undefined_hint());
}

Value get_attr(const Value& obj, const std::string& name, Location where) {
  switch (obj.kind()) {
    case ValueKind::kUndefined:
      fail_undefined(obj, where);
    case ValueKind::kDict: {
      Value m = method(obj, name);
      if (m.is_callable()) return m;
      if (const Value* v = obj.as_dict().find(name)) return *v;
      return Value::undefined(fmt::format("'dict object' has no attribute '{}'", name));
    }
    case ValueKind::kNamespace:
      if (const Value* v = obj.as_dict().find(name)) return *v;
      return Value::undefined(fmt::format("namespace has no attribute '{}'", name));
    default: {
      Value m = method(obj, name);
      if (m.is_callable()) return m;
      return Value::undefined(fmt::format("'{}' object has no attribute '{}'", obj.type_name(), name));
    }
  }
}

Value get_item(const Value& obj, const Value& key, Location where) {
  if (obj.is_undefined()) fail_undefined(obj, where);
  if (obj.is_dict() || obj.is_namespace()) {
    if (key.is_string()) {
      if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
      if (obj.is_dict()) {
        Value m = method(obj, key.as_string());
        if (m.is_callable()) return m;
      }
    }
    return Value::undefined(fmt::format("'{}' object has no element {}", obj.type_name(), key.repr()));
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      auto n = int64_t(obj.as_list().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.as_list()[size_t(i)];
    } else {
      std::u32string cps = utf8_decode(obj.as_string());
      auto n = int64_t(cps.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return Value::string(utf8_encode(cps.substr(size_t(i), 1)));
    }
    return Value::undefined(fmt::format("'{}' object has no element {}", obj.type_name(), key.as_int()));
  }
  if (key.is_string()) return get_attr(obj, key.as_string(), where);
  return Value::undefined(fmt::format("'{}' object has no element {}", obj.type_name(), key.repr()));
}

Value::List iterate(const Value& v, Location where) {
  switch (v.kind()) {
    case ValueKind::kUndefined:
      return {};
    case ValueKind::kList:
      return v.as_list();
    case ValueKind::kDict: {
      Value::List keys;
      for (const auto& [k, unused] : v.as_dict().entries()) keys.push_back(Value::string(k));
      return keys;
    }
    case ValueKind::kString: {
      Value::List chars;
      for (char32_t c : utf8_decode(v.as_string())) chars.push_back(Value::string(utf8_encode(std::u32string(1, c))));
      return chars;
    }
    default:
      fail_at(where, fmt::format("'{}' object is not iterable", v.type_name()));
  }
}

bool contains(const Value& container, const Value& item, Location where) {
  switch (container.kind()) {
    case ValueKind::kUndefined:
      return false;
    case ValueKind::kString:
      if (!item.is_string())
        fail_at(where, fmt::format("'in <string>' requires string as left operand, not {}", item.type_name()));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case ValueKind::kList:
      return std::any_of(container.as_list().begin(), container.as_list().end(),
                         [&](const Value& x) { return equals(x, item); });
    case ValueKind::kDict:
      return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    default:
      fail_at(where, fmt::format("argument of type '{}' is not iterable", container.type_name()));
  }
}

Interpreter::Interpreter(const Template& tmpl, const Value& context, const Limits& limits)
    : template_(tmpl), limits_(limits) {
  globals_ = new_scope(nullptr);
  Dict globals;
  add_globals(globals);
  for (const auto& [k, v] : globals.entries()) globals_->vars[k] = v;
  for (const auto& [k, v] : context.as_dict().entries()) globals_->vars[k] = v;
}

Interpreter::Scope* Interpreter::new_scope(Scope* parent) {
  scopes_.push_back(std::make_unique<Scope>());
  scopes_.back()->parent = parent;
  return scopes_.back().get();
}

Value Interpreter::lookup(Scope* scope, const std::string& name) const {
  for (Scope* s = scope; s != nullptr; s = s->parent) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undefined(fmt::format("'{}' is undefined", name));
}

void Interpreter::render(std::string& out, std::vector<std::pair<size_t, size_t>>& generation_spans) {
  spans_ = &generation_spans;
  exec_body(template_.body, new_scope(globals_), out);
  std::sort(generation_spans.begin(), generation_spans.end());
}

void Interpreter::check_size(size_t bytes, Location where) const {
  if (bytes > limits_.max_output_bytes)
    fail_at(where, fmt::format("output limit exceeded: more than {} bytes", limits_.max_output_bytes));
}

void Interpreter::check_items(size_t items, Location where) const {
  if (items > limits_.max_list_items)
    fail_at(where, fmt::format("list limit exceeded: more than {} items", limits_.max_list_items));
}

void Interpreter::append(std::string& out, const std::string& text, Location where) const {
  check_size(out.size() + text.size(), where);
  out += text;
}

Interpreter::Flow Interpreter::exec_body(const Body& body, Scope* scope, std::string& out) {
  for (const auto& s : body) {
    Flow f = exec(*s, scope, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

std::string Interpreter::capture(const Body& body, Scope* scope) {
  std::string out;
  ++capture_depth_;
  exec_body(body, scope, out);
  --capture_depth_;
  return out;
}

Interpreter::Flow Interpreter::exec(const Stmt& s, Scope* scope, std::string& out) {
  switch (s.kind) {
    case StmtKind::kText:
      append(out, s.text, s.where);
      break;
    case StmtKind::kOutput:
      append(out, eval(*s.expr, scope).str(), s.where);
      break;
    case StmtKind::kIf:
      for (const auto& [condition, body] : s.branches)
        if (eval(*condition, scope).truthy()) return exec_body(body, scope, out);
      return exec_body(s.else_body, scope, out);
    case StmtKind::kFor:
      exec_for(s, scope, out);
      break;
    case StmtKind::kSet:
      exec_set(s, scope);
      break;
    case StmtKind::kSetBlock:
      scope->vars[s.targets[0]] = Value::string(capture(s.body, scope));
      break;
    case StmtKind::kMacro: {
      const Stmt* macro = &s;
      scope->vars[s.text] = Value::callable(
          "macro '" + s.text + "'",
          [macro, scope](Interpreter& interp, CallArgs& args) { return interp.call_macro(*macro, scope, args); });
      break;
    }
    case StmtKind::kCallBlock: {
      const Stmt* block = &s;
      Value caller = Value::callable("caller", [block, scope](Interpreter& interp, CallArgs& args) {
        return interp.call_macro(*block, scope, args);
      });
      Value callee = eval(*s.expr->args[0], scope);
      CallArgs args = eval_args(*s.expr, 1, scope);
      args.keyword.emplace_back("caller", caller);
      append(out, call(callee, args).str(), s.where);
      break;
    }
    case StmtKind::kFilterBlock: {
      Value text = Value::string(capture(s.body, scope));
      append(out, eval_filter(*s.expr, scope, &text).str(), s.where);
      break;
    }
    case StmtKind::kBreak:
      return Flow::kBreak;
    case StmtKind::kContinue:
      return Flow::kContinue;
    case StmtKind::kGeneration: {
      if (capture_depth_ > 0)
        fail_at(s.where, "{% generation %} inside a macro, call, filter or set block is not supported");
      size_t begin = out.size();
      Flow f = exec_body(s.body, scope, out);
      spans_->emplace_back(begin, out.size());
      return f;
    }
  }
  return Flow::kNormal;
}

namespace {

void bind_targets(std::unordered_map<std::string, Value>& vars, const std::vector<std::string>& targets,
                  const Value& value, Location where) {
  if (targets.size() == 1) {
    vars[targets[0]] = value;
    return;
  }
  Value::List items = iterate(value, where);
  if (items.size() != targets.size())
    fail_at(where, fmt::format("cannot unpack {} value(s) into {} names", items.size(), targets.size()));
  for (size_t i = 0; i < targets.size(); ++i) vars[targets[i]] = items[i];
}

}  // namespace

void Interpreter::exec_for(const Stmt& s, Scope* scope, std::string& out) {
  Value iterable = eval(*s.expr, scope);
  Value::List items = iterate(iterable, s.expr->where);
  Scope* loop_scope = new_scope(scope);
  if (s.condition) {
    Value::List kept;
    for (auto& item : items) {
      bind_targets(loop_scope->vars, s.targets, item, s.where);
      if (eval(*s.condition, loop_scope).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    exec_body(s.else_body, scope, out);
    return;
  }
  const auto n = int64_t(items.size());
  for (int64_t i = 0; i < n; ++i) {
    if (++iterations_ > limits_.max_loop_iterations)
      fail_at(s.where, fmt::format("loop limit exceeded: more than {} iterations", limits_.max_loop_iterations));
    Value loop = Value::dict();
    Dict& d = loop.as_dict();
    d.set("index", Value::integer(i + 1));
    d.set("index0", Value::integer(i));
    d.set("revindex", Value::integer(n - i));
    d.set("revindex0", Value::integer(n - i - 1));
    d.set("first", Value::boolean(i == 0));
    d.set("last", Value::boolean(i == n - 1));
    d.set("length", Value::integer(n));
    d.set("depth", Value::integer(1));
    d.set("depth0", Value::integer(0));
    if (i > 0) d.set("previtem", items[size_t(i - 1)]);
    if (i + 1 < n) d.set("nextitem", items[size_t(i + 1)]);
    d.set("cycle", Value::callable("loop.cycle", [i](Interpreter&, CallArgs& args) {
            if (args.positional.empty()) fail_at(args.where, "loop.cycle() needs at least one argument");
            return args.positional[size_t(i) % args.positional.size()];
          }));
    loop_scope->vars["loop"] = loop;
    bind_targets(loop_scope->vars, s.targets, items[size_t(i)], s.where);
    if (exec_body(s.body, loop_scope, out) == Flow::kBreak) break;
  }
}

void Interpreter::exec_set(const Stmt& s, Scope* scope) {
  Value value = eval(*s.expr, scope);
  if (!s.attribute.empty()) {
    Value target = lookup(scope, s.targets[0]);
    if (!target.is_namespace())
      fail_at(s.where, fmt::format("cannot assign attribute '{}' on '{}': not a namespace ({})", s.attribute,
                                   s.targets[0], target.type_name()));
    target.as_dict().set(s.attribute, std::move(value));
    return;
  }
  bind_targets(scope->vars, s.targets, value, s.where);
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail_undefined(callee, args.where);
  if (!callee.is_callable()) fail_at(args.where, fmt::format("'{}' object is not callable", callee.type_name()));
  return callee.as_callable().call(*this, args);
}

Value Interpreter::call_macro(const Stmt& macro, Scope* defined_in, CallArgs& args) {
  if (call_depth_ >= limits_.max_call_depth)
    fail_at(args.where,
            fmt::format("recursion limit exceeded: more than {} nested macro calls", limits_.max_call_depth));
  std::string name = macro.kind == StmtKind::kMacro ? "macro '" + macro.text + "'" : "caller";
  if (args.positional.size() > macro.params.size())
    fail_at(args.where, fmt::format("{} takes at most {} argument(s), {} given", name, macro.params.size(),
                                    args.positional.size()));
  Scope* scope = new_scope(defined_in);
  std::vector<bool> given(macro.params.size(), false);
  for (size_t i = 0; i < args.positional.size(); ++i) {
    scope->vars[macro.params[i].name] = args.positional[i];
    given[i] = true;
  }
  for (auto& [key, value] : args.keyword) {
    auto it = std::find_if(macro.params.begin(), macro.params.end(), [&](const Param& p) { return p.name == key; });
    if (it == macro.params.end()) {
      if (key == "caller") {
        scope->vars["caller"] = value;
        continue;
      }
      fail_at(args.where, fmt::format("{} has no parameter '{}'", name, key));
    }
    auto idx = size_t(it - macro.params.begin());
    if (given[idx]) fail_at(args.where, fmt::format("{} got multiple values for '{}'", name, key));
    scope->vars[key] = value;
    given[idx] = true;
  }
  for (size_t i = 0; i < macro.params.size(); ++i) {
    if (given[i]) continue;
    const Param& p = macro.params[i];
    scope->vars[p.name] = p.default_value ? eval(*p.default_value, scope)
                                          : Value::undefined(fmt::format("{}: no value for '{}'", name, p.name));
  }
  ++call_depth_;
  std::string text = capture(macro.body, scope);
  --call_depth_;
  return Value::string(std::move(text));
}

CallArgs Interpreter::eval_args(const Expr& e, size_t first, Scope* scope) {
  CallArgs args;
  args.where = e.where;
  for (size_t i = first; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i], scope));
  for (const auto& [key, expr] : e.keywords) args.keyword.emplace_back(key, eval(*expr, scope));
  return args;
}

Value Interpreter::eval_filter(const Expr& e, Scope* scope, const Value* operand) {
  Value input = e.args[0] ? (e.args[0]->kind == ExprKind::kFilter ? eval_filter(*e.args[0], scope, operand)
                                                                  : eval(*e.args[0], scope))
                          : *operand;
  CallArgs args = eval_args(e, 1, scope);
  return apply_filter(*this, e.name, std::move(input), args);
}

Value Interpreter::eval(const Expr& e, Scope* scope) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      return e.literal;
    case ExprKind::kName:
      return lookup(scope, e.name);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      Value::List items;
      for (const auto& a : e.args) items.push_back(eval(*a, scope));
      return e.kind == ExprKind::kTuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
    case ExprKind::kDict: {
      Value d = Value::dict();
      for (size_t i = 0; i < e.keys.size(); ++i) {
        Value key = eval(*e.keys[i], scope);
        if (!key.is_string())
          fail_at(e.keys[i]->where, fmt::format("dict keys must be strings, found {}", key.type_name()));
        d.as_dict().set(key.as_string(), eval(*e.args[i], scope));
      }
      return d;
    }
    case ExprKind::kGetAttr:
      return get_attr(eval(*e.args[0], scope), e.name, e.where);
    case ExprKind::kGetItem:
      return get_item(eval(*e.args[0], scope), eval(*e.args[1], scope), e.where);
    case ExprKind::kSlice: {
      Value obj = eval(*e.args[0], scope);
      std::optional<int64_t> parts[3];
      for (int k = 0; k < 3; ++k) {
        if (!e.args[size_t(k) + 1]) continue;
        Value v = eval(*e.args[size_t(k) + 1], scope);
        if (v.is_none()) continue;
        if (!v.is_int() && !v.is_bool())
          fail_at(e.where, fmt::format("slice indices must be integers or None, not {}", v.type_name()));
        parts[k] = v.as_int();
      }
      if (obj.is_undefined()) fail_undefined(obj, e.where);
      int64_t step = parts[2].value_or(1);
      if (step == 0) fail_at(e.where, "slice step cannot be zero");
      std::u32string cps;
      int64_t n;
      if (obj.is_string()) {
        cps = utf8_decode(obj.as_string());
        n = int64_t(cps.size());
      } else if (obj.is_list()) {
        n = int64_t(obj.as_list().size());
      } else {
        fail_at(e.where, fmt::format("'{}' object is not subscriptable", obj.type_name()));
      }
      auto clamp = [&](std::optional<int64_t> v, int64_t dflt, int64_t lo, int64_t hi) {
        if (!v) return dflt;
        int64_t x = *v < 0 ? *v + n : *v;
        return std::clamp(x, lo, hi);
      };
      int64_t start = step > 0 ? clamp(parts[0], 0, 0, n) : clamp(parts[0], n - 1, -1, n - 1);
      int64_t stop = step > 0 ? clamp(parts[1], n, 0, n) : clamp(parts[1], -1, -1, n - 1);
      std::vector<size_t> picked;
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) picked.push_back(size_t(i));
      if (obj.is_string()) {
        std::u32string out;
        for (size_t i : picked) out += cps[i];
        return Value::string(utf8_encode(out));
      }
      Value::List out;
      for (size_t i : picked) out.push_back(obj.as_list()[i]);
      return Value::list(std::move(out));
    }
    case ExprKind::kCall: {
      Value callee = eval(*e.args[0], scope);
      CallArgs args = eval_args(e, 1, scope);
      return call(callee, args);
    }
    case ExprKind::kFilter:
      return eval_filter(e, scope, nullptr);
    case ExprKind::kTest: {
      Value v = eval(*e.args[0], scope);
      CallArgs args = eval_args(e, 1, scope);
      return Value::boolean(apply_test(*this, e.name, v, args) != e.negated);
    }
    case ExprKind::kUnary: {
      Value v = eval(*e.args[0], scope);
      if (v.is_undefined()) fail_undefined(v, e.where);
      if (!v.is_number()) fail_at(e.where, fmt::format("bad operand type for unary {}: '{}'", e.name, v.type_name()));
      if (e.name == "+") return v.is_float() ? v : Value::integer(v.as_int());
      return v.is_float() ? Value::floating(-v.as_double()) : Value::integer(-v.as_int());
    }
    case ExprKind::kBinary:
      return eval_binary(e.name, eval(*e.args[0], scope), eval(*e.args[1], scope), e.where);
    case ExprKind::kCompare: {
      Value left = eval(*e.args[0], scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i + 1], scope);
        if (!eval_compare(e.ops[i], left, right, e.where)) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case ExprKind::kAnd: {
      Value left = eval(*e.args[0], scope);
      return left.truthy() ? eval(*e.args[1], scope) : left;
    }
    case ExprKind::kOr: {
      Value left = eval(*e.args[0], scope);
      return left.truthy() ? left : eval(*e.args[1], scope);
    }
    case ExprKind::kNot:
      return Value::boolean(!eval(*e.args[0], scope).truthy());
    case ExprKind::kCondExpr:
      if (eval(*e.args[0], scope).truthy()) return eval(*e.args[1], scope);
      return e.args[2] ? eval(*e.args[2], scope) : Value::undefined("the if-expression has no else branch");
  }
  return Value();
}

namespace {

[[noreturn]] void unsupported_operands(const std::string& op, const Value& a, const Value& b, Location where) {
  fail_at(where, fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name()));
}

// Applies a __builtin_*_overflow operation, failing on overflow.
template <typename Op>
int64_t checked(Op op, int64_t x, int64_t y, Location where) {
  int64_t result = 0;
  if (op(x, y, &result)) fail_at(where, "integer overflow (r1 integers are 64-bit)");
  return result;
}

bool add_overflow(int64_t x, int64_t y, int64_t* r) { return __builtin_add_overflow(x, y, r); }
bool sub_overflow(int64_t x, int64_t y, int64_t* r) { return __builtin_sub_overflow(x, y, r); }
bool mul_overflow(int64_t x, int64_t y, int64_t* r) { return __builtin_mul_overflow(x, y, r); }

}  // namespace

Value Interpreter::eval_binary(const std::string& op, const Value& a, const Value& b, Location where) const {
  if (op == "~") {
    std::string s = a.str();
    check_size(s.size() + b.str().size(), where);
    return Value::string(s + b.str());
  }
  if (a.is_undefined()) fail_undefined(a, where);
  if (b.is_undefined()) fail_undefined(b, where);
  bool ints = (a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool());
  if (a.is_number() && b.is_number()) {
    int64_t x = a.as_int(), y = b.as_int();
    double fx = a.as_double(), fy = b.as_double();
    if (op == "+") return ints ? Value::integer(checked(add_overflow, x, y, where)) : Value::floating(fx + fy);
    if (op == "-") return ints ? Value::integer(checked(sub_overflow, x, y, where)) : Value::floating(fx - fy);
    if (op == "*") return ints ? Value::integer(checked(mul_overflow, x, y, where)) : Value::floating(fx * fy);
    if (op == "/") {
      if (fy == 0.0) fail_at(where, "division by zero");
      return Value::floating(fx / fy);
    }
    if (op == "//" || op == "%") {
      if (fy == 0.0) fail_at(where, op == "//" ? "integer division or modulo by zero" : "modulo by zero");
      if (ints) {
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          --q;
          m += y;
        }
        return Value::integer(op == "//" ? q : m);
      }
      double q = std::floor(fx / fy);
      return Value::floating(op == "//" ? q : fx - q * fy);
    }
    if (op == "**") {
      if (ints && y >= 0) {
        int64_t result = 1, base = x;
        for (int64_t k = 0; k < y; ++k) result = checked(mul_overflow, result, base, where);
        return Value::integer(result);
      }
      if (fx == 0.0 && fy < 0) fail_at(where, "0.0 cannot be raised to a negative power");
      return Value::floating(std::pow(fx, fy));
    }
  }
  if (op == "+" && a.is_string() && b.is_string()) {
    check_size(a.as_string().size() + b.as_string().size(), where);
    return Value::string(a.as_string() + b.as_string());
  }
  if (op == "+" && a.is_list() && b.is_list()) {
    check_items(a.as_list().size() + b.as_list().size(), where);
    Value::List items = a.as_list();
    items.insert(items.end(), b.as_list().begin(), b.as_list().end());
    return Value::list(std::move(items));
  }
  if (op == "*" && (a.is_string() || a.is_list() || b.is_string() || b.is_list())) {
    const Value& seq = (a.is_string() || a.is_list()) ? a : b;
    const Value& count = (a.is_string() || a.is_list()) ? b : a;
    if (!count.is_int() && !count.is_bool()) unsupported_operands(op, a, b, where);
    int64_t times = std::max<int64_t>(0, count.as_int());
    if (seq.is_string()) {
      check_size(seq.as_string().empty()
                     ? 0
                     : seq.as_string().size() * size_t(std::min<int64_t>(times, int64_t(limits_.max_output_bytes) + 1)),
                 where);
      std::string out;
      for (int64_t k = 0; k < times; ++k) out += seq.as_string();
      return Value::string(std::move(out));
    }
    // (times capped first: the product of two huge numbers could wrap)
    check_items(seq.as_list().empty()
                    ? 0
                    : seq.as_list().size() * size_t(std::min<int64_t>(times, int64_t(limits_.max_list_items) + 1)),
                where);
    Value::List out;
    for (int64_t k = 0; k < times; ++k) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
    return Value::list(std::move(out));
  }
  if (op == "%" && a.is_string()) fail_at(where, "unsupported: printf-style '%' string formatting");
  unsupported_operands(op, a, b, where);
}

bool Interpreter::eval_compare(const std::string& op, const Value& a, const Value& b, Location where) const {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in") return contains(b, a, where);
  if (op == "not in") return !contains(b, a, where);
  if (a.is_undefined()) fail_undefined(a, where);
  if (b.is_undefined()) fail_undefined(b, where);
  std::optional<int> c = compare(a, b);
  if (!c)
    fail_at(where,
            fmt::format("'{}' not supported between instances of '{}' and '{}'", op, a.type_name(), b.type_name()));
  if (op == "<") return *c < 0;
  if (op == "<=") return *c <= 0;
  if (op == ">") return *c > 0;
  return *c >= 0;
}

}  // namespace r1::tokenizer::jinja
