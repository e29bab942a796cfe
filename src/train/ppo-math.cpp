// PPO's formulas (ppo-math.h), line for line after TRL's PPOTrainer.train and trl.trainer.utils.
#include "train/ppo-math.h"

#include <algorithm>

#include "r1/error.h"

namespace r1::train::rl {

KlEstimator parse_kl_estimator(const std::string& name) {
  if (name == "k1") return KlEstimator::kK1;
  if (name == "k3") return KlEstimator::kK3;
  fail_usage("kl_estimator: '{}' is not one of k1, k3", name);
}

at::Tensor kl_estimate(const at::Tensor& old_logp, const at::Tensor& ref_logp, KlEstimator estimator) {
  at::Tensor logr = ref_logp - old_logp;
  if (estimator == KlEstimator::kK1) return -logr;
  return (logr.exp() - 1) - logr;
}

at::Tensor masked_mean(const at::Tensor& x, const at::Tensor& mask) {
  return (x * mask).sum() / mask.sum().clamp_min(1.0);
}

at::Tensor masked_whiten(const at::Tensor& x, const at::Tensor& mask, bool shift_mean) {
  const double n = mask.sum().item<double>();
  if (n < 2) return x * mask;
  at::Tensor mean = masked_mean(x, mask);
  at::Tensor var = masked_mean((x - mean).pow(2), mask) * (n / (n - 1));
  at::Tensor whitened = (x - mean) * at::rsqrt(var + 1e-8);
  if (!shift_mean) whitened = whitened + mean;
  return whitened * mask;
}

Gae generalized_advantages(const at::Tensor& rewards, const at::Tensor& values, const at::Tensor& mask, double gamma,
                           double lam) {
  const at::Tensor m = mask.to(at::kCPU, at::kDouble).contiguous();
  const at::Tensor r = (rewards.to(at::kCPU, at::kDouble) * m).contiguous();
  const at::Tensor v = (values.to(at::kCPU, at::kDouble) * m).contiguous();
  const int64_t B = r.size(0), L = r.size(1);
  at::Tensor adv = at::zeros({B, L}, r.options());
  auto ra = r.accessor<double, 2>();
  auto va = v.accessor<double, 2>();
  auto aa = adv.accessor<double, 2>();
  for (int64_t b = 0; b < B; ++b) {
    double last = 0;
    for (int64_t t = L - 1; t >= 0; --t) {
      const double next = t + 1 < L ? va[b][t + 1] : 0.0;
      const double delta = ra[b][t] + gamma * next - va[b][t];
      last = delta + gamma * lam * last;
      aa[b][t] = last;
    }
  }
  adv = adv * m;
  Gae g;
  g.advantages = adv.to(rewards.device(), at::kFloat);
  g.returns = ((adv + v) * m).to(rewards.device(), at::kFloat);
  return g;
}

PpoLoss ppo_loss(const at::Tensor& logp, const at::Tensor& values, const at::Tensor& old_logp,
                 const at::Tensor& old_values, const at::Tensor& advantages, const at::Tensor& returns,
                 const at::Tensor& mask, double cliprange, double cliprange_value) {
  PpoLoss out;
  at::Tensor vclipped = old_values + (values - old_values).clamp(-cliprange_value, cliprange_value);
  at::Tensor vf1 = (values - returns).pow(2), vf2 = (vclipped - returns).pow(2);
  out.vf_loss = 0.5 * masked_mean(at::max(vf1, vf2), mask);
  at::Tensor logratio = logp - old_logp;
  at::Tensor ratio = logratio.exp();
  at::Tensor pg1 = -advantages * ratio, pg2 = -advantages * ratio.clamp(1.0 - cliprange, 1.0 + cliprange);
  out.pg_loss = masked_mean(at::max(pg1, pg2), mask);
  at::NoGradGuard no_grad;
  out.vf_clipfrac = masked_mean((vf2 > vf1).to(at::kFloat), mask).item<double>();
  out.pg_clipfrac = masked_mean((pg2 > pg1).to(at::kFloat), mask).item<double>();
  out.approxkl = (0.5 * masked_mean(logratio.detach().pow(2), mask)).item<double>();
  out.ratio = masked_mean(ratio.detach(), mask).item<double>();
  return out;
}

}  // namespace r1::train::rl
