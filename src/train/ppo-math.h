// PPO's arithmetic, as TRL's PPOTrainer computes it (trl/trainer/ppo_trainer.py, trl/trainer/utils.py): KL-shaped
// per-token rewards, masked whitening, GAE, and the clipped policy and value losses. All on (B, L) tensors of
// completion tokens with a 0/1 mask (1: a completion token). Kept apart from the objective (src/train/ppo.cpp) so
// tests pin them against float64 references.
//   KL per token (kl_estimator): k1 = log pi_old - log pi_ref;  k3 = (pi_ref/pi_old - 1) - log(pi_ref/pi_old)
//   reward_t = -kl_coef KL_t, plus the sequence's score on its last completion token
//   delta_t = r_t + gamma V_{t+1} - V_t (V past the last token: 0);  A_t = sum_l (gamma lam)^l delta_{t+l}
//   returns R_t = A_t + V_t; advantages then whitened over every masked token of the batch
//   pg_loss = masked mean of max(-A ratio, -A clip(ratio, 1 - cliprange, 1 + cliprange))
//   vf_loss = 0.5 masked mean of max((V - R)^2, (V_old + clip(V - V_old, -cliprange_value, +cliprange_value) - R)^2)
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace r1::train::rl {

enum class KlEstimator { kK1, kK3 };
KlEstimator parse_kl_estimator(const std::string& name);  // k1 | k3; UsageError otherwise

// Per-token KL estimate (B, L) of the sampling policy against the reference.
at::Tensor kl_estimate(const at::Tensor& old_logp, const at::Tensor& ref_logp, KlEstimator estimator);

// TRL's masked_mean / masked_var (unbiased: n / (n - 1)) / masked_whiten ((x - mean) rsqrt(var + 1e-8), the mean
// added back unless shift_mean). With fewer than 2 masked values masked_whiten returns x unchanged (TRL divides by
// zero there). Masked-out entries of the result are 0.
at::Tensor masked_mean(const at::Tensor& x, const at::Tensor& mask);
at::Tensor masked_whiten(const at::Tensor& x, const at::Tensor& mask, bool shift_mean);

struct Gae {
  at::Tensor advantages, returns;  // (B, L), 0 where masked; advantages not whitened
};
// rewards, values, mask: (B, L), completion tokens left-aligned (right padding). Computed in float64.
Gae generalized_advantages(const at::Tensor& rewards, const at::Tensor& values, const at::Tensor& mask, double gamma,
                           double lam);

struct PpoLoss {
  at::Tensor pg_loss, vf_loss;  // scalars with graphs
  // statistics (no graph): masked means
  double pg_clipfrac = 0, vf_clipfrac = 0, approxkl = 0, ratio = 0;
};
// logp, values: the current policy's log-probs and value model's values (with graphs); old_logp, old_values,
// advantages, returns: from the rollout.
PpoLoss ppo_loss(const at::Tensor& logp, const at::Tensor& values, const at::Tensor& old_logp,
                 const at::Tensor& old_values, const at::Tensor& advantages, const at::Tensor& returns,
                 const at::Tensor& mask, double cliprange, double cliprange_value);

}  // namespace r1::train::rl
