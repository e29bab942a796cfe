// The reward registry: every family's rewards by name, built once; combination of several rewards with
// weights as TRL's GRPOTrainer (nansum of weighted scores over the rewards that apply).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "r1/error.h"
#include "rewards/families.h"

namespace r1::rewards {

namespace {
const std::map<std::string, RewardInfo>& registry() {
  static const std::map<std::string, RewardInfo> all = [] {
    std::map<std::string, RewardInfo> m;
    for (auto family :
         {accuracy_rewards, format_rewards, length_rewards, repetition_rewards, language_rewards, code_rewards})
      for (RewardInfo& info : family()) {
        std::string name = info.name;
        if (!m.emplace(name, std::move(info)).second) fail("internal: reward '{}' registered twice", name);
      }
    return m;
  }();
  return all;
}

const RewardInfo& find_reward(const std::string& name) {
  const auto& all = registry();
  auto it = all.find(name);
  if (it == all.end()) {
    std::vector<std::string> names;
    for (const auto& [n, info] : all) names.push_back(n);
    fail_usage("unknown reward '{}' (available: {})", name, fmt::join(names, ", "));
  }
  return it->second;
}
}  // namespace

RewardFn make_reward(const std::string& name, const nlohmann::json& params) {
  const RewardInfo& info = find_reward(name);
  if (!params.is_object()) fail_usage("reward '{}': parameters must be a JSON object", name);
  return info.factory(params);
}

void check_reward_example(const std::string& name, const nlohmann::json& example) {
  const RewardInfo& info = find_reward(name);
  if (info.check_example) info.check_example(example);
}

std::vector<RewardInfo> registered_rewards() {
  std::vector<RewardInfo> out;
  for (const auto& [name, info] : registry()) out.push_back(info);
  return out;
}

std::vector<Score> combine_rewards(const std::vector<std::vector<Score>>& per_reward,
                                   const std::vector<double>& weights) {
  if (!weights.empty() && weights.size() != per_reward.size())
    fail_usage("reward_weights has {} entries but reward_funcs has {}", weights.size(), per_reward.size());
  size_t n = per_reward.empty() ? 0 : per_reward[0].size();
  for (const auto& r : per_reward)
    if (r.size() != n) fail("internal: rewards scored different numbers of completions ({} vs {})", r.size(), n);
  std::vector<Score> total(n);
  for (size_t f = 0; f < per_reward.size(); ++f) {
    double w = weights.empty() ? 1.0 : weights[f];
    for (size_t i = 0; i < n; ++i)
      if (per_reward[f][i]) total[i] = total[i].value_or(0.0) + w * *per_reward[f][i];
  }
  return total;
}

}  // namespace r1::rewards
