// Row kernels of a transformer block's memory-bound ops on contiguous fp32 rows (bf16 rows as raw bits where
// noted): RMSNorm, SwiGLU, RoPE and softmax, forward and backward. The training forward's autograd functions
// (src/model/fused-ops.cpp) split tensors into rows and call these, and the engine's decode step
// (src/engine/decode-forward.cpp) and decode attention (attention.cpp) call the same ones, so a token decoded
// one at a time goes through the same arithmetic as in a training forward (GRPO's exact on-policy log-probs).
// Each is one loop the compiler vectorises, built per ISA level (R1_VECTOR_CLONES, simd.h). Formulas follow
// HF Llama; with r = 1 / sqrt(mean(x^2) + eps), xh = x * r, s = sigmoid(g), h = D / 2:
//   rms_norm: y = w * xh;  dw = sum_rows(dy * xh);  dx = r * (dy * w - xh * mean(dy * w * xh))
//   swiglu:   y = g * s * u;  dg = dy * u * s * (1 + g * (1 - s));  du = dy * g * s
//   rope:     y[d] = x[d] c[d] - x[d+h] s[d],  y[d+h] = x[d+h] c[d+h] + x[d] s[d+h]  (rotate_half)
//   softmax:  y = exp(x - max) / sum;  dx = y * (dy - dot(y, dy))
// No output may alias an input.
#pragma once

#include <cstdint>

namespace r1::kernels {

// ---- RMSNorm --------------------------------------------------------------------------------------------
// Sum of x[c]^2 in double, in 8 independent lanes: the row statistic matches a pairwise fp32 mean to the
// last bit or better.
double row_sum_squares(const float* x, int64_t n);
// y = w * (x * inv), in fp32 or rounded once to bf16 bits.
void rms_scale_row(const float* x, const float* w, float inv, float* y, int64_t n);
void rms_scale_row(const float* x, const float* w, float inv, uint16_t* y, int64_t n);
// dw += dy * xh;  dx = inv * (dy * w - xh * mean(dy * w * xh)), xh = x * inv.
void rms_backward_row(const float* x, const float* dy, const float* w, float inv, float* dw, float* dx, int64_t n);
// One whole row: inv from row_sum_squares in double (as the training forward), then rms_scale_row.
void rms_norm_row(const float* x, const float* weight, int64_t C, double eps, float* y);

// bf16 bits <-> fp32, one rounding (to nearest even) on the way down.
void widen_row(const uint16_t* x, int64_t n, float* out);
void narrow_row(const float* x, int64_t n, uint16_t* out);

// ---- SwiGLU: y = silu(g) * u (exp is simd.h's exp_approx); bf16 rows with fp32 math, one rounding per output
void swiglu_row(const float* g, const float* u, float* y, int64_t n);
void swiglu_row(const uint16_t* g, const uint16_t* u, uint16_t* y, int64_t n);
void swiglu_row_backward(const float* g, const float* u, const float* dy, float* dg, float* du, int64_t n);
void swiglu_row_backward(const uint16_t* g, const uint16_t* u, const uint16_t* dy, uint16_t* dg, uint16_t* du,
                         int64_t n);

// ---- RoPE on one head of D (even) elements, cos c and sin s of D elements; backward is the transpose.
void rope_row(const float* x, const float* c, const float* s, float* y, int64_t D);
void rope_row_backward(const float* dy, const float* c, const float* s, float* dx, int64_t D);

// ---- softmax ----------------------------------------------------------------------------------------------
float row_max(const float* x, int64_t n);  // -inf for n = 0
// e[j] = exp(x[j] - m), exactly 0 where that underflows fp32 (masked scores); returns the sum. Element j always
// adds into lane j % 16 (the tail too), so masked entries past a row's valid prefix add exact zeros: a causal
// row sums to the same bits whatever length the batch is padded to (GRPO's micro-batches, packed rows).
float row_exp_sum(const float* x, int64_t n, float m, float* e);
void scale_row(const float* e, int64_t n, float k, float* y);  // y = e * k
void scale_row(const float* e, int64_t n, float k, uint16_t* y);
float row_dot(const float* a, const float* b, int64_t n);                                     // 16 lanes
void softmax_backward_row(const float* y, const float* dy, float dot, int64_t n, float* dx);  // y * (dy - dot)
// Probabilities of n scores into y, with n floats of scratch in e (row_max, row_exp_sum, scale_row by 1 / sum):
// a row padded with masked scores gives the same probabilities for its valid prefix.
void softmax_row(const float* x, int64_t n, float* e, float* y);

}  // namespace r1::kernels
