// The transformer's building blocks as torch::nn modules whose parameter names are Hugging Face's
// (RMSNorm "weight"; q/k/v/o_proj and gate/up/down_proj "weight"/"bias"; embed_tokens "weight").
// Internal to src/model; the public API is include/r1/model.h. Parameters are created uninitialised;
// TransformerImpl::init_weights() fills them.
//   RMSNorm: y = w * x / sqrt(mean(x^2) + eps), computed in fp32 (HF LlamaRMSNorm).
//   RoPE: HF's rotate_half convention, frequencies inv_freq_i = theta^(-2i/D) (+ linear / llama3 scaling).
//   ALiBi: bias(h, i, j) = -slope_h * (i - j), slopes as in BLOOM/MPT (geometric, interleaved beyond 2^k).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <optional>
#include <vector>

#include "r1/model.h"

namespace r1::model::detail {

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // (..., in) -> (..., out)
  at::Tensor weight;                        // (out, in)
  at::Tensor bias;                          // (out) or undefined
  // LoRA adapter (src/model/lora.cpp), null when none: forward adds lora_scaling * B(A(dropout(x))).
  std::shared_ptr<LinearImpl> lora_A, lora_B;  // registered as "lora_A" (r, in) and "lora_B" (out, r)
  double lora_scaling = 0, lora_dropout = 0;
  bool lora_enabled = true;
  bool has_active_lora() const { return lora_A != nullptr && lora_enabled; }
};
TORCH_MODULE(Linear);

class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t size, double eps, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight;  // (C)
  double eps;
};
TORCH_MODULE(RmsNorm);

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t vocab, int64_t size, std::optional<int64_t> padding_idx, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& ids);  // (B, T) -> (B, T, C); no gradient flows into the padding row
  at::Tensor weight;                          // (V, C)
  int64_t padding_idx;                        // -1: none
};
TORCH_MODULE(Embedding);

// Everything a layer needs about positions and masking, computed once per forward.
struct AttentionInputs {
  at::Tensor cos, sin;  // (B or 1, T, D) fp32 (RoPE), or undefined (ALiBi)
  at::Tensor allowed;   // (B, 1, 1, T, S) bool: may query t attend key s; undefined = everything allowed
  at::Tensor alibi;     // (1, Hkv, G, T, S) additive bias (ALiBi), or undefined
  // (1, G*T, S) additive causal bias (0 / -1e30) in the rows of the folded query layout, set instead of
  // `allowed` when nothing but causality masks (no padding, no ALiBi): one baddbmm computes the scores.
  at::Tensor causal_bias;
  // Set instead of the masks above when the forward's products run r1's kernels (exact-ops.h): query t of
  // row b attends the keys [key_first[b, t], key_last[b, t]] (int64 (B, T) CPU); ALiBi from the slopes (H).
  at::Tensor key_first, key_last, alibi_slopes;
  KvCache* cache = nullptr;
  int64_t past = 0;  // cache length before this forward
};

// Attention through at::scaled_dot_product_attention (FlashAttention-2, memory-efficient or cuDNN kernels) for CUDA
// tensors and more than one query token (training, prefill; a decode step stays explicit, layers.cpp says why),
// where the LibTorch at hand has it (>= 2.0; compiled out before): the same math as the explicit
// matmul + fp32 softmax path, in the kernels' own order, without the (B, H, T, S) scores in memory. A causal
// forward without padding, ALiBi or cache passes is_causal (FlashAttention); padding and ALiBi become one additive
// mask (no FlashAttention) whose masked value is -1e30, finite in every dtype and after the kernels' log2
// scaling, so a fully masked padding query gets a uniform row as in the explicit path, never NaN. CPU tensors
// keep the explicit path and r1's kernels (exact-ops.h).
bool fused_attention_compiled();         // this build has the path (LibTorch >= 2.0)
bool fused_attention_enabled();          // compiled and switched on (default; R1_ATTENTION=explicit switches off)
void set_fused_attention(bool enabled);  // process-wide; tests compare the two paths
// q (B, H, T, D), k / v (B, Hkv, S, D), masks from ctx -> (B, H, T, D) in the dtype of the products.
at::Tensor fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionInputs& ctx);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const AttentionInputs& ctx, int64_t layer);  // (B, T, C) -> (B, T, C)
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const ModelConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // down(silu(gate(x)) * up(x))
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const AttentionInputs& ctx, int64_t layer);
  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

// HF's LlamaModel / Qwen2Model: embed_tokens, layers.{i}, norm.
class DecoderStackImpl : public torch::nn::Module {
 public:
  DecoderStackImpl(const ModelConfig& config, const at::TensorOptions& options);
  Embedding embed_tokens{nullptr};
  std::vector<DecoderLayer> layers;
  RmsNorm norm{nullptr};
};

// inv_freq (D/2) in fp32 with the config's rope_scaling applied, computed as HF does.
at::Tensor rope_inverse_frequencies(const ModelConfig& config);
// ALiBi slopes (H) in fp32.
at::Tensor alibi_slopes(int64_t heads);

}  // namespace r1::model::detail
