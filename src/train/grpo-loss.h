// GRPO's loss arithmetic, as TRL's GRPOTrainer computes it (trl/trainer/grpo_trainer.py: _compute_loss): the
// clipped per-token surrogate with the k3 KL estimator, and the four loss aggregations. Advantages (A below) are
// in grpo-advantages.h. Kept apart from the objective (src/train/grpo.cpp) so tests pin them by hand values.
//   l_t = -min(rho_t A, clip(rho_t, 1 - epsilon, 1 + epsilon_high) A) + beta (pi_ref/pi - log(pi_ref/pi) - 1)
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace r1::train::rl {

enum class LossType { kGrpo, kBnpo, kDrGrpo, kDapo };
LossType parse_loss_type(const std::string& name);  // UsageError listing the names

// Per-token loss (B, L) from log-probs (B, L) under the policy (with a graph), at sampling time (old) and under
// the reference model (undefined when beta == 0), and per-sequence advantages (B).
at::Tensor per_token_loss(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& ref_logp,
                          const at::Tensor& advantages, double epsilon_low, double epsilon_high, double beta);

// k3 estimator exp(ref - logp) - (ref - logp) - 1 per token (B, L).
at::Tensor per_token_kl(const at::Tensor& logp, const at::Tensor& ref_logp);

// One micro-batch's share of the step loss before division by loss_normaliser(): with the normaliser of the
// whole step the sum over micro-batches equals TRL's loss averaged over gradient-accumulation steps
// (micro-batches of equal size):
//   grpo     sum_i (sum_t l m / max(1, sum_t m))              normaliser: sequences in the step
//   bnpo     sum l m / max(1, sum m over this micro-batch)    normaliser: micro-batches in the step
//   dr_grpo  sum l m / max_completion_length                  normaliser: sequences in the step
//   dapo     sum l m                                          normaliser: completion tokens in the step
at::Tensor aggregate_loss(const at::Tensor& loss, const at::Tensor& mask, LossType type, int64_t max_completion_length);
double loss_normaliser(LossType type, int64_t sequences, int64_t micro_batches, int64_t tokens);

// TRL's clip statistics, as counts over masked tokens: ratio below 1 - epsilon with A < 0 (low), above
// 1 + epsilon_high with A > 0 (high); region = either.
struct ClipCounts {
  double low = 0, high = 0, region = 0;
};
ClipCounts clip_counts(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& advantages,
                       const at::Tensor& mask, double epsilon_low, double epsilon_high);

}  // namespace r1::train::rl
