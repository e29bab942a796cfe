// GRPO's advantage estimators (`advantage_estimator`, verl's algorithm.adv_estimator names): one advantage per
// completion from its scalar reward and its group (the num_generations completions of one prompt, consecutive).
// Losses are in grpo-loss.h; this file holds only the reward -> advantage step.
//   grpo                          A_i = (r_i - mean_g) / (std + 1e-4)  TRL GRPOTrainer: std = unbiased std of the group
//                                 (scale_rewards=group), of the whole batch (batch), or no division (none).
//   rloo                          A_i = r_i - mean_{j != i} r_j = G / (G - 1) (r_i - mean_g)  TRL RLOOTrainer,
//                                 verl compute_rloo_outcome_advantage (no std scaling).
//   reinforce_plus_plus_baseline  c_i = r_i - mean_g, then whitened over the batch as verl's masked_whiten over the
//                                 response tokens: A_i = (c_i - mu) / sqrt(var + 1e-8), mu and var (unbiased) over
//                                 every completion token, i.e. c_i weighted by its completion's token count n_i.
// Multiple rewards (multi_objective_aggregation, TRL's key): sum_then_normalize (default) sums the weighted rewards
// and hands the sum to the estimator; normalize_then_sum (GDPO, TRL's only other mode) normalises each reward k
// within its group, n_ik = (r_ik - mean_g r_k) / (std_g r_k + 1e-4) (NaN-aware: a reward that does not apply is
// left out of its group's statistics and of the sum), sums s_i = sum_k w_k n_ik, then A_i = (s_i - mean s) /
// (std s + 1e-4) over the whole batch (stds unbiased; a completion no reward applies to gets A = 0).
// KL in the reward (use_kl_in_reward; TRL RLOOTrainer with beta > 0, verl's algorithm.use_kl_in_reward with
// kl_penalty=kl): r_i <- r_i - beta * sum_t (log pi_old - log pi_ref), the k1 estimator summed over the completion,
// before any estimator; the loss then carries no KL term.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace r1::train::rl {

enum class AdvantageEstimator { kGrpo, kRloo, kReinforcePlusPlusBaseline };
AdvantageEstimator parse_advantage_estimator(const std::string& name);  // UsageError listing the names

enum class ScaleRewards { kGroup, kBatch, kNone };
ScaleRewards parse_scale_rewards(const std::string& name);  // also true -> group, false -> none (TRL's bools)

struct Advantages {
  std::vector<double> advantages;  // one per completion, groups of `group_size` consecutive completions
  std::vector<double> group_std;   // per completion: its group's unbiased std (logged by every estimator)
  double frac_zero_std = 0;        // fraction of groups whose rewards are all equal (torch.isclose(std, 0))
};

// rewards: size N = prompts * group_size, the completions of one prompt consecutive. r1::Error when N does not
// split into groups.
Advantages group_advantages(const std::vector<double>& rewards, int64_t group_size, ScaleRewards scale);  // grpo
Advantages rloo_advantages(const std::vector<double>& rewards, int64_t group_size);  // group_size >= 2
// token_counts: each completion's tokens (the whitening weights); fewer than 2 tokens in all: no division.
Advantages reinforce_plus_plus_baseline_advantages(const std::vector<double>& rewards, int64_t group_size,
                                                   const std::vector<double>& token_counts);

// The estimator's advantages (scale applies to kGrpo only; token_counts to kReinforcePlusPlusBaseline only).
Advantages compute_advantages(AdvantageEstimator estimator, const std::vector<double>& rewards, int64_t group_size,
                              ScaleRewards scale, const std::vector<double>& token_counts);

enum class MultiObjectiveAggregation { kSumThenNormalize, kNormalizeThenSum };
MultiObjectiveAggregation parse_multi_objective_aggregation(const std::string& name);  // UsageError listing the names

// normalize_then_sum's advantages from per_reward[k][i] (reward k of completion i; nullopt: does not apply) and
// weights (one per reward; empty: all 1). group_std and frac_zero_std are those of `totals` (the summed rewards the
// run logs), as the other estimators'. r1::Error when the sizes disagree or do not split into groups.
Advantages normalize_then_sum_advantages(const std::vector<std::vector<std::optional<double>>>& per_reward,
                                         const std::vector<double>& weights, int64_t group_size,
                                         const std::vector<double>& totals);

// sum_t (old_logp_t - ref_logp_t): the k1 KL of one completion, subtracted (times beta) from its reward under
// use_kl_in_reward. r1::Error when the two differ in length.
double sequence_kl(const std::vector<float>& old_logp, const std::vector<float>& ref_logp);

}  // namespace r1::train::rl
