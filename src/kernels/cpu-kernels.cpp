// The AVX-512 kernels of cpu-kernels.h. Everything after the `#pragma GCC target` below is compiled for
// AVX-512F + FMA and is only reached after available() said yes (functions marked R1_BF16_TARGET also use
// AVX-512BW/BF16 and are only reached after bf16_available(), R1_AMX_TARGET ones AMX after amx_available());
// the headers are included before it, so no inline function they define is emitted with those instructions.
// Threads: ThreadTeam items over column panels (linear, pack), rows (greedy) or (row, kv head) pairs
// (attention), inline when the work is too small to be worth a helper.
#include "kernels/cpu-kernels.h"

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

}  // namespace r1::kernels
#include "kernels/avx512-lanes.h"  // after the target pragma: its functions use AVX-512
namespace r1::kernels {

namespace {

constexpr int64_t kPanelBlocks = 4;         // 64 output columns per panel (128 for 1-2 rows)
constexpr int64_t kMaxRows = 6;             // rows per micro-kernel call (6 x 4 accumulators)
constexpr int64_t kParallelMacs = 1 << 20;  // below this a linear runs on the calling thread
constexpr int64_t kSliceK = 128;            // K slice of the fp32 panels (bf16: 128 pairs) when rows > kMaxRows
constexpr int64_t kRowBlock = 96;           // rows of one linear() task when there are many rows

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