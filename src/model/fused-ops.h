// Fused CPU kernels for the memory-bound parts of a transformer block, as autograd functions with
// hand-written backward passes: one pass over the data each way instead of a chain of ATen ops (each of
// which reads and writes the whole activation). Internal to src/model; the row kernels they are built from, which
// the engine's decode step shares, are kernels/transformer-rows.h's. All follow HF Llama's math:
//   rms_norm: y = w * (x / sqrt(mean(x^2) + eps)), statistics in fp32 (LlamaRMSNorm);
//   swiglu:   y = silu(g) * u with [g | u] = the two halves of the last dimension (LlamaMLP's act);
//   rope:     y = x * cos + rotate_half(x) * sin (apply_rotary_pos_emb), fp32 math;
//   softmax_last_dim: softmax(x, -1, dtype=float32).to(out_dtype) (eager attention's probabilities).
// CUDA tensors (and any dtype other than fp32 / bf16) take the equivalent ATen expressions.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

namespace r1::model::detail {

// x (..., C) fp32 or bf16, weight (C) -> (..., C) in `out_dtype`.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, at::ScalarType out_dtype);

// gate_up (..., 2I) fp32 or bf16 -> silu(gate_up[..., :I]) * gate_up[..., I:]  (..., I), same dtype.
at::Tensor swiglu(const at::Tensor& gate_up);
// The same from separate gate (..., I) and up (..., I) tensors.
at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up);

// x (B, T, NH, D) fp32 or bf16 (last two dims dense or not), cos / sin (B or 1, T, D) fp32 -> (B, T, NH, D)
// dense, x's dtype. Throws r1::Error on mismatched shapes.
at::Tensor rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// scores (..., S) fp32 or bf16 -> probabilities (..., S) in out_dtype, computed in fp32. Scores at the
// dtype's lowest value (masked) get probability exactly 0; a row masked throughout becomes uniform.
at::Tensor softmax_last_dim(const at::Tensor& scores, at::ScalarType out_dtype);

}  // namespace r1::model::detail
