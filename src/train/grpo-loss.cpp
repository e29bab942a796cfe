// GRPO advantages, per-token loss and aggregation (see grpo-loss.h for the formulas). Same arithmetic and the
// same constants as TRL's GRPOTrainer: unbiased std, + 1e-4 in the denominator, torch.isclose(std, 0) for
// zero-variance groups, min over the two surrogate terms, mask clamped at 1 token per sequence (grpo, bnpo).
#include "train/grpo-loss.h"

#include <cmath>

#include "r1/error.h"

namespace r1::train::rl {

LossType parse_loss_type(const std::string& name) {
  if (name == "grpo") return LossType::kGrpo;
  if (name == "bnpo") return LossType::kBnpo;
  if (name == "dr_grpo") return LossType::kDrGrpo;
  if (name == "dapo") return LossType::kDapo;
  fail_usage("loss_type: expected grpo, bnpo, dr_grpo or dapo, got '{}'", name);
}

ScaleRewards parse_scale_rewards(const std::string& name) {
  if (name == "group" || name == "true") return ScaleRewards::kGroup;
  if (name == "batch") return ScaleRewards::kBatch;
  if (name == "none" || name == "false") return ScaleRewards::kNone;
  fail_usage("scale_rewards: expected group, batch or none, got '{}'", name);
}

namespace {

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

}  // namespace

Advantages group_advantages(const std::vector<double>& rewards, int64_t group_size, ScaleRewards scale) {
  if (group_size < 1 || rewards.size() % size_t(group_size) != 0)
    fail("group_advantages: {} rewards do not split into groups of {}", rewards.size(), group_size);
  Advantages out;
  out.advantages.resize(rewards.size());
  out.group_std.resize(rewards.size());
  const size_t G = size_t(group_size), groups = rewards.size() / G;
  const double batch_std = mean_std(rewards, 0, rewards.size()).second;
  size_t zero = 0;
  for (size_t g = 0; g < groups; ++g) {
    auto [mean, std] = mean_std(rewards, g * G, (g + 1) * G);
    if (is_close_to_zero(std)) ++zero;
    const double denominator = scale == ScaleRewards::kBatch ? batch_std : std;
    for (size_t i = g * G; i < (g + 1) * G; ++i) {
      out.group_std[i] = std;
      const double centred = rewards[i] - mean;
      out.advantages[i] = scale == ScaleRewards::kNone ? centred : centred / (denominator + 1e-4);
    }
  }
  out.frac_zero_std = groups ? double(zero) / double(groups) : 0.0;
  return out;
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
