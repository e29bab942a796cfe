// See row-math.h. Plain C++ loops over 16 independent lanes (vectorised by the compiler in each clone).
#include "kernels/row-math.h"

#include <cmath>

#include "kernels/simd.h"

namespace r1 {

namespace {
constexpr int kLanes = 16;
constexpr int64_t kBlock = 256;
}  // namespace

R1_VECTOR_CLONES float row_log_sum_exp(const float* __restrict x, int64_t n) {
  float lane_max[kLanes];
  for (int l = 0; l < kLanes; ++l) lane_max[l] = -3.4e38f;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane_max[l] = x[i + l] > lane_max[l] ? x[i + l] : lane_max[l];
  float m = -3.4e38f;
  for (int l = 0; l < kLanes; ++l) m = lane_max[l] > m ? lane_max[l] : m;
  for (int64_t j = i; j < n; ++j) m = x[j] > m ? x[j] : m;
  double sum = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    float lane_sum[kLanes] = {};
    for (i = b; i + kLanes <= e; i += kLanes)
      for (int l = 0; l < kLanes; ++l) lane_sum[l] += exp_approx(x[i + l] - m);
    for (int l = 0; l < kLanes; ++l) sum += lane_sum[l];
    for (int64_t j = i; j < e; ++j) sum += exp_approx(x[j] - m);
  }
  return m + float(std::log(sum));
}

R1_VECTOR_CLONES void row_divide(float* x, int64_t n, float t) {
  for (int64_t j = 0; j < n; ++j) x[j] = x[j] / t;
}
R1_VECTOR_CLONES float row_entropy(const float* __restrict x, int64_t n, float lse) {
  double sum = 0;
  int64_t i = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    float lane[kLanes] = {};
    for (i = b; i + kLanes <= e; i += kLanes)
      for (int l = 0; l < kLanes; ++l) lane[l] += exp_approx(x[i + l] - lse) * (lse - x[i + l]);
    for (int l = 0; l < kLanes; ++l) sum += lane[l];
    for (int64_t j = i; j < e; ++j) sum += exp_approx(x[j] - lse) * (lse - x[j]);
  }
  return float(sum);
}

}  // namespace r1
