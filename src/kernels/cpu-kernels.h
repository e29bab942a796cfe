// fp32 CPU kernels of the decode forward (engine/decode-forward.h) and the greedy sampler fast path, written
// for decode's shapes: a few to a few dozen rows against weights that stay the same between steps.
// The training forward's fp32 products (model/exact-ops.h) run the same kernels on many rows, so decode and
// training compute every output with the same operations in the same order (GRPO's exact on-policy log-probs).
//   PackedLinear: y = x W^T + b with W (N, K) packed once into 16-column panels [N/16][K][16] (zero padded),
//     so a step multiplies without the per-call re-packing a BLAS sgemm does (OpenBLAS re-packs the whole
//     weight at every call); register-blocked AVX-512 micro-kernels of up to 6 rows x 64 columns (1-2 rows:
//     x 128), K cut into L1-sized slices when the rows need several micro-kernel calls (each output's FMA chain
//     continuing across slices, so a row's result does not depend on the batch).
//   decode_attention: one query token per row against that row's cached keys [first, L]; on an fp32 cache in
//     the training forward's order (16 keys per FMA chain over d, gathered; the training softmax's row kernel;
//     one FMA chain per output over the keys), on a bf16 one grouped-query (the G query heads of a kv head
//     share each key/value load); ALiBi optional.
//   exp is Cephes' expf polynomial (max error ~2 ulp), against Sleef's 1 ulp in ATen's softmax.
//   bf16 (bf16_available(): AVX512-BF16): weights packed as bf16 pairs [N/16][K/2][16][2] for vdpbf16ps,
//     activations rounded to bf16 (nearest even) at each product's input, fp32 accumulation; a bf16 KV cache
//     is widened to fp32 on load. Where amx_available() and K % 32 == 0 the bf16 products run on AMX tiles
//     (tdpbf16ps: 16 x 16 x 32 per instruction) at every row count, so a row's result does not depend on
//     the batch it is in.
// Everything here needs AVX-512F (available()); callers fall back to the LibTorch path without it. The
// whole-product entry points split their work over ThreadTeam::global() (at::get_num_threads() threads); the
// *_blocks / task-range variants are the per-thread parts, for callers that run a team themselves.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace r1::kernels {

bool available();       // this CPU has AVX-512F and FMA
bool bf16_available();  // ... and AVX512-BF16 (vdpbf16ps, vcvtneps2bf16), AVX-512BW and VL
bool amx_available();   // ... and AMX-BF16 tiles, granted by the kernel (arch_prctl XTILEDATA)

// The panels of one or several weights stacked along N (e.g. q|k|v), and their biases (zeros where a
// weight has none).
struct PackedLinear {
  int64_t in = 0, out = 0;  // K, N
  bool bf16 = false;
  at::Tensor panels;  // float (ceil(N/16), K, 16), or bf16 (ceil(N/16), ceil(K/2), 16, 2)
  at::Tensor bias;    // (ceil(N/16) * 16) float, or undefined when no weight has a bias
  int64_t blocks() const { return (out + 15) / 16; }  // 16-column blocks
  // weights[i] (N_i, K), biases[i] (N_i) or undefined; packed as bf16 when `bf16` (needs bf16_available()).
  void pack(const std::vector<at::Tensor>& weights, const std::vector<at::Tensor>& biases, bool bf16 = false);
};

// y[r, n] = (accumulate ? y[r, n] : 0) + (sum_k x[r, k] w[n, k] + b[n]) for r < rows; x rows ldx apart, y
// rows ldy apart. Column panels are split across the intra-op threads when the product is large enough.
void linear(const float* x, int64_t rows, int64_t ldx, const PackedLinear& w, float* y, int64_t ldy, bool accumulate);
// The 16-column blocks that linear_blocks() multiplies together for `rows` rows: split a product's columns
// at multiples of it (a range that ends elsewhere runs narrower, slower micro-kernels).
int64_t panel_blocks(int64_t rows);
// The columns [16 block_begin, 16 block_end) of linear(). A bf16 `w` reads xb instead of x: the rows rounded
// to bf16 by to_bf16_rows (rows 2 * ceil(K/2) apart).
void linear_blocks(const float* x, const uint16_t* xb, int64_t rows, int64_t ldx, const PackedLinear& w, float* y,
                   int64_t ldy, bool accumulate, int64_t block_begin, int64_t block_end);
// x (rows, K) at rows ldx apart -> out (rows, 2 * ceil(K/2)) bf16 bits, round to nearest even, a zero pad
// element for odd K. Needs bf16_available().
void to_bf16_rows(const float* x, int64_t rows, int64_t ldx, int64_t K, uint16_t* out);

struct AttentionShape {
  int64_t rows = 0, H = 0, Hkv = 0, D = 0;
  int64_t L = 0;             // the new token's key slot; keys [first[r], L] of each row are attended
  const float* q = nullptr;  // (rows, H, D) at rows q_stride apart
  int64_t q_stride = 0;
  const void* key = nullptr;  // cache (slots, Hkv, S_max, D), contiguous, float or (bf16_cache) bf16
  const void* value = nullptr;
  bool bf16_cache = false;
  int64_t s_max = 0;
  const int64_t* first = nullptr;       // (rows) first real key slot
  const float* alibi_slopes = nullptr;  // (H) or null: bias -slope_h * (L - j)
  float* out = nullptr;                 // (rows, H * D) at rows out_stride apart
  int64_t out_stride = 0;
};
void decode_attention(const AttentionShape& a);
// The (row, kv head) tasks [task_begin, task_end) of decode_attention, task t = row * Hkv + kv head.
void decode_attention(const AttentionShape& a, int64_t task_begin, int64_t task_end);

// Attention of many query rows at once (a training forward, a prefill) in decode_attention's fp32 arithmetic,
// so a token scored by a full-sequence forward and the same token decoded get the same bits: each score one
// FMA chain over d from 0, times 1/sqrt(D) (+ ALiBi), the training softmax's row kernel over the row's own
// keys, each output one FMA chain over those keys in order. Query time t of batch row b attends the keys
// [first[b T + t], last[b T + t]] (none when last < first: output 0). Grouped-query: head h reads kv head
// h / (H / Hkv).
struct RangeAttention {
  int64_t B = 0, T = 0, S = 0, H = 0, Hkv = 0, D = 0;  // D <= 512
  const float* q = nullptr;                            // (B, T, H, D) contiguous
  // element (b, g, j, d) of the keys at key[b * key_strides[0] + g * key_strides[1] + j * key_strides[2] + d],
  // of the values likewise
  const float* key = nullptr;
  const float* value = nullptr;
  int64_t key_strides[3] = {0, 0, 0}, value_strides[3] = {0, 0, 0};
  const int64_t* first = nullptr;       // (B, T) key ranges, in [0, S)
  const int64_t* last = nullptr;        // (B, T)
  int64_t past = 0;                     // query t sits at key position past + t (the ALiBi distance)
  const float* alibi_slopes = nullptr;  // (H) or null
  float* out = nullptr;                 // (B, T, H, D) contiguous
  float* probs = nullptr;               // (B, H, T, S) contiguous or null: probabilities, 0 outside each range
};
void range_attention(const RangeAttention& a);

// Per row of logits (rows, V): the first index of the maximum, and its log-softmax value.
void greedy(const float* logits, int64_t rows, int64_t V, int32_t* token, float* logprob);

}  // namespace r1::kernels
