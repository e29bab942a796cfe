// exact-ops.h: the forward products through kernels::linear / kernels::range_attention, with ATen backward
// passes. Weights are packed into the kernels' panels at every forward (N x K copies, small next to the
// M x N x K product of a training batch; a trainer changes the weights between forwards anyway).
// Attention's backward, from the saved probabilities P (B, Hkv, G*T, S) in the folded grouped-query layout:
//   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dP * P)),  dQ = dS K / sqrt(D),  dK = dS^T Q / sqrt(D).
#include "model/exact-ops.h"

#include <ATen/ATen.h>
#include <fmt/ranges.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "kernels/cpu-kernels.h"
#include "model/autocast-state.h"
#include "r1/error.h"

namespace r1::model::detail {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool needs_graph(std::initializer_list<const at::Tensor*> inputs) {
  if (!at::GradMode::is_enabled()) return false;
  for (const at::Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

at::Tensor linear_forward(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t K = x.size(-1), N = weight.size(0);
  if (weight.size(1) != K) fail("exact linear: input has {} features, the weight expects {}", K, weight.size(1));
  at::Tensor rows = x.reshape({-1, K}).contiguous();  // (M, K)
  kernels::PackedLinear packed;
  packed.pack({weight}, {bias});
  at::Tensor y = at::empty({rows.size(0), N}, rows.options());  // (M, N)
  kernels::linear(rows.data_ptr<float>(), rows.size(0), K, packed, y.data_ptr<float>(), N, false);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = N;
  return y.view(shape);
}

struct ExactLinear : torch::autograd::Function<ExactLinear> {
  // bias: (N), or (0) for none (autograd's inputs must be defined tensors)
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["bias"] = bias.numel() > 0;
    return linear_forward(x, weight, bias.numel() > 0 ? bias : at::Tensor());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const int64_t K = x.size(-1), N = weight.size(0);
    at::Tensor gy = grad_out[0].reshape({-1, N});  // (M, N)
    at::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) gx = at::mm(gy, weight).view(x.sizes());  // (M, K)
    if (ctx->needs_input_grad(1)) gw = at::mm(gy.t(), x.reshape({-1, K}));  // (N, K)
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) gb = gy.sum(0);
    return {gx, gw, gb};
  }
};

at::Tensor attention_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& first,
                             const at::Tensor& last, int64_t past, const at::Tensor& slopes, at::Tensor* probs) {
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), D = q.size(3), Hkv = k.size(1), S = k.size(2);
  if (k.sizes() != v.sizes() || k.stride(3) != 1 || v.stride(3) != 1 || k.size(0) != B || k.size(3) != D ||
      H % Hkv != 0 || first.sizes() != at::IntArrayRef{B, T} || last.sizes() != first.sizes())
    fail("exact attention: q [{}], keys [{}], values [{}], ranges [{}] do not fit together", fmt::join(q.sizes(), ", "),
         fmt::join(k.sizes(), ", "), fmt::join(v.sizes(), ", "), fmt::join(first.sizes(), ", "));
  at::Tensor qc = q.contiguous();  // (B, T, H, D)
  at::Tensor f = first.contiguous(), l = last.contiguous();
  at::Tensor out = at::empty({B, T, H, D}, q.options());  // (B, T, H, D)
  kernels::RangeAttention a;
  a.B = B;
  a.T = T;
  a.S = S;
  a.H = H;
  a.Hkv = Hkv;
  a.D = D;
  a.q = qc.data_ptr<float>();
  a.key = k.data_ptr<float>();
  a.value = v.data_ptr<float>();
  for (int i = 0; i < 3; ++i) {
    a.key_strides[i] = k.stride(i);
    a.value_strides[i] = v.stride(i);
  }
  a.first = f.data_ptr<int64_t>();
  a.last = l.data_ptr<int64_t>();
  a.past = past;
  a.alibi_slopes = slopes.defined() ? slopes.data_ptr<float>() : nullptr;
  a.out = out.data_ptr<float>();
  if (probs != nullptr) {
    *probs = at::empty({B, H, T, S}, q.options());  // (B, H, T, S)
    a.probs = probs->data_ptr<float>();
  }
  kernels::range_attention(a);
  return out.view({B, T, H * D});
}

struct ExactAttention : torch::autograd::Function<ExactAttention> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& first, const at::Tensor& last, int64_t past, const at::Tensor& slopes) {
    at::Tensor probs;  // slopes: (H), or (0) for none
    at::Tensor out = attention_forward(q, k, v, first, last, past, slopes.numel() > 0 ? slopes : at::Tensor(), &probs);
    ctx->save_for_backward({q, k, v, probs});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &probs = saved[3];
    const int64_t B = q.size(0), T = q.size(1), H = q.size(2), D = q.size(3), Hkv = k.size(1), S = k.size(2);
    const int64_t G = H / Hkv;
    const double scale = 1.0 / std::sqrt(double(D));
    at::Tensor p = probs.view({B, Hkv, G * T, S});                                                  // (B, Hkv, GT, S)
    at::Tensor d_out = grad_out[0].view({B, T, H, D}).transpose(1, 2).reshape({B, Hkv, G * T, D});  // (B, Hkv, GT, D)
    at::Tensor qg = q.transpose(1, 2).reshape({B, Hkv, G * T, D});                                  // (B, Hkv, GT, D)
    at::Tensor dv = at::matmul(p.transpose(-1, -2), d_out);                                         // (B, Hkv, S, D)
    at::Tensor dp = at::matmul(d_out, v.transpose(-1, -2));                                         // (B, Hkv, GT, S)
    at::Tensor ds = at::_softmax_backward_data(dp, p, -1, at::kFloat);  // P * (dP - rowsum(dP * P)) (B, Hkv, GT, S)
    at::Tensor dq = at::matmul(ds, k).mul_(scale).view({B, H, T, D}).transpose(1, 2);  // (B, T, H, D)
    at::Tensor dk = at::matmul(ds.transpose(-1, -2), qg).mul_(scale);                  // (B, Hkv, S, D)
    return {dq, dk, dv, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool exact_products(const at::Tensor& x) {
  return x.is_cpu() && x.scalar_type() == at::kFloat && !autocast_enabled(at::kCPU) && kernels::available();
}

at::Tensor exact_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (weight.scalar_type() != at::kFloat || (bias.defined() && bias.scalar_type() != at::kFloat))
    fail("exact linear: float32 weights expected");
  if (!needs_graph({&x, &weight, &bias})) return linear_forward(x, weight, bias);
  return ExactLinear::apply(x, weight, bias.defined() ? bias : at::empty({0}, weight.options()));
}

at::Tensor linear_product(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return exact_products(x) ? exact_linear(x, weight, bias) : at::linear(x, weight, bias);
}

at::Tensor exact_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& first,
                           const at::Tensor& last, int64_t past, const at::Tensor& alibi_slopes) {
  if (!needs_graph({&q, &k, &v})) return attention_forward(q, k, v, first, last, past, alibi_slopes, nullptr);
  return ExactAttention::apply(q, k, v, first, last, past,
                               alibi_slopes.defined() ? alibi_slopes : at::empty({0}, q.options()));
}

}  // namespace r1::model::detail
