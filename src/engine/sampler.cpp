// The batched sampling chain of sampler.h. Per-row parameters travel to the device as one packed (B, 8)
// tensor; stages no row uses are skipped (host flags), so an all-greedy batch costs an argmax and a
// log_softmax. Greedy rows skip top-k / top-p / min-p (they cannot change the argmax) and report
// log_softmax of the penalised logits, as engine.h specifies. A CPU batch of plain greedy rows (no penalties,
// no logprob temperature, no top logprobs) takes one fused pass per row instead (kernels::greedy): argmax and
// log-softmax at it, which is then both the sampling and the raw log-probability.
#include "engine/sampler.h"

#include "kernels/cpu-kernels.h"
#include "kernels/row-math.h"

#include <ATen/ATen.h>
#include <torch/types.h>

#include <algorithm>
#include <limits>

namespace r1::engine {

uint64_t SplitMix64::next() {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double SplitMix64::uniform() { return double(next() >> 11) * 0x1.0p-53; }

uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  SplitMix64 a{seed};
  SplitMix64 b{a.next() ^ (stream * 0xD1B54A32D192ED03ull)};
  return b.next();
}

bool uses_penalties(const SamplingParams& p) {
  return p.repetition_penalty != 1.0 || p.presence_penalty != 0.0 || p.frequency_penalty != 0.0;
}

bool is_greedy(const SamplingParams& p) { return p.temperature <= 0.0; }

namespace {

enum Column { kTemp, kTopK, kTopP, kMinP, kRep, kPresence, kFrequency, kLogprobTemp, kColumns };

struct Flags {
  bool penalties = false, repetition = false, temperature = false, top_k = false, top_p = false, min_p = false;
  bool any_greedy = false, any_sampled = false, raw_scaled = false;
  int32_t top_logprobs = 0;
};

// Row parameters as a (B, kColumns) float tensor on the logits' device, plus which stages are needed.
at::Tensor pack_params(const std::vector<const SamplingParams*>& params, const at::Device device, Flags& f) {
  std::vector<float> host(params.size() * kColumns);
  for (size_t i = 0; i < params.size(); ++i) {
    const SamplingParams& p = *params[i];
    const bool greedy = is_greedy(p);
    float* row = host.data() + i * kColumns;
    row[kTemp] = greedy ? 1.0f : float(p.temperature);
    row[kTopK] = greedy || p.top_k <= 0 ? std::numeric_limits<float>::infinity() : float(p.top_k);
    row[kTopP] = greedy || p.top_p >= 1.0 ? 2.0f : float(p.top_p);  // exclusive mass < 2 always holds
    row[kMinP] = greedy ? 0.0f : float(p.min_p);
    row[kRep] = float(p.repetition_penalty);
    row[kPresence] = float(p.presence_penalty);
    row[kFrequency] = float(p.frequency_penalty);
    row[kLogprobTemp] = float(p.logprob_temperature);
    f.penalties |= uses_penalties(p);
    f.repetition |= p.repetition_penalty != 1.0;
    f.temperature |= row[kTemp] != 1.0f;
    f.top_k |= row[kTopK] != std::numeric_limits<float>::infinity();
    f.top_p |= row[kTopP] < 1.0f;
    f.min_p |= row[kMinP] > 0.0f;
    f.any_greedy |= greedy;
    f.any_sampled |= !greedy;
    f.raw_scaled |= p.logprob_temperature != 1.0;
    f.top_logprobs = std::max(f.top_logprobs, p.top_logprobs);
  }
  return torch::from_blob(host.data(), {int64_t(params.size()), kColumns}, torch::kFloat).to(device, false, true);
}

at::Tensor col(const at::Tensor& packed, Column c) { return packed.select(1, c).unsqueeze(1); }  // (B, 1)

// Penalties, temperature, top-k, top-p, min-p on float logits (B, V); returns (penalised, processed).
std::pair<at::Tensor, at::Tensor> run_chain(const at::Tensor& logits, const at::Tensor& packed, const Flags& f,
                                            const PenaltyState* pen) {
  const float kNegInf = -std::numeric_limits<float>::infinity();
  at::Tensor x = logits;
  if (f.penalties) {
    if (pen == nullptr) throw std::logic_error("sampler: penalties requested without PenaltyState");
    at::Tensor in_output = pen->counts > 0;  // (B, V)
    if (f.repetition) {
      at::Tensor rep = col(packed, kRep);
      at::Tensor seen = in_output.logical_or(pen->prompt_mask);
      x = at::where(seen, at::where(x > 0, x / rep, x * rep), x);
    }
    x = x - col(packed, kPresence) * in_output.to(at::kFloat) - col(packed, kFrequency) * pen->counts;
  }
  at::Tensor penalised = x;
  if (f.temperature) x = x / col(packed, kTemp);
  if (f.top_k || f.top_p) {
    const int64_t V = x.size(1);
    auto [sorted, order] = x.sort(-1, /*descending=*/true);  // (B, V)
    at::Tensor keep = at::ones_like(sorted, at::kBool);
    if (f.top_k) {
      at::Tensor rank = torch::arange(V, torch::TensorOptions().dtype(at::kFloat).device(x.device())).unsqueeze(0);
      keep = rank < col(packed, kTopK);
      sorted = sorted.masked_fill(keep.logical_not(), kNegInf);
    }
    if (f.top_p) {
      at::Tensor probs = at::softmax(sorted, -1);
      at::Tensor before = probs.cumsum(-1) - probs;  // mass of the more probable tokens
      keep = keep.logical_and(before < col(packed, kTopP));
    }
    at::Tensor keep_vocab = at::zeros_like(keep).scatter(1, order, keep);  // back to vocabulary order
    x = x.masked_fill(keep_vocab.logical_not(), kNegInf);
  }
  if (f.min_p) {
    at::Tensor probs = at::softmax(x, -1);
    at::Tensor floor = col(packed, kMinP) * std::get<0>(probs.max(-1, /*keepdim=*/true));
    x = x.masked_fill(probs < floor, kNegInf);
  }
  return {penalised, x};
}

}  // namespace

at::Tensor process_logits(const at::Tensor& logits, const std::vector<const SamplingParams*>& params,
                          const PenaltyState* penalties) {
  Flags f;
  at::Tensor packed = pack_params(params, logits.device(), f);
  return run_chain(logits.to(at::kFloat), packed, f, penalties).second;
}

StepOutput sample(const at::Tensor& logits_in, const std::vector<const SamplingParams*>& params,
                  const std::vector<double>& uniforms, const PenaltyState* penalties) {
  const int64_t B = logits_in.size(0);
  at::Tensor logits = logits_in.to(at::kFloat);  // (B, V)
  const bool plain_greedy = std::all_of(params.begin(), params.end(), [](const SamplingParams* p) {
    return is_greedy(*p) && !uses_penalties(*p) && p->logprob_temperature == 1.0 && p->top_logprobs == 0;
  });
  if (plain_greedy && logits.device().is_cpu() && kernels::available()) {
    at::Tensor dense = logits.contiguous();
    StepOutput out;
    out.tokens.resize(size_t(B));
    out.logprobs.resize(size_t(B));
    out.top_logprobs.resize(size_t(B));
    kernels::greedy(dense.data_ptr<float>(), B, dense.size(1), out.tokens.data(), out.logprobs.data());
    out.raw_logprobs = out.logprobs;
    return out;
  }
  Flags f;
  at::Tensor packed = pack_params(params, logits.device(), f);
  auto [penalised, x] = run_chain(logits, packed, f, penalties);

  at::Tensor log_probs = at::log_softmax(x, -1);  // (B, V) the sampling distribution
  at::Tensor token;                               // (B, 1) int64
  if (f.any_greedy) token = penalised.argmax(-1, /*keepdim=*/true);
  if (f.any_sampled) {
    std::vector<float> u(uniforms.begin(), uniforms.end());
    at::Tensor draws = torch::from_blob(u.data(), {B, 1}, torch::kFloat).to(logits.device());  // (B, 1)
    at::Tensor cdf = log_probs.exp().cumsum(-1);                                               // (B, V)
    at::Tensor target = draws * cdf.narrow(1, cdf.size(1) - 1, 1);
    at::Tensor drawn = at::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true).clamp_max(cdf.size(1) - 1);
    if (f.any_greedy) {
      std::vector<uint8_t> greedy(static_cast<size_t>(B));
      for (int64_t i = 0; i < B; ++i) greedy[size_t(i)] = is_greedy(*params[size_t(i)]);
      at::Tensor g = torch::from_blob(greedy.data(), {B, 1}, torch::kBool).to(logits.device());
      token = at::where(g, token, drawn);
    } else {
      token = drawn;
    }
  }
  at::Tensor lp = log_probs.gather(1, token);  // (B, 1)
  at::Tensor raw;                              // (B, 1) log_softmax(logits / logprob_temperature) at the token
  if (logits.is_cpu()) {
    // The row kernels of the trainers' token_logprobs (kernels/row-math.h): the log-probs a GRPO step recomputes
    // for these tokens take the same arithmetic from the same logits (ATen's log_softmax is ~1e-5 off at 40k).
    at::Tensor dense = logits.contiguous(), ids = token.contiguous();
    raw = torch::empty({B, 1}, torch::kFloat);
    const int64_t V = dense.size(1);
    std::vector<float> row(static_cast<size_t>(V));
    for (int64_t i = 0; i < B; ++i) {
      std::copy_n(dense.data_ptr<float>() + i * V, V, row.data());
      const float t = float(params[size_t(i)]->logprob_temperature);
      if (t != 1.0f) row_divide(row.data(), V, t);
      raw.data_ptr<float>()[i] = row[size_t(ids.data_ptr<int64_t>()[i])] - row_log_sum_exp(row.data(), V);
    }
  } else {
    at::Tensor raw_all =
        f.raw_scaled
            ? at::log_softmax(logits / col(packed, kLogprobTemp), -1)
            : (f.penalties || f.temperature || f.top_k || f.top_p || f.min_p ? at::log_softmax(logits, -1) : log_probs);
    raw = raw_all.gather(1, token);
  }
  std::vector<at::Tensor> parts = {token.to(at::kDouble), lp.to(at::kDouble), raw.to(at::kDouble)};
  const int64_t K = std::min<int64_t>(f.top_logprobs, log_probs.size(1));
  if (K > 0) {
    auto [values, ids] = log_probs.topk(K, -1);  // (B, K)
    parts.push_back(values.to(at::kDouble));
    parts.push_back(ids.to(at::kDouble));
  }
  at::Tensor host = at::cat(parts, 1).cpu().contiguous();  // (B, 3 + 2K): the step's one device sync
  const double* h = host.data_ptr<double>();
  const int64_t W = host.size(1);
  StepOutput out;
  out.tokens.resize(size_t(B));
  out.logprobs.resize(size_t(B));
  out.raw_logprobs.resize(size_t(B));
  out.top_logprobs.resize(size_t(B));
  for (int64_t i = 0; i < B; ++i) {
    const double* row = h + i * W;
    out.tokens[size_t(i)] = int32_t(row[0]);
    out.logprobs[size_t(i)] = float(row[1]);
    out.raw_logprobs[size_t(i)] = float(row[2]);
    const int32_t want = std::min<int32_t>(params[size_t(i)]->top_logprobs, int32_t(K));
    for (int32_t j = 0; j < want; ++j)
      out.top_logprobs[size_t(i)].push_back({int32_t(row[3 + K + j]), float(row[3 + j])});
  }
  return out;
}

}  // namespace r1::engine
