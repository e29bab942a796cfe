// Run recipes: a YAML mapping of option keys (open-r1 / TRL / transformers names) with `--key value`
// command-line overrides on top, bound to C++ option structs through a visitor, so the same field list
// reads a recipe, applies overrides, rejects unknown keys (with a suggestion) and dumps the effective config.
// Values are kept as JSON internally (YAML scalars typed as YAML 1.2 core: true/false, null, ints, floats;
// quoted scalars stay strings). Not here: what the keys mean (the option structs own that).
//
// Usage:
//   r1::Recipe recipe = r1::Recipe::load("recipes/sft.yaml");  // r1::Error naming file:line on bad YAML
//   recipe.apply_overrides({"--learning_rate", "1e-5"});       // the command line on top
//   r1::RecipeReader reader{recipe};
//   double learning_rate = 5e-5;
//   reader("learning_rate", learning_rate, "peak learning rate");  // what an option struct's visit() does per field
//   recipe.reject_unused(reader.keys);  // UsageError: unknown key ...; did you mean ...?
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace r1 {

// ---- Reading a recipe and its overrides -----------------------------------------------------------------------------

class Recipe {
 public:
  Recipe() = default;
  static Recipe load(const std::filesystem::path& yaml_file);  // r1::Error naming file:line on bad YAML
  static Recipe parse(const std::string& yaml_text, const std::string& source);

  // "--key value", "--key=value" (dashes in keys read as underscores); a value is parsed as a YAML scalar or
  // flow collection ("[a, b]"). A "--flag" followed by another option or nothing means true.
  void apply_overrides(const std::vector<std::string>& args);
  void set(const std::string& key, const nlohmann::json& value, const std::string& origin);

  const nlohmann::json* find(const std::string& key) const;  // nullptr if absent; does not mark it used
  std::string origin(const std::string& key) const;          // "recipe.yaml:12" or "command line"
  const nlohmann::json& values() const { return values_; }

  // Typed reads used by the option visitors; each marks the key used. Errors name the key and its origin.
  void read(const std::string& key, std::string& out) const;
  void read(const std::string& key, double& out) const;
  void read(const std::string& key, int64_t& out) const;
  void read(const std::string& key, bool& out) const;
  void read(const std::string& key, std::vector<std::string>& out) const;
  void read(const std::string& key, std::vector<double>& out) const;
  void read(const std::string& key, std::optional<int64_t>& out) const;
  void read(const std::string& key, std::optional<double>& out) const;
  void read(const std::string& key, std::optional<std::string>& out) const;
  void read(const std::string& key, nlohmann::json& out) const;

  // UsageError for every key no visitor read ("unknown key 'lerning_rate' (recipe.yaml:3); did you mean
  // 'learning_rate'?"); `known` lists the accepted keys.
  void reject_unused(const std::vector<std::string>& known) const;

 private:
  const nlohmann::json& use(const std::string& key) const;  // marks the key read; UsageError if absent
  nlohmann::json values_ = nlohmann::json::object();
  std::map<std::string, std::string> origins_;
  mutable std::set<std::string> used_;
};

// ---- Binding option structs, and writing them back (--dump-config) --------------------------------------------------
// Binds option structs: `visit(visitor)` calls visitor(key, field, help) for each field. These visitors read a
// recipe into the fields, and write the fields back as JSON (for --dump-config and saved run configs).
struct RecipeReader {
  const Recipe& recipe;
  std::vector<std::string> keys;
  template <class T>
  void operator()(const std::string& key, T& field, const char* /*help*/) {
    keys.push_back(key);
    if (recipe.find(key) != nullptr) recipe.read(key, field);
  }
};
struct RecipeWriter {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  template <class T>
  void operator()(const std::string& key, const T& field, const char* /*help*/) {
    out[key] = field;
  }
  template <class T>
  void operator()(const std::string& key, const std::optional<T>& field, const char* /*help*/) {
    out[key] = field ? nlohmann::ordered_json(*field) : nlohmann::ordered_json(nullptr);
  }
};
struct RecipeHelp {
  std::vector<std::pair<std::string, std::string>> lines;  // key, help
  template <class T>
  void operator()(const std::string& key, const T&, const char* help) {
    lines.emplace_back(key, help);
  }
};

// JSON -> YAML block text (for --dump-config), keys in the JSON's order.
std::string to_yaml(const nlohmann::ordered_json& value);

}  // namespace r1
