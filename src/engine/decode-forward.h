// DecodeForward: the engine's fp32 CPU decode step (one new token per row against the slot cache), the same
// math as TransformerImpl::forward (HF Llama / Qwen2: RMSNorm, RoPE or ALiBi, grouped-query attention,
// SwiGLU, tied or untied head) in a few fused kernels (kernels/cpu-kernels.h) instead of ~25 ATen calls per layer.
// In fp32 every op is the training forward's own: the kernels/transformer-rows.h row kernels for RMSNorm, RoPE, SwiGLU
// and the softmax, and the products and attention of kernels/cpu-kernels.h, which the training forward also runs
// (model/exact-ops.h), so a sampled token's log-prob equals a training forward's to the bit (GRPO).
// It reads the model's parameters by role (TransformerImpl::weights(), no names) and keeps derived copies
// (q|k|v and gate|up stacked, every projection and the LM head packed into panels) that are rebuilt whenever
// any parameter's storage or version counter changes, so a trainer updating the same weights in place is
// always seen at the next step.
// bf16 models (the engine's bf16 shadow): weights and the KV cache stay bf16, products take activations
// rounded to bf16 and accumulate in fp32 (AVX512-BF16), while norms, RoPE, softmax, SiLU and the residual
// stream stay fp32 -- fewer roundings than LibTorch's bf16 ops, which round every op's output to bf16.
// Prefill, other dtypes and other devices keep the model's own forward (supported() says which).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "kernels/cpu-kernels.h"
#include "r1/model.h"

namespace r1::engine {

class DecodeForward {
 public:
  // fp32 (AVX-512) or bf16 (AVX512-BF16, head dim % 16 == 0) parameters on the CPU that track versions (not
  // inference tensors), and a head dim that RoPE can split in halves.
  static bool supported(model::TransformerImpl& model);
  explicit DecodeForward(model::TransformerImpl& model);

  // One decode step over cache rows [0, B) of length L: row r feeds tokens[r] at RoPE position positions[r]
  // into key slot L, attending slots [first[r], L]. Writes slot L of every layer's K/V and advances
  // cache.length to L + 1. Returns the next-token logits (B, V) float, in a buffer the next step() reuses (copy
  // them to keep them).
  at::Tensor step(const std::vector<int32_t>& tokens, const std::vector<int64_t>& positions,
                  const std::vector<int64_t>& first, model::KvCache& cache);
  // The LM head on final hidden states (B, C) fp32 -> logits (B, V), with the step's product kernel (each logit
  // one FMA chain, whatever B is): the prefill's next-token logits in the same arithmetic as a training forward.
  at::Tensor head(const at::Tensor& hidden);

 private:
  struct Layer {
    at::Tensor input_norm, post_norm;  // (C) fp32
    kernels::PackedLinear qkv, o, gate_up, down;
  };
  void refresh();  // repack if any parameter changed since the last pack

  model::TransformerImpl& model_;
  model::ModelConfig config_;
  std::vector<std::pair<at::Tensor, std::pair<const void*, int64_t>>> seen_;  // parameter, (data, version)
  std::vector<Layer> layers_;
  kernels::PackedLinear head_;
  bool bf16_ = false;                // bf16 parameters: bf16 panels and KV cache, fp32 everything else
  at::Tensor embedding_;             // (V, C) the parameter itself (fp32 or bf16)
  at::Tensor final_norm_;            // (C) fp32
  at::Tensor inv_freq_;              // (D/2) fp32 RoPE frequencies, or undefined (ALiBi)
  at::Tensor slopes_;                // (H) fp32 ALiBi slopes, or undefined (RoPE)
  at::Tensor work_;                  // per-step activations, grown to the largest batch seen
  at::Tensor logits_;                // (rows, V) the steps' logits, grown to the largest batch seen
  std::vector<uint16_t> work_bf16_;  // bf16: the products' inputs rounded to bf16
  at::Tensor rope_cos_, rope_sin_;   // (P, D) RoPE tables for positions [0, P), grown on demand
};

}  // namespace r1::engine
