// The attention kernels of cpu-kernels.h: decode attention (one query token per row against its cached keys;
// the bf16-cache grouped-query path and the fp32 exact path) and range_attention (the training forward's and the
// prefill's attention), which share the exact path's arithmetic so a token decoded alone and the same token in
// a full-sequence forward get the same bits. Compiled for AVX-512F + FMA after the pragma below and reached only
// after available() said yes, as the products in cpu-kernels.cpp.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/cpu-kernels.h"
#include "kernels/thread-team.h"
#include "kernels/transformer-rows.h"

#pragma GCC push_options
#pragma GCC target("avx512f,fma")
// GCC 12's own AVX-512 intrinsics (reductions, min/max, scalef) start from _mm512_undefined_ps() and warn
// about it under -Wmaybe-uninitialized: a false positive in the compiler's headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "kernels/avx512-lanes.h"  // after the target pragma: its functions use AVX-512

namespace r1::kernels {
namespace {

constexpr int64_t kParallelAttention = 1 << 17;

// Softmax in place over n scores (fp32, max-subtracted as ATen's), normalised probabilities out.
void softmax_in_place(float* s, int64_t n) {
  __m512 vmax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < n; j += 16) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(vmax, tail_mask(n - j), s + j));
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 e = _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), mx)));
    _mm512_mask_storeu_ps(s + j, m, e);
    sum = _mm512_add_ps(sum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / reduce_add(sum));
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    _mm512_mask_storeu_ps(s + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), inv));
  }
}

// Scores of one head: scale, ALiBi bias, softmax.
inline void finish_scores(const AttentionShape& a, int64_t h, int64_t first, int64_t n, float scale, float* scores) {
  for (int64_t j = 0; j < n; ++j) {
    scores[j] *= scale;
    if (a.alibi_slopes) scores[j] += -a.alibi_slopes[h] * float(a.L - (first + j));
  }
  softmax_in_place(scores, n);
}

// Query head h of a row against its kv head's n keys/values from `first`, D = 16 * DV (DV > 0), or any D
// (DV == 0, masked tails); `scores` has room for n floats.
template <int DV, typename T>
void attend_head(const AttentionShape& a, int64_t row, int64_t h, int64_t first, int64_t n, const T* keys,
                 const T* values, float* scores) {
  constexpr int64_t kMaxDv = 8;  // the generic path keeps D in chunks of up to 8 vectors
  const int64_t D = DV > 0 ? DV * 16 : a.D;
  const float scale = float(1.0 / std::sqrt(double(D)));
  const float* q = a.q + row * a.q_stride + h * D;   // (D)
  float* out = a.out + row * a.out_stride + h * D;   // (D)
  for (int64_t d0 = 0; d0 < D; d0 += kMaxDv * 16) {  // one pass when DV > 0
    const int64_t dv = DV > 0 ? DV : std::min(kMaxDv, (D - d0 + 15) / 16);
    __m512 qv[kMaxDv];
    for (int64_t v = 0; v < dv; ++v) qv[v] = _mm512_maskz_loadu_ps(tail_mask(D - d0 - v * 16), q + d0 + v * 16);
    int64_t j = 0;
    if (DV > 0) {  // four keys at a time, their four horizontal sums in one transposing reduction
      for (; j + 3 < n; j += 4) {
        __m512 acc[4];
#pragma GCC unroll 4
        for (int64_t jj = 0; jj < 4; ++jj) {
          const T* k = keys + (j + jj) * D;
          acc[jj] = _mm512_mul_ps(qv[0], load_row(k, 0xFFFF));
#pragma GCC unroll 8
          for (int64_t v = 1; v < DV; ++v) acc[jj] = _mm512_fmadd_ps(qv[v], load_row(k + v * 16, 0xFFFF), acc[jj]);
        }
        _mm_storeu_ps(scores + j, reduce4(acc[0], acc[1], acc[2], acc[3]));
      }
    }
    for (; j < n; ++j) {
      const T* k = keys + j * D + d0;
      __m512 acc = _mm512_mul_ps(qv[0], load_row(k, tail_mask(D - d0)));
      for (int64_t v = 1; v < dv; ++v)
        acc = _mm512_fmadd_ps(qv[v], load_row(k + v * 16, tail_mask(D - d0 - v * 16)), acc);
      const float part = reduce_add(acc);
      scores[j] = d0 == 0 ? part : scores[j] + part;
    }
  }
  finish_scores(a, h, first, n, scale, scores);
  for (int64_t d0 = 0; d0 < D; d0 += kMaxDv * 16) {
    const int64_t dv = DV > 0 ? DV : std::min(kMaxDv, (D - d0 + 15) / 16);
    __m512 even[kMaxDv], odd[kMaxDv];  // two chains per output vector
    for (int64_t v = 0; v < dv; ++v) even[v] = odd[v] = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 1 < n; j += 2) {
      const __m512 p0 = _mm512_set1_ps(scores[j]), p1 = _mm512_set1_ps(scores[j + 1]);
      const T* v0 = values + j * D + d0;
      for (int64_t v = 0; v < dv; ++v) {
        const __mmask16 m = tail_mask(D - d0 - v * 16);
        even[v] = _mm512_fmadd_ps(p0, load_row(v0 + v * 16, m), even[v]);
        odd[v] = _mm512_fmadd_ps(p1, load_row(v0 + D + v * 16, m), odd[v]);
      }
    }
    if (j < n) {
      const __m512 p0 = _mm512_set1_ps(scores[j]);
      for (int64_t v = 0; v < dv; ++v)
        even[v] = _mm512_fmadd_ps(p0, load_row(values + j * D + d0 + v * 16, tail_mask(D - d0 - v * 16)), even[v]);
    }
    for (int64_t v = 0; v < dv; ++v)
      _mm512_mask_storeu_ps(out + d0 + v * 16, tail_mask(D - d0 - v * 16), _mm512_add_ps(even[v], odd[v]));
  }
}

// Query heads h and h + 1 (one kv head's) in one pass over its keys and values, D = 16 * DV: each key and
// value row is loaded once for both; `scores` has room for 2 n floats.
template <int DV, typename T>
void attend_two_heads(const AttentionShape& a, int64_t row, int64_t h, int64_t first, int64_t n, const T* keys,
                      const T* values, float* scores) {
  constexpr int64_t D = DV * 16;
  const float scale = float(1.0 / std::sqrt(double(D)));
  const float* q = a.q + row * a.q_stride + h * D;  // (2, D)
  float* s0 = scores;
  float* s1 = scores + n;
  __m512 qa[DV], qb[DV];
#pragma GCC unroll 8
  for (int v = 0; v < DV; ++v) {
    qa[v] = _mm512_loadu_ps(q + v * 16);
    qb[v] = _mm512_loadu_ps(q + D + v * 16);
  }
  int64_t j = 0;
  for (; j + 3 < n; j += 4) {  // four keys at a time, their horizontal sums in one transposing reduction
    __m512 acc0[4], acc1[4];
#pragma GCC unroll 4
    for (int jj = 0; jj < 4; ++jj) {
      const T* k = keys + (j + jj) * D;
      const __m512 k0 = load_row(k, 0xFFFF);
      acc0[jj] = _mm512_mul_ps(qa[0], k0);
      acc1[jj] = _mm512_mul_ps(qb[0], k0);
#pragma GCC unroll 8
      for (int v = 1; v < DV; ++v) {
        const __m512 kv = load_row(k + v * 16, 0xFFFF);
        acc0[jj] = _mm512_fmadd_ps(qa[v], kv, acc0[jj]);
        acc1[jj] = _mm512_fmadd_ps(qb[v], kv, acc1[jj]);
      }
    }
    _mm_storeu_ps(s0 + j, reduce4(acc0[0], acc0[1], acc0[2], acc0[3]));
    _mm_storeu_ps(s1 + j, reduce4(acc1[0], acc1[1], acc1[2], acc1[3]));
  }
  for (; j < n; ++j) {
    const T* k = keys + j * D;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int v = 0; v < DV; ++v) {
      const __m512 kv = load_row(k + v * 16, 0xFFFF);
      acc0 = _mm512_fmadd_ps(qa[v], kv, acc0);
      acc1 = _mm512_fmadd_ps(qb[v], kv, acc1);
    }
    s0[j] = reduce_add(acc0);
    s1[j] = reduce_add(acc1);
  }
  finish_scores(a, h, first, n, scale, s0);
  finish_scores(a, h + 1, first, n, scale, s1);
  __m512 out0[DV], out1[DV];
#pragma GCC unroll 8
  for (int v = 0; v < DV; ++v) out0[v] = out1[v] = _mm512_setzero_ps();
  for (j = 0; j < n; ++j) {
    const __m512 p0 = _mm512_set1_ps(s0[j]), p1 = _mm512_set1_ps(s1[j]);
    const T* vr = values + j * D;
#pragma GCC unroll 8
    for (int v = 0; v < DV; ++v) {
      const __m512 vv = load_row(vr + v * 16, 0xFFFF);
      out0[v] = _mm512_fmadd_ps(p0, vv, out0[v]);
      out1[v] = _mm512_fmadd_ps(p1, vv, out1[v]);
    }
  }
  float* out = a.out + row * a.out_stride + h * D;  // (2, D)
#pragma GCC unroll 8
  for (int v = 0; v < DV; ++v) {
    _mm512_storeu_ps(out + v * 16, out0[v]);
    _mm512_storeu_ps(out + D + v * 16, out1[v]);
  }
}

// One (row, kv head) of decode attention: its G query heads, two at a time where D % 16 == 0 (DV > 0);
// `scores` has room for 2 (L + 1) floats.
template <int DV, typename T>
void attend(const AttentionShape& a, int64_t row, int64_t g, float* scores) {
  const int64_t D = DV > 0 ? DV * 16 : a.D, G = a.H / a.Hkv, first = a.first[row], n = a.L - first + 1;
  const T* keys = static_cast<const T*>(a.key) + ((row * a.Hkv + g) * a.s_max + first) * D;      // (n, D)
  const T* values = static_cast<const T*>(a.value) + ((row * a.Hkv + g) * a.s_max + first) * D;  // (n, D)
  int64_t i = 0;
  if constexpr (DV > 0)
    for (; i + 1 < G; i += 2) attend_two_heads<DV, T>(a, row, g * G + i, first, n, keys, values, scores);
  for (; i < G; ++i) attend_head<DV, T>(a, row, g * G + i, first, n, keys, values, scores);
}

using Attend = void (*)(const AttentionShape&, int64_t, int64_t, float*);
template <typename T>
Attend attend_for(int64_t D) {
  switch (D) {
    case 16:
      return &attend<1, T>;
    case 32:
      return &attend<2, T>;
    case 64:
      return &attend<4, T>;
    case 128:
      return &attend<8, T>;
    default:
      return &attend<0, T>;
  }
}

}  // namespace

// The fp32 attention arithmetic shared by the decode step (attend_exact) and range_attention (the training
// forward's and the prefill's attention), so a token decoded alone and the same token in a full-sequence
// forward get the same bits. Each function handles up to 4 query rows at once (a decode row's query heads, or
// consecutive query times of one head), and every row's arithmetic is the same whatever the others are:
//   exact_scores:  raw score of a query row q and a key k: lanes l of 16-float chunks c of d, chained over the
//                  chunks (the first a product, then FMAs), the 16 lanes summed in reduce4's fixed tree;
//                  D > 128: per 128-float part, the parts' sums added in order.
//   scores_to_probs: s * scale (+ ALiBi -slope * (L - key)), then the training softmax's row kernel.
//   exact_outputs: out[d] = one FMA chain over the keys in order from +0 of p[j] * v[j][d]. A row whose range
//                  starts later or ends earlier than the others' has p = 0 there: the zeros before its first
//                  key leave its chain at +0 and the zeros after its last key add nothing, so its chain equals
//                  the one over its own range.
constexpr int64_t kExactRows = 4;
constexpr int64_t kScoreDv = 8;  // score chunks per pass over d (128 floats)

template <int R>
void exact_scores_rows(const float* const* q, const float* keys, int64_t key_stride, int64_t n, int64_t D,
                       float* const* s) {
  for (int64_t d0 = 0; d0 < D; d0 += kScoreDv * 16) {
    const int64_t dv = std::min<int64_t>(kScoreDv, (D - d0 + 15) / 16);
    for (int64_t j = 0; j < n; j += 4) {
      const int64_t keys_here = std::min<int64_t>(4, n - j);
      __m512 acc[R][4];
      for (int64_t v = 0; v < dv; ++v) {
        const __mmask16 m = tail_mask(D - d0 - v * 16);
        __m512 kv[4];
#pragma GCC unroll 4
        for (int jj = 0; jj < 4; ++jj)
          kv[jj] = jj < keys_here ? _mm512_maskz_loadu_ps(m, keys + (j + jj) * key_stride + d0 + v * 16)
                                  : _mm512_setzero_ps();
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m512 qv = _mm512_maskz_loadu_ps(m, q[r] + d0 + v * 16);
#pragma GCC unroll 4
          for (int jj = 0; jj < 4; ++jj)
            acc[r][jj] = v == 0 ? _mm512_mul_ps(qv, kv[jj]) : _mm512_fmadd_ps(qv, kv[jj], acc[r][jj]);
        }
      }
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        alignas(16) float sums[4];
        _mm_store_ps(sums, reduce4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
        for (int64_t jj = 0; jj < keys_here; ++jj) s[r][j + jj] = d0 == 0 ? sums[jj] : s[r][j + jj] + sums[jj];
      }
    }
  }
}

// exact_scores_rows for D = 16 DV exactly, the query vectors held in registers (the same operations).
template <int R, int DV>
void exact_scores_fixed(const float* const* q, const float* keys, int64_t key_stride, int64_t n, float* const* s) {
  __m512 qv[R][DV];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < DV; ++v) qv[r][v] = _mm512_loadu_ps(q[r] + v * 16);
  for (int64_t j = 0; j < n; j += 4) {
    const int64_t keys_here = std::min<int64_t>(4, n - j);
    __m512 acc[R][4];
#pragma GCC unroll 8
    for (int v = 0; v < DV; ++v) {
      __m512 kv[4];
#pragma GCC unroll 4
      for (int jj = 0; jj < 4; ++jj)
        kv[jj] = jj < keys_here ? _mm512_loadu_ps(keys + (j + jj) * key_stride + v * 16) : _mm512_setzero_ps();
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int jj = 0; jj < 4; ++jj)
          acc[r][jj] = v == 0 ? _mm512_mul_ps(qv[r][v], kv[jj]) : _mm512_fmadd_ps(qv[r][v], kv[jj], acc[r][jj]);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m128 sums = reduce4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
      if (keys_here == 4) {
        _mm_storeu_ps(s[r] + j, sums);
      } else {
        alignas(16) float tail[4];
        _mm_store_ps(tail, sums);
        for (int64_t jj = 0; jj < keys_here; ++jj) s[r][j + jj] = tail[jj];
      }
    }
  }
}

// Raw scores s[r][j] of rows q[r] (r < rows <= 4) against keys j in [0, n), keys key_stride floats apart.
void exact_scores(const float* const* q, int64_t rows, const float* keys, int64_t key_stride, int64_t n, int64_t D,
                  float* const* s) {
  if (D == 64 || D == 32 || D == 16 || D == 128) {  // the common head sizes: two rows (one for 128) at a time
    const int64_t step = D == 128 ? 1 : 2;
    for (int64_t r = 0; r < rows; r += step) {
      const bool two = step == 2 && r + 1 < rows;
      if (D == 128)
        exact_scores_fixed<1, 8>(q + r, keys, key_stride, n, s + r);
      else if (D == 64)
        two ? exact_scores_fixed<2, 4>(q + r, keys, key_stride, n, s + r)
            : exact_scores_fixed<1, 4>(q + r, keys, key_stride, n, s + r);
      else if (D == 32)
        two ? exact_scores_fixed<2, 2>(q + r, keys, key_stride, n, s + r)
            : exact_scores_fixed<1, 2>(q + r, keys, key_stride, n, s + r);
      else
        two ? exact_scores_fixed<2, 1>(q + r, keys, key_stride, n, s + r)
            : exact_scores_fixed<1, 1>(q + r, keys, key_stride, n, s + r);
    }
    return;
  }
  switch (rows) {
    case 1:
      return exact_scores_rows<1>(q, keys, key_stride, n, D, s);
    case 2:
      return exact_scores_rows<2>(q, keys, key_stride, n, D, s);
    case 3:
      return exact_scores_rows<3>(q, keys, key_stride, n, D, s);
    default:
      return exact_scores_rows<4>(q, keys, key_stride, n, D, s);
  }
}

// Scores of one query row -> probabilities in p (n floats, e: n floats of scratch). Not inlined, so every
// caller runs the same instructions.
__attribute__((noinline)) void scores_to_probs(float* s, int64_t n, float scale, const float* slope, int64_t L,
                                               int64_t first, float* e, float* p) {
  for (int64_t j = 0; j < n; ++j) s[j] = s[j] * scale;
  if (slope)
    for (int64_t j = 0; j < n; ++j) s[j] += -*slope * float(L - (first + j));
  softmax_row(s, n, e, p);
}

template <int R, int DV>
void exact_outputs_rows(const float* const* p, const float* values, int64_t value_stride, int64_t n, int64_t D,
                        float* const* out) {
  for (int64_t d0 = 0; d0 < D; d0 += DV * 16) {
    const int64_t dv = std::min<int64_t>(DV, (D - d0 + 15) / 16);
    __m512 acc[R][DV];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < DV; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; ++j) {
      const float* vr = values + j * value_stride + d0;
      __m512 pj[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) pj[r] = _mm512_set1_ps(p[r][j]);
#pragma GCC unroll 8
      for (int v = 0; v < DV; ++v) {
        if (v >= dv) break;
        const __m512 vv = _mm512_maskz_loadu_ps(tail_mask(D - d0 - v * 16), vr + v * 16);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) acc[r][v] = _mm512_fmadd_ps(pj[r], vv, acc[r][v]);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < DV; ++v)
        if (v < dv) _mm512_mask_storeu_ps(out[r] + d0 + v * 16, tail_mask(D - d0 - v * 16), acc[r][v]);
  }
}

// exact_outputs_rows for D = 16 DV exactly (the same operations, no tail masks).
template <int R, int DV>
void exact_outputs_fixed(const float* const* p, const float* values, int64_t value_stride, int64_t n,
                         float* const* out) {
  __m512 acc[R][DV];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < DV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; ++j) {
    const float* vr = values + j * value_stride;
    __m512 pj[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) pj[r] = _mm512_set1_ps(p[r][j]);
#pragma GCC unroll 8
    for (int v = 0; v < DV; ++v) {
      const __m512 vv = _mm512_loadu_ps(vr + v * 16);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[r][v] = _mm512_fmadd_ps(pj[r], vv, acc[r][v]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < DV; ++v) _mm512_storeu_ps(out[r] + v * 16, acc[r][v]);
}

// out[r][d] (r < rows <= 4) = the FMA chain over j in [0, n) of p[r][j] * values[j][d].
void exact_outputs(const float* const* p, int64_t rows, const float* values, int64_t value_stride, int64_t n, int64_t D,
                   float* const* out) {
  if (D == 64 || D == 128) {
    const int64_t step = D == 64 ? 4 : 2;
    for (int64_t r = 0; r < rows; r += step) {
      const int64_t m = std::min(step, rows - r);
      if (D == 128)
        m == 2 ? exact_outputs_fixed<2, 8>(p + r, values, value_stride, n, out + r)
               : exact_outputs_fixed<1, 8>(p + r, values, value_stride, n, out + r);
      else if (m == 4)
        exact_outputs_fixed<4, 4>(p + r, values, value_stride, n, out + r);
      else if (m == 3)
        exact_outputs_fixed<3, 4>(p + r, values, value_stride, n, out + r);
      else if (m == 2)
        exact_outputs_fixed<2, 4>(p + r, values, value_stride, n, out + r);
      else
        exact_outputs_fixed<1, 4>(p + r, values, value_stride, n, out + r);
    }
    return;
  }
  switch (rows) {
    case 1:
      return exact_outputs_rows<1, 8>(p, values, value_stride, n, D, out);
    case 2:
      return exact_outputs_rows<2, 8>(p, values, value_stride, n, D, out);
    case 3:
      return exact_outputs_rows<3, 4>(p, values, value_stride, n, D, out);
    default:
      return exact_outputs_rows<4, 4>(p, values, value_stride, n, D, out);
  }
}

// One (row, kv head) of decode attention on an fp32 cache: its G query heads, up to 4 at a time, over the
// row's keys [first, L]. `scratch` has room for 6 (L + 1) floats.
void attend_exact(const AttentionShape& a, int64_t row, int64_t g, float* scratch) {
  const int64_t D = a.D, G = a.H / a.Hkv, first = a.first[row], n = a.L - first + 1;
  const float* keys = static_cast<const float*>(a.key) + ((row * a.Hkv + g) * a.s_max + first) * D;      // (n, D)
  const float* values = static_cast<const float*>(a.value) + ((row * a.Hkv + g) * a.s_max + first) * D;  // (n, D)
  const float scale = float(1.0 / std::sqrt(double(D)));
  float* e = scratch + 4 * n;
  float* probs = scratch + 5 * n;  // one row at a time, then moved into the scores' place
  for (int64_t i0 = 0; i0 < G; i0 += kExactRows) {
    const int64_t rows = std::min(kExactRows, G - i0);
    const float* q[kExactRows];
    float* s[kExactRows];
    float* out[kExactRows];
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t h = g * G + i0 + r;
      q[r] = a.q + row * a.q_stride + h * D;
      s[r] = scratch + r * n;
      out[r] = a.out + row * a.out_stride + h * D;
    }
    exact_scores(q, rows, keys, D, n, D, s);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t h = g * G + i0 + r;
      scores_to_probs(s[r], n, scale, a.alibi_slopes ? a.alibi_slopes + h : nullptr, a.L, first, e, probs);
      std::copy_n(probs, n, s[r]);
    }
    exact_outputs(s, rows, values, D, n, D, out);
  }
}

// range_attention's work on one (batch row, query head, block of query times): up to 4 query times at once,
// each group's scores over the union of its rows' key ranges, each row's probabilities over its own range
// (zeros elsewhere in the union), outputs over the union.
void range_attention_task(const RangeAttention& a, int64_t b, int64_t h, int64_t t0, int64_t t1) {
  const int64_t D = a.D, G = a.H / a.Hkv, T = a.T, H = a.H, g = h / G;
  const int64_t* first = a.first + b * T;
  const int64_t* last = a.last + b * T;
  const float scale = float(1.0 / std::sqrt(double(D)));
  const float* kbase = a.key + b * a.key_strides[0] + g * a.key_strides[1];
  const float* vbase = a.value + b * a.value_strides[0] + g * a.value_strides[1];
  thread_local std::vector<float> buffer;
  buffer.resize(size_t((2 * kExactRows + 2) * std::max<int64_t>(a.S, 1)));
  for (int64_t r0 = t0; r0 < t1; r0 += kExactRows) {
    const int64_t rows = std::min(kExactRows, t1 - r0);
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = -1;
    for (int64_t t = r0; t < r0 + rows; ++t)
      if (last[t] >= first[t]) lo = std::min(lo, first[t]), hi = std::max(hi, last[t]);
    const float* q[kExactRows];
    float* s[kExactRows];
    float* p[kExactRows];
    float* out[kExactRows];
    const int64_t n = hi - lo + 1;
    for (int64_t r = 0; r < rows; ++r) {
      q[r] = a.q + ((b * T + r0 + r) * H + h) * D;
      s[r] = buffer.data() + r * a.S;
      p[r] = buffer.data() + (kExactRows + r) * a.S;
      out[r] = a.out + ((b * T + r0 + r) * H + h) * D;
    }
    if (hi < 0) {
      for (int64_t r = 0; r < rows; ++r) std::fill_n(out[r], D, 0.0f);
    } else {
      float* e = buffer.data() + 2 * kExactRows * a.S;
      exact_scores(q, rows, kbase + lo * a.key_strides[2], a.key_strides[2], n, D, s);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t t = r0 + r, f = first[t] - lo, m = last[t] - first[t] + 1;
        std::fill_n(p[r], n, 0.0f);
        if (m > 0)
          scores_to_probs(s[r] + f, m, scale, a.alibi_slopes ? a.alibi_slopes + h : nullptr, a.past + t, first[t], e,
                          p[r] + f);
      }
      exact_outputs(p, rows, vbase + lo * a.value_strides[2], a.value_strides[2], n, D, out);
      for (int64_t r = 0; r < rows; ++r)
        if (last[r0 + r] < first[r0 + r]) std::fill_n(out[r], D, 0.0f);
    }
    if (a.probs)
      for (int64_t r = 0; r < rows; ++r) {
        float* row = a.probs + ((b * H + h) * T + r0 + r) * a.S;
        std::fill_n(row, a.S, 0.0f);
        if (hi >= 0) std::copy_n(p[r], n, row + lo);
      }
  }
}

void decode_attention(const AttentionShape& a, int64_t task_begin, int64_t task_end) {
  thread_local std::vector<float> scores;
  scores.resize(std::max(scores.size(), size_t(6 * (a.L + 1))));
  if (!a.bf16_cache) {
    for (int64_t t = task_begin; t < task_end; ++t) attend_exact(a, t / a.Hkv, t % a.Hkv, scores.data());
    return;
  }
  const Attend attend_one = attend_for<uint16_t>(a.D);
  for (int64_t t = task_begin; t < task_end; ++t) attend_one(a, t / a.Hkv, t % a.Hkv, scores.data());
}

void decode_attention(const AttentionShape& a) {
  const int64_t tasks = a.rows * a.Hkv;
  const int64_t threads = tasks * a.H / a.Hkv * (a.L + 1) * a.D < kParallelAttention ? 1 : team_threads();
  const int64_t parts = std::min(tasks, 4 * threads);
  ThreadTeam::global().parallel(parts, threads, [&](int64_t part) {
    const auto [begin, end] = share(tasks, part, parts);
    decode_attention(a, begin, end);
  });
}

void range_attention(const RangeAttention& a) {
  if (a.H % a.Hkv != 0) throw std::invalid_argument("range_attention: H % Hkv != 0");
  // Tasks: (batch row, query head, block of query times), blocks small enough that every thread has several.
  const int64_t threads = team_threads();
  const int64_t pairs = a.B * a.H;
  const int64_t want = std::max<int64_t>(1, (8 * threads + pairs - 1) / pairs);
  const int64_t block = std::max<int64_t>(4 * kExactRows, (a.T + want - 1) / want / kExactRows * kExactRows);
  const int64_t blocks = (a.T + block - 1) / block;
  const int64_t work = a.B * a.H * a.T * a.S * a.D;
  ThreadTeam::global().parallel(pairs * blocks, work < kParallelAttention ? 1 : threads, [&](int64_t task) {
    const int64_t pair = task / blocks, tb = task % blocks;
    range_attention_task(a, pair / a.H, pair % a.H, tb * block, std::min(a.T, (tb + 1) * block));
  });
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace r1::kernels
