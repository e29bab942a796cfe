// GRPO's per-token loss and aggregation (see grpo-loss.h for the formulas; advantages: grpo-advantages.cpp). Same
// arithmetic and constants as TRL's GRPOTrainer._compute_loss: min over the two surrogate terms, delta applied to
// the unclipped term after the clipped one is formed, the sequence weight's mask clamped at 1 token, sapo's
// 4 / tau gain; dual-clip as verl's compute_policy_loss_vanilla (verl/trainer/ppo/core_algos.py). Departures:
//   1. luspo with a per-token loss (token level, a KL term or an entropy mask) sums l m over each sequence's
//      masked tokens; TRL then averages l |o_i| over every (B, T) element, padding included. At sequence level
//      without those (the setting TRL asks for) the two agree: sum_i |o_i| l_i / B.
//   2. clip statistics at sequence level are token-weighted (each sequence's weight counted on its tokens); TRL
//      averages one value per sequence.
#include "train/grpo-loss.h"

#include <algorithm>
#include <cmath>

#include "r1/error.h"

namespace r1::train::rl {

LossType parse_loss_type(const std::string& name) {
  if (name == "grpo") return LossType::kGrpo;
  if (name == "bnpo") return LossType::kBnpo;
  if (name == "dr_grpo") return LossType::kDrGrpo;
  if (name == "dapo") return LossType::kDapo;
  if (name == "cispo") return LossType::kCispo;
  if (name == "sapo") return LossType::kSapo;
  if (name == "luspo") return LossType::kLuspo;
  if (name == "vespo") return LossType::kVespo;
  fail_usage("loss_type: expected grpo, bnpo, dr_grpo, dapo, cispo, sapo, luspo or vespo, got '{}'", name);
}

bool is_clipped_loss(LossType type) {
  return type != LossType::kCispo && type != LossType::kSapo && type != LossType::kVespo;
}

ImportanceSamplingLevel parse_importance_sampling_level(const std::string& name) {
  if (name == "token") return ImportanceSamplingLevel::kToken;
  if (name == "sequence") return ImportanceSamplingLevel::kSequence;
  fail_usage("importance_sampling_level: expected token or sequence, got '{}'", name);
}

at::Tensor per_token_kl(const at::Tensor& logp, const at::Tensor& ref_logp) {
  at::Tensor d = ref_logp - logp;  // (B, L)
  return at::exp(d) - d - 1;
}

at::Tensor log_importance_weights(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& mask,
                                  ImportanceSamplingLevel level) {
  at::Tensor log_ratio = logp - old_logp;  // (B, L)
  if (level == ImportanceSamplingLevel::kToken) return log_ratio;
  at::Tensor m = mask.to(log_ratio.scalar_type());
  return ((log_ratio * m).sum(-1) / m.sum(-1).clamp_min(1.0)).unsqueeze(-1);  // (B, 1)
}

SamplingCorrection parse_sampling_correction(const std::string& name) {
  if (name == "token_truncate") return SamplingCorrection::kTokenTruncate;
  if (name == "token_mask") return SamplingCorrection::kTokenMask;
  if (name == "sequence_truncate") return SamplingCorrection::kSequenceTruncate;
  if (name == "sequence_mask") return SamplingCorrection::kSequenceMask;
  fail_usage(
      "vllm_importance_sampling_mode: expected token_truncate, token_mask, sequence_truncate or sequence_mask, got "
      "'{}'",
      name);
}

bool is_sequence_level(SamplingCorrection mode) {
  return mode == SamplingCorrection::kSequenceTruncate || mode == SamplingCorrection::kSequenceMask;
}

at::Tensor sampling_importance_ratio(const at::Tensor& old_logp, const at::Tensor& sampling_logp,
                                     const at::Tensor& mask, SamplingCorrection mode, std::optional<double> clip_min,
                                     std::optional<double> clip_max) {
  at::NoGradGuard no_grad;
  at::Tensor diff = (old_logp.detach() - sampling_logp) * mask.to(old_logp.scalar_type());  // (B, L)
  if (is_sequence_level(mode)) diff = diff.sum(-1, /*keepdim=*/true);                       // (B, 1)
  at::Tensor ratio = at::exp(diff);
  if (mode == SamplingCorrection::kTokenTruncate || mode == SamplingCorrection::kSequenceTruncate) {
    if (clip_min) ratio = at::clamp_min(ratio, *clip_min);
    if (clip_max) ratio = at::clamp_max(ratio, *clip_max);
    return ratio;
  }
  at::Tensor outside = at::zeros_like(ratio, at::kBool);
  if (clip_min) outside = outside.logical_or(ratio < *clip_min);
  if (clip_max) outside = outside.logical_or(ratio > *clip_max);
  return ratio.masked_fill(outside, 0.0);
}

at::Tensor off_policy_sequence_mask(const at::Tensor& advantages, const at::Tensor& logp,
                                    const at::Tensor& sampling_logp, const at::Tensor& mask, double threshold) {
  at::NoGradGuard no_grad;
  at::Tensor m = mask.to(logp.scalar_type());
  at::Tensor kl = ((sampling_logp - logp.detach()) * m).sum(-1, /*keepdim=*/true) / m.sum(-1, true).clamp_min(1.0);
  at::Tensor a = advantages.unsqueeze(1).to(logp.scalar_type());  // (B, 1)
  return (a >= 0).logical_or(kl <= threshold).to(logp.scalar_type());
}

at::Tensor vespo_weights(const LossConfig& c, const at::Tensor& logp, const at::Tensor& old_logp,
                         const at::Tensor& advantages, const at::Tensor& mask, const at::Tensor& sampling_ratio) {
  at::NoGradGuard no_grad;
  const double lower = std::log(1e-8);
  at::Tensor m = mask.to(logp.scalar_type());
  at::Tensor log_ratio = at::clamp(logp.detach() - old_logp, -20.0, 20.0);
  at::Tensor seq = (log_ratio * m).sum(-1, /*keepdim=*/true);  // (B, 1)
  if (sampling_ratio.defined())                                // TRL: log w += the sampler ratio's log, clamped
    seq = seq + (at::clamp(at::log(sampling_ratio.to(logp.scalar_type()).expand_as(logp)), lower, 20.0) * m)
                    .sum(-1, /*keepdim=*/true);
  at::Tensor log_w = at::clamp(seq, lower, 20.0);                  // (B, 1)
  at::Tensor a = advantages.unsqueeze(1).to(log_w.scalar_type());  // (B, 1)
  at::Tensor nonneg = a >= 0;
  at::Tensor k = at::where(nonneg, at::full_like(a, c.vespo_k_pos), at::full_like(a, c.vespo_k_neg));
  at::Tensor lambda =
      at::where(nonneg, at::full_like(a, c.vespo_lambda_pos), at::full_like(a, c.vespo_lambda_neg)).clamp_min(1e-4);
  return at::nan_to_num(at::exp(lambda + k * log_w - lambda * at::exp(log_w)), 0.0, 0.0, 0.0);
}

at::Tensor per_token_loss(const LossConfig& c, const at::Tensor& logp, const at::Tensor& old_logp,
                          const at::Tensor& ref_logp, const at::Tensor& advantages, const at::Tensor& mask,
                          const at::Tensor& entropy_mask, const at::Tensor& sampling_ratio,
                          const at::Tensor& off_policy_mask) {
  at::Tensor coef_1 = at::exp(log_importance_weights(logp, old_logp, mask, c.level));  // (B, L) or (B, 1)
  at::Tensor a = advantages.unsqueeze(1).to(coef_1.scalar_type());                     // (B, 1)
  at::Tensor loss;
  switch (c.type) {
    case LossType::kCispo:
      loss = -at::clamp_max(coef_1, c.epsilon_high).detach() * a * logp;
      break;
    case LossType::kVespo:
      loss = -vespo_weights(c, logp, old_logp, advantages, mask, sampling_ratio) * a * logp;
      break;
    case LossType::kSapo: {
      at::Tensor tau =
          at::where(a > 0, at::full_like(a, c.sapo_temperature_pos), at::full_like(a, c.sapo_temperature_neg));
      loss = -(at::sigmoid(tau * (coef_1 - 1)) * 4 / tau) * a;
      break;
    }
    default: {
      at::Tensor coef_2 = at::clamp(coef_1, 1.0 - c.epsilon_low, 1.0 + c.epsilon_high);
      if (c.delta) coef_1 = at::clamp_max(coef_1, *c.delta);
      loss = -at::min(coef_1 * a, coef_2 * a);
      if (c.clip_ratio_c) loss = at::where(a < 0, at::min(loss, -a * *c.clip_ratio_c), loss);
    }
  }
  loss = loss.expand_as(logp);  // (B, L): a sequence's value on each of its tokens
  if (off_policy_mask.defined()) loss = loss * off_policy_mask.to(loss.scalar_type());
  if (entropy_mask.defined()) loss = loss * entropy_mask.to(loss.scalar_type());
  if (sampling_ratio.defined() && c.type != LossType::kVespo) loss = loss * sampling_ratio.to(loss.scalar_type());
  if (c.beta != 0.0) loss = loss + c.beta * per_token_kl(logp, ref_logp);
  return loss;
}

at::Tensor per_token_loss(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& ref_logp,
                          const at::Tensor& advantages, double epsilon_low, double epsilon_high, double beta) {
  LossConfig c;
  c.epsilon_low = epsilon_low;
  c.epsilon_high = epsilon_high;
  c.beta = beta;
  return per_token_loss(c, logp, old_logp, ref_logp, advantages, at::ones_like(logp));
}

at::Tensor high_entropy_mask(const at::Tensor& entropy, const at::Tensor& mask, double top_entropy_quantile) {
  const at::Tensor e = entropy.detach();
  const at::Tensor in = mask > 0;
  at::Tensor local = e.masked_select(in);
  if (local.numel() == 0) return at::zeros_like(e);
  if (local.scalar_type() != at::kDouble) local = local.to(at::kFloat);
  const at::Tensor threshold = at::quantile(local, 1.0 - top_entropy_quantile);
  return (e.to(local.scalar_type()) >= threshold).logical_and(in).to(e.scalar_type());
}

at::Tensor aggregate_loss(const at::Tensor& loss, const at::Tensor& mask, LossType type,
                          int64_t max_completion_length) {
  at::Tensor m = mask.to(loss.scalar_type());  // (B, L)
  at::Tensor masked = loss * m;
  switch (type) {
    case LossType::kGrpo:
    case LossType::kSapo:
      return (masked.sum(1) / m.sum(1).clamp_min(1.0)).sum();
    case LossType::kBnpo:
      return masked.sum() / m.sum().clamp_min(1.0);
    case LossType::kDrGrpo:
      return masked.sum() / double(max_completion_length);
    case LossType::kDapo:
    case LossType::kCispo:
    case LossType::kVespo:
    case LossType::kLuspo:
      return masked.sum();
  }
  fail("aggregate_loss: unknown loss type");
}

double loss_normaliser(LossType type, int64_t sequences, int64_t micro_batches, int64_t tokens) {
  switch (type) {
    case LossType::kGrpo:
    case LossType::kSapo:
    case LossType::kDrGrpo:
    case LossType::kLuspo:
      return double(sequences);
    case LossType::kBnpo:
      return double(micro_batches);
    case LossType::kDapo:
    case LossType::kCispo:
    case LossType::kVespo:
      return double(std::max<int64_t>(1, tokens));
  }
  fail("loss_normaliser: unknown loss type");
}

bool normalises_by_tokens(LossType type) {
  return type == LossType::kDapo || type == LossType::kCispo || type == LossType::kVespo;
}

ClipCounts clip_counts(const LossConfig& config, const at::Tensor& logp, const at::Tensor& old_logp,
                       const at::Tensor& advantages, const at::Tensor& mask) {
  const at::Tensor ratio =
      at::exp(log_importance_weights(logp.detach(), old_logp, mask, config.level)).expand_as(logp);  // (B, L)
  const at::Tensor a = advantages.unsqueeze(1).to(ratio.scalar_type());                              // (B, 1)
  const at::Tensor m = mask.to(at::kBool);
  auto count = [&](const at::Tensor& t) { return t.logical_and(m).sum().item<double>(); };
  ClipCounts c;
  if (config.type == LossType::kCispo) {
    c.cispo = count((ratio > config.epsilon_high).logical_and(a > 0));
    return c;
  }
  if (!is_clipped_loss(config.type)) return c;
  const at::Tensor low = (ratio < 1.0 - config.epsilon_low).logical_and(a < 0);
  const at::Tensor high = (ratio > 1.0 + config.epsilon_high).logical_and(a > 0);
  c.low = count(low);
  c.high = count(high);
  c.region = count(low.logical_or(high));
  if (config.clip_ratio_c) {
    const at::Tensor capped = config.delta ? at::clamp_max(ratio, *config.delta) : ratio;
    const at::Tensor clipped_loss =
        -at::min(capped * a, at::clamp(ratio, 1.0 - config.epsilon_low, 1.0 + config.epsilon_high) * a);
    c.dual_clip = count((clipped_loss > -a * *config.clip_ratio_c).logical_and(a < 0));
  }
  return c;
}

ClipCounts clip_counts(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& advantages,
                       const at::Tensor& mask, double epsilon_low, double epsilon_high) {
  LossConfig c;
  c.epsilon_low = epsilon_low;
  c.epsilon_high = epsilon_high;
  return clip_counts(c, logp, old_logp, advantages, mask);
}

}  // namespace r1::train::rl
