// The runtime values of the chat-template interpreter, with Python's semantics as jinja2 sees them:
// undefined, None, bool, int, float, str (UTF-8, indexed by code point), list, dict (insertion-ordered,
// string keys), namespace and callables; truthiness, ==, ordering, str() / repr() and json.dumps output.
// Lists and dicts are shared by reference like Python objects. Not here: operators and filters (jinja-eval,
// jinja-filters), parsing (jinja-parser).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace r1::tokenizer::jinja {

// 1-based position in the template source, for error messages.
struct Location {
  int line = 0;
  int column = 0;
};

// Throws r1::Error "chat template <line>:<column>: <message>".
[[noreturn]] void fail_at(Location where, const std::string& message);

enum class ValueKind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kCallable };

class Value;
class Dict;
class Interpreter;

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  Location where;
};

using NativeFunction = std::function<Value(Interpreter&, CallArgs&)>;

struct Callable {
  std::string name;  // for error messages: "range", "macro 'render_tool'", "str.split"
  NativeFunction call;
};

class Value {
 public:
  using List = std::vector<Value>;

  Value() = default;  // undefined
  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value floating(double f);
  static Value string(std::string s);
  static Value list(List items = {});
  static Value tuple(List items);  // a list that prints as a Python tuple: ('a', 1)
  static Value dict();
  static Value dict(std::shared_ptr<Dict> d);
  static Value namespace_object();
  static Value callable(std::string name, NativeFunction fn);
  static Value from_json(const nlohmann::json& j);
  static Value from_json(const nlohmann::ordered_json& j);

  ValueKind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == ValueKind::kUndefined; }
  bool is_none() const { return kind_ == ValueKind::kNone; }
  bool is_bool() const { return kind_ == ValueKind::kBool; }
  bool is_int() const { return kind_ == ValueKind::kInt; }
  bool is_float() const { return kind_ == ValueKind::kFloat; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }  // Python: bool is an int
  bool is_string() const { return kind_ == ValueKind::kString; }
  bool is_list() const { return kind_ == ValueKind::kList; }  // tuples too
  bool is_tuple() const { return kind_ == ValueKind::kList && tuple_; }
  bool is_dict() const { return kind_ == ValueKind::kDict; }
  bool is_namespace() const { return kind_ == ValueKind::kNamespace; }
  bool is_callable() const { return kind_ == ValueKind::kCallable; }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return kind_ == ValueKind::kBool ? (bool_ ? 1 : 0) : int_; }
  double as_double() const { return kind_ == ValueKind::kFloat ? float_ : static_cast<double>(as_int()); }
  const std::string& as_string() const { return str_; }
  List& as_list() const { return *list_; }
  Dict& as_dict() const { return *dict_; }  // dict or namespace
  const std::shared_ptr<Dict>& dict_ptr() const { return dict_; }
  const Callable& as_callable() const { return *callable_; }
  // Why an undefined value is undefined ("'foo' is undefined"), for errors on use.
  const std::string& undefined_hint() const { return str_; }

  bool truthy() const;
  std::string type_name() const;  // Python's: 'str', 'int', 'list', 'dict', 'NoneType', 'Undefined', ...
  std::string str() const;        // Python str(); undefined is ""
  std::string repr() const;       // Python repr()

 private:
  ValueKind kind_ = ValueKind::kUndefined;
  bool bool_ = false;
  bool tuple_ = false;
  int64_t int_ = 0;
  double float_ = 0.0;
  std::string str_;  // the string, or an undefined value's hint
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Callable> callable_;
};

// An insertion-ordered str -> Value map (Python dict with string keys).
class Dict {
 public:
  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value value);
  size_t size() const { return entries_.size(); }
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Python ==: numbers across int/float/bool, deep list and dict equality, undefined == undefined.
bool equals(const Value& a, const Value& b);

// Python <, as -1 / 0 / 1 for numbers, strings (by code point) and lists; nullopt if not orderable.
std::optional<int> compare(const Value& a, const Value& b);

// Python float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16 ("1e-05", "1e+16").
std::string python_float_repr(double f);

struct JsonOptions {
  std::optional<int> indent;
  bool ensure_ascii = false;
  bool sort_keys = false;
  std::string item_separator = ", ";  // "," when indent is set, as json.dumps
  std::string key_separator = ": ";
};
// json.dumps(value, ...) as transformers' tojson override calls it; throws (with `where`) on undefined,
// callables and namespaces, which Python cannot serialize.
std::string to_json(const Value& value, const JsonOptions& options, Location where);

// UTF-8 helpers: Python strings are sequences of code points.
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
void utf8_append(std::string& out, char32_t c);
bool is_python_space(char32_t c);  // str.isspace()

}  // namespace r1::tokenizer::jinja
