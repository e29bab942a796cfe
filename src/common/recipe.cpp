// Recipe: YAML (yaml-cpp) -> JSON values with per-key origins, command-line overrides, typed reads with
// errors naming key and origin, unknown-key rejection with a closest-match suggestion, and JSON -> YAML.
// Scalars follow the YAML 1.2 core schema: true/false -> bool, ~/null -> null, integers, floats (1e-4, .5,
// inf); a quoted scalar is always a string. yes/no/on/off are strings (so `save_strategy: no` means "no"),
// and a boolean key also accepts them.
#include "r1/recipe.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "r1/error.h"
#include "r1/io.h"

namespace r1 {
namespace {

nlohmann::json scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: a string, whatever it looks like
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (lower == "true") return true;  // YAML 1.2: yes/no/on/off stay strings (save_strategy: no)
  if (lower == "false") return false;
  if (lower.empty() || lower == "~" || lower == "null") return nullptr;
  if (lower == ".inf" || lower == "inf") return std::numeric_limits<double>::infinity();
  try {
    size_t used = 0;
    long long i = std::stoll(text, &used, 10);
    if (used == text.size()) return int64_t(i);
  } catch (const std::exception&) {
  }
  try {
    size_t used = 0;
    double d = std::stod(text, &used);
    if (used == text.size() && std::isfinite(d)) return d;
  } catch (const std::exception&) {
  }
  return text;
}

// yaml-cpp keeps an alias as a second reference to its anchor's node, so a document can describe a cycle
// (`a: &x [*x]`) or an exponential expansion ("billion laughs") in a few bytes: the conversion walks with a
// depth limit and a budget of values, and refuses past either, naming the file and key.
constexpr int kMaxYamlDepth = 64;
constexpr size_t kMaxYamlValues = 100000;

nlohmann::json to_json(const YAML::Node& node, const std::string& where, int depth, size_t& values) {
  if (depth > kMaxYamlDepth)
    fail_usage("{}: nested deeper than {} levels (a recursive YAML alias?)", where, kMaxYamlDepth);
  if (++values > kMaxYamlValues)
    fail_usage("{}: more than {} values (YAML aliases expanding without bound?)", where, kMaxYamlValues);
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(to_json(item, where, depth + 1, values));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& item : node) {
        if (!item.first.IsScalar()) fail_usage("{}: a mapping key must be a plain value", where);
        out[item.first.as<std::string>()] = to_json(item.second, where, depth + 1, values);
      }
      return out;
    }
  }
  return nullptr;
}

nlohmann::json to_json(const YAML::Node& node, const std::string& where) {
  size_t values = 0;
  return to_json(node, where, 0, values);
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string type_name(const nlohmann::json& v) {
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "a list";
  if (v.is_object()) return "a mapping";
  return "null";
}

}  // namespace

Recipe Recipe::parse(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail_usage("{}:{}:{}: invalid YAML: {}", source, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  Recipe recipe;
  if (root.IsNull()) return recipe;
  if (!root.IsMap()) fail_usage("{}: a recipe must be a mapping of keys to values", source);
  for (const auto& item : root) {
    if (!item.first.IsScalar())
      fail_usage("{}:{}: a recipe key must be a plain name", source, item.first.Mark().line + 1);
    std::string key = item.first.as<std::string>();
    if (recipe.values_.contains(key))
      fail_usage("{}:{}: key '{}' appears twice", source, item.first.Mark().line + 1, key);
    const std::string where = fmt::format("{}:{}: '{}'", source, item.first.Mark().line + 1, key);
    recipe.set(key, to_json(item.second, where), fmt::format("{}:{}", source, item.first.Mark().line + 1));
  }
  return recipe;
}

Recipe Recipe::load(const std::filesystem::path& yaml_file) {
  if (!std::filesystem::is_regular_file(yaml_file)) fail_usage("recipe '{}' does not exist", yaml_file.string());
  return parse(read_file(yaml_file), yaml_file.string());
}

void Recipe::set(const std::string& key, const nlohmann::json& value, const std::string& origin) {
  values_[key] = value;
  origins_[key] = origin;
}

void Recipe::apply_overrides(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg.size() < 3)
      fail_usage("unexpected argument '{}' (recipe overrides are --key value)", arg);
    std::string key = arg.substr(2), value_text;
    bool has_value = false;
    if (size_t eq = key.find('='); eq != std::string::npos) {
      value_text = key.substr(eq + 1);
      key = key.substr(0, eq);
      has_value = true;
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      value_text = args[++i];
      has_value = true;
    }
    std::replace(key.begin(), key.end(), '-', '_');
    nlohmann::json value = true;
    if (has_value) {
      try {
        value = to_json(YAML::Load(value_text), "--" + key);
      } catch (const YAML::Exception&) {
        value = value_text;
      }
      if (value.is_null() && !value_text.empty()) value = value_text;
    }
    set(key, value, "command line");
  }
}

const nlohmann::json* Recipe::find(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &*it;
}

const nlohmann::json& Recipe::use(const std::string& key) const {
  const nlohmann::json* v = find(key);
  if (v == nullptr) fail_usage("{} is required", key);
  used_.insert(key);
  return *v;
}

std::string Recipe::origin(const std::string& key) const {
  auto it = origins_.find(key);
  return it == origins_.end() ? "default" : it->second;
}

namespace {
[[noreturn]] void wrong_type(const Recipe& r, const std::string& key, const char* expected, const nlohmann::json& v) {
  fail_usage("{} ({}): expected {}, found {} {}", key, r.origin(key), expected, type_name(v), v.dump());
}
}  // namespace

void Recipe::read(const std::string& key, std::string& out) const {
  const nlohmann::json& v = use(key);
  if (v.is_string())
    out = v.get<std::string>();
  else if (v.is_number() || v.is_boolean())
    out = v.dump();
  else
    wrong_type(*this, key, "a string", v);
}

void Recipe::read(const std::string& key, double& out) const {
  const nlohmann::json& v = use(key);
  if (!v.is_number()) wrong_type(*this, key, "a number", v);
  out = v.get<double>();
}

void Recipe::read(const std::string& key, int64_t& out) const {
  const nlohmann::json& v = use(key);
  // A number past int64 (99999999999999999999 is read as a double) would wrap: refused, not converted.
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    wrong_type(*this, key, "an integer in the 64-bit range", v);
  if (v.is_number_integer())
    out = v.get<int64_t>();
  else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() && v.get<double>() >= -0x1p63 &&
           v.get<double>() < 0x1p63)
    out = int64_t(v.get<double>());
  else
    wrong_type(*this, key,
               v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() ? "an integer in the 64-bit range"
                                                                                     : "an integer",
               v);
}

void Recipe::read(const std::string& key, bool& out) const {
  const nlohmann::json& v = use(key);
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (s == "yes" || s == "on" || s == "true")
      out = true;
    else if (s == "no" || s == "off" || s == "false")
      out = false;
    else
      wrong_type(*this, key, "true or false", v);
    return;
  }
  if (!v.is_boolean()) wrong_type(*this, key, "true or false", v);
  out = v.get<bool>();
}

void Recipe::read(const std::string& key, std::vector<std::string>& out) const {
  const nlohmann::json& v = use(key);
  out.clear();
  if (v.is_string()) {  // "a,b" as on a command line
    std::string s = v.get<std::string>();
    for (size_t start = 0; start <= s.size();) {
      size_t comma = s.find(',', start);
      std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      item.erase(0, item.find_first_not_of(' '));
      item.erase(item.find_last_not_of(' ') + 1);
      if (!item.empty()) out.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return;
  }
  if (!v.is_array()) wrong_type(*this, key, "a list of strings", v);
  for (const auto& item : v) {
    if (!item.is_string()) wrong_type(*this, key, "a list of strings", v);
    out.push_back(item.get<std::string>());
  }
}

void Recipe::read(const std::string& key, std::vector<double>& out) const {
  const nlohmann::json& v = use(key);
  out.clear();
  if (v.is_number()) {
    out.push_back(v.get<double>());
    return;
  }
  if (!v.is_array()) wrong_type(*this, key, "a list of numbers", v);
  for (const auto& item : v) {
    if (!item.is_number()) wrong_type(*this, key, "a list of numbers", v);
    out.push_back(item.get<double>());
  }
}

void Recipe::read(const std::string& key, std::optional<int64_t>& out) const {
  const nlohmann::json& v = use(key);
  if (v.is_null()) {
    out.reset();
    return;
  }
  int64_t x = 0;
  read(key, x);
  out = x;
}

void Recipe::read(const std::string& key, std::optional<double>& out) const {
  const nlohmann::json& v = use(key);
  if (v.is_null()) {
    out.reset();
    return;
  }
  double x = 0;
  read(key, x);
  out = x;
}

void Recipe::read(const std::string& key, std::optional<std::string>& out) const {
  const nlohmann::json& v = use(key);
  if (v.is_null()) {
    out.reset();
    return;
  }
  std::string x;
  read(key, x);
  out = x;
}

void Recipe::read(const std::string& key, nlohmann::json& out) const { out = use(key); }

void Recipe::reject_unused(const std::vector<std::string>& known) const {
  for (const auto& [key, value] : values_.items()) {
    if (used_.count(key) || std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string best;
    size_t best_distance = 4;
    for (const std::string& k : known) {
      size_t d = edit_distance(key, k);
      if (d < best_distance) best_distance = d, best = k;
    }
    fail_usage("unknown key '{}' ({}){}", key, origin(key),
               best.empty() ? std::string(" (see --help)") : fmt::format("; did you mean '{}'?", best));
  }
}

namespace {
void emit(YAML::Emitter& out, const nlohmann::ordered_json& v) {
  if (v.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, item] : v.items()) {
      out << YAML::Key << k << YAML::Value;
      emit(out, item);
    }
    out << YAML::EndMap;
  } else if (v.is_array()) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const auto& item : v) emit(out, item);
    out << YAML::EndSeq;
  } else if (v.is_null()) {
    out << YAML::Null;
  } else if (v.is_boolean()) {
    out << v.get<bool>();
  } else if (v.is_number_integer()) {
    out << v.get<int64_t>();
  } else if (v.is_number()) {
    out << v.dump();
  } else {
    out << v.get<std::string>();
  }
}
}  // namespace

std::string to_yaml(const nlohmann::ordered_json& value) {
  YAML::Emitter out;
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace r1
