// See transformer-rows.h. Plain C++ loops (vectorised by the compiler in each R1_VECTOR_CLONES clone); the
// wrappers rms_norm_row and softmax_row are the per-row steps of the training forward's RmsNormFn and SoftmaxFn
// (src/model/fused-ops.cpp), in the same order.
#include "kernels/transformer-rows.h"

#include <cmath>

#include "kernels/simd.h"

namespace r1::kernels {
namespace {
R1_INLINE float sigmoid(float g) { return 1.0f / (1.0f + exp_approx(-g)); }
}  // namespace

// ---- RMSNorm and bf16 rows ---------------------------------------------------------------------------------
R1_VECTOR_CLONES double row_sum_squares(const float* __restrict x, int64_t n) {
  double lane[8] = {};
  int64_t c = 0;
  for (; c + 8 <= n; c += 8)
    for (int l = 0; l < 8; ++l) lane[l] += double(x[c + l]) * double(x[c + l]);
  double sum = 0;
  for (int l = 0; l < 8; ++l) sum += lane[l];
  for (; c < n; ++c) sum += double(x[c]) * double(x[c]);
  return sum;
}
R1_VECTOR_CLONES void rms_scale_row(const float* __restrict x, const float* __restrict w, float inv,
                                    float* __restrict y, int64_t n) {
  for (int64_t c = 0; c < n; ++c) y[c] = w[c] * (x[c] * inv);
}
R1_VECTOR_CLONES void rms_scale_row(const float* __restrict x, const float* __restrict w, float inv,
                                    uint16_t* __restrict y, int64_t n) {
  for (int64_t c = 0; c < n; ++c) y[c] = float_to_bf16_bits(w[c] * (x[c] * inv));
}
R1_VECTOR_CLONES void rms_backward_row(const float* __restrict x, const float* __restrict dy, const float* __restrict w,
                                       float inv, float* __restrict dw, float* __restrict dx, int64_t n) {
  float dot = 0;
  for (int64_t c = 0; c < n; ++c) {
    const float xh = x[c] * inv;
    dot += dy[c] * w[c] * xh;
    dw[c] += dy[c] * xh;
  }
  const float mean = dot / float(n);
  for (int64_t c = 0; c < n; ++c) dx[c] = inv * (dy[c] * w[c] - x[c] * inv * mean);
}
R1_VECTOR_CLONES void widen_row(const uint16_t* __restrict x, int64_t n, float* __restrict out) {
  for (int64_t c = 0; c < n; ++c) out[c] = bf16_bits_to_float(x[c]);
}
R1_VECTOR_CLONES void narrow_row(const float* __restrict x, int64_t n, uint16_t* __restrict out) {
  for (int64_t c = 0; c < n; ++c) out[c] = float_to_bf16_bits(x[c]);
}

// ---- SwiGLU ------------------------------------------------------------------------------------------------
R1_VECTOR_CLONES void swiglu_row(const float* __restrict g, const float* __restrict u, float* __restrict y, int64_t n) {
  for (int64_t c = 0; c < n; ++c) y[c] = g[c] * sigmoid(g[c]) * u[c];
}
R1_VECTOR_CLONES void swiglu_row_backward(const float* __restrict g, const float* __restrict u,
                                          const float* __restrict dy, float* __restrict dg, float* __restrict du,
                                          int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    const float s = sigmoid(g[c]);
    dg[c] = dy[c] * u[c] * s * (1.0f + g[c] * (1.0f - s));
    du[c] = dy[c] * g[c] * s;
  }
}
R1_VECTOR_CLONES void swiglu_row(const uint16_t* __restrict g, const uint16_t* __restrict u, uint16_t* __restrict y,
                                 int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    const float gv = bf16_bits_to_float(g[c]);
    y[c] = float_to_bf16_bits(gv * sigmoid(gv) * bf16_bits_to_float(u[c]));
  }
}
R1_VECTOR_CLONES void swiglu_row_backward(const uint16_t* __restrict g, const uint16_t* __restrict u,
                                          const uint16_t* __restrict dy, uint16_t* __restrict dg,
                                          uint16_t* __restrict du, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    const float gv = bf16_bits_to_float(g[c]), uv = bf16_bits_to_float(u[c]), dv = bf16_bits_to_float(dy[c]);
    const float s = sigmoid(gv);
    dg[c] = float_to_bf16_bits(dv * uv * s * (1.0f + gv * (1.0f - s)));
    du[c] = float_to_bf16_bits(dv * gv * s);
  }
}

// ---- RoPE --------------------------------------------------------------------------------------------------
R1_VECTOR_CLONES void rope_row(const float* __restrict x, const float* __restrict c, const float* __restrict s,
                               float* __restrict y, int64_t D) {
  const int64_t h = D / 2;
  for (int64_t d = 0; d < h; ++d) {
    y[d] = x[d] * c[d] - x[d + h] * s[d];
    y[d + h] = x[d + h] * c[d + h] + x[d] * s[d + h];
  }
}
// its transpose: dx[d] = dy[d] c[d] + dy[d+h] s[d+h],  dx[d+h] = dy[d+h] c[d+h] - dy[d] s[d]
R1_VECTOR_CLONES void rope_row_backward(const float* __restrict dy, const float* __restrict c,
                                        const float* __restrict s, float* __restrict dx, int64_t D) {
  const int64_t h = D / 2;
  for (int64_t d = 0; d < h; ++d) {
    dx[d] = dy[d] * c[d] + dy[d + h] * s[d + h];
    dx[d + h] = dy[d + h] * c[d + h] - dy[d] * s[d];
  }
}

// ---- softmax -----------------------------------------------------------------------------------------------
R1_VECTOR_CLONES float row_max(const float* __restrict x, int64_t n) {
  float lane[16];
  for (int l = 0; l < 16; ++l) lane[l] = -__builtin_inff();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) lane[l] = x[i + l] > lane[l] ? x[i + l] : lane[l];
  float m = -__builtin_inff();
  for (int l = 0; l < 16; ++l) m = lane[l] > m ? lane[l] : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}
R1_VECTOR_CLONES float row_exp_sum(const float* __restrict x, int64_t n, float m, float* __restrict e) {
  float lane[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) {
      const float d = x[i + l] - m;
      e[i + l] = d < -87.0f ? 0.0f : exp_approx(d);
      lane[l] += e[i + l];
    }
  for (int l = 0; i + l < n; ++l) {
    const float d = x[i + l] - m;
    e[i + l] = d < -87.0f ? 0.0f : exp_approx(d);
    lane[l] += e[i + l];
  }
  float sum = 0;
  for (int l = 0; l < 16; ++l) sum += lane[l];
  return sum;
}
R1_VECTOR_CLONES void scale_row(const float* __restrict e, int64_t n, float k, float* __restrict y) {
  for (int64_t j = 0; j < n; ++j) y[j] = e[j] * k;
}
R1_VECTOR_CLONES void scale_row(const float* __restrict e, int64_t n, float k, uint16_t* __restrict y) {
  for (int64_t j = 0; j < n; ++j) y[j] = float_to_bf16_bits(e[j] * k);
}
R1_VECTOR_CLONES float row_dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float lane[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) lane[l] += a[i + l] * b[i + l];
  float sum = 0;
  for (int l = 0; l < 16; ++l) sum += lane[l];
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}
R1_VECTOR_CLONES void softmax_backward_row(const float* __restrict y, const float* __restrict dy, float dot, int64_t n,
                                           float* __restrict dx) {
  for (int64_t j = 0; j < n; ++j) dx[j] = y[j] * (dy[j] - dot);
}

// ---- whole rows, for the decode step and decode attention ------------------------------------------------
void rms_norm_row(const float* x, const float* weight, int64_t C, double eps, float* y) {
  const float inv = float(1.0 / std::sqrt(row_sum_squares(x, C) / double(C) + eps));  // as RmsNormFn
  rms_scale_row(x, weight, inv, y, C);
}

void softmax_row(const float* x, int64_t n, float* e, float* y) {  // as SoftmaxFn
  const float m = row_max(x, n);
  const float sum = row_exp_sum(x, n, m, e);
  scale_row(e, n, 1.0f / sum, y);
}

}  // namespace r1::kernels
