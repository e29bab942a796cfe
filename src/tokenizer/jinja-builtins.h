// The built-in vocabulary of the chat-template interpreter: jinja2's filters and tests as transformers
// exposes them (its own tojson included), the methods Python gives str / dict / list values in the
// immutable sandbox, and the globals (range, dict, namespace, raise_exception, strftime_now).
// Not here: operators and statements (jinja-eval).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tokenizer/jinja-value.h"

namespace r1::tokenizer::jinja {

// Binds a call's arguments to parameter names as Python does (positional first, then by keyword);
// errors name the function and the call's location.
class ArgReader {
 public:
  ArgReader(const CallArgs& args, std::string function, std::vector<std::string> names);

  const Value* get(size_t i) const;  // nullptr if not passed
  Value get_or(size_t i, Value fallback) const;
  std::optional<std::string> string_or_none(size_t i) const;
  std::string string_or(size_t i, const std::string& fallback) const;
  int64_t int_or(size_t i, int64_t fallback) const;
  bool bool_or(size_t i, bool fallback) const;
  [[noreturn]] void fail(const std::string& message) const;

 private:
  const CallArgs& args_;
  std::string function_;
  std::vector<std::string> names_;
  std::vector<const Value*> bound_;
};

bool is_filter(const std::string& name);
bool is_test(const std::string& name);

// `input | name(args)`.
Value apply_filter(Interpreter& interp, const std::string& name, Value input, CallArgs& args);

// `value is name(args)`.
bool apply_test(Interpreter& interp, const std::string& name, const Value& value, CallArgs& args);

// value.name for str / dict / list values: a bound method, or undefined when there is none.
Value method(const Value& self, const std::string& name);

// The global names every render starts with.
void add_globals(Dict& globals);

}  // namespace r1::tokenizer::jinja
