// Lane helpers shared by the AVX-512 kernel files (cpu-kernels.cpp, attention.cpp). Internal: included only
// after a file's `#pragma GCC target("avx512f,fma")`, never from a header or a file compiled without it; each
// includer gets its own copy (an anonymous namespace), so no out-of-line AVX-512 code can be merged into a
// caller that runs on a CPU without it.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace r1::kernels {

int64_t team_threads();  // threads for a whole-product entry point: at::get_num_threads(), at least 1

namespace {

// exp(x) for float lanes (Cephes expf): x = n ln2 + r, e^r by a degree-6 polynomial, times 2^n.
inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-88.3762626647949f)), _mm512_set1_ps(88.3762626647949f));
  __m512 n = _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
                                  _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u); }
// Row j of a cache (D floats or bf16s, D % 16 == 0 for bf16) as fp32 lanes [d, d + 16).
inline __m512 load_row(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load_row(const uint16_t* p, __mmask16) {
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

inline float reduce_add(__m512 v) { return _mm512_reduce_add_ps(v); }

// (sum a0, sum a1, sum a2, sum a3): pairwise adds within 128-bit lanes, then across the four lanes.
inline __m128 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  const __m512 u = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))),
                                 _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))));
  return _mm_add_ps(_mm_add_ps(_mm512_extractf32x4_ps(u, 0), _mm512_extractf32x4_ps(u, 1)),
                    _mm_add_ps(_mm512_extractf32x4_ps(u, 2), _mm512_extractf32x4_ps(u, 3)));
}

}  // namespace
}  // namespace r1::kernels
