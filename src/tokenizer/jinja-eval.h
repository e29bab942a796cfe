// The chat-template interpreter: walks a parsed template (jinja-ast.h) with a JSON context, producing the
// rendered text and the byte spans of {% generation %} blocks. Also the value operations the built-in
// filters share with it (attribute / item access, iteration, undefined errors).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/jinja-ast.h"

namespace r1::tokenizer::jinja {

struct Limits {
  size_t max_output_bytes = 0;
  int max_call_depth = 0;
  long long max_loop_iterations = 0;
  size_t max_list_items = 0;
};

class Interpreter {
 public:
  Interpreter(const Template& tmpl, const Value& context, const Limits& limits);

  void render(std::string& out, std::vector<std::pair<size_t, size_t>>& generation_spans);

  // Calls a callable value (a global, a method or a macro); errors name args.where.
  Value call(const Value& callee, CallArgs& args);
  // Throws when a string being built would exceed the output limit.
  void check_size(size_t bytes, Location where) const;
  // Throws when a list being built would exceed the item limit (checked before it is allocated).
  void check_items(size_t items, Location where) const;

 private:
  struct Scope {
    std::unordered_map<std::string, Value> vars;
    Scope* parent = nullptr;
  };
  enum class Flow { kNormal, kBreak, kContinue };

  Scope* new_scope(Scope* parent);
  Value lookup(Scope* scope, const std::string& name) const;
  Flow exec_body(const Body& body, Scope* scope, std::string& out);
  Flow exec(const Stmt& s, Scope* scope, std::string& out);
  void exec_for(const Stmt& s, Scope* scope, std::string& out);
  void exec_set(const Stmt& s, Scope* scope);
  std::string capture(const Body& body, Scope* scope);
  Value call_macro(const Stmt& macro, Scope* defined_in, CallArgs& args);
  void append(std::string& out, const std::string& text, Location where) const;

  Value eval(const Expr& e, Scope* scope);
  Value eval_filter(const Expr& e, Scope* scope, const Value* operand);
  Value eval_binary(const std::string& op, const Value& a, const Value& b, Location where) const;
  bool eval_compare(const std::string& op, const Value& a, const Value& b, Location where) const;
  CallArgs eval_args(const Expr& e, size_t first, Scope* scope);

  const Template& template_;
  Limits limits_;
  std::vector<std::unique_ptr<Scope>> scopes_;
  Scope* globals_ = nullptr;
  int call_depth_ = 0;
  int capture_depth_ = 0;
  long long iterations_ = 0;
  std::vector<std::pair<size_t, size_t>>* spans_ = nullptr;
};

// Python/jinja2 value access shared with the filters.
[[noreturn]] void fail_undefined(const Value& v, Location where);
Value get_attr(const Value& obj, const std::string& name, Location where);
Value get_item(const Value& obj, const Value& key, Location where);
Value::List iterate(const Value& v, Location where);  // list items, dict keys, str code points
bool contains(const Value& container, const Value& item, Location where);

}  // namespace r1::tokenizer::jinja
