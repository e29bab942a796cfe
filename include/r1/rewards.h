// Rewards for reinforcement learning with verifiable rewards (GRPO), by name, with open-r1 / TRL semantics so
// recipes port by copying `reward_funcs` and `reward_weights`. A reward scores a batch of completions, each
// with the dataset row (example columns) it answers; a score may be "not applicable" (nullopt), which TRL
// represents as NaN and skips when combining. Rewards are stateless after construction and thread-safe.
// Each reward family lives in one file under src/rewards/ and is listed in src/rewards/registry.cpp.
//
// Usage:
//   r1::rewards::RewardFn accuracy = r1::rewards::make_reward("accuracy");
//   r1::rewards::RewardFn cosine = r1::rewards::make_reward("cosine", {{"cosine_max_len", 1000}});
//   std::vector<r1::rewards::Score> a = accuracy(completions, examples);  // examples[i]: the row completion i answers
//   std::vector<r1::rewards::Score> c = cosine(completions, examples);
//   std::vector<r1::rewards::Score> total = r1::rewards::combine_rewards({a, c}, {1.0, 0.5});
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace r1::rewards {

// ---- What a reward is -----------------------------------------------------------------------------------------------

using Score = std::optional<double>;  // nullopt: not applicable to this completion

// completions[i] answers examples[i] (a JSON object: the row's columns, e.g. "solution", "answer",
// "verification_info"). Returns one score per completion.
using RewardFn = std::function<std::vector<Score>(const std::vector<std::string>& completions,
                                                  const std::vector<nlohmann::json>& examples)>;

// Builds a reward from its parameters (a JSON object; unknown keys are an r1::Error naming them). Parameters
// use open-r1's names (e.g. cosine_min_value_wrong, repetition_n_grams, code_language).
using RewardFactory = std::function<RewardFn(const nlohmann::json& params)>;

// What a reward needs of a dataset row, checked when the dataset loads (before any model is loaded or sampled):
// r1::Error saying what the row lacks, without a location (the caller names file:line). Empty: any row.
using ExampleCheck = std::function<void(const nlohmann::json& example)>;

struct RewardInfo {
  std::string name;
  std::string description;  // one line, for `--help` and docs
  RewardFactory factory;
  ExampleCheck check_example = {};
};

// ---- Rewards by name (recipes' reward_funcs) ------------------------------------------------------------------------
// The registry of every reward family (src/rewards/registry.cpp).
RewardFn make_reward(const std::string& name,
                     const nlohmann::json& params = nlohmann::json::object());  // r1::Error listing names if unknown
std::vector<RewardInfo> registered_rewards();                                   // sorted by name
// Runs the reward's ExampleCheck on one row (nothing if it has none); UsageError listing names if unknown.
void check_reward_example(const std::string& name, const nlohmann::json& example);

// ---- Combining several rewards (GRPO's reward_weights) --------------------------------------------------------------
// TRL's combination: total_i = sum_f weight_f * reward_f,i over the rewards applicable to completion i
// (nansum); a completion no reward applies to gets nullopt. weights empty = all 1.
std::vector<Score> combine_rewards(const std::vector<std::vector<Score>>& per_reward,
                                   const std::vector<double>& weights);

}  // namespace r1::rewards
