// GRPO's per-token loss and aggregation (see grpo-loss.h for the formulas; advantages: grpo-advantages.cpp). Same
// arithmetic and constants as TRL's GRPOTrainer: min over the two surrogate terms, mask clamped at 1 token per
// sequence (grpo, bnpo).
#include "train/grpo-loss.h"

#include <algorithm>

#include "r1/error.h"

namespace r1::train::rl {

LossType parse_loss_type(const std::string& name) {
  if (name == "grpo") return LossType::kGrpo;
  if (name == "bnpo") return LossType::kBnpo;
  if (name == "dr_grpo") return LossType::kDrGrpo;
  if (name == "dapo") return LossType::kDapo;
  fail_usage("loss_type: expected grpo, bnpo, dr_grpo or dapo, got '{}'", name);
}

at::Tensor per_token_kl(const at::Tensor& logp, const at::Tensor& ref_logp) {
  at::Tensor d = ref_logp - logp;  // (B, L)
  return at::exp(d) - d - 1;
}

at::Tensor per_token_loss(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& ref_logp,
                          const at::Tensor& advantages, double epsilon_low, double epsilon_high, double beta) {
  at::Tensor ratio = at::exp(logp - old_logp);  // (B, L)
  at::Tensor clipped = at::clamp(ratio, 1.0 - epsilon_low, 1.0 + epsilon_high);
  at::Tensor a = advantages.unsqueeze(1).to(ratio.scalar_type());  // (B, 1)
  at::Tensor loss = -at::min(ratio * a, clipped * a);              // (B, L)
  if (beta != 0.0) loss = loss + beta * per_token_kl(logp, ref_logp);
  return loss;
}

at::Tensor aggregate_loss(const at::Tensor& loss, const at::Tensor& mask, LossType type,
                          int64_t max_completion_length) {
  at::Tensor m = mask.to(loss.scalar_type());  // (B, L)
  at::Tensor masked = loss * m;
  switch (type) {
    case LossType::kGrpo:
      return (masked.sum(1) / m.sum(1).clamp_min(1.0)).sum();
    case LossType::kBnpo:
      return masked.sum() / m.sum().clamp_min(1.0);
    case LossType::kDrGrpo:
      return masked.sum() / double(max_completion_length);
    case LossType::kDapo:
      return masked.sum();
  }
  fail("aggregate_loss: unknown loss type");
}

double loss_normaliser(LossType type, int64_t sequences, int64_t micro_batches, int64_t tokens) {
  switch (type) {
    case LossType::kGrpo:
    case LossType::kDrGrpo:
      return double(sequences);
    case LossType::kBnpo:
      return double(micro_batches);
    case LossType::kDapo:
      return double(std::max<int64_t>(1, tokens));
  }
  fail("loss_normaliser: unknown loss type");
}

ClipCounts clip_counts(const at::Tensor& logp, const at::Tensor& old_logp, const at::Tensor& advantages,
                       const at::Tensor& mask, double epsilon_low, double epsilon_high) {
  at::Tensor ratio = at::exp(logp.detach() - old_logp);  // (B, L)
  at::Tensor a = advantages.unsqueeze(1);                // (B, 1)
  at::Tensor m = mask.to(at::kBool);
  at::Tensor low = (ratio < 1.0 - epsilon_low).logical_and(a < 0).logical_and(m);
  at::Tensor high = (ratio > 1.0 + epsilon_high).logical_and(a > 0).logical_and(m);
  ClipCounts c;
  c.low = low.sum().item<double>();
  c.high = high.sum().item<double>();
  c.region = low.logical_or(high).sum().item<double>();
  return c;
}

}  // namespace r1::train::rl
