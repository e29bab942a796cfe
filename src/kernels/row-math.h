// Reductions over one fp32 row shared by the losses (src/model/lm-head-losses.cpp) and the sampler
// (src/engine/sampler.cpp), so that the log-probabilities a trainer computes and the ones the engine reports for
// the tokens it sampled go through the same arithmetic. Vectorised per ISA level (kernels/simd.h).
#pragma once

#include <cstdint>

namespace r1 {

// log(sum_j exp(x[j])), max-subtracted. Exponentials in 16 fp32 lanes per 256-element block, block sums in
// double: ~1e-7 relative error at 40000 terms, where plain fp32 lanes (and ATen's logsumexp) reach ~1e-5.
float row_log_sum_exp(const float* x, int64_t n);
// x[j] = x[j] / t in place (a division, as logits / temperature in TRL and PyTorch, not a product with 1/t).
void row_divide(float* x, int64_t n, float t);
// Entropy of softmax(x) given lse = row_log_sum_exp(x, n): sum_j p_j (lse - x[j]), every term >= 0.
float row_entropy(const float* x, int64_t n, float lse);

}  // namespace r1
