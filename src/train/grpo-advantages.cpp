// GRPO's advantage estimators (formulas in grpo-advantages.h). grpo uses TRL GRPOTrainer's constants (unbiased std,
// + 1e-4, torch.isclose(std, 0) for zero-variance groups); rloo and reinforce_plus_plus_baseline follow verl's
// compute_rloo_outcome_advantage and compute_reinforce_plus_plus_baseline_outcome_advantage
// (verl/trainer/ppo/core_algos.py) with verl_F.masked_whiten's unbiased variance and 1e-8. Departure from verl:
//   1. verl's "groups" of one completion get baseline 0; here every group has num_generations >= 2 completions.
#include "train/grpo-advantages.h"

#include <cmath>

#include "r1/error.h"

namespace r1::train::rl {

AdvantageEstimator parse_advantage_estimator(const std::string& name) {
  if (name == "grpo") return AdvantageEstimator::kGrpo;
  if (name == "rloo") return AdvantageEstimator::kRloo;
  if (name == "reinforce_plus_plus_baseline") return AdvantageEstimator::kReinforcePlusPlusBaseline;
  fail_usage("advantage_estimator: expected grpo, rloo or reinforce_plus_plus_baseline, got '{}'", name);
}

ScaleRewards parse_scale_rewards(const std::string& name) {
  if (name == "group" || name == "true") return ScaleRewards::kGroup;
  if (name == "batch") return ScaleRewards::kBatch;
  if (name == "none" || name == "false") return ScaleRewards::kNone;
  fail_usage("scale_rewards: expected group, batch or none, got '{}'", name);
}

MultiObjectiveAggregation parse_multi_objective_aggregation(const std::string& name) {
  if (name == "sum_then_normalize") return MultiObjectiveAggregation::kSumThenNormalize;
  if (name == "normalize_then_sum") return MultiObjectiveAggregation::kNormalizeThenSum;
  fail_usage("multi_objective_aggregation: expected sum_then_normalize or normalize_then_sum, got '{}'", name);
}

namespace {

// TRL's nanmean and nanstd (unbiased) of values[begin, end) with NaN left out; NaN when none (std: fewer than 2).
std::pair<double, double> nan_mean_std(const std::vector<double>& values, size_t begin, size_t end) {
  double n = 0, sum = 0;
  for (size_t i = begin; i < end; ++i)
    if (!std::isnan(values[i])) sum += values[i], ++n;
  if (n == 0) return {std::nan(""), std::nan("")};
  const double mean = sum / n;
  double ss = 0;
  for (size_t i = begin; i < end; ++i)
    if (!std::isnan(values[i])) ss += (values[i] - mean) * (values[i] - mean);
  return {mean, n > 1 ? std::sqrt(ss / (n - 1)) : std::nan("")};
}

// (mean, unbiased std) of values[begin, end); std is NaN for a single value, as torch.std.
std::pair<double, double> mean_std(const std::vector<double>& values, size_t begin, size_t end) {
  const double n = double(end - begin);
  double mean = 0;
  for (size_t i = begin; i < end; ++i) mean += values[i];
  mean /= n;
  double ss = 0;
  for (size_t i = begin; i < end; ++i) ss += (values[i] - mean) * (values[i] - mean);
  return {mean, n > 1 ? std::sqrt(ss / (n - 1)) : std::nan("")};
}

bool is_close_to_zero(double x) { return std::fabs(x) <= 1e-8; }  // torch.isclose(x, 0): atol 1e-8

// The group statistics every estimator logs, and each completion's group mean.
Advantages group_statistics(const std::vector<double>& rewards, int64_t group_size, std::vector<double>& group_mean) {
  if (group_size < 1 || rewards.size() % size_t(group_size) != 0)
    fail("group_advantages: {} rewards do not split into groups of {}", rewards.size(), group_size);
  Advantages out;
  out.advantages.resize(rewards.size());
  out.group_std.resize(rewards.size());
  group_mean.resize(rewards.size());
  const size_t G = size_t(group_size), groups = rewards.size() / G;
  size_t zero = 0;
  for (size_t g = 0; g < groups; ++g) {
    auto [mean, std] = mean_std(rewards, g * G, (g + 1) * G);
    if (is_close_to_zero(std)) ++zero;
    for (size_t i = g * G; i < (g + 1) * G; ++i) out.group_std[i] = std, group_mean[i] = mean;
  }
  out.frac_zero_std = groups ? double(zero) / double(groups) : 0.0;
  return out;
}

}  // namespace

Advantages group_advantages(const std::vector<double>& rewards, int64_t group_size, ScaleRewards scale) {
  std::vector<double> mean;
  Advantages out = group_statistics(rewards, group_size, mean);
  const double batch_std = mean_std(rewards, 0, rewards.size()).second;
  for (size_t i = 0; i < rewards.size(); ++i) {
    const double centred = rewards[i] - mean[i];
    const double denominator = scale == ScaleRewards::kBatch ? batch_std : out.group_std[i];
    out.advantages[i] = scale == ScaleRewards::kNone ? centred : centred / (denominator + 1e-4);
  }
  return out;
}

Advantages rloo_advantages(const std::vector<double>& rewards, int64_t group_size) {
  if (group_size < 2) fail("rloo_advantages: the leave-one-out baseline needs groups of >= 2, got {}", group_size);
  std::vector<double> mean;
  Advantages out = group_statistics(rewards, group_size, mean);
  const double G = double(group_size);
  for (size_t i = 0; i < rewards.size(); ++i) out.advantages[i] = (rewards[i] - mean[i]) * G / (G - 1);
  return out;
}

Advantages reinforce_plus_plus_baseline_advantages(const std::vector<double>& rewards, int64_t group_size,
                                                   const std::vector<double>& token_counts) {
  if (token_counts.size() != rewards.size())
    fail("reinforce_plus_plus_baseline_advantages: {} rewards but {} token counts", rewards.size(),
         token_counts.size());
  std::vector<double> mean;
  Advantages out = group_statistics(rewards, group_size, mean);
  double tokens = 0, sum = 0;
  for (size_t i = 0; i < rewards.size(); ++i) {
    out.advantages[i] = rewards[i] - mean[i];
    tokens += token_counts[i];
    sum += token_counts[i] * out.advantages[i];
  }
  if (tokens < 2) return out;  // verl's masked_var refuses a mask of one token; nothing to whiten against
  const double mu = sum / tokens;
  double ss = 0;
  for (size_t i = 0; i < rewards.size(); ++i)
    ss += token_counts[i] * (out.advantages[i] - mu) * (out.advantages[i] - mu);
  const double inv_std = 1.0 / std::sqrt(ss / (tokens - 1) + 1e-8);  // unbiased over tokens, as masked_whiten
  for (double& a : out.advantages) a = (a - mu) * inv_std;
  return out;
}

Advantages compute_advantages(AdvantageEstimator estimator, const std::vector<double>& rewards, int64_t group_size,
                              ScaleRewards scale, const std::vector<double>& token_counts) {
  switch (estimator) {
    case AdvantageEstimator::kGrpo:
      return group_advantages(rewards, group_size, scale);
    case AdvantageEstimator::kRloo:
      return rloo_advantages(rewards, group_size);
    case AdvantageEstimator::kReinforcePlusPlusBaseline:
      return reinforce_plus_plus_baseline_advantages(rewards, group_size, token_counts);
  }
  fail("compute_advantages: unknown estimator");
}

Advantages normalize_then_sum_advantages(const std::vector<std::vector<std::optional<double>>>& per_reward,
                                         const std::vector<double>& weights, int64_t group_size,
                                         const std::vector<double>& totals) {
  std::vector<double> mean;
  Advantages out = group_statistics(totals, group_size, mean);
  const size_t N = totals.size(), G = size_t(group_size);
  if (!weights.empty() && weights.size() != per_reward.size())
    fail("normalize_then_sum_advantages: {} rewards but {} weights", per_reward.size(), weights.size());
  std::vector<double> sum(N, 0.0);
  std::vector<bool> scored(N, false);
  for (size_t k = 0; k < per_reward.size(); ++k) {
    if (per_reward[k].size() != N)
      fail("normalize_then_sum_advantages: reward {} has {} values for {} completions", k, per_reward[k].size(), N);
    std::vector<double> r(N);
    for (size_t i = 0; i < N; ++i) r[i] = per_reward[k][i].value_or(std::nan(""));
    const double w = weights.empty() ? 1.0 : weights[k];
    for (size_t g = 0; g < N / G; ++g) {
      const auto [m, sd] = nan_mean_std(r, g * G, (g + 1) * G);
      for (size_t i = g * G; i < (g + 1) * G; ++i) {
        const double x = (r[i] - m) / (sd + 1e-4) * w;  // NaN for a single scored value (nanstd), as TRL
        if (!std::isnan(r[i])) scored[i] = true;
        if (!std::isnan(x)) sum[i] += x;  // nansum
      }
    }
  }
  for (size_t i = 0; i < N; ++i)
    if (!scored[i]) sum[i] = std::nan("");  // unscorable: out of the batch statistics, advantage 0
  const auto [m, sd] = nan_mean_std(sum, 0, N);
  for (size_t i = 0; i < N; ++i) {
    const double a = (sum[i] - m) / (sd + 1e-4);
    out.advantages[i] = std::isnan(a) ? 0.0 : a;
  }
  return out;
}

double sequence_kl(const std::vector<float>& old_logp, const std::vector<float>& ref_logp) {
  if (old_logp.size() != ref_logp.size())
    fail("sequence_kl: {} sampling log-probs but {} reference log-probs", old_logp.size(), ref_logp.size());
  double kl = 0;
  for (size_t t = 0; t < old_logp.size(); ++t) kl += double(old_logp[t]) - double(ref_logp[t]);
  return kl;
}

}  // namespace r1::train::rl
