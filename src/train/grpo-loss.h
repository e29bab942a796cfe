// GRPO's loss arithmetic, as TRL's GRPOTrainer computes it (trl/trainer/grpo_trainer.py: _compute_loss): the
// per-token policy loss of each loss_type with the k3 KL estimator, and the loss aggregations. Advantages (A below)
// are in grpo-advantages.h. Kept apart from the objective (src/train/grpo.cpp) so tests pin them by hand values.
// With w_t the importance weight (importance_sampling_level token: exp(logp_t - old_t); sequence (GSPO): one
// weight per sequence, exp(sum_t m_t (logp_t - old_t) / max(1, sum_t m_t)), broadcast to its tokens):
//   grpo, bnpo, dr_grpo, dapo, luspo   p_t = -min(w' A, clip(w, 1 - epsilon, 1 + epsilon_high) A)
//                                      w' = min(w, delta) with delta (INTELLECT-2), else w; with clip_ratio_c (verl's
//                                      dual-clip) and A < 0: p_t = min(p_t, -A clip_ratio_c)
//   cispo (MiniMax-M1)                 p_t = -sg(min(w, epsilon_high)) A logp_t   (epsilon_high an absolute cap)
//   sapo                               p_t = -sigmoid(tau (w - 1)) 4 / tau A,  tau = sapo_temperature_pos if A > 0,
//                                      else sapo_temperature_neg
//   vespo                              p_t = -sg(phi_i) A logp_t, phi_i = exp(lambda + k log W_i - lambda W_i) with
//                                      W_i = exp(clamp(sum_t m clamp(logp - old, -20, 20), log 1e-8, 20)) (the
//                                      sequence ratio, unnormalised); k, lambda = vespo_k_pos, vespo_lambda_pos if
//                                      A >= 0, else vespo_k_neg, vespo_lambda_neg
//   l_t = p_t e_t o_i s_t + beta (pi_ref/pi - log(pi_ref/pi) - 1)
//     e_t: the top_entropy_quantile mask; o_i: the off-policy sequence mask; s_t: the sampler's importance ratio
//     (each 1 when off). vespo takes s_t into its sequence ratio instead: log W_i += sum_t m clamp(log s_t, log 1e-8,
//     20), as TRL.
// Off-policy correction (TRL's vllm_importance_sampling_*; the sampler is r1's engine), from the learner's log-probs
// at sampling time (old) and the sampler's (its sampling distribution):
//   token_truncate      s_t = clamp(exp(old_t - samp_t), C_min, C_max)
//   token_mask          s_t = exp(old_t - samp_t), 0 outside [C_min, C_max]
//   sequence_truncate   s_t = clamp(exp(sum_t m (old_t - samp_t)), C_min, C_max) for every token of the sequence
//   sequence_mask       that ratio, 0 outside [C_min, C_max]
// The off-policy sequence mask (DeepSeek-V3.2 eq. 9, TRL's off_policy_mask_threshold delta):
//   o_i = 0 if A_i < 0 and sum_t m (samp_t - logp_t) / max(1, sum_t m) > delta, else 1.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

namespace r1::train::rl {

enum class LossType { kGrpo, kBnpo, kDrGrpo, kDapo, kCispo, kSapo, kLuspo, kVespo };
LossType parse_loss_type(const std::string& name);  // UsageError listing the names
// The clipped-surrogate family (grpo, bnpo, dr_grpo, dapo, luspo): epsilon, delta, clip_ratio_c and the
// clip_ratio/* metrics apply to these.
bool is_clipped_loss(LossType type);

enum class ImportanceSamplingLevel { kToken, kSequence };
ImportanceSamplingLevel parse_importance_sampling_level(const std::string& name);  // UsageError listing the names

struct LossConfig {
  LossType type = LossType::kGrpo;
  ImportanceSamplingLevel level = ImportanceSamplingLevel::kToken;
  double epsilon_low = 0.2, epsilon_high = 0.2, beta = 0.0;
  std::optional<double> delta;         // TRL's delta: caps the unclipped ratio
  std::optional<double> clip_ratio_c;  // verl's dual-clip bound (> 1)
  double sapo_temperature_pos = 1.0, sapo_temperature_neg = 1.05;
  double vespo_k_pos = 2.0, vespo_lambda_pos = 3.0, vespo_k_neg = 3.0, vespo_lambda_neg = 2.0;
};

enum class SamplingCorrection { kTokenTruncate, kTokenMask, kSequenceTruncate, kSequenceMask };
SamplingCorrection parse_sampling_correction(const std::string& name);  // UsageError listing the names
bool is_sequence_level(SamplingCorrection mode);

// The sampler's importance ratio s (B, L) (token modes) or (B, 1) (sequence modes), no graph, from the learner's
// log-probs at sampling time and the sampler's (B, L); unset bounds do not bound.
at::Tensor sampling_importance_ratio(const at::Tensor& old_logp, const at::Tensor& sampling_logp,
                                     const at::Tensor& mask, SamplingCorrection mode, std::optional<double> clip_min,
                                     std::optional<double> clip_max);

// The off-policy sequence mask o (B, 1) of 0/1 in logp's dtype, no graph.
at::Tensor off_policy_sequence_mask(const at::Tensor& advantages, const at::Tensor& logp,
                                    const at::Tensor& sampling_logp, const at::Tensor& mask, double threshold);

// vespo's phi (B, 1), no graph (TRL's get_gamma_weights; sampling_ratio: the sampler's token ratio s, or undefined).
at::Tensor vespo_weights(const LossConfig& config, const at::Tensor& logp, const at::Tensor& old_logp,
                         const at::Tensor& advantages, const at::Tensor& mask,
                         const at::Tensor& sampling_ratio = at::Tensor());

// log w: (B, L) at token level, (B, 1) at sequence level (mask: (B, L), the tokens that count).
at::Tensor log_importance_weights(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& mask,
                                  ImportanceSamplingLevel level);

// Per-token loss l (B, L) from log-probs (B, L) under the policy (with a graph), at sampling time (old) and under
// the reference model (undefined when beta == 0), per-sequence advantages (B), the mask (B, L) (for the sequence
// weight), the entropy mask (B, L), the sampler's importance ratio (B, L) or (B, 1) and the off-policy sequence
// mask (B, 1) (each undefined: 1).
at::Tensor per_token_loss(const LossConfig& config, const at::Tensor& logp, const at::Tensor& old_logp,
                          const at::Tensor& ref_logp, const at::Tensor& advantages, const at::Tensor& mask,
                          const at::Tensor& entropy_mask = at::Tensor(),
                          const at::Tensor& sampling_ratio = at::Tensor(),
                          const at::Tensor& off_policy_mask = at::Tensor());
// grpo's loss at token level (the config above with only these set).
at::Tensor per_token_loss(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& ref_logp,
                          const at::Tensor& advantages, double epsilon_low, double epsilon_high, double beta);

// k3 estimator exp(ref - logp) - (ref - logp) - 1 per token (B, L).
at::Tensor per_token_kl(const at::Tensor& logp, const at::Tensor& ref_logp);

// TRL's get_high_entropy_mask: the tokens (mask > 0) whose entropy is >= the (1 - top_entropy_quantile) quantile
// (torch.quantile, linear interpolation) of the masked tokens' entropies, as a (B, L) 0/1 tensor of entropy's
// dtype; all 0 when no token is masked in.
at::Tensor high_entropy_mask(const at::Tensor& entropy, const at::Tensor& mask, double top_entropy_quantile);

// One micro-batch's share of the step loss before division by loss_normaliser(): with the normaliser of the
// whole step the sum over micro-batches equals TRL's loss averaged over gradient-accumulation steps
// (micro-batches of equal size):
//   grpo, sapo     sum_i (sum_t l m / max(1, sum_t m))              normaliser: sequences in the step
//   bnpo           sum l m / max(1, sum m over this micro-batch)    normaliser: micro-batches in the step
//   dr_grpo        sum l m / max_completion_length                  normaliser: sequences in the step
//   dapo, cispo,   sum l m                                          normaliser: completion tokens in the step
//   vespo
//   luspo          sum l m (= sum_i |o_i| l_i at sequence level)    normaliser: sequences in the step
at::Tensor aggregate_loss(const at::Tensor& loss, const at::Tensor& mask, LossType type, int64_t max_completion_length);
double loss_normaliser(LossType type, int64_t sequences, int64_t micro_batches, int64_t tokens);
// Whether the normaliser counts tokens (dapo, cispo, vespo): TRL's entropy bonus then sums the entropies.
bool normalises_by_tokens(LossType type);

// TRL's clip statistics, as counts over masked tokens: ratio below 1 - epsilon with A < 0 (low), above
// 1 + epsilon_high with A > 0 (high); region = either. cispo: ratio above epsilon_high with A > 0 (TRL's
// cispo_clip_ratio). dual_clip: A < 0 and the clipped loss above -A clip_ratio_c (verl's pg_clipfrac_lower). The
// ratio is the importance weight of the level, broadcast to the sequence's tokens.
struct ClipCounts {
  double low = 0, high = 0, region = 0, cispo = 0, dual_clip = 0;
};
ClipCounts clip_counts(const LossConfig& config, const at::Tensor& logp, const at::Tensor& old_logp,
                       const at::Tensor& advantages, const at::Tensor& mask);
ClipCounts clip_counts(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& advantages,
                       const at::Tensor& mask, double epsilon_low, double epsilon_high);

}  // namespace r1::train::rl
