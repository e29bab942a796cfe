// AdamW with decoupled weight decay and parameter groups (decay / no decay), the arithmetic of
// torch.optim.AdamW's single-tensor path (PyTorch 1.13):
//   p *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;
//   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
// Contiguous fp32 CPU tensors take one fused pass (read p, g, m, v once, write p, m, v once) instead of
// PyTorch's ~10 passes; it may differ from PyTorch in the last bit (PyTorch's add with alpha is an FMA).
// Other tensors (CUDA, fp64) run PyTorch's operation sequence.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <fmt/ranges.h>

#include <cmath>
#include <unordered_set>

#include "kernels/simd.h"
#include "r1/error.h"
#include "r1/train.h"

namespace r1::train {
namespace {
// One AdamW update of n fp32 elements (see the file header for the formula).
R1_VECTOR_CLONES void adamw_update(float* __restrict p, const float* __restrict g, float* __restrict m,
                                   float* __restrict v, int64_t n, float keep, float b1, float c1, float b2, float c2,
                                   float bc2, float eps, float step) {
  for (int64_t j = 0; j < n; ++j) {
    const float gj = g[j];
    const float mj = b1 * m[j] + c1 * gj;
    const float vj = b2 * v[j] + c2 * gj * gj;
    m[j] = mj;
    v[j] = vj;
    p[j] = p[j] * keep - step * (mj / (std::sqrt(vj) / bc2 + eps));
  }
}
}  // namespace

AdamW::AdamW(std::vector<Param> params, double weight_decay, double beta1, double beta2, double eps)
    : params_(std::move(params)), weight_decay_(weight_decay), beta1_(beta1), beta2_(beta2), eps_(eps) {
  torch::NoGradGuard no_grad;
  for (const Param& p : params_) {
    exp_avg_.push_back(torch::zeros_like(p.tensor, at::MemoryFormat::Contiguous));
    exp_avg_sq_.push_back(torch::zeros_like(p.tensor, at::MemoryFormat::Contiguous));
  }
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double bias_correction1 = 1.0 - std::pow(beta1_, double(steps_));
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(beta2_, double(steps_)));
  const double step_size = lr / bias_correction1;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].tensor;
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    const double decay = params_[i].decay ? 1.0 - lr * weight_decay_ : 1.0;
    if (p.is_cpu() && p.scalar_type() == at::kFloat && g.scalar_type() == at::kFloat && p.is_contiguous() &&
        g.is_contiguous()) {
      float* pp = p.data_ptr<float>();
      const float* gp = g.data_ptr<float>();
      float* mp = exp_avg_[i].data_ptr<float>();
      float* vp = exp_avg_sq_[i].data_ptr<float>();
      const float b1 = float(beta1_), b2 = float(beta2_), c1 = float(1.0 - beta1_), c2 = float(1.0 - beta2_);
      const float keep = float(decay), bc2 = float(bias_correction2_sqrt), eps = float(eps_), step = float(step_size);
      at::parallel_for(0, p.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
        adamw_update(pp + begin, gp + begin, mp + begin, vp + begin, end - begin, keep, b1, c1, b2, c2, bc2, eps, step);
      });
      // Written through a raw pointer: bump the version counter as an in-place ATen op would, so whoever
      // caches derived copies of the weights (the engine's packed decode weights) sees the change.
      p.unsafeGetTensorImpl()->bump_version();
      continue;
    }
    if (decay != 1.0) p.mul_(decay);
    exp_avg_[i].mul_(beta1_).add_(g, 1.0 - beta1_);
    exp_avg_sq_[i].mul_(beta2_).addcmul_(g, g, 1.0 - beta2_);
    at::Tensor denom = (exp_avg_sq_[i].sqrt() / bias_correction2_sqrt).add_(eps_);
    p.addcdiv_(exp_avg_[i], denom, -step_size);
  }
}

void AdamW::zero_grad() {
  for (Param& p : params_)
    if (p.tensor.grad().defined()) p.tensor.mutable_grad() = at::Tensor();
}

void AdamW::save_state(CheckpointWriter& out) const {
  for (size_t i = 0; i < params_.size(); ++i) {
    out.tensors.emplace_back(params_[i].name + ".exp_avg", exp_avg_[i]);
    out.tensors.emplace_back(params_[i].name + ".exp_avg_sq", exp_avg_sq_[i]);
  }
  out.metadata["steps"] = std::to_string(steps_);
}

void AdamW::load_state(CheckpointReader& in) {
  auto steps = in.metadata.find("steps");
  if (steps == in.metadata.end()) fail("{}: no 'steps' in its metadata", in.tensors_path);
  int64_t saved_steps = -1;
  try {
    size_t used = 0;
    saved_steps = std::stoll(steps->second, &used);
    if (used != steps->second.size()) saved_steps = -1;
  } catch (const std::exception&) {
  }
  if (saved_steps < 0)
    fail("{}: metadata 'steps' must be a non-negative integer, found '{}'", in.tensors_path, steps->second);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    for (auto [suffix, target] : {std::pair{".exp_avg", &exp_avg_[i]}, std::pair{".exp_avg_sq", &exp_avg_sq_[i]}}) {
      at::Tensor saved = in.take(params_[i].name + suffix);
      if (!saved.defined()) fail("optimizer state lacks '{}{}'", params_[i].name, suffix);
      if (saved.sizes() != target->sizes())
        fail("optimizer state '{}{}' has shape [{}], the parameter [{}]", params_[i].name, suffix,
             fmt::join(saved.sizes(), ", "), fmt::join(target->sizes(), ", "));
      target->copy_(saved);
    }
  }
  steps_ = saved_steps;
}

std::vector<AdamW::Param> optimizer_params(model::TransformerImpl& model, const std::vector<std::string>& no_decay) {
  std::vector<AdamW::Param> out;
  std::unordered_set<const void*> seen;  // tied weights once
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const at::Tensor& t = item.value();
    if (!t.requires_grad() || !seen.insert(t.unsafeGetTensorImpl()).second) continue;
    bool decay = true;
    for (const std::string& fragment : no_decay)
      if (item.key().find(fragment) != std::string::npos) decay = false;
    out.push_back({item.key(), t, decay});
  }
  return out;
}

}  // namespace r1::train
