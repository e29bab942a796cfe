// Forward passes of the transformer blocks declared in layers.h: RMSNorm, RoPE, grouped-query attention
// with an optional KV cache, SwiGLU MLP, and the RoPE / ALiBi tables. Follows HF modeling_llama.py
// numerically: RMSNorm and softmax in fp32, cos/sin from fp32 positions x inv_freq.
// Grouped-query attention folds the G = H / Hkv query heads of a kv head into the row dimension
// ((B, Hkv, G*T, D) x (B, Hkv, D, S)) instead of materialising repeated K/V as HF's repeat_kv does.
#include "model/layers.h"

#include "model/autocast-state.h"
#include "model/exact-ops.h"
#include "model/fused-ops.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/types.h>

#include <cmath>
#include <limits>

namespace r1::model::detail {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias, const at::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out, in}, options));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}, options));
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
  if (!has_active_lora()) return linear_product(x, weight, bias);
  at::Tensor h = lora_dropout > 0 && is_training() ? at::dropout(x, lora_dropout, /*train=*/true) : x;
  return linear_product(x, weight, bias) + lora_B->forward(lora_A->forward(h)) * lora_scaling;
}

EmbeddingImpl::EmbeddingImpl(int64_t vocab, int64_t size, std::optional<int64_t> pad, const at::TensorOptions& options)
    : padding_idx(pad.value_or(-1)) {
  weight = register_parameter("weight", torch::empty({vocab, size}, options));
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids, padding_idx); }

RmsNormImpl::RmsNormImpl(int64_t size, double eps_, const at::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", torch::empty({size}, options));
}

at::Tensor RmsNormImpl::forward(const at::Tensor& x) {
  // Under autocast every consumer (the projections) casts the output to the autocast dtype: emit it so.
  return rms_norm(x, weight, eps, autocast_dtype_for(x));
}

namespace {
// Rows of several projections as one weight (and bias), so one GEMM computes them all (fewer, larger GEMMs;
// one autocast cast of the input instead of one per projection). Gradients flow back through the cat.
std::pair<at::Tensor, at::Tensor> fused(std::initializer_list<const LinearImpl*> parts) {
  std::vector<at::Tensor> w, b;
  for (const LinearImpl* p : parts) {
    w.push_back(p->weight);
    if (p->bias.defined()) b.push_back(p->bias);
  }
  return {at::cat(w, 0), b.empty() ? at::Tensor() : at::cat(b, 0)};
}
// Fusing pays for its weight copy (and the split of its gradient) only when at least as many rows go through
// the GEMM as the fused weight has: training and prefill of small models, not decode, not d >= 768 at 1k rows.
bool fuse(int64_t rows, int64_t fused_out_features) { return rows >= 32 && rows >= fused_out_features; }
// Fusing reads the weights directly: not with an active LoRA adapter (its delta is part of forward()).
bool plain(std::initializer_list<const LinearImpl*> parts) {
  for (const LinearImpl* p : parts)
    if (p->has_active_lora()) return false;
  return true;
}
}  // namespace

AttentionImpl::AttentionImpl(const ModelConfig& c, const at::TensorOptions& options)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.resolved_head_dim()) {
  q_proj = register_module("q_proj", Linear(c.hidden_size, heads_ * head_dim_, c.qkv_bias(), options));
  k_proj = register_module("k_proj", Linear(c.hidden_size, kv_heads_ * head_dim_, c.qkv_bias(), options));
  v_proj = register_module("v_proj", Linear(c.hidden_size, kv_heads_ * head_dim_, c.qkv_bias(), options));
  o_proj = register_module("o_proj", Linear(heads_ * head_dim_, c.hidden_size, c.o_bias(), options));
}

namespace {
// The most negative finite value of the score dtype: masked scores get it instead of -inf, so a fully masked
// (padding) query row softmaxes to a uniform row rather than NaN, which would leak into later layers.
double mask_value(at::ScalarType dtype) {
  switch (dtype) {
    case at::kHalf:
      return -65504.0;
    case at::kBFloat16:
      return -3.3895313892515355e38;
    case at::kDouble:
      return std::numeric_limits<double>::lowest();
    default:
      return std::numeric_limits<float>::lowest();
  }
}
}  // namespace

at::Tensor AttentionImpl::forward(const at::Tensor& x, const AttentionInputs& ctx, int64_t layer) {
  const int64_t B = x.size(0), T = x.size(1), H = heads_, Hkv = kv_heads_, D = head_dim_, G = H / Hkv;
  at::Tensor q, k, v;
  if (fuse(B * T, (H + 2 * Hkv) * D) && plain({q_proj.get(), k_proj.get(), v_proj.get()})) {
    auto [w, b] = fused({q_proj.get(), k_proj.get(), v_proj.get()});
    at::Tensor qkv = linear_product(x, w, b).view({B, T, H + 2 * Hkv, D});  // (B, T, H+2Hkv, D)
    // split (not narrow): its backward is one cat, where each narrow's would zero-fill a full-size gradient
    std::vector<at::Tensor> parts = qkv.split_with_sizes({H + Hkv, Hkv}, 2);
    at::Tensor qk = parts[0];                                // (B, T, H+Hkv, D)
    v = parts[1].transpose(1, 2);                            // (B, Hkv, T, D)
    if (ctx.cos.defined()) qk = rope(qk, ctx.cos, ctx.sin);  // one RoPE for q and k
    std::vector<at::Tensor> q_k = qk.split_with_sizes({H, Hkv}, 2);
    q = q_k[0].transpose(1, 2);  // (B, H, T, D)
    k = q_k[1].transpose(1, 2);  // (B, Hkv, T, D)
  } else {
    q = q_proj(x).view({B, T, H, D});                    // (B, T, H, D)
    k = k_proj(x).view({B, T, Hkv, D});                  // (B, T, Hkv, D)
    v = v_proj(x).view({B, T, Hkv, D}).transpose(1, 2);  // (B, Hkv, T, D)
    if (ctx.cos.defined()) {
      q = rope(q, ctx.cos, ctx.sin);
      k = rope(k, ctx.cos, ctx.sin);
    }
    q = q.transpose(1, 2);  // (B, H, T, D)
    k = k.transpose(1, 2);  // (B, Hkv, T, D)
  }
  if (ctx.cache != nullptr) {
    at::Tensor& ck = ctx.cache->key[layer];
    at::Tensor& cv = ctx.cache->value[layer];
    ck.narrow(2, ctx.past, T).copy_(k);
    cv.narrow(2, ctx.past, T).copy_(v);
    k = ck.narrow(2, 0, ctx.past + T);  // (B, Hkv, S, D)
    v = cv.narrow(2, 0, ctx.past + T);  // (B, Hkv, S, D)
  }
  if (ctx.key_first.defined())  // r1's kernels: the decode step's arithmetic (exact-ops.h)
    return o_proj(exact_attention(q.transpose(1, 2), k, v, ctx.key_first, ctx.key_last, ctx.past, ctx.alibi_slopes));
  // The fused kernels for T > 1 (training, prefill). A single-token decode step keeps the explicit path: measured on
  // an H200 (LibTorch 2.11), a fused step cost ~90 ms whatever the batch (r1 generate, 0.5B shape: 8 tok/s at batch
  // 1, 556 at 64, against 2,260 explicit at 64; bench/README.md). Its key length grows at every step, a shape the
  // kernels have not seen; LibTorch may send masked bf16 calls on sm90 to cuDNN attention, which builds a plan per
  // new shape (the likely cause, not verified).
  if (q.is_cuda() && T > 1 && fused_attention_enabled())
    return o_proj(fused_attention(q, k, v, ctx).transpose(1, 2).reshape({B, T, H * D}));
  const int64_t S = k.size(2);
  const double scale = 1.0 / std::sqrt(double(D));
  at::Tensor qg = q.reshape({B, Hkv, G * T, D});  // (B, Hkv, G*T, D)
  at::Tensor scores;                              // (B, Hkv, G, T, S)
  if (ctx.causal_bias.defined()) {                // scale, causal mask and QK^T in one kernel
    scores = at::baddbmm(ctx.causal_bias, qg.reshape({B * Hkv, G * T, D}), k.reshape({B * Hkv, S, D}).transpose(1, 2),
                         /*beta=*/1.0, /*alpha=*/scale)
                 .view({B, Hkv, G, T, S});
  } else {
    scores = (at::matmul(qg, k.transpose(-1, -2)) * scale).view({B, Hkv, G, T, S});
    if (ctx.alibi.defined()) scores = scores + ctx.alibi;
    if (ctx.allowed.defined()) scores = scores.masked_fill(ctx.allowed.logical_not(), mask_value(scores.scalar_type()));
  }
  at::Tensor probs = softmax_last_dim(scores, v.scalar_type());    // (B, Hkv, G, T, S), fp32 math
  at::Tensor out = at::matmul(probs.view({B, Hkv, G * T, S}), v);  // (B, Hkv, G*T, D)
  out = out.view({B, H, T, D}).transpose(1, 2).reshape({B, T, H * D});
  return o_proj(out);
}

MlpImpl::MlpImpl(const ModelConfig& c, const at::TensorOptions& options) {
  bool bias = c.model_type == "llama" && c.mlp_bias;
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, bias, options));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, bias, options));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, bias, options));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) {
  if (!fuse(x.numel() / x.size(-1), 2 * gate_proj->weight.size(0)) || !plain({gate_proj.get(), up_proj.get()}))
    return down_proj(swiglu(gate_proj(x), up_proj(x)));
  auto [w, b] = fused({gate_proj.get(), up_proj.get()});
  return down_proj(swiglu(linear_product(x, w, b)));  // [gate | up] (..., 2I) -> (..., I)
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, const at::TensorOptions& options) {
  input_layernorm = register_module("input_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps, options));
  self_attn = register_module("self_attn", Attention(c, options));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps, options));
  mlp = register_module("mlp", Mlp(c, options));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const AttentionInputs& ctx, int64_t layer) {
  at::Tensor h = x + self_attn(input_layernorm(x), ctx, layer);
  return h + mlp(post_attention_layernorm(h));
}

DecoderStackImpl::DecoderStackImpl(const ModelConfig& c, const at::TensorOptions& options) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size, c.pad_token_id, options));
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layers.push_back(DecoderLayer(c, options));
    list->push_back(layers.back());
  }
  norm = register_module("norm", RmsNorm(c.hidden_size, c.rms_norm_eps, options));
}

at::Tensor rope_inverse_frequencies(const ModelConfig& c) {
  const int64_t D = c.resolved_head_dim();
  auto f32 = torch::TensorOptions().dtype(at::kFloat);
  at::Tensor exponent = torch::arange(0, D, 2, torch::TensorOptions().dtype(at::kLong)).to(at::kFloat) / double(D);
  at::Tensor inv_freq = 1.0 / torch::pow(torch::scalar_tensor(c.rope_theta, f32), exponent);  // (D/2)
  const RopeScaling& s = c.rope_scaling;
  if (s.rope_type == "linear") {
    inv_freq = inv_freq / s.factor;
  } else if (s.rope_type == "llama3") {  // HF _compute_llama3_parameters
    const double old_len = double(s.original_max_position_embeddings);
    const double low_wavelen = old_len / s.low_freq_factor, high_wavelen = old_len / s.high_freq_factor;
    at::Tensor wavelen = 2 * M_PI / inv_freq;
    at::Tensor scaled = torch::where(wavelen > low_wavelen, inv_freq / s.factor, inv_freq);
    at::Tensor smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
    at::Tensor medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
    inv_freq = torch::where(medium, smoothed, scaled);
  }
  return inv_freq;
}

at::Tensor alibi_slopes(int64_t heads) {
  auto slopes_for = [](int64_t n, int64_t start, int64_t step, int64_t count) {
    double base = std::pow(2.0, -std::pow(2.0, -(std::log2(double(n)) - 3)));
    std::vector<float> out;
    for (int64_t i = 0; i < count; ++i) out.push_back(float(std::pow(base, double(start + i * step))));
    return out;
  };
  int64_t closest = int64_t(1) << int64_t(std::floor(std::log2(double(heads))));
  std::vector<float> slopes = slopes_for(closest, 1, 1, closest);
  if (closest != heads) {
    auto extra = slopes_for(2 * closest, 1, 2, std::min(closest, heads - closest));
    slopes.insert(slopes.end(), extra.begin(), extra.end());
  }
  return torch::tensor(slopes, torch::TensorOptions().dtype(at::kFloat));
}

}  // namespace r1::model::detail
