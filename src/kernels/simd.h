// Function multi-versioning for hot loops written as plain C++: R1_VECTOR_CLONES builds a function for
// AVX-512, AVX2 and baseline x86-64, and the loader picks the best the CPU runs (GCC target_clones). The
// binary stays runnable everywhere while this machine's AVX-512 vectorises the loops. The clones name ISA
// levels (x86-64-v4 = AVX-512 F/BW/DQ/VL, v3 = AVX2 + FMA), which the loader checks by CPU features; an
// "arch=<cpu>" clone is chosen only on that exact CPU model (an "arch=skylake-avx512" clone never ran on
// Sapphire/Emerald Rapids, which took the AVX2 clone instead).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define R1_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define R1_VECTOR_CLONES
#endif

#include <cstdint>

// Helpers called from cloned functions must be inlined into each clone (GCC does not inline a baseline-target
// function into an arch=... clone on its own, and the call would stop vectorisation).
#define R1_INLINE inline __attribute__((always_inline))

namespace r1 {

// exp(x) for fp32 in plain arithmetic (Cephes' expf: range reduction + degree-6 polynomial, ~1 ulp, inputs
// clamped to [-87.3, 88.7]), so loops calling it vectorise where std::exp does not.
R1_INLINE float exp_approx(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: (v + kRound) - kRound rounds v to an integer
  const float k = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = x - k * 0.693359375f + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (int32_t(k) + 127) << 23;
  return p * __builtin_bit_cast(float, bits);
}

// bf16 <-> fp32 on raw bits (bf16 = the high half of an fp32), written so loops over them vectorise.
R1_INLINE float bf16_bits_to_float(uint16_t v) {
  const uint32_t w = uint32_t(v) << 16;
  float f;
  __builtin_memcpy(&f, &w, 4);
  return f;
}
R1_INLINE uint16_t float_to_bf16_bits(float f) {  // round to nearest even, as c10::BFloat16 (finite values)
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace r1
