// Reading a reward's parameters (a JSON object) by name, with defaults and type checks; finish() rejects the
// keys no getter asked for, so a misspelt key in a recipe is an r1::UsageError naming it and the reward.
// Also the per-example column lookup shared by the rewards that read the dataset row. Internal to src/rewards.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "r1/error.h"

namespace r1::rewards {

class Params {
 public:
  Params(std::string reward, const nlohmann::json& params) : reward_(std::move(reward)), params_(params) {}

  double number(const std::string& key, double fallback) {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_number()) fail_usage("reward '{}': parameter '{}' must be a number, found {}", reward_, key, v->dump());
    return v->get<double>();
  }

  int64_t integer(const std::string& key, int64_t fallback) {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_number_integer() && !(v->is_number_float() && v->get<double>() == double(int64_t(v->get<double>()))))
      fail_usage("reward '{}': parameter '{}' must be an integer, found {}", reward_, key, v->dump());
    return v->is_number_integer() ? v->get<int64_t>() : int64_t(v->get<double>());
  }

  std::string string(const std::string& key, const std::string& fallback) {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_string()) fail_usage("reward '{}': parameter '{}' must be a string, found {}", reward_, key, v->dump());
    return v->get<std::string>();
  }

  bool has(const std::string& key) const { return params_.contains(key); }

  // The parameters not read so far, as an object (to hand on to another reward).
  nlohmann::json rest() const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : params_.items())
      if (!used_.count(key)) out[key] = value;
    return out;
  }

  void finish() const {
    std::vector<std::string> unknown;
    for (const auto& [key, value] : params_.items())
      if (!used_.count(key)) unknown.push_back(key);
    if (!unknown.empty())
      fail_usage("reward '{}': unknown parameter{} {}", reward_, unknown.size() > 1 ? "s" : "",
                 fmt::join(unknown, ", "));
  }

  const std::string& reward() const { return reward_; }

 private:
  const nlohmann::json* find(const std::string& key) {
    used_.insert(key);
    auto it = params_.find(key);
    return it == params_.end() ? nullptr : &*it;
  }

  std::string reward_;
  const nlohmann::json& params_;
  std::set<std::string> used_;
};

// Checks that a reward got one example per completion.
inline void check_batch(const std::string& reward, size_t completions, size_t examples) {
  if (completions != examples)
    fail("reward '{}': {} completions but {} examples (one dataset row per completion expected)", reward, completions,
         examples);
}

}  // namespace r1::rewards
