// The AVX-512 kernels of cpu-kernels.h. Everything after the `#pragma GCC target` below is compiled for
// AVX-512F + FMA and is only reached after available() said yes (functions marked R1_BF16_TARGET also use
// AVX-512BW/BF16 and are only reached after bf16_available(), R1_AMX_TARGET ones AMX after amx_available());
// the headers are included before it, so no inline function they define is emitted with those instructions.
// Threads: ThreadTeam items over column panels (linear, pack), rows (greedy) or (row, kv head) pairs
// (attention), inline when the work is too small to be worth a helper.
#include "kernels/cpu-kernels.h"

#include "model/fused-ops.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "common/pages.h"
#include "kernels/thread-team.h"

namespace r1::kernels {

bool available() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  return ok;
}

bool bf16_available() {
  static const bool ok = available() && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                         __builtin_cpu_supports("avx512bf16");
  return ok;
}

bool amx_available() {
  static const bool ok = [] {
    if (!bf16_available()) return false;
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    if (!((edx >> 22) & 1u) || !((edx >> 24) & 1u)) return false;  // AMX-BF16, AMX-TILE
    // Linux hands out the 8 KB tile state only on request (arch_prctl ARCH_REQ_XCOMP_PERM, XTILEDATA).
    constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return ok;
}

void PackedLinear::pack(const std::vector<at::Tensor>& weights, const std::vector<at::Tensor>& biases, bool as_bf16) {
  // Each weight's rows are read in place (fp32 or bf16, contiguous) and written straight into the panels by
  // one pass per 16-column block (split over the team): no concatenated, padded or transposed copies, since a
  // trainer's update repacks every step the engine runs after it.
  std::vector<at::Tensor> sources;
  std::vector<const void*> rows;  // row n of the stacked weight
  bool source_bf16 = false;
  in = weights.front().size(1);
  for (const at::Tensor& weight : weights) {
    at::Tensor w = weight.scalar_type() == at::kBFloat16 ? weight.contiguous() : weight.to(at::kFloat).contiguous();
    if (w.size(1) != in) throw std::invalid_argument("PackedLinear::pack: the weights differ in K");
    source_bf16 = w.scalar_type() == at::kBFloat16;
    if (!sources.empty() && source_bf16 != (sources.front().scalar_type() == at::kBFloat16))
      throw std::invalid_argument("PackedLinear::pack: the weights differ in dtype");
    const int64_t row_bytes = in * int64_t(w.element_size());
    for (int64_t n = 0; n < w.size(0); ++n) rows.push_back(static_cast<const char*>(w.data_ptr()) + n * row_bytes);
    sources.push_back(w);
  }
  bf16 = as_bf16;
  out = int64_t(rows.size());
  const int64_t K = in, blocks = (out + 15) / 16, pairs = (K + 1) / 2;
  auto options = sources.front().options();
  panels = bf16 ? at::empty({blocks, pairs, 16, 2}, options.dtype(at::kBFloat16))
                : at::empty({blocks, K, 16}, options.dtype(at::kFloat));
  prefault_pages(panels.data_ptr(), panels.nbytes());  // written once, page by page, right away
  float* f32 = bf16 ? nullptr : panels.data_ptr<float>();
  uint16_t* b16 = bf16 ? reinterpret_cast<uint16_t*>(panels.data_ptr()) : nullptr;
  auto element = [&](const void* row, int64_t k) -> float {  // fp32 value of a source element
    if (!source_bf16) return static_cast<const float*>(row)[k];
    const uint32_t bits = uint32_t(static_cast<const uint16_t*>(row)[k]) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
  };
  const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
  // Element k of column c goes to (k / 2, c, k % 2) of a bf16 block, (k, c) of an fp32 one: the loop walks the
  // destination in order (one cache line per k pair / k) and reads the block's 16 rows side by side.
  ThreadTeam::global().parallel(blocks, threads, [&](int64_t block) {
    const void* src[16];
    for (int64_t c = 0; c < 16; ++c) src[c] = block * 16 + c < out ? rows[size_t(block * 16 + c)] : nullptr;
    if (bf16) {
      uint16_t* dst = b16 + block * pairs * 32;
      for (int64_t k = 0; k < 2 * pairs; ++k) {
        uint16_t* d = dst + (k / 2) * 32 + (k % 2);
        for (int64_t c = 0; c < 16; ++c) {
          if (src[c] == nullptr || k >= K)
            d[c * 2] = 0;
          else if (source_bf16)
            d[c * 2] = static_cast<const uint16_t*>(src[c])[k];
          else
            d[c * 2] = c10::BFloat16(element(src[c], k)).x;  // round to nearest even
        }
      }
    } else {
      float* dst = f32 + block * K * 16;
      for (int64_t k = 0; k < K; ++k)
        for (int64_t c = 0; c < 16; ++c) dst[k * 16 + c] = src[c] ? element(src[c], k) : 0.0f;
    }
  });
  const at::TensorOptions f32_options = options.dtype(at::kFloat);
  bool any_bias = false;
  for (const at::Tensor& b : biases) any_bias |= b.defined();
  bias = at::Tensor();
  if (any_bias) {
    bias = at::zeros({blocks * 16}, f32_options);
    int64_t offset = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (biases[i].defined()) bias.narrow(0, offset, weights[i].size(0)).copy_(biases[i]);
      offset += weights[i].size(0);
    }
  }
}

#pragma GCC push_options
#pragma GCC target("avx512f,fma")
// GCC 12's own AVX-512 intrinsics (reductions, min/max, scalef) start from _mm512_undefined_ps() and warn
// about it under -Wmaybe-uninitialized: a false positive in the compiler's headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace {

constexpr int64_t kPanelBlocks = 4;         // 64 output columns per panel (128 for 1-2 rows)
constexpr int64_t kMaxRows = 6;             // rows per micro-kernel call (6 x 4 accumulators)
constexpr int64_t kParallelMacs = 1 << 20;  // below this a linear runs on the calling thread
constexpr int64_t kParallelAttention = 1 << 17;
constexpr int64_t kSliceK = 128;   // K slice of the fp32 panels (bf16: 128 pairs) when rows > kMaxRows
constexpr int64_t kRowBlock = 96;  // rows of one linear() task when there are many rows

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

// MR rows x NV 16-column blocks of one panel over K inputs (block v's column k at p + (v * ks + k) * 16);
// `cols` valid columns in the panel (the rest is padding). Each output is one FMA chain over k from 0, or from
// the partial sums at `init` (rows ldi apart) when it continues a chain cut into K slices: the same roundings
// as an uncut chain, for any K and any number of rows (the training forward's products run it too).
template <int MR, int NV>
void micro(const float* x, int64_t ldx, const float* p, int64_t ks, int64_t K, const float* bias, float* y, int64_t ldy,
           int64_t cols, bool accumulate, const float* init, int64_t ldi) {
  __m512 acc[MR][NV];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = init ? _mm512_loadu_ps(init + r * ldi + v * 16) : _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m512 w[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) w[v] = _mm512_load_ps(p + (v * ks + k) * 16);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m512 b = _mm512_set1_ps(x[r * ldx + k]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(b, w[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    const __mmask16 m = tail_mask(cols - v * 16);
    const __m512 bv = bias ? _mm512_loadu_ps(bias + v * 16) : _mm512_setzero_ps();
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      __m512 out = bias ? _mm512_add_ps(acc[r][v], bv) : acc[r][v];
      float* dst = y + r * ldy + v * 16;
      if (accumulate) out = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), out);
      _mm512_mask_storeu_ps(dst, m, out);
    }
  }
}

using Micro = void (*)(const float*, int64_t, const float*, int64_t, int64_t, const float*, float*, int64_t, int64_t,
                       bool, const float*, int64_t);

template <int MR, int MaxNV>
Micro micro_for(int64_t nv) {
  if constexpr (MaxNV > 1) {
    if (nv < MaxNV) return micro_for<MR, MaxNV - 1>(nv);
  }
  return &micro<MR, MaxNV>;
}

// One or two rows run 8-block (128-column) panels: 8 independent FMA chains hide the FMA latency that 4
// would leave exposed; more rows give enough chains with 4 blocks.

Micro micro_for(int64_t rows, int64_t nv) {
  switch (rows) {
    case 1:
      return micro_for<1, 2 * kPanelBlocks>(nv);
    case 2:
      return micro_for<2, 2 * kPanelBlocks>(nv);
    case 3:
      return micro_for<3, kPanelBlocks>(nv);
    case 4:
      return micro_for<4, kPanelBlocks>(nv);
    case 5:
      return micro_for<5, kPanelBlocks>(nv);
    default:
      return micro_for<6, kPanelBlocks>(nv);
  }
}

// K is cut into slices of kSliceK inputs when rows span several micro-kernel calls, so each call after the
// first finds its weight slice (kSliceK x 64 floats = 32 KB) in L1 instead of streaming the whole panel from
// L2 again for every 6 rows. The partial sums wait in a scratch panel and each slice continues their FMA
// chains, so the result does not depend on the number of rows (batch invariance: a row decoded alone or among
// 64 gets the same bits, and the same as the training forward's product, model/exact-ops.h).
int64_t slice_k(int64_t rows, int64_t K) { return rows > kMaxRows ? kSliceK : K; }

void linear_blocks_f32(const float* x, int64_t rows, int64_t ldx, const PackedLinear& w, float* y, int64_t ldy,
                       bool accumulate, int64_t block_begin, int64_t block_end) {
  const int64_t K = w.in, N = w.out, kc = slice_k(rows, K);
  const float* panels = w.panels.data_ptr<float>();
  const float* bias = w.bias.defined() ? w.bias.data_ptr<float>() : nullptr;
  const int64_t width = panel_blocks(rows);
  thread_local std::vector<float> partial;  // (rows, width * 16) chains in progress
  if (kc < K) partial.resize(std::max(partial.size(), size_t(rows * width * 16)));
  const int64_t ldp = width * 16;
  for (int64_t block = block_begin; block < block_end; block += width) {
    const int64_t nv = std::min(width, block_end - block);
    const int64_t col = block * 16, cols = std::min(nv * 16, N - col);
    for (int64_t k0 = 0; k0 < K; k0 += kc) {
      const int64_t kk = std::min(kc, K - k0);
      const bool last = k0 + kk == K;
      const float* p = panels + (block * K + k0) * 16;
      for (int64_t r = 0; r < rows; r += kMaxRows) {
        const int64_t mr = std::min(kMaxRows, rows - r);
        float* chain = kc < K ? partial.data() + r * ldp : nullptr;
        micro_for(mr, nv)(x + r * ldx + k0, ldx, p, K, kk, bias && last ? bias + col : nullptr,
                          last ? y + r * ldy + col : chain, last ? ldy : ldp, last ? cols : nv * 16, last && accumulate,
                          k0 > 0 ? chain : nullptr, ldp);
      }
    }
  }
}

#define R1_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))

// MR rows (bf16 pairs, rows ldx elements apart) x NV 16-column blocks of a bf16 panel over K2 input pairs
// (block v's pair k at p + (v * ks + k) * 32).
template <int MR, int NV>
R1_BF16_TARGET void micro_bf16(const uint16_t* x, int64_t ldx, const uint16_t* p, int64_t ks, int64_t K2,
                               const float* bias, float* y, int64_t ldy, int64_t cols, bool accumulate) {
  __m512 acc[MR][NV];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K2; ++k) {
    __m512i w[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) w[v] = _mm512_load_si512(p + (v * ks + k) * 32);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      int32_t pair;
      std::memcpy(&pair, x + r * ldx + 2 * k, sizeof(pair));
      const __m512i b = _mm512_set1_epi32(pair);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)w[v], (__m512bh)b);
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    const __mmask16 m = tail_mask(cols - v * 16);
    const __m512 bv = bias ? _mm512_loadu_ps(bias + v * 16) : _mm512_setzero_ps();
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      __m512 out = bias ? _mm512_add_ps(acc[r][v], bv) : acc[r][v];
      float* dst = y + r * ldy + v * 16;
      if (accumulate) out = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), out);
      _mm512_mask_storeu_ps(dst, m, out);
    }
  }
}

using MicroBf16 = void (*)(const uint16_t*, int64_t, const uint16_t*, int64_t, int64_t, const float*, float*, int64_t,
                           int64_t, bool);

template <int MR, int MaxNV>
MicroBf16 micro_bf16_for(int64_t nv) {
  if constexpr (MaxNV > 1) {
    if (nv < MaxNV) return micro_bf16_for<MR, MaxNV - 1>(nv);
  }
  return &micro_bf16<MR, MaxNV>;
}

MicroBf16 micro_bf16_for(int64_t rows, int64_t nv) {
  switch (rows) {
    case 1:
      return micro_bf16_for<1, 2 * kPanelBlocks>(nv);
    case 2:
      return micro_bf16_for<2, 2 * kPanelBlocks>(nv);
    case 3:
      return micro_bf16_for<3, kPanelBlocks>(nv);
    case 4:
      return micro_bf16_for<4, kPanelBlocks>(nv);
    case 5:
      return micro_bf16_for<5, kPanelBlocks>(nv);
    default:
      return micro_bf16_for<6, kPanelBlocks>(nv);
  }
}

#define R1_AMX_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma,amx-tile,amx-bf16")))

// The AMX tile configuration (palette 1): tiles 0-3 accumulate C (row block 0|1 x column block 0|1), 4-5 hold
// A (the rows' bf16 pairs, 16 pairs = 64 bytes a row), 6-7 hold B (16 pairs x 16 columns of a panel block:
// the panel layout [K/2][16][2] is already AMX's pair-interleaved B layout).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Stores of `tilestored` (an asm statement without a memory clobber) must be visible to the loads that follow.
inline void compiler_fence() { asm volatile("" ::: "memory"); }

// linear_blocks_bf16 on AMX tiles (amx_available(), K % 32 == 0): rows in pairs of 16-row blocks, columns in
// pairs of 16-column blocks, K in steps of 32 (16 pairs), accumulation in fp32 tiles.
R1_AMX_TARGET void linear_blocks_amx(const uint16_t* x, int64_t rows, const PackedLinear& w, float* y, int64_t ldy,
                                     bool accumulate, int64_t block_begin, int64_t block_end) {
  const int64_t K2 = w.in / 2, N = w.out, x_stride = 4 * K2;  // bytes between rows of x
  const uint16_t* panels = reinterpret_cast<const uint16_t*>(w.panels.data_ptr());
  const float* bias = w.bias.defined() ? w.bias.data_ptr<float>() : nullptr;
  alignas(64) float tiles[4][16 * 16];
  compiler_fence();
  for (int64_t r0 = 0; r0 < rows; r0 += 32) {
    const int m0 = int(std::min<int64_t>(16, rows - r0)), m1 = int(std::clamp<int64_t>(rows - r0 - 16, 0, 16));
    TileConfig config;
    for (int t = 0; t < 8; ++t) {
      const int m = t == 6 || t == 7 ? 16 : (t == 2 || t == 3 || t == 5 ? m1 : m0);
      config.rows[t] = uint8_t(m);
      config.colsb[t] = m > 0 ? 64 : 0;
    }
    _tile_loadconfig(&config);
    const uint16_t* x0 = x + r0 * 2 * K2;
    const uint16_t* x1 = x0 + 16 * 2 * K2;
    for (int64_t block = block_begin; block < block_end; block += 2) {
      const bool two = block + 1 < block_end;
      const uint16_t* b0 = panels + block * K2 * 32;
      const uint16_t* b1 = b0 + K2 * 32;
      _tile_zero(0);
      _tile_zero(1);
      if (m1) {
        _tile_zero(2);
        _tile_zero(3);
      }
      for (int64_t k = 0; k < K2; k += 16) {
        _tile_loadd(4, x0 + 2 * k, x_stride);
        _tile_loadd(6, b0 + k * 32, 64);
        _tile_dpbf16ps(0, 4, 6);
        if (two) {
          _tile_loadd(7, b1 + k * 32, 64);
          _tile_dpbf16ps(1, 4, 7);
        }
        if (m1) {
          _tile_loadd(5, x1 + 2 * k, x_stride);
          _tile_dpbf16ps(2, 5, 6);
          if (two) _tile_dpbf16ps(3, 5, 7);
        }
      }
      _tile_stored(0, tiles[0], 64);
      _tile_stored(1, tiles[1], 64);
      if (m1) {
        _tile_stored(2, tiles[2], 64);
        _tile_stored(3, tiles[3], 64);
      }
      compiler_fence();
      for (int t = 0; t < (two ? 2 : 1); ++t) {
        const int64_t col = (block + t) * 16;
        const __mmask16 m = tail_mask(N - col);
        const __m512 bv = bias ? _mm512_loadu_ps(bias + col) : _mm512_setzero_ps();
        for (int rb = 0; rb < (m1 ? 2 : 1); ++rb) {
          const float* tile = tiles[rb * 2 + t];
          for (int r = 0; r < (rb ? m1 : m0); ++r) {
            float* dst = y + (r0 + rb * 16 + r) * ldy + col;
            __m512 out = _mm512_add_ps(_mm512_load_ps(tile + r * 16), bv);
            if (accumulate) out = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), out);
            _mm512_mask_storeu_ps(dst, m, out);
          }
        }
      }
    }
  }
  _tile_release();
}

void linear_blocks_bf16(const uint16_t* x, int64_t rows, const PackedLinear& w, float* y, int64_t ldy, bool accumulate,
                        int64_t block_begin, int64_t block_end) {
  if (w.in % 32 == 0 && amx_available()) {
    linear_blocks_amx(x, rows, w, y, ldy, accumulate, block_begin, block_end);
    return;
  }
  const int64_t K2 = (w.in + 1) / 2, N = w.out, ldx = 2 * K2, kc = slice_k(rows, K2);
  const uint16_t* panels = reinterpret_cast<const uint16_t*>(w.panels.data_ptr());
  const float* bias = w.bias.defined() ? w.bias.data_ptr<float>() : nullptr;
  const int64_t width = panel_blocks(rows);
  for (int64_t block = block_begin; block < block_end; block += width) {
    const int64_t nv = std::min(width, block_end - block);
    const int64_t col = block * 16, cols = std::min(nv * 16, N - col);
    for (int64_t k0 = 0; k0 < K2; k0 += kc) {
      const int64_t kk = std::min(kc, K2 - k0);
      const uint16_t* p = panels + (block * K2 + k0) * 32;
      for (int64_t r = 0; r < rows; r += kMaxRows) {
        const int64_t mr = std::min(kMaxRows, rows - r);
        micro_bf16_for(mr, nv)(x + r * ldx + 2 * k0, ldx, p, K2, kk, bias && k0 == 0 ? bias + col : nullptr,
                               y + r * ldy + col, ldy, cols, accumulate || k0 > 0);
      }
    }
  }
}

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

void greedy_row(const float* l, int64_t V, int32_t* token, float* logprob) {
  __m512 vmax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < V; j += 16) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(vmax, tail_mask(V - j), l + j));
  const float mx = _mm512_reduce_max_ps(vmax);
  int64_t best = 0;
  const __m512 target = _mm512_set1_ps(mx);
  for (int64_t j = 0; j < V; j += 16) {
    const __mmask16 hit = _mm512_mask_cmp_ps_mask(tail_mask(V - j), _mm512_loadu_ps(l + j), target, _CMP_EQ_OQ);
    if (hit) {
      best = j + __builtin_ctz(unsigned(hit));
      break;
    }
  }
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < V; j += 16) {
    const __mmask16 m = tail_mask(V - j);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, l + j), target))));
  }
  *token = int32_t(best);
  *logprob = l[best] - mx - std::log(reduce_add(sum));
}

}  // namespace

R1_BF16_TARGET void to_bf16_rows(const float* x, int64_t rows, int64_t ldx, int64_t K, uint16_t* out) {
  const int64_t ld = (K + 1) / 2 * 2;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < K; k += 16) {
      const __mmask16 m = tail_mask(K - k);
      const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + r * ldx + k));
      _mm256_mask_storeu_epi16(out + r * ld + k, m, (__m256i)h);
    }
    if (K % 2) out[r * ld + K] = 0;
  }
}

int64_t panel_blocks(int64_t rows) { return rows <= 2 ? 2 * kPanelBlocks : kPanelBlocks; }

void linear_blocks(const float* x, const uint16_t* xb, int64_t rows, int64_t ldx, const PackedLinear& w, float* y,
                   int64_t ldy, bool accumulate, int64_t block_begin, int64_t block_end) {
  if (w.bf16) {
    linear_blocks_bf16(xb, rows, w, y, ldy, accumulate, block_begin, block_end);
  } else {
    linear_blocks_f32(x, rows, ldx, w, y, ldy, accumulate, block_begin, block_end);
  }
}

int64_t team_threads() { return std::max<int64_t>(1, at::get_num_threads()); }

void linear(const float* x, int64_t rows, int64_t ldx, const PackedLinear& w, float* y, int64_t ldy, bool accumulate) {
  const uint16_t* xb = nullptr;
  thread_local std::vector<uint16_t> converted;  // (rows, 2 * ceil(K/2)) bf16
  if (w.bf16) {
    converted.resize(size_t(rows * ((w.in + 1) / 2 * 2)));
    to_bf16_rows(x, rows, ldx, w.in, converted.data());
    xb = converted.data();
  }
  const int64_t threads = rows * w.in * w.blocks() * 16 < kParallelMacs ? 1 : team_threads();
  const int64_t width = panel_blocks(rows), panels = (w.blocks() + width - 1) / width;
  if (rows > kRowBlock && !w.bf16) {
    // Many rows (a training forward, a prefill): tasks of kRowBlock rows x a few panels, so a task's rows and
    // partial sums stay in L2 and every thread has work. Each output's arithmetic is the same as below.
    const int64_t row_blocks = (rows + kRowBlock - 1) / kRowBlock;
    const int64_t panels_per_task = std::max<int64_t>(1, std::min<int64_t>(panels, 4));
    const int64_t panel_groups = (panels + panels_per_task - 1) / panels_per_task;
    ThreadTeam::global().parallel(row_blocks * panel_groups, threads, [&](int64_t task) {
      const int64_t rb = task / panel_groups, pg = task % panel_groups;
      const int64_t r0 = rb * kRowBlock, n = std::min(kRowBlock, rows - r0);
      const int64_t begin = pg * panels_per_task * width,
                    end = std::min((pg + 1) * panels_per_task * width, w.blocks());
      linear_blocks(x + r0 * ldx, nullptr, n, ldx, w, y + r0 * ldy, ldy, accumulate, begin, end);
    });
    return;
  }
  const int64_t parts = std::min(panels, 2 * threads);
  ThreadTeam::global().parallel(parts, threads, [&](int64_t part) {
    const auto [begin, end] = share(panels, part, parts);
    linear_blocks(x, xb, rows, ldx, w, y, ldy, accumulate, begin * width, std::min(end * width, w.blocks()));
  });
}

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
  model::detail::softmax_row(s, n, e, p);
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

void greedy(const float* logits, int64_t rows, int64_t V, int32_t* token, float* logprob) {
  const int64_t threads = rows * V < kParallelMacs / 8 ? 1 : team_threads();
  const int64_t parts = std::min(rows, 2 * threads);
  ThreadTeam::global().parallel(parts, threads, [&](int64_t part) {
    const auto [begin, end] = share(rows, part, parts);
    for (int64_t r = begin; r < end; ++r) greedy_row(logits + r * V, V, token + r, logprob + r);
  });
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace r1::kernels
