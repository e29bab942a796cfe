// Methods of str / dict / list values and the global functions of the chat-template interpreter, as
// Python and jinja2's ImmutableSandboxedEnvironment provide them: str.strip/split/startswith/replace/
// format/..., dict.items/keys/values/get, list.index/count; mutating methods (list.append, dict.update,
// ...) fail as the immutable sandbox makes them; globals range, dict, namespace, raise_exception and
// transformers' strftime_now (local time).
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "tokenizer/jinja-builtins.h"
#include "tokenizer/jinja-eval.h"
#include "tokenizer/jinja-strings.h"

namespace r1::tokenizer::jinja {

ArgReader::ArgReader(const CallArgs& args, std::string function, std::vector<std::string> names)
    : args_(args), function_(std::move(function)), names_(std::move(names)), bound_(names_.size(), nullptr) {
  if (args.positional.size() > names_.size())
    fail(fmt::format("takes at most {} argument(s), {} given", names_.size(), args.positional.size()));
  for (size_t i = 0; i < args.positional.size(); ++i) bound_[i] = &args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    auto it = std::find(names_.begin(), names_.end(), key);
    if (it == names_.end()) fail(fmt::format("unexpected keyword argument '{}'", key));
    auto idx = size_t(it - names_.begin());
    if (bound_[idx] != nullptr) fail(fmt::format("got multiple values for argument '{}'", key));
    bound_[idx] = &value;
  }
}

void ArgReader::fail(const std::string& message) const { fail_at(args_.where, function_ + ": " + message); }

const Value* ArgReader::get(size_t i) const { return i < bound_.size() ? bound_[i] : nullptr; }

Value ArgReader::get_or(size_t i, Value fallback) const {
  const Value* v = get(i);
  return v ? *v : std::move(fallback);
}

std::optional<std::string> ArgReader::string_or_none(size_t i) const {
  const Value* v = get(i);
  if (v == nullptr || v->is_none()) return std::nullopt;
  if (!v->is_string()) fail(fmt::format("'{}' must be a string, not {}", names_[i], v->type_name()));
  return v->as_string();
}

std::string ArgReader::string_or(size_t i, const std::string& fallback) const {
  return string_or_none(i).value_or(fallback);
}

int64_t ArgReader::int_or(size_t i, int64_t fallback) const {
  const Value* v = get(i);
  if (v == nullptr || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool()) fail(fmt::format("'{}' must be an integer, not {}", names_[i], v->type_name()));
  return v->as_int();
}

bool ArgReader::bool_or(size_t i, bool fallback) const {
  const Value* v = get(i);
  return v ? v->truthy() : fallback;
}

namespace {

Value strings(const std::vector<std::string>& parts) {
  Value::List items;
  for (const auto& p : parts) items.push_back(Value::string(p));
  return Value::list(std::move(items));
}

// str.format with "{}", "{0}" and "{name}" fields (no format specs or conversions).
std::string py_format(const std::string& fmt_str, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt_str.size(); ++i) {
    char c = fmt_str[i];
    if ((c == '{' || c == '}') && i + 1 < fmt_str.size() && fmt_str[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}') fail_at(args.where, "str.format: single '}' encountered in format string");
    if (c != '{') {
      out += c;
      continue;
    }
    size_t close = fmt_str.find('}', i);
    if (close == std::string::npos) fail_at(args.where, "str.format: single '{' encountered in format string");
    std::string field = fmt_str.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos)
      fail_at(args.where, fmt::format("str.format: unsupported field '{{{}}}' (only {{}}, {{0}}, {{name}})", field));
    const Value* v = nullptr;
    if (field.empty() || (field.size() < 9 && std::all_of(field.begin(), field.end(), ::isdigit))) {
      size_t idx = field.empty() ? auto_index++ : std::stoul(field);
      if (idx < args.positional.size()) v = &args.positional[idx];
    } else {
      for (const auto& [k, val] : args.keyword)
        if (k == field) v = &val;
    }
    if (v == nullptr) fail_at(args.where, fmt::format("str.format: no argument for '{{{}}}'", field));
    out += v->str();
    i = close;
  }
  return out;
}

Value string_method(const std::string& self, const std::string& name) {
  auto make = [&](auto fn) {
    return Value::callable("str." + name, [self, name, fn](Interpreter& interp, CallArgs& args) {
      return fn(interp, args, self, "str." + name);
    });
  };
  if (name == "strip" || name == "lstrip" || name == "rstrip")
    return make([](Interpreter&, CallArgs& args, const std::string& s, const std::string& fn) {
      ArgReader a(args, fn, {"chars"});
      StripSide side = fn == "str.strip" ? StripSide::kBoth : fn == "str.lstrip" ? StripSide::kLeft : StripSide::kRight;
      return Value::string(py_strip(s, a.string_or_none(0), side));
    });
  if (name == "split" || name == "rsplit")
    return make([](Interpreter&, CallArgs& args, const std::string& s, const std::string& fn) {
      ArgReader a(args, fn, {"sep", "maxsplit"});
      auto sep = a.string_or_none(0);
      if (sep && sep->empty()) a.fail("empty separator");
      int64_t maxsplit = a.int_or(1, -1);
      return strings(fn == "str.split" ? py_split(s, sep, maxsplit) : py_rsplit(s, sep, maxsplit));
    });
  if (name == "splitlines")
    return make([](Interpreter&, CallArgs& args, const std::string& s, const std::string& fn) {
      ArgReader a(args, fn, {});
      return strings(py_splitlines(s));
    });
  if (name == "startswith" || name == "endswith")
    return make([](Interpreter&, CallArgs& args, const std::string& s, const std::string& fn) {
      ArgReader a(args, fn, {"prefix"});
      const Value* p = a.get(0);
      if (p == nullptr) a.fail("missing argument");
      Value::List options = p->is_list() ? p->as_list() : Value::List{*p};
      for (const Value& o : options) {
        if (!o.is_string()) a.fail(fmt::format("arguments must be str or a tuple of str, not {}", o.type_name()));
        const std::string& x = o.as_string();
        bool hit = fn == "str.startswith" ? s.compare(0, x.size(), x) == 0
                                          : (s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0);
        if (hit) return Value::boolean(true);
      }
      return Value::boolean(false);
    });
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize")
    return make([](Interpreter&, CallArgs& args, const std::string& s, const std::string& fn) {
      ArgReader a(args, fn, {});
      return Value::string(fn == "str.upper"   ? py_upper(s)
                           : fn == "str.lower" ? py_lower(s)
                           : fn == "str.title" ? py_title(s)
                                               : py_capitalize(s));
    });
  if (name == "replace")
    return make([](Interpreter& interp, CallArgs& args, const std::string& s, const std::string& fn) {
      ArgReader a(args, fn, {"old", "new", "count"});
      if (!a.get(0) || !a.get(1)) a.fail("needs the old and new strings");
      std::string out = py_replace(s, a.string_or(0, ""), a.string_or(1, ""), a.int_or(2, -1));
      interp.check_size(out.size(), args.where);
      return Value::string(std::move(out));
    });
  if (name == "find" || name == "rfind" || name == "count")
    return make([](Interpreter&, CallArgs& args, const std::string& s, const std::string& fn) {
      ArgReader a(args, fn, {"sub"});
      if (!a.get(0)) a.fail("missing argument");
      std::string sub = a.string_or(0, "");
      if (fn == "str.count") {
        if (sub.empty()) return Value::integer(int64_t(utf8_decode(s).size()) + 1);
        int64_t n = 0;
        for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
        return Value::integer(n);
      }
      size_t at = fn == "str.find" ? s.find(sub) : s.rfind(sub);
      return Value::integer(at == std::string::npos ? -1 : int64_t(utf8_decode(s.substr(0, at)).size()));
    });
  if (name == "join")
    return make([](Interpreter& interp, CallArgs& args, const std::string& s, const std::string& fn) {
      ArgReader a(args, fn, {"iterable"});
      if (!a.get(0)) a.fail("missing argument");
      std::string out;
      bool first = true;
      for (const Value& v : iterate(*a.get(0), args.where)) {
        if (!v.is_string()) a.fail(fmt::format("sequence item: expected str instance, {} found", v.type_name()));
        out += (first ? "" : s) + v.as_string();
        first = false;
        interp.check_size(out.size(), args.where);
      }
      return Value::string(std::move(out));
    });
  if (name == "format")
    return make([](Interpreter& interp, CallArgs& args, const std::string& s, const std::string&) {
      std::string out = py_format(s, args);
      interp.check_size(out.size(), args.where);
      return Value::string(std::move(out));
    });
  if (name == "removeprefix" || name == "removesuffix")
    return make([](Interpreter&, CallArgs& args, const std::string& s, const std::string& fn) {
      ArgReader a(args, fn, {"affix"});
      std::string x = a.string_or(0, "");
      if (fn == "str.removeprefix") return Value::string(s.compare(0, x.size(), x) == 0 ? s.substr(x.size()) : s);
      bool ends = s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
      return Value::string(ends ? s.substr(0, s.size() - x.size()) : s);
    });
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "islower" ||
      name == "isupper")
    return make([](Interpreter&, CallArgs& args, const std::string& s, const std::string& fn) {
      ArgReader a(args, fn, {});
      std::u32string cps = utf8_decode(s);
      if (fn == "str.islower" || fn == "str.isupper") {
        bool upper = fn == "str.isupper";
        std::string mapped = upper ? py_upper(s) : py_lower(s);
        bool has_cased = py_upper(s) != py_lower(s);
        return Value::boolean(has_cased && mapped == s);
      }
      auto ok = [&](char32_t c) {
        bool digit = c >= '0' && c <= '9';
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0x80 && !is_python_space(c));
        if (fn == "str.isdigit") return digit;
        if (fn == "str.isalpha") return alpha;
        if (fn == "str.isalnum") return digit || alpha;
        return is_python_space(c);
      };
      return Value::boolean(!cps.empty() && std::all_of(cps.begin(), cps.end(), ok));
    });
  return Value::undefined(fmt::format("'str' object has no attribute '{}'", name));
}

Value immutable_sandbox_refusal(const std::string& type, const std::string& name) {
  return Value::callable(type + "." + name, [type, name](Interpreter&, CallArgs& args) -> Value {
    fail_at(args.where, fmt::format("{}.{} is not allowed: transformers renders chat templates in an immutable "
                                    "sandbox (use namespace() to carry state)",
                                    type, name));
  });
}

}  // namespace

Value method(const Value& self, const std::string& name) {
  if (self.is_string()) return string_method(self.as_string(), name);
  if (self.is_dict()) {
    Value d = self;
    if (name == "items" || name == "keys" || name == "values")
      return Value::callable("dict." + name, [d, name](Interpreter&, CallArgs& args) {
        ArgReader a(args, "dict." + name, {});
        Value::List out;
        for (const auto& [k, v] : d.as_dict().entries()) {
          if (name == "items") {
            out.push_back(Value::tuple({Value::string(k), v}));
          } else {
            out.push_back(name == "keys" ? Value::string(k) : v);
          }
        }
        return Value::list(std::move(out));
      });
    if (name == "get")
      return Value::callable("dict.get", [d](Interpreter&, CallArgs& args) {
        ArgReader a(args, "dict.get", {"key", "default"});
        if (!a.get(0)) a.fail("missing key");
        const Value* v = a.get(0)->is_string() ? d.as_dict().find(a.get(0)->as_string()) : nullptr;
        return v ? *v : a.get_or(1, Value::none());
      });
    if (name == "update" || name == "pop" || name == "popitem" || name == "setdefault" || name == "clear")
      return immutable_sandbox_refusal("dict", name);
  }
  if (self.is_list()) {
    Value l = self;
    if (name == "index" || name == "count")
      return Value::callable("list." + name, [l, name](Interpreter&, CallArgs& args) {
        ArgReader a(args, "list." + name, {"value"});
        if (!a.get(0)) a.fail("missing argument");
        const auto& items = l.as_list();
        if (name == "count")
          return Value::integer(
              std::count_if(items.begin(), items.end(), [&](const Value& x) { return equals(x, *a.get(0)); }));
        for (size_t i = 0; i < items.size(); ++i)
          if (equals(items[i], *a.get(0))) return Value::integer(int64_t(i));
        a.fail(a.get(0)->repr() + " is not in list");
      });
    if (name == "append" || name == "extend" || name == "insert" || name == "pop" || name == "remove" ||
        name == "clear" || name == "sort" || name == "reverse")
      return immutable_sandbox_refusal("list", name);
  }
  return Value::undefined(fmt::format("'{}' object has no attribute '{}'", self.type_name(), name));
}

void add_globals(Dict& globals) {
  globals.set("range", Value::callable("range", [](Interpreter&, CallArgs& args) {
                if (!args.keyword.empty()) fail_at(args.where, "range() takes no keyword arguments");
                std::vector<int64_t> p;
                for (const Value& v : args.positional) {
                  if (!v.is_int() && !v.is_bool())
                    fail_at(args.where,
                            fmt::format("range(): '{}' object cannot be interpreted as an integer", v.type_name()));
                  p.push_back(v.as_int());
                }
                if (p.empty() || p.size() > 3) fail_at(args.where, "range() expects 1 to 3 arguments");
                int64_t start = p.size() == 1 ? 0 : p[0], stop = p.size() == 1 ? p[0] : p[1];
                int64_t step = p.size() == 3 ? p[2] : 1;
                if (step == 0) fail_at(args.where, "range() arg 3 must not be zero");
                constexpr int64_t kMaxRange = 100'000;  // jinja2's sandbox (transformers renders in one): MAX_RANGE
                Value::List items;
                for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
                  if (int64_t(items.size()) >= kMaxRange)
                    fail_at(args.where, fmt::format("range(): more than {} items", kMaxRange));
                  items.push_back(Value::integer(i));
                }
                return Value::list(std::move(items));
              }));
  globals.set("dict", Value::callable("dict", [](Interpreter&, CallArgs& args) {
                Value d = Value::dict();
                if (args.positional.size() > 1) fail_at(args.where, "dict() takes at most 1 positional argument");
                if (!args.positional.empty()) {
                  const Value& src = args.positional[0];
                  if (!src.is_dict()) fail_at(args.where, "dict(): the positional argument must be a dict");
                  for (const auto& [k, v] : src.as_dict().entries()) d.as_dict().set(k, v);
                }
                for (const auto& [k, v] : args.keyword) d.as_dict().set(k, v);
                return d;
              }));
  globals.set("namespace", Value::callable("namespace", [](Interpreter&, CallArgs& args) {
                Value ns = Value::namespace_object();
                if (args.positional.size() > 1) fail_at(args.where, "namespace() takes at most 1 positional argument");
                if (!args.positional.empty()) {
                  const Value& src = args.positional[0];
                  if (!src.is_dict()) fail_at(args.where, "namespace(): the positional argument must be a dict");
                  for (const auto& [k, v] : src.as_dict().entries()) ns.as_dict().set(k, v);
                }
                for (const auto& [k, v] : args.keyword) ns.as_dict().set(k, v);
                return ns;
              }));
  globals.set("raise_exception", Value::callable("raise_exception", [](Interpreter&, CallArgs& args) -> Value {
                std::string message = args.positional.empty() ? "" : args.positional[0].str();
                fail_at(args.where, "raise_exception: " + message);
              }));
  globals.set("strftime_now", Value::callable("strftime_now", [](Interpreter&, CallArgs& args) {
                ArgReader a(args, "strftime_now", {"format"});
                std::string format = a.string_or(0, "");
                std::time_t now = std::time(nullptr);
                std::tm local{};
                localtime_r(&now, &local);
                char buf[512];
                size_t n = format.empty() ? 0 : std::strftime(buf, sizeof buf, format.c_str(), &local);
                if (n == 0 && !format.empty()) a.fail("format produced nothing or more than 511 bytes");
                return Value::string(std::string(buf, n));
              }));
}

}  // namespace r1::tokenizer::jinja
