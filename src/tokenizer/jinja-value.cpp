// Runtime values of the chat-template interpreter (see jinja-value.h): construction from JSON, Python's
// truthiness, equality, ordering, str()/repr() (CPython 3 float repr and string quoting) and json.dumps
// output (ensure_ascii=False and ", " / ": " separators unless told otherwise, as transformers' tojson).
#include "tokenizer/jinja-value.h"

#include "tokenizer/unicode.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "r1/error.h"

namespace r1::tokenizer::jinja {

void fail_at(Location where, const std::string& message) {
  throw r1::Error(fmt::format("chat template {}:{}: {}", where.line, where.column, message));
}

Value Value::undefined(std::string hint) {
  Value v;
  v.str_ = std::move(hint);
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = ValueKind::kNone;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = ValueKind::kBool;
  v.bool_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = ValueKind::kInt;
  v.int_ = i;
  return v;
}

Value Value::floating(double f) {
  Value v;
  v.kind_ = ValueKind::kFloat;
  v.float_ = f;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = ValueKind::kString;
  v.str_ = std::move(s);
  return v;
}

Value Value::list(List items) {
  Value v;
  v.kind_ = ValueKind::kList;
  v.list_ = std::make_shared<List>(std::move(items));
  return v;
}

Value Value::tuple(List items) {
  Value v = list(std::move(items));
  v.tuple_ = true;
  return v;
}

Value Value::dict() { return dict(std::make_shared<Dict>()); }

Value Value::dict(std::shared_ptr<Dict> d) {
  Value v;
  v.kind_ = ValueKind::kDict;
  v.dict_ = std::move(d);
  return v;
}

Value Value::namespace_object() {
  Value v;
  v.kind_ = ValueKind::kNamespace;
  v.dict_ = std::make_shared<Dict>();
  return v;
}

Value Value::callable(std::string name, NativeFunction fn) {
  Value v;
  v.kind_ = ValueKind::kCallable;
  v.callable_ = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

namespace {

template <typename Json>
Value convert_json(const Json& j) {
  using nlohmann::detail::value_t;
  switch (j.type()) {
    case value_t::null:
      return Value::none();
    case value_t::boolean:
      return Value::boolean(j.template get<bool>());
    case value_t::number_integer:
      return Value::integer(j.template get<int64_t>());
    case value_t::number_unsigned: {
      auto u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Value::floating(double(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case value_t::number_float:
      return Value::floating(j.template get<double>());
    case value_t::string:
      return Value::string(j.template get<std::string>());
    case value_t::array: {
      Value::List items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(convert_json(item));
      return Value::list(std::move(items));
    }
    case value_t::object: {
      Value d = Value::dict();
      for (auto it = j.begin(); it != j.end(); ++it) d.as_dict().set(it.key(), convert_json(it.value()));
      return d;
    }
    default:
      throw r1::Error("chat template context: binary JSON values cannot be rendered");
  }
}

}  // namespace

Value Value::from_json(const nlohmann::json& j) { return convert_json(j); }
Value Value::from_json(const nlohmann::ordered_json& j) { return convert_json(j); }

bool Value::truthy() const {
  switch (kind_) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return false;
    case ValueKind::kBool:
      return bool_;
    case ValueKind::kInt:
      return int_ != 0;
    case ValueKind::kFloat:
      return float_ != 0.0;
    case ValueKind::kString:
      return !str_.empty();
    case ValueKind::kList:
      return !list_->empty();
    case ValueKind::kDict:
      return dict_->size() > 0;
    case ValueKind::kNamespace:
    case ValueKind::kCallable:
      return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind_) {
    case ValueKind::kUndefined:
      return "Undefined";
    case ValueKind::kNone:
      return "NoneType";
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kInt:
      return "int";
    case ValueKind::kFloat:
      return "float";
    case ValueKind::kString:
      return "str";
    case ValueKind::kList:
      return "list";
    case ValueKind::kDict:
      return "dict";
    case ValueKind::kNamespace:
      return "Namespace";
    case ValueKind::kCallable:
      return "function";
  }
  return "?";
}

std::string python_float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string sci(buf, end);  // "-1.2345e+17"
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  if (exponent < -4 || exponent >= 16) {
    std::string out = sign + digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    return out + fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  }
  if (exponent < 0) return sign + "0." + std::string(size_t(-exponent - 1), '0') + digits;
  size_t int_len = size_t(exponent) + 1;
  if (digits.size() <= int_len) return sign + digits + std::string(int_len - digits.size(), '0') + ".0";
  return sign + digits.substr(0, int_len) + "." + digits.substr(int_len);
}

namespace {

std::string repr_string(const std::string& s) {
  char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : utf8_decode(s)) {
    if (c == '\\' || c == char32_t(quote)) {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
      out += fmt::format("\\x{:02x}", uint32_t(c));
    } else {
      utf8_append(out, c);
    }
  }
  out += quote;
  return out;
}

}  // namespace

std::string Value::str() const {
  switch (kind_) {
    case ValueKind::kUndefined:
      return "";
    case ValueKind::kString:
      return str_;
    case ValueKind::kNamespace:
      return "<Namespace " + Value::dict(dict_).repr() + ">";
    default:
      return repr();
  }
}

std::string Value::repr() const {
  switch (kind_) {
    case ValueKind::kUndefined:
      return "Undefined";
    case ValueKind::kNone:
      return "None";
    case ValueKind::kBool:
      return bool_ ? "True" : "False";
    case ValueKind::kInt:
      return std::to_string(int_);
    case ValueKind::kFloat:
      return python_float_repr(float_);
    case ValueKind::kString:
      return repr_string(str_);
    case ValueKind::kList: {
      std::string out = tuple_ ? "(" : "[";
      for (size_t i = 0; i < list_->size(); ++i) out += (i ? ", " : "") + (*list_)[i].repr();
      if (tuple_) return out + (list_->size() == 1 ? ",)" : ")");
      return out + "]";
    }
    case ValueKind::kDict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : dict_->entries()) {
        out += (first ? "" : ", ") + repr_string(k) + ": " + v.repr();
        first = false;
      }
      return out + "}";
    }
    case ValueKind::kNamespace:
      return str();
    case ValueKind::kCallable:
      return "<" + callable_->name + ">";
  }
  return "";
}

const Value* Dict::find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Dict::set(const std::string& key, Value value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(key, std::move(value));
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return true;
    case ValueKind::kString:
      return a.as_string() == b.as_string();
    case ValueKind::kList: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equals(x[i], y[i])) return false;
      return true;
    }
    case ValueKind::kDict: {
      if (a.as_dict().size() != b.as_dict().size()) return false;
      for (const auto& [k, v] : a.as_dict().entries()) {
        const Value* other = b.as_dict().find(k);
        if (other == nullptr || !equals(v, *other)) return false;
      }
      return true;
    }
    case ValueKind::kNamespace:
      return a.dict_ptr() == b.dict_ptr();
    case ValueKind::kCallable:
      return &a.as_callable() == &b.as_callable();
    default:
      return false;
  }
}

std::optional<int> compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
    double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list()) {
    const auto& x = a.as_list();
    const auto& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return compare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  return std::nullopt;
}

namespace {

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (char32_t c : utf8_decode(s)) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", uint32_t(c));
        } else if (ensure_ascii && c > 0x7e) {
          if (c > 0xffff) {
            char32_t v = c - 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", uint32_t(0xd800 + (v >> 10)), uint32_t(0xdc00 + (v & 0x3ff)));
          } else {
            out += fmt::format("\\u{:04x}", uint32_t(c));
          }
        } else {
          utf8_append(out, c);
        }
    }
  }
  out += '"';
}

void json_write(std::string& out, const Value& v, const JsonOptions& o, int depth, Location where) {
  auto newline = [&](int level) {
    out += '\n';
    out.append(size_t(*o.indent) * size_t(level), ' ');
  };
  switch (v.kind()) {
    case ValueKind::kNone:
      out += "null";
      return;
    case ValueKind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case ValueKind::kInt:
      out += std::to_string(v.as_int());
      return;
    case ValueKind::kFloat: {
      double f = v.as_double();
      out += std::isnan(f) ? "NaN" : std::isinf(f) ? (f < 0 ? "-Infinity" : "Infinity") : python_float_repr(f);
      return;
    }
    case ValueKind::kString:
      json_string(out, v.as_string(), o.ensure_ascii);
      return;
    case ValueKind::kList: {
      const auto& items = v.as_list();
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += o.item_separator;
        if (o.indent) newline(depth + 1);
        json_write(out, items[i], o, depth + 1, where);
      }
      if (o.indent && !items.empty()) newline(depth);
      out += ']';
      return;
    }
    case ValueKind::kDict: {
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : v.as_dict().entries()) entries.push_back(&e);
      if (o.sort_keys)
        std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += o.item_separator;
        if (o.indent) newline(depth + 1);
        json_string(out, entries[i]->first, o.ensure_ascii);
        out += o.key_separator;
        json_write(out, entries[i]->second, o, depth + 1, where);
      }
      if (o.indent && !entries.empty()) newline(depth);
      out += '}';
      return;
    }
    default:
      fail_at(where, "tojson: object of type '" + v.type_name() + "' is not JSON serializable" +
                         (v.is_undefined() && !v.undefined_hint().empty() ? " (" + v.undefined_hint() + ")" : ""));
  }
}

}  // namespace

std::string to_json(const Value& value, const JsonOptions& options, Location where) {
  std::string out;
  json_write(out, value, options, 0, where);
  return out;
}

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t c = next_code_point(s, i);
    out += c == kInvalidCodePoint ? char32_t(0xfffd) : c;  // invalid byte: U+FFFD, as Python's errors="replace"
  }
  return out;
}

void utf8_append(std::string& out, char32_t c) { append_utf8(out, c); }

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) utf8_append(out, c);
  return out;
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

}  // namespace r1::tokenizer::jinja
