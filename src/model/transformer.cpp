// TransformerImpl: embedding -> decoder layers -> final norm -> LM head (a sequence classifier: the score head on
// each row's last non-pad token), with the per-forward position and
// mask set-up (RoPE cos/sin or ALiBi biases, causal + padding mask, KV-cache offsets; with segment_ids a
// block-diagonal causal mask and per-segment positions, as HF's packed position_ids with flash-attention),
// HF weight init, KV-cache allocation, and the parameters by role (weights(): typed access for code that runs
// the math without the modules, so HF names stay in hf-directory.cpp, which loads and saves). Blocks: layers.cpp.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <fmt/ranges.h>

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "model/autocast-state.h"
#include "model/exact-ops.h"
#include "model/layers.h"
#include "r1/error.h"
#include "r1/model.h"

namespace r1::model {
using detail::AttentionInputs;

namespace {
// The device types whose autocast state a checkpointed layer carries from its forward to its recomputation.
const std::array<std::pair<const char*, at::DeviceType>, 2> kAutocastDevices = {
    {{"cpu", at::kCPU}, {"cuda", at::kCUDA}}};

// One decoder layer whose activations are recomputed in backward (PyTorch's reentrant checkpoint): forward
// runs without building a graph and saves the layer input and the position/mask tensors; backward runs the
// layer again with gradients under the forward's autocast state and back-propagates through it, which
// accumulates the parameter gradients and yields the input gradient. The layers have no randomness.
struct CheckpointedLayer : torch::autograd::Function<CheckpointedLayer> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, at::Tensor x, detail::DecoderLayerImpl* layer,
                            const AttentionInputs& attention, int64_t index) {
    ctx->save_for_backward({x});
    ctx->saved_data["layer"] = reinterpret_cast<int64_t>(layer);
    ctx->saved_data["index"] = index;
    ctx->saved_data["cos"] = attention.cos;
    ctx->saved_data["sin"] = attention.sin;
    ctx->saved_data["allowed"] = attention.allowed;
    ctx->saved_data["alibi"] = attention.alibi;
    ctx->saved_data["causal_bias"] = attention.causal_bias;
    ctx->saved_data["key_first"] = attention.key_first;
    ctx->saved_data["key_last"] = attention.key_last;
    ctx->saved_data["alibi_slopes"] = attention.alibi_slopes;
    for (const auto& [name, device] : kAutocastDevices) {  // the forward's autocast, for the recomputation
      ctx->saved_data[std::string("autocast_") + name] = detail::autocast_enabled(device);
      ctx->saved_data[std::string("autocast_dtype_") + name] = detail::autocast_dtype(device);
    }
    return layer->forward(x, attention, index);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    at::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    auto* layer = reinterpret_cast<detail::DecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    AttentionInputs attention;
    auto tensor_or_none = [&](const char* key) {
      const at::IValue& v = ctx->saved_data[key];
      return v.isTensor() ? v.toTensor() : at::Tensor();
    };
    attention.cos = tensor_or_none("cos");
    attention.sin = tensor_or_none("sin");
    attention.allowed = tensor_or_none("allowed");
    attention.alibi = tensor_or_none("alibi");
    attention.causal_bias = tensor_or_none("causal_bias");
    attention.key_first = tensor_or_none("key_first");
    attention.key_last = tensor_or_none("key_last");
    attention.alibi_slopes = tensor_or_none("alibi_slopes");
    // Backward can run on another thread than the forward (autograd's device thread for CUDA), whose autocast
    // state is its own: the recomputation runs under the forward's state for CPU and CUDA, then the thread's.
    bool turned_on = false;
    std::vector<std::pair<bool, at::ScalarType>> before;
    for (const auto& [name, device] : kAutocastDevices) {
      before.emplace_back(detail::autocast_enabled(device), detail::autocast_dtype(device));
      const bool on = ctx->saved_data[std::string("autocast_") + name].toBool();
      turned_on = turned_on || (on && !before.back().first);
      detail::set_autocast(device, on, ctx->saved_data[std::string("autocast_dtype_") + name].toScalarType());
    }
    at::Tensor y;
    {
      torch::AutoGradMode grad(true);
      y = layer->forward(x, attention, ctx->saved_data["index"].toInt());
    }
    for (size_t i = 0; i < before.size(); ++i)
      detail::set_autocast(kAutocastDevices[i].second, before[i].first, before[i].second);
    if (turned_on) at::autocast::clear_cache();
    torch::autograd::backward({y}, {grad_out[0]});
    return {x.grad(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};
// Key ranges for exact attention (AttentionInputs::key_first / key_last): query t of row b may attend key j
// when j <= past + t, the mask allows j and (with segment ids) j is in t's segment. Returns false when some
// query's allowed keys are not one contiguous range (a mask with holes, a segment id that recurs): such a
// forward keeps ATen's masked attention.
bool exact_key_ranges(const at::Tensor& mask, const at::Tensor& segments, int64_t B, int64_t T, int64_t past,
                      at::Tensor& first_out, at::Tensor& last_out) {
  const int64_t S = past + T;
  at::Tensor m = mask.defined() ? mask.to(at::kCPU, at::kLong).contiguous() : at::Tensor();            // (B, S)
  at::Tensor seg = segments.defined() ? segments.to(at::kCPU, at::kLong).contiguous() : at::Tensor();  // (B, T)
  first_out = at::empty({B, T}, at::kLong);
  last_out = at::empty({B, T}, at::kLong);
  int64_t* first = first_out.data_ptr<int64_t>();
  int64_t* last = last_out.data_ptr<int64_t>();
  std::vector<int64_t> ones(static_cast<size_t>(S + 1)), last_one(static_cast<size_t>(S));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t* mb = m.defined() ? m.data_ptr<int64_t>() + b * S : nullptr;
    const int64_t* sb = seg.defined() ? seg.data_ptr<int64_t>() + b * T : nullptr;
    int64_t lo = 0;  // the row's first allowed key
    if (mb) {
      for (int64_t j = 0; j < S; ++j) {
        ones[size_t(j + 1)] = ones[size_t(j)] + (mb[j] != 0);
        last_one[size_t(j)] = mb[j] != 0 ? j : (j > 0 ? last_one[size_t(j - 1)] : -1);
      }
      while (lo < S && mb[lo] == 0) ++lo;
    }
    std::vector<int64_t> seen;  // segment ids whose run has ended
    int64_t run_start = 0;
    for (int64_t t = 0; t < T; ++t) {
      if (sb && t > 0 && sb[t] != sb[t - 1]) {
        seen.push_back(sb[t - 1]);
        if (std::find(seen.begin(), seen.end(), sb[t]) != seen.end()) return false;
        run_start = t;
      }
      const int64_t hi = past + t;
      int64_t f = std::max(lo, sb ? run_start : int64_t(0));
      int64_t l = mb ? last_one[size_t(hi)] : hi;
      if (l >= f && mb && ones[size_t(l + 1)] - ones[size_t(f)] != l - f + 1) return false;
      if (l < f) f = 0, l = -1;
      first[b * T + t] = f;
      last[b * T + t] = l;
    }
  }
  return true;
}
}  // namespace

namespace {
// A zero tensor whose pages the kernel provides on first touch (anonymous mmap): a KV cache sized for
// max_seq_len positions costs memory and page-fault time only for the positions actually written, where
// torch::zeros would write all of it up front (64 slots x 512 positions of the tiny model: 134 MB, a quarter
// of a 128-token batch-64 generation on a VM where page faults are slow). Other devices: torch::zeros.
at::Tensor lazy_zeros(at::IntArrayRef shape, const at::TensorOptions& options) {
  if (!options.device().is_cpu()) return torch::zeros(shape, options);
  int64_t numel = 1;
  for (int64_t n : shape) numel *= n;
  const size_t bytes =
      std::max<size_t>(1, size_t(numel) * c10::elementSize(c10::typeMetaToScalarType(options.dtype())));
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return torch::zeros(shape, options);
  auto unmap = [bytes](void* q) { munmap(q, bytes); };
  return torch::from_blob(p, shape, unmap, options);
}
}  // namespace

KvCache KvCache::allocate(const ModelConfig& c, int64_t batch, int64_t max_length, at::ScalarType dtype,
                          at::Device device) {
  KvCache cache;
  auto options = torch::TensorOptions().dtype(dtype).device(device);
  const std::vector<int64_t> shape = {batch, c.num_key_value_heads, max_length, c.resolved_head_dim()};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    cache.key.push_back(lazy_zeros(shape, options));
    cache.value.push_back(lazy_zeros(shape, options));
  }
  return cache;
}

TransformerImpl::TransformerImpl(const ModelConfig& config, const at::TensorOptions& options) : config_(config) {
  config_.validate("model config");
  model_ = register_module("model", std::make_shared<detail::DecoderStackImpl>(config_, options));
  // Position tables, built once so forward() never writes to the module (concurrent forwards are safe).
  if (config_.position_embedding_type == PositionEncoding::kRope)
    inv_freq_ = detail::rope_inverse_frequencies(config_).to(options.device());
  else
    slopes_ = detail::alibi_slopes(config_.num_attention_heads).to(options.device());
  if (config_.is_classifier())
    score_ = register_module(
        "score", std::make_shared<detail::LinearImpl>(config_.hidden_size, config_.num_labels, false, options));
  else if (!config_.tie_word_embeddings)
    lm_head_ = register_module(
        "lm_head", std::make_shared<detail::LinearImpl>(config_.hidden_size, config_.vocab_size, false, options));
}

at::Tensor TransformerImpl::hidden_states(const at::Tensor& ids, const ForwardArgs& args) {
  if (ids.dim() != 2) fail("forward: input_ids must be (B, T), got {} dims", ids.dim());
  const int64_t B = ids.size(0), T = ids.size(1);
  const at::Device device = ids.device();
  KvCache* cache = args.cache;
  const int64_t past = cache ? cache->length : 0, S = past + T;
  if (cache != nullptr) {
    if (int64_t(cache->key.size()) != config_.num_hidden_layers || cache->key[0].size(0) != B)
      fail("forward: KV cache was allocated for batch {} and {} layers, called with batch {}",
           cache->key.empty() ? 0 : cache->key[0].size(0), cache->key.size(), B);
    if (S > cache->capacity()) fail("forward: KV cache holds {} positions, {} needed", cache->capacity(), S);
  }
  at::Tensor mask = args.attention_mask;
  if (mask.defined() && (mask.dim() != 2 || mask.size(0) != B || mask.size(1) != S))
    fail("forward: attention_mask must be (B={}, S={}), got [{}]", B, S, fmt::join(mask.sizes(), ", "));
  auto long_opts = torch::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor& segments = args.segment_ids;  // (B, T)
  if (segments.defined() && (cache != nullptr || segments.sizes() != ids.sizes()))
    fail("forward: segment_ids must be (B, T) like input_ids and cannot be combined with a KV cache");

  AttentionInputs ctx;
  ctx.cache = cache;
  ctx.past = past;
  at::Tensor x = model_->embed_tokens(ids);  // (B, T, C)
  const at::ScalarType act = x.scalar_type();
  at::Tensor q_index = torch::arange(past, S, long_opts);  // (T) query positions in the key axis
  at::Tensor k_index = torch::arange(0, S, long_opts);     // (S)

  if (config_.position_embedding_type == PositionEncoding::kRope) {
    at::Tensor positions = args.positions;
    if (!positions.defined() && segments.defined()) {
      // index within the segment: t - (first t of the run of equal segment ids that t belongs to)
      at::Tensor t = q_index.unsqueeze(0).expand({B, T});  // (B, T)
      at::Tensor starts = torch::ones({B, T}, torch::TensorOptions().dtype(at::kBool).device(device));
      if (T > 1) starts.narrow(1, 1, T - 1).copy_(segments.narrow(1, 1, T - 1) != segments.narrow(1, 0, T - 1));
      positions = t - std::get<0>(at::cummax(torch::where(starts, t, torch::zeros_like(t)), 1));  // (B, T)
    } else if (!positions.defined()) {
      positions = mask.defined() ? (mask.to(at::kLong).cumsum(-1) - 1).clamp_min(0).narrow(1, past, T)  // (B, T)
                                 : q_index.unsqueeze(0).expand({B, T});
    } else if (positions.sizes() != ids.sizes()) {
      fail("forward: positions must be (B, T) like input_ids, got [{}]", fmt::join(positions.sizes(), ", "));
    }
    at::Tensor freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq_.to(device);  // (B, T, D/2)
    at::Tensor emb = at::cat({freqs, freqs}, -1);                                      // (B, T, D)
    ctx.cos = emb.cos();                                                               // (B, T, D) fp32
    ctx.sin = emb.sin();
  }
  // r1's kernels compute the attention (and every product) in the decode step's arithmetic where they apply.
  const bool exact = detail::exact_products(x) && config_.resolved_head_dim() <= 512 &&
                     exact_key_ranges(mask, segments, B, T, past, ctx.key_first, ctx.key_last);
  if (!exact) ctx.key_first = ctx.key_last = at::Tensor();
  if (exact) {
    if (config_.position_embedding_type != PositionEncoding::kRope)
      ctx.alibi_slopes = slopes_.to(at::kFloat).contiguous();
  } else if (config_.position_embedding_type != PositionEncoding::kRope) {
    const int64_t H = config_.num_attention_heads, Hkv = config_.num_key_value_heads;
    at::Tensor distance = (q_index.unsqueeze(1) - k_index.unsqueeze(0)).to(at::kFloat);  // (T, S)
    ctx.alibi = (-slopes_.to(device).view({H, 1, 1}) * distance).to(act).view({1, Hkv, H / Hkv, T, S});
  }
  if (exact) {
    // the key ranges replace the mask tensors
  } else if (!mask.defined() && !segments.defined() && T > 1 && !ctx.alibi.defined()) {
    const int64_t G = config_.num_attention_heads / config_.num_key_value_heads;
    at::Tensor bias = torch::zeros({T, S}, torch::TensorOptions().dtype(act).device(device))
                          .masked_fill_(k_index.unsqueeze(0) > q_index.unsqueeze(1), -1e30);  // (T, S)
    ctx.causal_bias = bias.repeat({G, 1}).unsqueeze(0);                                       // (1, G*T, S)
  } else if (mask.defined() || T > 1) {
    at::Tensor allowed = k_index.unsqueeze(0) <= q_index.unsqueeze(1);                            // (T, S) causal
    allowed = mask.defined() ? allowed.unsqueeze(0).logical_and(mask.to(at::kBool).unsqueeze(1))  // (B, T, S)
                             : allowed.unsqueeze(0);                                              // (1, T, S)
    if (segments.defined())  // block-diagonal: same segment only (S == T without a cache)
      allowed = allowed.logical_and(segments.unsqueeze(2) == segments.unsqueeze(1));  // (B, T, S)
    ctx.allowed = allowed.view({allowed.size(0), 1, 1, T, S});
  }
  const bool checkpoint = gradient_checkpointing_ && is_training() && torch::GradMode::is_enabled() && !cache;
  for (int64_t i = 0; i < int64_t(model_->layers.size()); ++i) {
    if (checkpoint) {
      if (!x.requires_grad()) x = x.detach().requires_grad_(true);  // frozen embeddings (adapters): keep a graph
      x = CheckpointedLayer::apply(x, model_->layers[i].get(), ctx, i);
    } else {
      x = model_->layers[i]->forward(x, ctx, i);
    }
  }
  if (cache != nullptr) cache->length = S;
  return model_->norm(x);
}

namespace {
[[noreturn]] void no_lm_head(const ModelConfig& c, const char* what) {
  fail("{}: a {} has no LM head (a sequence classifier: use sequence_logits)", what, c.architecture());
}
}  // namespace

at::Tensor TransformerImpl::logits(const at::Tensor& hidden) {
  if (score_) no_lm_head(config_, "logits");
  return lm_head_ ? lm_head_->forward(hidden) : detail::linear_product(hidden, model_->embed_tokens->weight, {});
}

at::Tensor TransformerImpl::lm_head_weight() const {
  if (score_) no_lm_head(config_, "lm_head_weight");
  return lm_head_ ? lm_head_->weight : model_->embed_tokens->weight;
}

at::Tensor TransformerImpl::score(const at::Tensor& hidden) {
  if (!score_) fail("score: a {} has no score head (a causal LM: use logits)", config_.architecture());
  return score_->forward(hidden);
}

at::Tensor TransformerImpl::sequence_logits(const at::Tensor& ids, const ForwardArgs& args) {
  if (!score_) fail("sequence_logits: a {} is not a sequence classifier", config_.architecture());
  if (ids.dim() != 2) fail("sequence_logits: input_ids must be (B, T), got {} dims", ids.dim());
  if (args.cache != nullptr) fail("sequence_logits: a classifier reads whole sequences, not a KV cache");
  const int64_t B = ids.size(0), T = ids.size(1);
  auto long_opts = torch::TensorOptions().dtype(at::kLong).device(ids.device());
  at::Tensor last;  // (B) the pooled position of each row
  if (config_.pad_token_id) {
    // transformers: (token_indices * non_pad_mask).argmax(-1), the rightmost non-pad token (0 for an all-pad row)
    at::Tensor non_pad = ids.ne(*config_.pad_token_id).to(at::kLong);
    last = (torch::arange(T, long_opts).unsqueeze(0) * non_pad).argmax(-1);
  } else {
    if (B > 1)
      fail("sequence_logits: a batch of {} rows needs pad_token_id in config.json to find each row's last token", B);
    last = torch::full({B}, T - 1, long_opts);
  }
  at::Tensor hidden = hidden_states(ids, args);                           // (B, T, C)
  at::Tensor pooled = hidden.index({torch::arange(B, long_opts), last});  // (B, C)
  return score_->forward(pooled);                                         // (B, num_labels)
}

bool TransformerImpl::lm_head_is_plain() const { return !lm_head_ || !lm_head_->has_active_lora(); }

DecoderWeights TransformerImpl::weights() const {
  DecoderWeights w{.embed = model_->embed_tokens->weight,
                   .final_norm = model_->norm->weight,
                   .lm_head = score_ ? at::Tensor() : lm_head_weight()};
  for (const detail::DecoderLayer& layer : model_->layers) {
    const detail::AttentionImpl& a = *layer->self_attn;
    const detail::MlpImpl& m = *layer->mlp;
    w.layers.push_back({.input_norm = layer->input_layernorm->weight,
                        .post_norm = layer->post_attention_layernorm->weight,
                        .q = a.q_proj->weight,
                        .k = a.k_proj->weight,
                        .v = a.v_proj->weight,
                        .o = a.o_proj->weight,
                        .q_bias = a.q_proj->bias,
                        .k_bias = a.k_proj->bias,
                        .v_bias = a.v_proj->bias,
                        .o_bias = a.o_proj->bias,
                        .gate = m.gate_proj->weight,
                        .up = m.up_proj->weight,
                        .down = m.down_proj->weight,
                        .gate_bias = m.gate_proj->bias,
                        .up_bias = m.up_proj->bias,
                        .down_bias = m.down_proj->bias});
  }
  return w;
}

at::Tensor TransformerImpl::forward(const at::Tensor& ids, const ForwardArgs& args) {
  return logits(hidden_states(ids, args));
}

void TransformerImpl::init_weights() {
  torch::NoGradGuard no_grad;
  const double std = config_.initializer_range;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<detail::LinearImpl>()) {
      linear->weight.normal_(0.0, std);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* embedding = module->as<detail::EmbeddingImpl>()) {
      embedding->weight.normal_(0.0, std);
      if (embedding->padding_idx >= 0) embedding->weight[embedding->padding_idx].zero_();
    } else if (auto* norm = module->as<detail::RmsNormImpl>()) {
      norm->weight.fill_(1.0);
    }
  }
}

int64_t TransformerImpl::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace r1::model
