// jinja2's built-in filters and tests as chat templates use them, with jinja2 3.1's argument names and
// defaults (do_join, do_default, do_dictsort, do_sort, do_unique, do_indent, do_round, do_map, select /
// reject / selectattr / rejectattr, ...) and transformers' tojson override (json.dumps with
// ensure_ascii=False, indent, separators, sort_keys). Attribute paths ("a.b", "items.0") resolve as
// jinja2's make_attrgetter. Not here: methods and globals (jinja-methods.cpp).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "tokenizer/jinja-builtins.h"
#include "tokenizer/jinja-eval.h"
#include "tokenizer/jinja-strings.h"

namespace r1::tokenizer::jinja {
namespace {

const std::set<std::string> kFilters = {
    "abs",   "attr",   "capitalize", "count",      "d",       "default", "dictsort", "e",     "escape",   "first",
    "float", "indent", "int",        "items",      "join",    "last",    "length",   "list",  "lower",    "map",
    "max",   "min",    "reject",     "rejectattr", "replace", "reverse", "round",    "safe",  "select",   "selectattr",
    "sort",  "string", "sum",        "title",      "tojson",  "trim",    "unique",   "upper", "wordcount"};

const std::set<std::string> kTests = {"boolean",     "callable", "defined",  "divisibleby", "eq",   "equalto",
                                      "escaped",     "even",     "false",    "float",       "ge",   "gt",
                                      "greaterthan", "in",       "integer",  "iterable",    "le",   "lessthan",
                                      "lower",       "lt",       "mapping",  "ne",          "none", "number",
                                      "odd",         "sameas",   "sequence", "string",      "true", "undefined",
                                      "upper",       "==",       "!=",       "<",           "<=",   ">",
                                      ">="};

int64_t length_of(const Value& v, Location where) {
  switch (v.kind()) {
    case ValueKind::kUndefined:
      return 0;
    case ValueKind::kString:
      return int64_t(utf8_decode(v.as_string()).size());
    case ValueKind::kList:
      return int64_t(v.as_list().size());
    case ValueKind::kDict:
      return int64_t(v.as_dict().size());
    default:
      fail_at(where, fmt::format("object of type '{}' has no len()", v.type_name()));
  }
}

// jinja2's make_attrgetter: "a.b.0" walks attributes/items; integer parts index.
Value attribute_path(const Value& item, const std::string& path, Location where) {
  Value v = item;
  for (const std::string& part : py_split(path, std::string("."), -1)) {
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    v = numeric ? get_item(v, Value::integer(std::stoll(part)), where) : get_item(v, Value::string(part), where);
    if (v.is_undefined()) return v;
  }
  return v;
}

// Sort key: attribute lookup and, unless case-sensitive, lower-cased strings (jinja2 ignore_case).
Value sort_key(const Value& item, const std::optional<std::string>& attribute, bool case_sensitive, Location where) {
  Value key = attribute ? attribute_path(item, *attribute, where) : item;
  if (!case_sensitive && key.is_string()) return Value::string(py_lower(key.as_string()));
  return key;
}

int ordering(const Value& a, const Value& b, Location where) {
  std::optional<int> c = compare(a, b);
  if (!c)
    fail_at(where, fmt::format("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name()));
  return *c;
}

// Python's round(x, digits): correctly rounded from the exact binary value, ties to even (as printf).
double round_half_even(double x, int64_t digits) {
  if (digits < 0) {
    double scale = std::pow(10.0, double(-digits));
    return std::nearbyint(x / scale) * scale;
  }
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", int(std::min<int64_t>(digits, 300)), x);
  return std::strtod(buf, nullptr);
}

Value to_int(const Value& v, const Value& fallback, int64_t base) {
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  if (v.is_float()) return std::isfinite(v.as_double()) ? Value::integer(int64_t(v.as_double())) : fallback;
  if (!v.is_string()) return fallback;
  std::string s = py_strip(v.as_string(), std::nullopt, StripSide::kBoth);
  std::string clean;
  for (char c : s)
    if (c != '_') clean += c;
  try {
    size_t used = 0;
    int64_t i = std::stoll(clean, &used, int(base));
    if (used == clean.size()) return Value::integer(i);
    double d = std::stod(clean, &used);
    if (used == clean.size() && std::isfinite(d)) return Value::integer(int64_t(d));
  } catch (const std::exception&) {
  }
  return fallback;
}

Value to_float(const Value& v, const Value& fallback) {
  if (v.is_number()) return Value::floating(v.as_double());
  if (!v.is_string()) return fallback;
  std::string s = py_strip(v.as_string(), std::nullopt, StripSide::kBoth);
  try {
    size_t used = 0;
    double d = std::stod(s, &used);
    if (used == s.size()) return Value::floating(d);
  } catch (const std::exception&) {
  }
  return fallback;
}

std::string indent(const std::string& text, const std::string& pad, bool first, bool blank) {
  std::vector<std::string> lines = py_splitlines(text + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\n";
    bool skip = (i == 0 && !first) || (!blank && lines[i].empty());
    out += skip ? lines[i] : pad + lines[i];
  }
  return out;
}

// select / reject / selectattr / rejectattr.
Value select_filter(Interpreter& interp, const std::string& name, const Value& input, CallArgs& args) {
  bool by_attribute = name == "selectattr" || name == "rejectattr";
  bool keep_matches = name == "select" || name == "selectattr";
  size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty() || !args.positional[0].is_string())
      fail_at(args.where, name + ": the first argument must be an attribute name");
    attribute = args.positional[next++].as_string();
  }
  std::string test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) fail_at(args.where, name + ": the test name must be a string");
    test = args.positional[next++].as_string();
    if (!is_test(test)) fail_at(args.where, fmt::format("{}: unknown test '{}'", name, test));
  }
  CallArgs test_args;
  test_args.where = args.where;
  test_args.positional.assign(args.positional.begin() + long(next), args.positional.end());
  test_args.keyword = args.keyword;
  Value::List out;
  for (const Value& item : iterate(input, args.where)) {
    Value subject = by_attribute ? attribute_path(item, attribute, args.where) : item;
    bool hit = test.empty() ? subject.truthy() : apply_test(interp, test, subject, test_args);
    if (hit == keep_matches) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value tojson_filter(const Value& input, CallArgs& args) {
  ArgReader a(args, "tojson", {"indent", "ensure_ascii", "separators", "sort_keys"});
  JsonOptions o;
  if (const Value* indent_arg = a.get(0); indent_arg && !indent_arg->is_none()) {
    if (!indent_arg->is_int()) a.fail("indent must be an integer");
    o.indent = int(indent_arg->as_int());
    o.item_separator = ",";
  }
  o.ensure_ascii = a.bool_or(1, false);
  if (const Value* sep = a.get(2); sep && !sep->is_none()) {
    if (!sep->is_list() || sep->as_list().size() != 2 || !sep->as_list()[0].is_string() ||
        !sep->as_list()[1].is_string())
      a.fail("separators must be a pair of strings");
    o.item_separator = sep->as_list()[0].as_string();
    o.key_separator = sep->as_list()[1].as_string();
  }
  o.sort_keys = a.bool_or(3, false);
  return Value::string(to_json(input, o, args.where));
}

}  // namespace

bool is_filter(const std::string& name) { return kFilters.count(name) > 0; }
bool is_test(const std::string& name) { return kTests.count(name) > 0; }

Value apply_filter(Interpreter& interp, const std::string& name, Value input, CallArgs& args) {
  const Location where = args.where;
  auto no_args = [&] { ArgReader(args, name, {}); };
  if (name == "safe") {
    no_args();
    return input;
  }
  if (name == "tojson") return tojson_filter(input, args);
  if (name == "default" || name == "d") {
    ArgReader a(args, name, {"default_value", "boolean"});
    bool use_default = input.is_undefined() || (a.bool_or(1, false) && !input.truthy());
    return use_default ? a.get_or(0, Value::string("")) : input;
  }
  if (name == "length" || name == "count") {
    no_args();
    return Value::integer(length_of(input, where));
  }
  if (name == "string") {
    no_args();
    return Value::string(input.str());
  }
  if (name == "e" || name == "escape") {
    no_args();
    return Value::string(html_escape(input.str()));
  }
  if (name == "trim") {
    ArgReader a(args, name, {"chars"});
    return Value::string(py_strip(input.str(), a.string_or_none(0), StripSide::kBoth));
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    no_args();
    std::string s = input.str();
    return Value::string(name == "upper"   ? py_upper(s)
                         : name == "lower" ? py_lower(s)
                         : name == "title" ? jinja_title(s)
                                           : py_capitalize(s));
  }
  if (name == "wordcount") {
    no_args();
    int64_t words = 0;
    bool in_word = false;
    for (char32_t c : utf8_decode(input.str())) {
      bool word = c == '_' || (c < 0x80 ? std::isalnum(int(c)) != 0 : !is_python_space(c));
      if (word && !in_word) ++words;
      in_word = word;
    }
    return Value::integer(words);
  }
  if (name == "replace") {
    ArgReader a(args, name, {"old", "new", "count"});
    if (!a.get(0) || !a.get(1)) a.fail("needs the old and new strings");
    std::string out = py_replace(input.str(), a.get(0)->str(), a.get(1)->str(), a.int_or(2, -1));
    interp.check_size(out.size(), where);
    return Value::string(std::move(out));
  }
  if (name == "indent") {
    ArgReader a(args, name, {"width", "first", "blank"});
    Value width = a.get_or(0, Value::integer(4));
    // The result's size checked before the padding is allocated (a width of 10^10 allocated first).
    const std::string& text = input.str();
    const size_t lines = size_t(std::count(text.begin(), text.end(), '\n')) + 1;
    const size_t pad_bytes =
        width.is_string() ? width.as_string().size() : size_t(std::clamp<int64_t>(width.as_int(), 0, int64_t(1) << 40));
    interp.check_size(text.size() + std::min(pad_bytes, size_t(1) << 40) * std::min(lines, size_t(1) << 20), where);
    std::string pad =
        width.is_string() ? width.as_string() : std::string(size_t(std::max<int64_t>(0, width.as_int())), ' ');
    return Value::string(indent(input.str(), pad, a.bool_or(1, false), a.bool_or(2, false)));
  }
  if (name == "int") {
    ArgReader a(args, name, {"default", "base"});
    return to_int(input, a.get_or(0, Value::integer(0)), a.int_or(1, 10));
  }
  if (name == "float") {
    ArgReader a(args, name, {"default"});
    return to_float(input, a.get_or(0, Value::floating(0.0)));
  }
  if (name == "abs") {
    no_args();
    if (input.is_float()) return Value::floating(std::fabs(input.as_double()));
    if (input.is_int() || input.is_bool()) return Value::integer(std::llabs(input.as_int()));
    fail_at(where, fmt::format("bad operand type for abs(): '{}'", input.type_name()));
  }
  if (name == "round") {
    ArgReader a(args, name, {"precision", "method"});
    int64_t precision = a.int_or(0, 0);
    std::string method = a.string_or(1, "common");
    if (!input.is_number()) fail_at(where, fmt::format("round: expected a number, not {}", input.type_name()));
    double x = input.as_double(), scale = std::pow(10.0, double(precision));
    if (method == "common") {
      if (!input.is_float() && precision >= 0) return Value::integer(input.as_int());
      return Value::floating(round_half_even(x, precision));
    }
    if (method == "floor") return Value::floating(std::floor(x * scale) / scale);
    if (method == "ceil") return Value::floating(std::ceil(x * scale) / scale);
    a.fail("method must be 'common', 'ceil' or 'floor'");
  }
  if (name == "attr") {
    ArgReader a(args, name, {"name"});
    return get_attr(input, a.string_or(0, ""), where);
  }
  if (name == "items") {
    no_args();
    if (input.is_undefined()) return Value::list();
    if (!input.is_dict()) fail_at(where, fmt::format("items: expected a mapping, not {}", input.type_name()));
    Value::List out;
    for (const auto& [k, v] : input.as_dict().entries()) out.push_back(Value::tuple({Value::string(k), v}));
    return Value::list(std::move(out));
  }
  if (name == "dictsort") {
    ArgReader a(args, name, {"case_sensitive", "by", "reverse"});
    if (!input.is_dict()) fail_at(where, fmt::format("dictsort: expected a mapping, not {}", input.type_name()));
    bool case_sensitive = a.bool_or(0, false), reverse = a.bool_or(2, false);
    std::string by = a.string_or(1, "key");
    if (by != "key" && by != "value") a.fail("by must be 'key' or 'value'");
    Value::List pairs;
    for (const auto& [k, v] : input.as_dict().entries()) pairs.push_back(Value::tuple({Value::string(k), v}));
    size_t idx = by == "key" ? 0 : 1;
    std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
      int c = ordering(sort_key(x.as_list()[idx], std::nullopt, case_sensitive, where),
                       sort_key(y.as_list()[idx], std::nullopt, case_sensitive, where), where);
      return reverse ? c > 0 : c < 0;
    });
    return Value::list(std::move(pairs));
  }
  if (name == "join") {
    ArgReader a(args, name, {"d", "attribute"});
    std::string sep = a.get_or(0, Value::string("")).str();
    auto attribute = a.string_or_none(1);
    std::string out;
    bool first = true;
    for (const Value& item : iterate(input, where)) {
      out += (first ? "" : sep) + (attribute ? attribute_path(item, *attribute, where) : item).str();
      first = false;
      interp.check_size(out.size(), where);
    }
    return Value::string(std::move(out));
  }
  if (name == "list") {
    no_args();
    return Value::list(iterate(input, where));
  }
  if (name == "first" || name == "last") {
    no_args();
    Value::List items = iterate(input, where);
    if (items.empty()) return Value::undefined(fmt::format("'{}' of an empty sequence", name));
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    no_args();
    if (input.is_string()) {
      std::u32string cps = utf8_decode(input.as_string());
      std::reverse(cps.begin(), cps.end());
      return Value::string(utf8_encode(cps));
    }
    Value::List items = iterate(input, where);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "sort") {
    ArgReader a(args, name, {"reverse", "case_sensitive", "attribute"});
    bool reverse = a.bool_or(0, false), case_sensitive = a.bool_or(1, false);
    auto attribute = a.string_or_none(2);
    Value::List items = iterate(input, where);
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      int c =
          ordering(sort_key(x, attribute, case_sensitive, where), sort_key(y, attribute, case_sensitive, where), where);
      return reverse ? c > 0 : c < 0;
    });
    return Value::list(std::move(items));
  }
  if (name == "unique") {
    ArgReader a(args, name, {"case_sensitive", "attribute"});
    bool case_sensitive = a.bool_or(0, false);
    auto attribute = a.string_or_none(1);
    Value::List out, seen;
    for (const Value& item : iterate(input, where)) {
      Value key = sort_key(item, attribute, case_sensitive, where);
      if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) continue;
      seen.push_back(key);
      out.push_back(item);
    }
    return Value::list(std::move(out));
  }
  if (name == "min" || name == "max") {
    ArgReader a(args, name, {"case_sensitive", "attribute"});
    bool case_sensitive = a.bool_or(0, false);
    auto attribute = a.string_or_none(1);
    Value::List items = iterate(input, where);
    if (items.empty()) return Value::undefined(fmt::format("'{}' of an empty sequence", name));
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
      int c = ordering(sort_key(items[i], attribute, case_sensitive, where),
                       sort_key(items[best], attribute, case_sensitive, where), where);
      if (name == "min" ? c < 0 : c > 0) best = i;
    }
    return items[best];
  }
  if (name == "sum") {
    ArgReader a(args, name, {"attribute", "start"});
    auto attribute = a.string_or_none(0);
    Value total = a.get_or(1, Value::integer(0));
    for (const Value& item : iterate(input, where)) {
      Value v = attribute ? attribute_path(item, *attribute, where) : item;
      if (!v.is_number() || !total.is_number())
        fail_at(where, fmt::format("sum: unsupported operand type(s) '{}' and '{}'", total.type_name(), v.type_name()));
      total = (total.is_float() || v.is_float()) ? Value::floating(total.as_double() + v.as_double())
                                                 : Value::integer(total.as_int() + v.as_int());
    }
    return total;
  }
  if (name == "map") {
    Value::List out;
    bool by_attribute =
        std::any_of(args.keyword.begin(), args.keyword.end(), [](const auto& kw) { return kw.first == "attribute"; });
    if (by_attribute) {
      ArgReader a(args, name, {"attribute", "default"});
      std::string attribute = a.string_or(0, "");
      for (const Value& item : iterate(input, where)) {
        Value v = attribute_path(item, attribute, where);
        out.push_back(v.is_undefined() && a.get(1) ? *a.get(1) : v);
      }
      return Value::list(std::move(out));
    }
    if (args.positional.empty() || !args.positional[0].is_string())
      fail_at(where, "map: expected a filter name or attribute=");
    std::string filter = args.positional[0].as_string();
    if (!is_filter(filter) || filter == "map") fail_at(where, fmt::format("map: unknown filter '{}'", filter));
    for (const Value& item : iterate(input, where)) {
      CallArgs filter_args;
      filter_args.where = where;
      filter_args.positional.assign(args.positional.begin() + 1, args.positional.end());
      filter_args.keyword = args.keyword;
      out.push_back(apply_filter(interp, filter, item, filter_args));
    }
    return Value::list(std::move(out));
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr")
    return select_filter(interp, name, input, args);
  fail_at(where, fmt::format("unknown filter '{}'", name));
}

bool apply_test(Interpreter& interp, const std::string& name, const Value& value, CallArgs& args) {
  auto arg = [&]() -> const Value& {
    if (args.positional.size() != 1 || !args.keyword.empty())
      fail_at(args.where, fmt::format("test '{}' takes exactly one argument", name));
    return args.positional[0];
  };
  auto no_args = [&] {
    if (!args.positional.empty() || !args.keyword.empty())
      fail_at(args.where, fmt::format("test '{}' takes no arguments", name));
  };
  if (name == "defined" || name == "undefined") {
    no_args();
    return value.is_undefined() == (name == "undefined");
  }
  if (name == "none") return no_args(), value.is_none();
  if (name == "boolean") return no_args(), value.is_bool();
  if (name == "true") return no_args(), value.is_bool() && value.as_bool();
  if (name == "false") return no_args(), value.is_bool() && !value.as_bool();
  if (name == "integer") return no_args(), value.is_int();
  if (name == "float") return no_args(), value.is_float();
  if (name == "number") return no_args(), value.is_number();
  if (name == "string") return no_args(), value.is_string();
  if (name == "mapping") return no_args(), value.is_dict();
  if (name == "callable") return no_args(), value.is_callable();
  if (name == "iterable")
    return no_args(), value.is_list() || value.is_dict() || value.is_string() || value.is_undefined();
  if (name == "sequence")
    return no_args(), value.is_list() || value.is_dict() || value.is_string() || value.is_undefined();
  if (name == "escaped") return no_args(), false;
  if (name == "lower" || name == "upper") {
    no_args();
    if (!value.is_string()) return false;
    return value.as_string() == (name == "lower" ? py_lower(value.as_string()) : py_upper(value.as_string()));
  }
  if (name == "odd" || name == "even") {
    no_args();
    if (!value.is_int() && !value.is_bool())
      fail_at(args.where, fmt::format("test '{}' needs an integer, not {}", name, value.type_name()));
    return (value.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const Value& n = arg();
    if (!value.is_number() || !n.is_number() || n.as_double() == 0.0)
      fail_at(args.where, "test 'divisibleby' needs numbers and a non-zero divisor");
    if (!value.is_float() && !n.is_float()) return value.as_int() % n.as_int() == 0;
    return std::fmod(value.as_double(), n.as_double()) == 0.0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return equals(value, arg());
  if (name == "ne" || name == "!=") return !equals(value, arg());
  if (name == "in") return contains(arg(), value, args.where);
  if (name == "sameas") {
    const Value& other = arg();
    if (value.kind() != other.kind()) return false;
    if (value.is_list()) return &value.as_list() == &other.as_list();
    if (value.is_dict() || value.is_namespace()) return value.dict_ptr() == other.dict_ptr();
    return equals(value, other);
  }
  if (name == "lt" || name == "lessthan" || name == "<" || name == "le" || name == "<=" || name == "gt" ||
      name == "greaterthan" || name == ">" || name == "ge" || name == ">=") {
    const Value& other = arg();
    int c = ordering(value, other, args.where);
    if (name == "lt" || name == "lessthan" || name == "<") return c < 0;
    if (name == "le" || name == "<=") return c <= 0;
    if (name == "gt" || name == "greaterthan" || name == ">") return c > 0;
    return c >= 0;
  }
  fail_at(args.where, fmt::format("unknown test '{}'", name));
}

}  // namespace r1::tokenizer::jinja
