// The fp32 CPU forward's products through r1's own kernels (kernels/cpu-kernels.h) instead of the BLAS: every
// linear layer and the attention compute each output with the decode step's operations in the decode step's
// order (one FMA chain per output, the same softmax row kernel), so a full-sequence forward and the engine's
// token-by-token decode give a token the same log-prob to the bit, whatever BLAS kernels OpenBLAS runs and
// however the batch is shaped (GRPO's importance ratio is exactly 1 at its first iteration). Backward passes
// run ATen (the BLAS): gradients need no bitwise agreement. Internal to src/model.
// Applies to float32 CPU tensors with autocast off on CPUs with AVX-512 (kernels::available()); everything
// else (bf16 autocast, CUDA, older CPUs) keeps ATen's ops, where decode and training agree to ~1e-6 only.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace r1::model::detail {

// Whether x's forward products go through r1's kernels (the rule above).
bool exact_products(const at::Tensor& x);

// x (..., K) @ weight (N, K)^T + bias (N, or undefined) -> (..., N), differentiable in all three.
at::Tensor exact_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// The model's one rule for a linear layer's product: exact_linear where exact_products(x), else at::linear.
at::Tensor linear_product(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// Attention with per-query key ranges (kernels::RangeAttention): q (B, T, H, D), k / v (B, Hkv, S, D) (any
// strides with a dense last dim), first / last (B, T) int64 CPU key ranges, query t at key position past + t,
// alibi_slopes (H) fp32 or undefined -> (B, T, H * D), differentiable in q, k and v.
at::Tensor exact_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& first,
                           const at::Tensor& last, int64_t past, const at::Tensor& alibi_slopes);

}  // namespace r1::model::detail
