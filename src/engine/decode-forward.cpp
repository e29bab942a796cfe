// DecodeForward (decode-forward.h): per layer RMSNorm -> one packed q|k|v product -> RoPE -> K/V written at
// slot L -> fused attention over each row's slots -> o_proj added into the residual -> RMSNorm -> one packed
// gate|up product -> silu * up -> down_proj added into the residual; then the final norm and the packed head.
// RoPE cos/sin come from a per-position table built with TransformerImpl's own ops (bit-identical), ALiBi
// biases from the same slopes, so the differences from the model's forward are fp32 summation orders.
// No ATen op runs per step except the logits' allocation. Each phase is split into ThreadTeam items (rows,
// (row, kv head) pairs, column panels of a product); bf16 products read their inputs rounded to bf16 by the
// phase that wrote them.
#include "engine/decode-forward.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "kernels/thread-team.h"
#include "kernels/transformer-rows.h"
#include "model/layers.h"
#include "r1/error.h"

namespace r1::engine {
using kernels::share;
using kernels::ThreadTeam;

bool DecodeForward::supported(model::TransformerImpl& model) {
  if (!kernels::available()) return false;
  if (model.has_lora()) return false;  // the packed weights would leave out the unmerged adapters
  const model::ModelConfig& c = model.config();
  if (c.resolved_head_dim() % 2 != 0 || c.resolved_head_dim() > 512 ||
      c.num_attention_heads % c.num_key_value_heads != 0)
    return false;
  // Inference tensors (a model built under InferenceMode) carry no version counter, so in-place updates
  // could not be detected: those models keep the LibTorch path, which reads the weights at every op.
  const std::vector<at::Tensor> params = model.parameters();
  const at::ScalarType dtype = params.front().scalar_type();
  if (dtype == at::kBFloat16 && !(kernels::bf16_available() && c.resolved_head_dim() % 16 == 0)) return false;
  if (dtype != at::kFloat && dtype != at::kBFloat16) return false;
  for (const at::Tensor& p : params)
    if (!p.device().is_cpu() || p.scalar_type() != dtype || !p.is_contiguous() || p.is_inference()) return false;
  return true;
}

DecodeForward::DecodeForward(model::TransformerImpl& model) : model_(model), config_(model.config()) {
  if (config_.position_embedding_type == model::PositionEncoding::kRope)
    inv_freq_ = model::detail::rope_inverse_frequencies(config_);
  else
    slopes_ = model::detail::alibi_slopes(config_.num_attention_heads).contiguous();
  refresh();
}

void DecodeForward::refresh() {
  std::vector<at::Tensor> params = model_.parameters();
  bool stale = params.size() != seen_.size();
  for (size_t i = 0; !stale && i < params.size(); ++i)
    stale = !params[i].is_same(seen_[i].first) || params[i].data_ptr() != seen_[i].second.first ||
            params[i]._version() != seen_[i].second.second;
  if (!stale) return;
  const model::DecoderWeights w = model_.weights();
  auto dense = [](const at::Tensor& t) -> const at::Tensor& {
    if (!t.is_contiguous()) fail("decode forward: a weight is not contiguous");
    return t;
  };
  auto f32 = [](const at::Tensor& t) { return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat); };
  bf16_ = params.front().scalar_type() == at::kBFloat16;
  layers_.resize(w.layers.size());
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const model::LayerWeights& src = w.layers[i];
    Layer& l = layers_[i];
    l.input_norm = f32(dense(src.input_norm));
    l.post_norm = f32(dense(src.post_norm));
    l.qkv.pack({dense(src.q), dense(src.k), dense(src.v)}, {src.q_bias, src.k_bias, src.v_bias}, bf16_);
    l.o.pack({dense(src.o)}, {src.o_bias}, bf16_);
    l.gate_up.pack({dense(src.gate), dense(src.up)}, {src.gate_bias, src.up_bias}, bf16_);
    l.down.pack({dense(src.down)}, {src.down_bias}, bf16_);
  }
  embedding_ = dense(w.embed);  // fp32 or bf16, rows widened when looked up
  final_norm_ = f32(dense(w.final_norm));
  head_.pack({dense(w.lm_head)}, {at::Tensor()}, bf16_);
  seen_.clear();
  for (const at::Tensor& t : params) seen_.push_back({t, {t.data_ptr(), t._version()}});
}

at::Tensor DecodeForward::head(const at::Tensor& hidden) {
  refresh();
  const at::Tensor h = hidden.to(at::kFloat).contiguous();  // (B, C)
  const int64_t B = h.size(0), V = config_.vocab_size;
  at::Tensor logits = at::empty({B, V}, h.options());  // (B, V)
  if (bf16_) return model_.logits(hidden).to(at::kFloat);
  kernels::linear(h.data_ptr<float>(), B, h.size(1), head_, logits.data_ptr<float>(), V, false);
  return logits;
}

at::Tensor DecodeForward::step(const std::vector<int32_t>& tokens, const std::vector<int64_t>& positions,
                               const std::vector<int64_t>& first, model::KvCache& cache) {
  refresh();
  const model::ModelConfig& c = config_;
  const int64_t B = int64_t(tokens.size()), C = c.hidden_size, H = c.num_attention_heads;
  const int64_t Hkv = c.num_key_value_heads, D = c.resolved_head_dim(), I = c.intermediate_size;
  const int64_t V = c.vocab_size, Nqkv = (H + 2 * Hkv) * D, L = cache.length;
  if (int64_t(cache.key.size()) != c.num_hidden_layers || cache.key[0].size(0) != B || L + 1 > cache.capacity())
    fail("decode forward: the cache holds {} layers x {} rows x {} positions; needed {} x {} x {}", cache.key.size(),
         cache.key.empty() ? 0 : cache.key[0].size(0), cache.capacity(), c.num_hidden_layers, B, L + 1);
  const int64_t s_max = cache.capacity();
  for (auto* list : {&cache.key, &cache.value})
    for (const at::Tensor& t : *list)
      if (t.scalar_type() != (bf16_ ? at::kBFloat16 : at::kFloat) || t.stride(3) != 1 || t.stride(2) != D ||
          t.stride(1) != s_max * D || t.stride(0) != Hkv * s_max * D)
        fail("decode forward: the KV cache must be {} with rows of (Hkv, S_max, D) contiguous",
             bf16_ ? "bf16" : "float");

  auto f32 = at::TensorOptions().dtype(at::kFloat);
  const int64_t ld = 2 * C + Nqkv + H * D + 3 * I;
  if (work_.numel() < B * ld) work_ = at::empty({B * ld}, f32);
  float* x = work_.data_ptr<float>();  // rows of x | h | qkv | attn | gate,up | act
  float* h = x + C;
  float* qkv = h + C;
  float* attn = qkv + Nqkv;
  float* gu = attn + H * D;
  float* act = gu + 2 * I;
  // bf16: the inputs of the products rounded to bf16 by the thread that produced them, rows 2 ceil(K/2) apart
  const int64_t ldc = (C + 1) / 2 * 2, lda = (H * D + 1) / 2 * 2, ldi = (I + 1) / 2 * 2;
  if (bf16_ && int64_t(work_bf16_.size()) < B * (ldc + lda + ldi)) work_bf16_.resize(size_t(B * (ldc + lda + ldi)));
  uint16_t* hb = bf16_ ? work_bf16_.data() : nullptr;  // (B, ldc)
  uint16_t* attnb = bf16_ ? hb + B * ldc : nullptr;    // (B, lda)
  uint16_t* actb = bf16_ ? attnb + B * lda : nullptr;  // (B, ldi)
  int64_t max_position = 0;
  for (int64_t r = 0; r < B; ++r) {
    if (tokens[size_t(r)] < 0 || tokens[size_t(r)] >= V)
      fail("decode forward: token id {} outside [0, {})", tokens[size_t(r)], V);
    if (positions[size_t(r)] < 0) fail("decode forward: negative position {}", positions[size_t(r)]);
    max_position = std::max(max_position, positions[size_t(r)]);
    const int64_t token = tokens[size_t(r)];
    if (embedding_.scalar_type() == at::kFloat) {
      std::memcpy(x + r * ld, embedding_.data_ptr<float>() + token * C, size_t(C) * sizeof(float));
    } else {  // bf16 -> fp32 is exact: the high half of the float's bits
      const uint16_t* row = reinterpret_cast<const uint16_t*>(embedding_.data_ptr()) + token * C;
      for (int64_t i = 0; i < C; ++i) {
        const uint32_t bits = uint32_t(row[i]) << 16;
        std::memcpy(x + r * ld + i, &bits, sizeof(float));
      }
    }
  }
  if (inv_freq_.defined() && (!rope_cos_.defined() || rope_cos_.size(0) <= max_position)) {
    // The ops of TransformerImpl::hidden_states, so every entry is bit-identical to the model's.
    const int64_t P = std::max<int64_t>({256, max_position + 1, rope_cos_.defined() ? 2 * rope_cos_.size(0) : 0});
    at::Tensor freqs = at::arange(P, at::TensorOptions().dtype(at::kLong)).to(at::kFloat).unsqueeze(-1) * inv_freq_;
    at::Tensor emb = at::cat({freqs, freqs}, -1);  // (P, D)
    rope_cos_ = emb.cos().contiguous();
    rope_sin_ = emb.sin().contiguous();
  }
  kernels::AttentionShape shape;
  shape.rows = B;
  shape.H = H;
  shape.Hkv = Hkv;
  shape.D = D;
  shape.L = L;
  shape.q = qkv;
  shape.q_stride = ld;
  shape.s_max = s_max;
  shape.first = first.data();
  shape.alibi_slopes = slopes_.defined() ? slopes_.data_ptr<float>() : nullptr;
  shape.out = attn;
  shape.out_stride = ld;
  shape.bf16_cache = bf16_;
  const int64_t G = H / Hkv;
  if (!logits_.defined() || logits_.size(0) < B) logits_ = at::empty({B, V}, f32);
  at::Tensor logits = logits_.narrow(0, 0, B);  // (B, V), reused: a fresh 2 MB per step faulted its pages in each time
  float* out = logits.data_ptr<float>();
  const float* cos_table = inv_freq_.defined() ? rope_cos_.data_ptr<float>() : nullptr;
  const float* sin_table = inv_freq_.defined() ? rope_sin_.data_ptr<float>() : nullptr;
  std::vector<void*> keys, values;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    keys.push_back(cache.key[size_t(i)].data_ptr());
    values.push_back(cache.value[size_t(i)].data_ptr());
  }

  // Every phase splits rows, (row, kv head) pairs or 16-column blocks of a product into items that the
  // caller and the team's helpers claim; a phase returns when all its items are done.
  ThreadTeam& team = ThreadTeam::global();
  const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
  auto over = [&](int64_t n, int64_t per_thread, const std::function<void(int64_t, int64_t)>& range) {
    const int64_t parts = std::min(n, per_thread * threads);
    team.parallel(parts, threads, [&](int64_t part) {
      const std::pair<int64_t, int64_t> r = share(n, part, parts);
      range(r.first, r.second);
    });
  };
  auto norm = [&](const at::Tensor& weight) {  // h = RMSNorm(x)
    over(B, 2, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        kernels::rms_norm_row(x + r * ld, weight.data_ptr<float>(), C, c.rms_norm_eps, h + r * ld);
        if (bf16_) kernels::to_bf16_rows(h + r * ld, 1, ld, C, hb + r * ldc);
      }
    });
  };
  auto product = [&](const float* in, const uint16_t* in_bf16, const kernels::PackedLinear& w, float* y, int64_t ldy,
                     bool accumulate) {
    // Items of >= ~0.25 M multiply-adds: few enough that claiming them costs little at batch 1, many enough
    // that a helper descheduled by a busy machine holds up only a small part of a large product.
    const int64_t per_thread = std::clamp<int64_t>(B * w.in * w.out / (threads << 18), 2, 16);
    const int64_t width = kernels::panel_blocks(B), panels = (w.blocks() + width - 1) / width;
    over(panels, per_thread, [&](int64_t begin, int64_t end) {
      kernels::linear_blocks(in, in_bf16, B, ld, w, y, ldy, accumulate, begin * width,
                             std::min(end * width, w.blocks()));
    });
  };
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const Layer& l = layers_[size_t(i)];
    norm(l.input_norm);
    product(h, hb, l.qkv, qkv, ld, false);  // (B, (H + 2 Hkv) D)
    kernels::AttentionShape a = shape;
    void* key = keys[size_t(i)];
    void* value = values[size_t(i)];
    a.key = key;
    a.value = value;
    over(B * Hkv, 4, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {  // RoPE, K/V at slot L, attention of one (row, kv head)
        const int64_t r = t / Hkv, g = t % Hkv;
        float* q = qkv + r * ld;
        float* k = q + (H + g) * D;
        const float* v = q + (H + Hkv + g) * D;
        if (cos_table) {
          const int64_t offset = positions[size_t(r)] * D;
          float rotated[512];                       // D <= 512 (checked in supported())
          for (float* head : {q + g * G * D, k}) {  // the query heads of kv head g, then the key
            const int64_t heads = head == k ? 1 : G;
            for (int64_t j = 0; j < heads; ++j) {
              kernels::rope_row(head + j * D, cos_table + offset, sin_table + offset, rotated, D);
              std::memcpy(head + j * D, rotated, size_t(D) * sizeof(float));
            }
          }
        }
        const int64_t slot = ((r * Hkv + g) * s_max + L) * D;
        if (bf16_) {  // rounded to nearest even, as a bf16 cast
          for (int64_t d = 0; d < D; ++d) {
            static_cast<c10::BFloat16*>(key)[slot + d] = c10::BFloat16(k[d]);
            static_cast<c10::BFloat16*>(value)[slot + d] = c10::BFloat16(v[d]);
          }
        } else {
          std::memcpy(static_cast<float*>(key) + slot, k, size_t(D) * sizeof(float));
          std::memcpy(static_cast<float*>(value) + slot, v, size_t(D) * sizeof(float));
        }
        kernels::decode_attention(a, t, t + 1);  // attn[r, heads of g]
        if (bf16_) kernels::to_bf16_rows(attn + r * ld + g * G * D, 1, ld, G * D, attnb + r * lda + g * G * D);
      }
    });
    product(attn, attnb, l.o, x, ld, true);  // x += o_proj(attn)
    norm(l.post_norm);
    product(h, hb, l.gate_up, gu, ld, false);  // (B, 2I)
    over(B, 2, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        kernels::swiglu_row(gu + r * ld, gu + r * ld + I, act + r * ld, I);
        if (bf16_) kernels::to_bf16_rows(act + r * ld, 1, ld, I, actb + r * ldi);
      }
    });
    product(act, actb, l.down, x, ld, true);  // x += down_proj(act)
  }
  norm(final_norm_);
  product(h, hb, head_, out, V, false);
  cache.length = L + 1;
  return logits;
}

}  // namespace r1::engine
