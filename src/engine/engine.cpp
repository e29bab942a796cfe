// Engine (r1/engine.h): the scheduler loop of continuous batching over SlotCache rows. One step() is vLLM v1's
// core loop, schedule -> execute -> update:
//   schedule: new requests and cancellations; which waiting samples take the free rows (FIFO) and which of their
//     prompts are prefilled first (within a padded-token budget);
//   execute: one decode forward over the active rows (B = active, T = 1); the prefill of the new prompts (one
//     forward per prompt length), whose K/V each sample of the prompt copies into its row; one batched sampling
//     call for every row (one host sync);
//   update: each row's token appended and emitted, stop checks; finished rows are freed, refilled by the last row.
// The model runs under InferenceMode in eval mode, restored afterwards, so a trainer's Transformer is left as
// it was. A compute dtype other than the parameters' (bf16) runs a shadow copy refreshed whenever a parameter
// changes (version counters), so generation always sees the live weights.
#include "r1/engine.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/types.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "engine/decode-forward.h"
#include "engine/kv-cache.h"
#include "engine/sampler.h"
#include "r1/error.h"

namespace r1::engine {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kEos:
      return "eos";
    case FinishReason::kStopToken:
      return "stop_token";
    case FinishReason::kStopString:
      return "stop_string";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
  }
  return "?";
}

namespace {

constexpr int64_t kPrefillTokenBudget = 16384;  // padded prompt tokens per prefill forward
constexpr int64_t kMinCompaction = 32;          // re-align left once this much of L is padding in every row
constexpr int64_t kSplitHeadMaxRows = 2;        // decode batches up to this size project logits in row blocks
constexpr int64_t kHeadBlockRows = 1024;

struct RequestState {
  uint64_t id = 0;
  Request request;
  Engine::Callback on_event;
  Result result;
  int32_t admitted = 0, finished = 0;
  bool cancelled = false;
  model::KvCache prefix;  // prompt K/V after prefill (views into the prefill batch's cache)
  int64_t prefix_row = 0, prefix_start = 0;
  at::Tensor last_logits;         // (1, V) logits after the prompt
  std::vector<std::string> text;  // per sample: decoded output (stop strings only)
};

struct Slot {
  RequestState* request = nullptr;
  int32_t sample = 0;
  SplitMix64 rng;
  int64_t cached = 0;      // tokens of this sequence in the cache (prompt + fed outputs)
  int32_t last_token = 0;  // sampled, not yet fed
};

// What schedule() decides for one step; execute() carries it out. Nothing between the two changes the queues.
struct StepPlan {
  bool decode = false;                                   // one decode forward over the active rows
  std::vector<std::pair<RequestState*, int32_t>> admit;  // (request, sample) placed into free rows, FIFO
  std::vector<RequestState*> prefill;                    // the prompts of `admit` not yet prefilled
  bool empty() const { return !decode && admit.empty(); }
};

}  // namespace

struct Engine::State {
  model::Transformer model{nullptr};
  EngineOptions options;
  at::ScalarType dtype;
  at::Device device = at::kCPU;
  int64_t max_seq_len = 0;
  std::vector<int32_t> eos;

  mutable std::mutex mutex;  // guards incoming, cancel_requests, next_id, pending_count
  std::deque<std::unique_ptr<RequestState>> incoming;
  std::set<uint64_t> cancel_requests;
  uint64_t next_id = 1;
  std::atomic<int64_t> live{0};  // submitted and not yet done

  std::list<std::unique_ptr<RequestState>> waiting;           // samples not all admitted, FIFO; owned here
  std::map<uint64_t, std::unique_ptr<RequestState>> running;  // fully admitted, samples still active
  std::vector<Slot> slots;                                    // active rows [0, slots.size())
  SlotCache cache;
  PenaltyState penalties;  // allocated on the first request that uses penalties

  model::Transformer shadow{nullptr};  // compute-dtype copy when dtype differs from the parameters'
  std::vector<std::pair<const void*, int64_t>> shadow_versions;
  std::unique_ptr<DecodeForward> fused;  // the fp32 CPU decode step, when DecodeForward::supported
  bool fused_checked = false;

  model::TransformerImpl& compute_model();
  void validate(const Request& r) const;
  void finish_sample(RequestState& r, int32_t sample, FinishReason reason);
  void complete_if_done(RequestState& r);
  int64_t longest_cached() const;  // the most tokens any active row holds in the cache

  bool step();  // schedule() -> execute() -> update(); false when there was nothing to do

  // schedule: admission and budgets. nullopt when nothing is running or waiting.
  std::optional<StepPlan> schedule();
  void admit_cancellations();
  void reserve();  // the slot cache, and the penalty buffers once a request uses penalties
  void choose_admissions(int64_t free_rows, StepPlan& plan);

  // execute: the forwards and the sampling; returns one token per active row.
  StepOutput execute(const StepPlan& plan);
  DecodeForward* fast_path(model::TransformerImpl& m);  // the fused decode step, or null where it does not apply
  at::Tensor decode_forward();                          // (active, V)
  at::Tensor decode_fused(DecodeForward& fused, int64_t L, model::KvCache& view);        // (B, V)
  at::Tensor decode_module(model::TransformerImpl& m, int64_t L, model::KvCache& view);  // (B, V)
  at::Tensor project_logits(model::TransformerImpl& m, const at::Tensor& hidden);        // (B, C) -> (B, V)
  void prefill(const std::vector<RequestState*>& batch);
  at::Tensor place(const std::vector<std::pair<RequestState*, int32_t>>& admit);  // (admitted, V)
  void make_room(int64_t longest_new);
  void open_row(RequestState& r, int32_t sample);
  StepOutput sample_rows(const at::Tensor& logits);  // (active, V)

  // update: tokens appended and emitted, stop checks, finished rows freed.
  void update(const StepOutput& out);
  void record_token(size_t row, const StepOutput& out);
  std::optional<FinishReason> stop_reason(const Slot& slot);
  bool hit_stop_string(RequestState& r, int32_t sample);
  void remove_rows(std::vector<size_t> rows);
};

model::TransformerImpl& Engine::State::compute_model() {
  if (!shadow) return *model;
  auto params = model->parameters();
  bool stale = shadow_versions.size() != params.size();
  for (size_t i = 0; !stale && i < params.size(); ++i)
    stale = shadow_versions[i] != std::make_pair<const void*, int64_t>(params[i].data_ptr(), params[i]._version());
  if (stale) {
    auto dst = shadow->parameters();
    shadow_versions.clear();
    for (size_t i = 0; i < params.size(); ++i) {
      dst[i].copy_(params[i]);
      shadow_versions.emplace_back(params[i].data_ptr(), params[i]._version());
    }
  }
  return *shadow;
}

void Engine::State::validate(const Request& r) const {
  const SamplingParams& p = r.params;
  const int64_t V = model->config().vocab_size;
  if (r.prompt.empty()) fail_usage("engine: the prompt is empty");
  if (int64_t(r.prompt.size()) >= max_seq_len)
    fail_usage("engine: the prompt has {} tokens; the engine's max_seq_len is {} (prompt + at least one token)",
               r.prompt.size(), max_seq_len);
  for (int32_t id : r.prompt)
    if (id < 0 || id >= V) fail_usage("engine: prompt token id {} is outside the vocabulary [0, {})", id, V);
  if (r.n < 1) fail_usage("engine: n must be >= 1, got {}", r.n);
  if (r.first_sample < 0) fail_usage("engine: first_sample must be >= 0, got {}", r.first_sample);
  if (p.max_new_tokens < 1) fail_usage("engine: max_new_tokens must be >= 1, got {}", p.max_new_tokens);
  if (!(p.top_p > 0.0 && p.top_p <= 1.0)) fail_usage("engine: top_p must be in (0, 1], got {}", p.top_p);
  if (!(p.min_p >= 0.0 && p.min_p <= 1.0)) fail_usage("engine: min_p must be in [0, 1], got {}", p.min_p);
  if (!(p.repetition_penalty > 0.0)) fail_usage("engine: repetition_penalty must be > 0, got {}", p.repetition_penalty);
  if (!(p.logprob_temperature > 0.0))
    fail_usage("engine: logprob_temperature must be > 0, got {}", p.logprob_temperature);
  if (p.top_logprobs < 0 || p.top_logprobs > 20)
    fail_usage("engine: top_logprobs must be in [0, 20], got {}", p.top_logprobs);
  if (!p.stop.empty() && !options.decode) fail_usage("engine: stop strings need EngineOptions::decode (a tokenizer)");
  for (const std::string& s : p.stop)
    if (s.empty()) fail_usage("engine: a stop string is empty");
}

void Engine::State::finish_sample(RequestState& r, int32_t sample, FinishReason reason) {
  r.result.samples[size_t(sample)].finish_reason = reason;
  ++r.finished;
  Event e;
  e.kind = Event::Kind::kFinished;
  e.request_id = r.id;
  e.sample = sample;
  e.finish_reason = reason;
  if (r.on_event) r.on_event(e);
}

void Engine::State::complete_if_done(RequestState& r) {
  if (r.finished < r.request.n) return;
  r.result.prompt_tokens = int64_t(r.request.prompt.size());
  Event e;
  e.kind = Event::Kind::kDone;
  e.request_id = r.id;
  e.result = &r.result;
  if (r.on_event) r.on_event(e);
  --live;
}

int64_t Engine::State::longest_cached() const {
  int64_t keep = 0;
  for (const Slot& s : slots) keep = std::max(keep, s.cached);
  return keep;
}

bool Engine::State::step() {
  const std::optional<StepPlan> plan = schedule();
  if (!plan) return false;
  if (plan->empty()) return true;
  update(execute(*plan));
  return true;
}

// ---- schedule ----------------------------------------------------------------------------------------------

std::optional<StepPlan> Engine::State::schedule() {
  admit_cancellations();
  if (slots.empty() && waiting.empty()) return std::nullopt;
  reserve();
  StepPlan plan;
  plan.decode = !slots.empty();
  const int64_t free_rows = options.max_batch - int64_t(slots.size());
  if (free_rows > 0 && !waiting.empty()) choose_admissions(free_rows, plan);
  return plan;
}

void Engine::State::admit_cancellations() {
  std::set<uint64_t> ids;
  {
    std::lock_guard<std::mutex> lock(mutex);
    ids.swap(cancel_requests);
    while (!incoming.empty()) {
      waiting.push_back(std::move(incoming.front()));
      incoming.pop_front();
    }
  }
  if (ids.empty()) return;
  std::vector<size_t> rows;
  for (size_t i = 0; i < slots.size(); ++i)
    if (ids.count(slots[i].request->id)) rows.push_back(i);
  for (size_t i : rows) finish_sample(*slots[i].request, slots[i].sample, FinishReason::kCancelled);
  for (auto it = waiting.begin(); it != waiting.end();) {
    RequestState& r = **it;
    if (!ids.count(r.id)) {
      ++it;
      continue;
    }
    r.cancelled = true;
    while (r.admitted < r.request.n) finish_sample(r, r.admitted++, FinishReason::kCancelled);
    const bool has_rows = std::any_of(slots.begin(), slots.end(), [&](const Slot& s) { return s.request == &r; });
    if (has_rows) {  // its rows are removed below, which completes it
      running[r.id] = std::move(*it);
    } else {
      complete_if_done(r);
    }
    it = waiting.erase(it);
  }
  remove_rows(rows);
}

void Engine::State::reserve() {
  if (!cache.allocated()) cache = SlotCache(model->config(), options.max_batch, max_seq_len, dtype, device);
  bool need_penalties = false;
  for (const auto& r : waiting) need_penalties |= uses_penalties(r->request.params);
  if (need_penalties && !penalties.counts.defined()) {
    const int64_t V = model->config().vocab_size;
    auto f32 = torch::TensorOptions().dtype(at::kFloat).device(device);
    penalties.counts = torch::zeros({options.max_batch, V}, f32);  // (slots, V)
    penalties.prompt_mask = torch::zeros({options.max_batch, V}, f32.dtype(at::kBool));
  }
}

void Engine::State::choose_admissions(int64_t free_rows, StepPlan& plan) {
  // FIFO; a prompt not yet prefilled joins this step's prefill while the batch stays within the token budget.
  int64_t prefill_max = 0;
  for (auto& owned : waiting) {
    RequestState* r = owned.get();
    if (int64_t(plan.admit.size()) >= free_rows) break;
    if (!r->last_logits.defined()) {
      const int64_t p = std::max<int64_t>(prefill_max, int64_t(r->request.prompt.size()));
      if (!plan.prefill.empty() && p * int64_t(plan.prefill.size() + 1) > kPrefillTokenBudget) break;
      prefill_max = p;
      plan.prefill.push_back(r);
    }
    for (int32_t s = r->admitted; s < r->request.n && int64_t(plan.admit.size()) < free_rows; ++s)
      plan.admit.emplace_back(r, s);
  }
}

// ---- execute -----------------------------------------------------------------------------------------------

StepOutput Engine::State::execute(const StepPlan& plan) {
  std::vector<at::Tensor> logits;
  if (plan.decode) logits.push_back(decode_forward());
  if (!plan.admit.empty()) {
    if (!plan.prefill.empty()) prefill(plan.prefill);
    logits.push_back(place(plan.admit));
  }
  return sample_rows(logits.size() == 1 ? logits[0] : at::cat(logits, 0));  // (active, V)
}

DecodeForward* Engine::State::fast_path(model::TransformerImpl& m) {
  if (!fused_checked) {
    fused_checked = true;
    if (device.is_cpu() && DecodeForward::supported(m)) fused = std::make_unique<DecodeForward>(m);
  }
  if (fused && m.has_lora()) fused.reset();  // adapters attached after the engine started: the module forward
  return fused.get();
}

at::Tensor Engine::State::decode_forward() {
  const int64_t B = int64_t(slots.size());
  int64_t L = cache.length();
  if (L + 1 > cache.capacity()) {  // the cache is full: drop the padding every row shares
    L = longest_cached();
    cache.realign(B, L, L);
  }
  cache.prefault(L + 1);  // this step writes position L
  model::TransformerImpl& m = compute_model();
  model::KvCache view = cache.view(B);
  DecodeForward* fused = fast_path(m);
  at::Tensor logits = fused ? decode_fused(*fused, L, view) : decode_module(m, L, view);  // (B, V)
  cache.commit(view);
  for (Slot& s : slots) ++s.cached;
  return logits;
}

at::Tensor Engine::State::decode_fused(DecodeForward& fused, int64_t L, model::KvCache& view) {
  const size_t B = slots.size();
  std::vector<int32_t> tokens(B, 0);
  std::vector<int64_t> positions(B), first(B);
  for (size_t i = 0; i < B; ++i) {
    tokens[i] = slots[i].last_token;
    positions[i] = slots[i].cached;
    first[i] = L - slots[i].cached;
  }
  return fused.step(tokens, positions, first, view);  // (B, V)
}

at::Tensor Engine::State::decode_module(model::TransformerImpl& m, int64_t L, model::KvCache& view) {
  const int64_t B = int64_t(slots.size());
  std::vector<int64_t> host(size_t(B) * 3);
  for (int64_t i = 0; i < B; ++i) {
    host[size_t(i) * 3] = slots[size_t(i)].last_token;
    host[size_t(i) * 3 + 1] = slots[size_t(i)].cached;      // position of the fed token
    host[size_t(i) * 3 + 2] = L - slots[size_t(i)].cached;  // first real key slot
  }
  at::Tensor packed = torch::from_blob(host.data(), {B, 3}, torch::kLong).to(device);  // (B, 3)
  at::Tensor ids = packed.narrow(1, 0, 1);                                             // (B, 1)
  model::ForwardArgs args;
  args.positions = packed.narrow(1, 1, 1);  // (B, 1)
  at::Tensor key_index = torch::arange(L + 1, torch::TensorOptions().dtype(at::kLong).device(device));
  args.attention_mask = key_index.unsqueeze(0) >= packed.narrow(1, 2, 1);  // (B, L + 1)
  args.cache = &view;
  at::Tensor hidden = m.hidden_states(ids, args);  // (B, 1, C)
  return project_logits(m, hidden.select(1, 0));   // (B, V)
}

at::Tensor Engine::State::project_logits(model::TransformerImpl& m, const at::Tensor& hidden) {
  // OpenBLAS (Debian's LibTorch on CPU) multiplies one row by a (V, C) head through its packing path,
  // several times slower than the same product cut into row blocks that take its small-matrix kernels
  // (8192 x 256: 0.87 -> 0.31 ms on the reference machine). Other shapes keep the model's own projection, as
  // does a head with an active LoRA adapter (the product below reads the base weight only).
  const int64_t B = hidden.size(0);
  if (B > kSplitHeadMaxRows || !hidden.device().is_cpu() || hidden.scalar_type() != at::kFloat || !m.lm_head_is_plain())
    return m.logits(hidden);
  const at::Tensor weight = m.lm_head_weight();                          // (V, C)
  at::Tensor out = torch::empty({weight.size(0), B}, hidden.options());  // (V, B)
  at::Tensor rhs = hidden.t();                                           // (C, B)
  for (int64_t row = 0; row < weight.size(0); row += kHeadBlockRows) {
    const int64_t n = std::min(kHeadBlockRows, weight.size(0) - row);
    at::Tensor block = out.narrow(0, row, n);
    at::mm_out(block, weight.narrow(0, row, n), rhs);  // (n, C) x (C, B)
  }
  return out.t();  // (B, V)
}

void Engine::State::prefill(const std::vector<RequestState*>& all) {
  // One forward per prompt length, so no row carries padding: a padded row's attention sums would take
  // other lanes than the same row's in a training forward, and the log-probs would differ in the last bits.
  std::map<size_t, std::vector<RequestState*>> by_length;
  for (RequestState* r : all) by_length[r->request.prompt.size()].push_back(r);
  if (by_length.size() > 1) {
    for (const auto& [length, group] : by_length) prefill(group);
    return;
  }
  const std::vector<RequestState*>& batch = all;
  const int64_t B = int64_t(batch.size());
  int64_t P = 0;
  for (const RequestState* r : batch) P = std::max<int64_t>(P, int64_t(r->request.prompt.size()));
  std::vector<int64_t> ids(size_t(B * P), 0), mask(size_t(B * P), 0);
  for (int64_t i = 0; i < B; ++i) {
    const auto& prompt = batch[size_t(i)]->request.prompt;
    const int64_t start = P - int64_t(prompt.size());
    for (size_t t = 0; t < prompt.size(); ++t) {
      ids[size_t(i * P + start) + t] = prompt[t];
      mask[size_t(i * P + start) + t] = 1;
    }
  }
  model::TransformerImpl& m = compute_model();
  DecodeForward* fused = fast_path(m);
  auto long_cpu = torch::TensorOptions().dtype(at::kLong);
  at::Tensor input = torch::from_blob(ids.data(), {B, P}, long_cpu).to(device);  // (B, P) left-padded
  model::ForwardArgs args;
  args.attention_mask = torch::from_blob(mask.data(), {B, P}, long_cpu).to(device);  // (B, P)
  auto prefix = std::make_shared<model::KvCache>(model::KvCache::allocate(model->config(), B, P, dtype, device));
  args.cache = prefix.get();
  at::Tensor hidden = m.hidden_states(input, args);                // (B, P, C)
  at::Tensor last = hidden.select(1, P - 1);                       // (B, C): the last column is real in every row
  at::Tensor logits = fused ? fused->head(last) : m.logits(last);  // (B, V)
  for (int64_t i = 0; i < B; ++i) {
    RequestState& r = *batch[size_t(i)];
    r.prefix = *prefix;  // shares storage
    r.prefix_row = i;
    r.prefix_start = P - int64_t(r.request.prompt.size());
    r.last_logits = logits.narrow(0, i, 1);  // (1, V)
  }
}

at::Tensor Engine::State::place(const std::vector<std::pair<RequestState*, int32_t>>& admit) {
  int64_t longest_new = 0;
  for (auto& [r, s] : admit) longest_new = std::max<int64_t>(longest_new, int64_t(r->request.prompt.size()));
  make_room(longest_new);
  std::vector<at::Tensor> logits;
  for (auto& [r, s] : admit) {
    open_row(*r, s);
    logits.push_back(r->last_logits);
  }
  // Requests with every sample admitted leave the queue; their prefill caches are released.
  for (auto it = waiting.begin(); it != waiting.end();) {
    RequestState& r = **it;
    if (r.admitted < r.request.n) break;
    r.prefix = model::KvCache();
    r.last_logits = at::Tensor();
    running[r.id] = std::move(*it);
    it = waiting.erase(it);
  }
  return at::cat(logits, 0);  // (admitted, V)
}

void Engine::State::make_room(int64_t longest_new) {
  // Every row (old and new) must fit right-aligned at L, with one free position for the next feed.
  const int64_t keep = longest_cached(), L = cache.length();
  int64_t target = std::max(L, longest_new);
  if (target + 1 > cache.capacity() || target - std::max(keep, longest_new) >= std::max(kMinCompaction, target / 2))
    target = std::max(keep, longest_new);
  if (target != L) cache.realign(int64_t(slots.size()), target, std::min(keep, std::min(L, target)));
}

void Engine::State::open_row(RequestState& r, int32_t sample) {
  // The next free row takes the prompt's prefilled K/V, fresh penalty counts and the sample's own RNG stream.
  const int64_t row = int64_t(slots.size());
  const int64_t P = int64_t(r.request.prompt.size());
  cache.place(row, r.prefix, r.prefix_row, r.prefix_start, P);
  if (penalties.counts.defined()) {
    penalties.counts[row].zero_();
    penalties.prompt_mask[row].zero_();
    std::vector<int64_t> prompt(r.request.prompt.begin(), r.request.prompt.end());
    at::Tensor index = torch::tensor(prompt, torch::TensorOptions().dtype(at::kLong)).to(device);
    penalties.prompt_mask[row].index_fill_(0, index, true);
  }
  Slot slot;
  slot.request = &r;
  slot.sample = sample;
  const uint64_t seed = r.request.params.seed.value_or(mix_seed(options.seed, r.id));
  slot.rng.state = mix_seed(seed, uint64_t(r.request.first_sample) + uint64_t(sample));
  slot.cached = P;
  slots.push_back(slot);
  r.admitted = sample + 1;
}

StepOutput Engine::State::sample_rows(const at::Tensor& logits) {
  const int64_t B = int64_t(slots.size());
  std::vector<const SamplingParams*> params;
  std::vector<double> uniforms;
  bool any_penalty = false;
  for (Slot& s : slots) {
    params.push_back(&s.request->request.params);
    uniforms.push_back(is_greedy(s.request->request.params) ? 0.0 : s.rng.uniform());
    any_penalty |= uses_penalties(s.request->request.params);
  }
  PenaltyState view;
  if (any_penalty) view = {penalties.counts.narrow(0, 0, B), penalties.prompt_mask.narrow(0, 0, B)};
  return sample(logits, params, uniforms, any_penalty ? &view : nullptr);
}

// ---- update ------------------------------------------------------------------------------------------------

void Engine::State::update(const StepOutput& out) {
  const int64_t B = int64_t(slots.size());
  if (penalties.counts.defined()) {
    at::Tensor tokens = torch::tensor(std::vector<int64_t>(out.tokens.begin(), out.tokens.end()),
                                      torch::TensorOptions().dtype(at::kLong))
                            .to(device);  // (B)
    penalties.counts.narrow(0, 0, B).scatter_add_(1, tokens.unsqueeze(1),
                                                  torch::ones({B, 1}, penalties.counts.options()));
  }
  std::vector<size_t> done;
  for (size_t i = 0; i < slots.size(); ++i) {
    record_token(i, out);
    if (const std::optional<FinishReason> reason = stop_reason(slots[i])) {
      finish_sample(*slots[i].request, slots[i].sample, *reason);
      done.push_back(i);
    }
  }
  remove_rows(done);
}

void Engine::State::record_token(size_t row, const StepOutput& out) {
  Slot& slot = slots[row];
  RequestState& r = *slot.request;
  Sample& sample = r.result.samples[size_t(slot.sample)];
  const int32_t token = out.tokens[row];
  sample.tokens.push_back(token);
  sample.logprobs.push_back(out.logprobs[row]);
  sample.raw_logprobs.push_back(out.raw_logprobs[row]);
  if (r.request.params.top_logprobs > 0) sample.top_logprobs.push_back(out.top_logprobs[row]);
  slot.last_token = token;
  if (!r.on_event) return;
  Event e;
  e.kind = Event::Kind::kToken;
  e.request_id = r.id;
  e.sample = slot.sample;
  e.token = token;
  e.logprob = out.logprobs[row];
  e.top_logprobs = out.top_logprobs[row];
  r.on_event(e);
}

std::optional<FinishReason> Engine::State::stop_reason(const Slot& slot) {
  RequestState& r = *slot.request;
  const SamplingParams& p = r.request.params;
  const std::vector<int32_t>& tokens = r.result.samples[size_t(slot.sample)].tokens;
  const int32_t token = tokens.back();
  if (!p.ignore_eos && std::find(eos.begin(), eos.end(), token) != eos.end()) return FinishReason::kEos;
  if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), token) != p.stop_token_ids.end())
    return FinishReason::kStopToken;
  if (!p.stop.empty() && hit_stop_string(r, slot.sample)) return FinishReason::kStopString;
  if (int64_t(tokens.size()) >= p.max_new_tokens || int64_t(r.request.prompt.size() + tokens.size()) >= max_seq_len)
    return FinishReason::kLength;
  return std::nullopt;
}

bool Engine::State::hit_stop_string(RequestState& r, int32_t sample) {
  // Only the tail that the newest token can have completed is searched (the longest stop string + 8 bytes).
  const std::vector<std::string>& stop = r.request.params.stop;
  Sample& out = r.result.samples[size_t(sample)];
  std::string& text = r.text[size_t(sample)];
  size_t longest = 0;
  for (const std::string& s : stop) longest = std::max(longest, s.size());
  const size_t from = text.size() > longest + 8 ? text.size() - longest - 8 : 0;
  text = options.decode(out.tokens);
  for (const std::string& s : stop)
    if (text.find(s, from) != std::string::npos) {
      out.stop_string = s;
      return true;
    }
  return false;
}

void Engine::State::remove_rows(std::vector<size_t> rows) {
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  std::set<RequestState*> touched;
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    const size_t row = *it, last = slots.size() - 1;
    touched.insert(slots[row].request);
    if (row != last) {
      cache.move_row(int64_t(last), int64_t(row), slots[last].cached);
      if (penalties.counts.defined()) {
        penalties.counts[int64_t(row)].copy_(penalties.counts[int64_t(last)]);
        penalties.prompt_mask[int64_t(row)].copy_(penalties.prompt_mask[int64_t(last)]);
      }
      slots[row] = slots[last];
    }
    slots.pop_back();
  }
  for (RequestState* r : touched)
    if (r->finished == r->request.n) {  // every sample finished, so none is waiting: it is in `running`
      complete_if_done(*r);
      running.erase(r->id);
    }
  if (slots.empty()) {
    cache.reset();
    return;
  }
  const int64_t keep = longest_cached();
  const int64_t L = cache.length();
  if (L - keep >= std::max(kMinCompaction, L / 2)) cache.realign(int64_t(slots.size()), keep, keep);
}

Engine::Engine(model::Transformer model, EngineOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  if (!model) fail_usage("engine: no model");
  if (options.max_batch < 1) fail_usage("engine: max_batch must be >= 1, got {}", options.max_batch);
  s.model = model;
  const model::ModelConfig& c = model->config();
  if (c.is_classifier())
    fail_usage("engine: a {} scores sequences and has no LM head to generate with", c.architecture());
  s.max_seq_len = options.max_seq_len > 0 ? options.max_seq_len : c.max_position_embeddings;
  if (s.max_seq_len < 2) fail_usage("engine: max_seq_len must be >= 2, got {}", s.max_seq_len);
  at::Tensor first = model->parameters().front();
  s.device = first.device();
  s.dtype = options.dtype.value_or(first.scalar_type());
  if (s.dtype != first.scalar_type()) {
    s.shadow = model::Transformer(c, torch::TensorOptions().dtype(s.dtype).device(s.device));
    s.shadow->eval();
  }
  if (options.eos_token_ids.empty())
    for (int64_t id : c.eos_token_id) options.eos_token_ids.push_back(int32_t(id));
  s.eos = options.eos_token_ids;
  s.options = std::move(options);
}

Engine::~Engine() = default;

const EngineOptions& Engine::options() const { return state_->options; }
model::TransformerImpl& Engine::model() { return *state_->model; }

uint64_t Engine::submit(Request request, Callback on_event) {
  state_->validate(request);
  auto r = std::make_unique<RequestState>();
  r->request = std::move(request);
  r->on_event = std::move(on_event);
  r->result.samples.resize(size_t(r->request.n));
  r->text.resize(size_t(r->request.n));
  std::lock_guard<std::mutex> lock(state_->mutex);
  r->id = state_->next_id++;
  const uint64_t id = r->id;
  state_->incoming.push_back(std::move(r));
  ++state_->live;
  return id;
}

void Engine::cancel(uint64_t request_id) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->cancel_requests.insert(request_id);
}

bool Engine::has_work() const { return state_->live.load() > 0; }

bool Engine::step() {
  c10::InferenceMode inference;
  model::TransformerImpl& m = *state_->model;
  const bool was_training = m.is_training();
  if (was_training) m.eval();
  try {
    const bool worked = state_->step();
    if (was_training) m.train();
    return worked;
  } catch (...) {
    if (was_training) m.train();
    throw;
  }
}

std::vector<Result> Engine::generate(const std::vector<Request>& requests) {
  for (const Request& r : requests) state_->validate(r);  // all or nothing
  std::vector<Result> results(requests.size());
  for (size_t i = 0; i < requests.size(); ++i)
    submit(requests[i], [&results, i](const Event& e) {
      if (e.kind == Event::Kind::kDone) results[i] = *e.result;
    });
  while (has_work()) step();
  return results;
}

}  // namespace r1::engine
