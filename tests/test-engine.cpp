// The generation engine (r1/engine.h) against full forwards of the same model: KV-cache decode through the
// slot cache (placed, moved and re-aligned rows) == full-forward logits; batched and continuously batched
// greedy == one at a time; log-probs == a training forward's; the sampler's masks and penalties against
// hand-computed distributions; seeds, stop ids and strings, cancellation, bf16 and live weights.
#include <torch/torch.h>

#include <map>

#include "engine/kv-cache.h"
#include "engine/sampler.h"
#include "r1/engine.h"
#include "r1/error.h"
#include "r1/model.h"
#include "test-helpers.h"

using r1::engine::Engine;
using r1::engine::EngineOptions;
using r1::engine::FinishReason;
using r1::engine::Request;
using r1::engine::Result;
using r1::engine::SamplingParams;
using r1::model::ModelConfig;
using r1::model::Transformer;

namespace {

ModelConfig tiny_config(const std::string& extra = "") {
  return ModelConfig::parse(R"({"model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 96,
      "initializer_range": 0.3)" +
                                extra + "}",
                            "tiny");
}

Transformer random_model(const ModelConfig& c = tiny_config(), uint64_t seed = 11) {
  torch::manual_seed(int64_t(seed));
  Transformer m(c);
  m->init_weights();
  return m;
}

std::vector<int32_t> prompt_of(int64_t length, int32_t salt) {
  std::vector<int32_t> p;
  for (int64_t i = 0; i < length; ++i) p.push_back(int32_t((i * 7 + salt * 13 + 3) % 64));
  return p;
}

Request greedy_request(std::vector<int32_t> prompt, int64_t max_new) {
  Request r;
  r.prompt = std::move(prompt);
  r.params.temperature = 0;
  r.params.max_new_tokens = max_new;
  return r;
}

// log_softmax(full forward) at each generated position, gathered at the generated tokens.
std::vector<float> recomputed_logprobs(Transformer& m, const std::vector<int32_t>& prompt,
                                       const std::vector<int32_t>& tokens, double temperature = 1.0) {
  std::vector<int64_t> all(prompt.begin(), prompt.end());
  all.insert(all.end(), tokens.begin(), tokens.end());
  at::Tensor ids = torch::tensor(all).unsqueeze(0);  // (1, P + N)
  at::Tensor logits = m->forward(ids).squeeze(0);    // (P + N, V)
  at::Tensor lp = at::log_softmax(logits / temperature, -1);
  std::vector<float> out;
  for (size_t i = 0; i < tokens.size(); ++i) out.push_back(lp[int64_t(prompt.size() + i) - 1][tokens[i]].item<float>());
  return out;
}

}  // namespace

TEST(Engine, LogprobsEqualATrainingForward) {
  for (const char* extra : {"", R"(, "position_embedding_type": "alibi")", R"(, "model_type": "qwen2")",
                            R"(, "tie_word_embeddings": true)"}) {
    Transformer m = random_model(tiny_config(extra));
    Engine engine(m, {.max_batch = 3});
    std::vector<Request> reqs;
    for (int i = 0; i < 5; ++i) {
      Request r;
      r.prompt = prompt_of(3 + 4 * i, i);
      r.params.temperature = 0.8;
      r.params.logprob_temperature = 0.8;
      r.params.seed = 100 + i;
      r.params.max_new_tokens = 6 + 3 * i;
      r.n = 2;
      reqs.push_back(r);
    }
    auto results = engine.generate(reqs);
    torch::NoGradGuard g;
    for (size_t i = 0; i < reqs.size(); ++i)
      for (const auto& s : results[i].samples) {
        ASSERT_EQ(s.tokens.size(), size_t(reqs[i].params.max_new_tokens));
        EXPECT_EQ(s.finish_reason, FinishReason::kLength);
        auto want = recomputed_logprobs(m, reqs[i].prompt, s.tokens, 0.8);
        for (size_t t = 0; t < want.size(); ++t) {
          EXPECT_NEAR(s.raw_logprobs[t], want[t], 1e-5) << extra << " request " << i << " token " << t;
          // No processors besides temperature: the sampling distribution is the same one.
          EXPECT_NEAR(s.logprobs[t], want[t], 1e-5);
        }
      }
  }
}

TEST(Engine, KvCacheDecodeThroughMovedAndRealignedSlotsEqualsFullForward) {
  torch::NoGradGuard g;
  c10::InferenceMode inference;
  Transformer m = random_model();
  const ModelConfig& c = m->config();
  r1::engine::SlotCache cache(c, 3, 40, at::kFloat, at::kCPU);
  // Prefill two prompts of different lengths separately, place them right-aligned at L = 12.
  std::vector<std::vector<int32_t>> seqs = {prompt_of(5, 1), prompt_of(9, 2), prompt_of(12, 3)};
  cache.realign(0, 12, 0);
  for (int64_t row = 0; row < 3; ++row) {
    const auto& p = seqs[size_t(row)];
    auto prefix = r1::model::KvCache::allocate(c, 1, int64_t(p.size()), at::kFloat, at::kCPU);
    m->forward(torch::tensor(std::vector<int64_t>(p.begin(), p.end())).unsqueeze(0), {.cache = &prefix});
    cache.place(row, prefix, 0, 0, int64_t(p.size()));
  }
  auto decode = [&](int64_t rows) {  // one step: each row feeds its next token (a fixed pattern)
    std::vector<int64_t> ids, pos, first;
    for (int64_t r = 0; r < rows; ++r) {
      auto& s = seqs[size_t(r)];
      s.push_back(int32_t((s.size() * 5 + 1) % 64));
      ids.push_back(s.back());
      pos.push_back(int64_t(s.size()) - 1);
      first.push_back(cache.length() - (int64_t(s.size()) - 1));
    }
    r1::model::KvCache view = cache.view(rows);
    r1::model::ForwardArgs args;
    args.positions = torch::tensor(pos).unsqueeze(1);
    args.attention_mask = torch::arange(cache.length() + 1).unsqueeze(0) >= torch::tensor(first).unsqueeze(1);
    args.cache = &view;
    at::Tensor logits = m->forward(torch::tensor(ids).unsqueeze(1), args).squeeze(1);  // (rows, V)
    cache.commit(view);
    for (int64_t r = 0; r < rows; ++r) {
      const auto& s = seqs[size_t(r)];
      at::Tensor full = m->forward(torch::tensor(std::vector<int64_t>(s.begin(), s.end())).unsqueeze(0));
      EXPECT_LE((logits[r] - full[0][-1]).abs().max().item<double>(), 1e-5) << "row " << r << " len " << s.size();
    }
  };
  for (int i = 0; i < 3; ++i) decode(3);
  cache.move_row(2, 0, int64_t(seqs[2].size()));  // row 0 finished: the last row takes its place
  seqs[0] = seqs[2];
  for (int i = 0; i < 2; ++i) decode(2);
  cache.realign(2, int64_t(seqs[0].size()) + 4, int64_t(seqs[0].size()));  // shift right
  for (int i = 0; i < 2; ++i) decode(2);
  cache.realign(2, int64_t(seqs[0].size()), int64_t(seqs[0].size()));  // compact left
  for (int i = 0; i < 2; ++i) decode(2);
}

TEST(Engine, BatchedAndContinuousGreedyEqualOneAtATime) {
  Transformer m = random_model();
  std::vector<Request> reqs;
  for (int i = 0; i < 9; ++i) reqs.push_back(greedy_request(prompt_of(2 + (i * 5) % 17, i), 3 + (i * 7) % 13));
  reqs[4].n = 3;  // samples of one prompt share its prefill; greedy ones are identical
  std::vector<std::vector<int32_t>> alone;
  for (const Request& r : reqs) {
    Engine single(m, {.max_batch = 1});
    auto res = single.generate({r});
    alone.push_back(res[0].samples[0].tokens);
    EXPECT_EQ(alone.back().size(), size_t(r.params.max_new_tokens));
  }
  for (int64_t slots : {2, 4, 16}) {  // fewer slots than requests: finished rows are refilled
    Engine engine(m, {.max_batch = slots});
    auto results = engine.generate(reqs);
    ASSERT_EQ(results.size(), reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) {
      ASSERT_EQ(results[i].samples.size(), size_t(reqs[i].n));
      EXPECT_EQ(results[i].prompt_tokens, int64_t(reqs[i].prompt.size()));
      for (const auto& s : results[i].samples) EXPECT_EQ(s.tokens, alone[i]) << "slots " << slots << " request " << i;
    }
  }
}

TEST(Engine, SmallCacheRealignsAndStopsAtMaxSeqLen) {
  Transformer m = random_model();
  std::vector<Request> reqs;
  for (int i = 0; i < 6; ++i) reqs.push_back(greedy_request(prompt_of(3 + i * 3, i), 40));
  Engine one(m, {.max_batch = 1, .max_seq_len = 200});
  Engine small(m, {.max_batch = 3, .max_seq_len = 24});
  auto want = one.generate(reqs);
  auto got = small.generate(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    const auto& s = got[i].samples[0];
    EXPECT_EQ(s.finish_reason, FinishReason::kLength);
    ASSERT_EQ(reqs[i].prompt.size() + s.tokens.size(), 24u) << "request " << i;
    std::vector<int32_t> prefix(want[i].samples[0].tokens.begin(), want[i].samples[0].tokens.begin() + s.tokens.size());
    EXPECT_EQ(s.tokens, prefix) << "request " << i;
  }
  R1_EXPECT_THROW_WITH(small.generate({greedy_request(prompt_of(24, 0), 1)}), r1::UsageError, "max_seq_len is 24");
}

TEST(Engine, LeftPaddedPrefillDoesNotChangeLogprobs) {
  Transformer m = random_model();
  std::vector<Request> reqs = {greedy_request(prompt_of(3, 1), 5), greedy_request(prompt_of(17, 2), 5)};
  for (auto& r : reqs) r.params.top_logprobs = 5;
  Engine together(m, {.max_batch = 4});  // both prompts prefilled in one left-padded batch
  auto both = together.generate(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    Engine alone(m, {.max_batch = 1});
    auto one = alone.generate({reqs[i]});
    const auto& a = one[0].samples[0];
    const auto& b = both[i].samples[0];
    ASSERT_EQ(a.tokens, b.tokens);
    for (size_t t = 0; t < a.tokens.size(); ++t) {
      EXPECT_NEAR(a.raw_logprobs[t], b.raw_logprobs[t], 1e-5);
      ASSERT_EQ(b.top_logprobs[t].size(), 5u);
      EXPECT_EQ(b.top_logprobs[t][0].token, b.tokens[t]);  // greedy: the argmax is the most likely
      for (size_t k = 0; k < 5; ++k) EXPECT_NEAR(a.top_logprobs[t][k].logprob, b.top_logprobs[t][k].logprob, 1e-5);
    }
  }
}

TEST(Engine, SameSeedSameTokensWhateverTheBatch) {
  Transformer m = random_model();
  Request r;
  r.prompt = prompt_of(6, 4);
  r.params.temperature = 1.0;
  r.params.top_k = 20;
  r.params.top_p = 0.9;
  r.params.max_new_tokens = 20;
  r.params.seed = 1234;
  r.n = 3;
  Engine a(m, {.max_batch = 1});
  Engine b(m, {.max_batch = 8});
  std::vector<Request> with_others = {greedy_request(prompt_of(9, 1), 7), r, greedy_request(prompt_of(4, 2), 30)};
  auto ra = a.generate({r});
  auto rb = b.generate(with_others);
  for (int s = 0; s < 3; ++s) EXPECT_EQ(ra[0].samples[size_t(s)].tokens, rb[1].samples[size_t(s)].tokens);
  // The n samples are different draws, and another seed gives other tokens.
  EXPECT_NE(ra[0].samples[0].tokens, ra[0].samples[1].tokens);
  r.params.seed = 1235;
  EXPECT_NE(a.generate({r})[0].samples[0].tokens, ra[0].samples[0].tokens);
  // Sampled tokens lie inside the top-k / top-p set: their processed log-prob is finite and >= the raw one.
  for (const auto& s : ra[0].samples)
    for (size_t t = 0; t < s.tokens.size(); ++t) {
      EXPECT_TRUE(std::isfinite(s.logprobs[t]));
      EXPECT_GE(s.logprobs[t], s.raw_logprobs[t] - 1e-6);
    }
}

TEST(Engine, StopTokenIdsEosAndStopStrings) {
  Transformer m = random_model();
  Request base = greedy_request(prompt_of(5, 3), 24);
  Engine plain(m, {.max_batch = 2});
  const std::vector<int32_t> free_run = plain.generate({base})[0].samples[0].tokens;
  ASSERT_EQ(free_run.size(), 24u);
  const size_t k = 6;
  const int32_t marker = free_run[k];
  const size_t first = size_t(std::find(free_run.begin(), free_run.end(), marker) - free_run.begin());
  std::vector<int32_t> expect(free_run.begin(), free_run.begin() + first + 1);

  Request stop_id = base;
  stop_id.params.stop_token_ids = {marker};
  auto s1 = plain.generate({stop_id})[0].samples[0];
  EXPECT_EQ(s1.tokens, expect);
  EXPECT_EQ(s1.finish_reason, FinishReason::kStopToken);

  Engine with_eos(m, {.max_batch = 2, .eos_token_ids = {marker}});
  auto s2 = with_eos.generate({base})[0].samples[0];
  EXPECT_EQ(s2.tokens, expect);
  EXPECT_EQ(s2.finish_reason, FinishReason::kEos);
  Request ignore = base;
  ignore.params.ignore_eos = true;
  EXPECT_EQ(with_eos.generate({ignore})[0].samples[0].tokens, free_run);

  auto decode = [](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) s += fmt::format("<{}>", id);
    return s;
  };
  Engine texts(m, {.max_batch = 2, .decode = decode});
  Request stop_text = base;
  const std::string marker_text = fmt::format("<{}>", marker);
  stop_text.params.stop = {"never", marker_text};
  auto s3 = texts.generate({stop_text})[0].samples[0];
  EXPECT_EQ(s3.tokens, expect);
  EXPECT_EQ(s3.finish_reason, FinishReason::kStopString);
  EXPECT_EQ(s3.stop_string, marker_text);
  R1_EXPECT_THROW_WITH(plain.generate({stop_text}), r1::UsageError, "stop strings need");
}

TEST(Engine, FrequencyPenaltyTracksEachRowThroughRefills) {
  Transformer m = random_model();
  std::vector<Request> reqs;
  for (int i = 0; i < 6; ++i) {
    Request r = greedy_request(prompt_of(4 + i, i), 10 + i * 4);
    if (i % 2 == 0) r.params.frequency_penalty = 1e4;  // a token once generated can never win again
    reqs.push_back(r);
  }
  Engine engine(m, {.max_batch = 2});
  auto results = engine.generate(reqs);
  bool some_repeat_without = false;
  for (size_t i = 0; i < reqs.size(); ++i) {
    const auto& t = results[i].samples[0].tokens;
    std::set<int32_t> distinct(t.begin(), t.end());
    if (i % 2 == 0)
      EXPECT_EQ(distinct.size(), t.size()) << "request " << i;
    else
      some_repeat_without |= distinct.size() < t.size();
  }
  EXPECT_TRUE(some_repeat_without) << "the unpenalised greedy runs should repeat tokens (test premise)";
}

TEST(Engine, EventsCancellationAndLeavesTheModelAsItWas) {
  Transformer m = random_model();
  m->train();
  Engine engine(m, {.max_batch = 2});
  std::map<uint64_t, int> tokens, finished, done;
  std::vector<FinishReason> reasons;
  auto on_event = [&](const r1::engine::Event& e) {
    if (e.kind == r1::engine::Event::Kind::kToken) ++tokens[e.request_id];
    if (e.kind == r1::engine::Event::Kind::kFinished) {
      ++finished[e.request_id];
      reasons.push_back(e.finish_reason);
    }
    if (e.kind == r1::engine::Event::Kind::kDone) ++done[e.request_id];
  };
  Request r = greedy_request(prompt_of(5, 1), 50);
  r.n = 3;
  uint64_t a = engine.submit(r, on_event);
  uint64_t b = engine.submit(greedy_request(prompt_of(3, 2), 4), on_event);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(engine.step());
  engine.cancel(a);
  while (engine.has_work()) engine.step();
  EXPECT_FALSE(engine.step());
  EXPECT_EQ(done[a], 1);
  EXPECT_EQ(done[b], 1);
  EXPECT_EQ(finished[a], 3);
  EXPECT_EQ(tokens[b], 4);
  EXPECT_LT(tokens[a], 3 * 50);
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), FinishReason::kCancelled), 3);
  EXPECT_TRUE(m->is_training());
  EXPECT_TRUE(torch::GradMode::is_enabled());
  for (const auto& p : m->parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(Engine, Bf16ComputeFollowsLiveWeights) {
  Transformer m = random_model();
  Engine engine(m, {.max_batch = 4, .dtype = at::kBFloat16});
  std::vector<Request> reqs = {greedy_request(prompt_of(6, 1), 8), greedy_request(prompt_of(9, 2), 8)};
  auto before = engine.generate(reqs);
  {
    torch::NoGradGuard g;
    for (auto& p : m->parameters()) p.add_(0.2 * torch::randn_like(p));  // a "training step" in place
  }
  auto after = engine.generate(reqs);
  Engine fresh(m, {.max_batch = 4, .dtype = at::kBFloat16});
  auto want = fresh.generate(reqs);
  Engine fp32(m, {.max_batch = 4});
  auto f32 = fp32.generate(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(after[i].samples[0].tokens, want[i].samples[0].tokens);
    EXPECT_NE(after[i].samples[0].tokens, before[i].samples[0].tokens);
    auto exact = recomputed_logprobs(m, reqs[i].prompt, after[i].samples[0].tokens);
    // bf16 vs fp32 on weights perturbed to ~10x their init scale (logits of tens): a few tenths of a nat
    for (size_t t = 0; t < exact.size(); ++t) EXPECT_NEAR(after[i].samples[0].raw_logprobs[t], exact[t], 0.3);
  }
  EXPECT_EQ(m->parameters()[0].scalar_type(), at::kFloat);
}

TEST(Engine, RejectsInvalidRequests) {
  Transformer m = random_model();
  Engine engine(m, {.max_batch = 2});
  Request r = greedy_request(prompt_of(4, 0), 4);
  Request bad = r;
  bad.prompt = {};
  R1_EXPECT_THROW_WITH(engine.submit(bad, nullptr), r1::UsageError, "prompt is empty");
  bad = r;
  bad.prompt = {1, 64};
  R1_EXPECT_THROW_WITH(engine.submit(bad, nullptr), r1::UsageError, "64", "[0, 64)");
  bad = r;
  bad.params.top_p = 0;
  R1_EXPECT_THROW_WITH(engine.submit(bad, nullptr), r1::UsageError, "top_p");
  bad = r;
  bad.n = 0;
  R1_EXPECT_THROW_WITH(engine.generate({r, bad}), r1::UsageError, "n must be");
  EXPECT_FALSE(engine.has_work());  // generate validates everything before submitting anything
}

// ---- the sampler against hand-computed distributions ---------------------------------------------------

namespace {
std::vector<float> probs_of(const at::Tensor& processed_row) {
  at::Tensor p = at::softmax(processed_row, -1).contiguous();
  return std::vector<float>(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
}
void expect_probs(const at::Tensor& row, const std::vector<double>& want) {
  auto got = probs_of(row);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << "token " << i;
}
}  // namespace

TEST(Sampler, TopKTopPMinPMasks) {
  // p = (0.1, 0.4, 0.2, 0.3) as logits log p.
  at::Tensor logits = torch::tensor({0.1, 0.4, 0.2, 0.3}).log().unsqueeze(0).to(at::kFloat);  // (1, 4)
  SamplingParams p;
  auto run = [&](const SamplingParams& q) { return r1::engine::process_logits(logits, {&q}, nullptr)[0]; };
  p.top_k = 2;  // keeps 0.4, 0.3 -> 4/7, 3/7
  expect_probs(run(p), {0, 4.0 / 7, 0, 3.0 / 7});
  p = {};
  p.top_p = 0.65;  // 0.4 + 0.3 = 0.7 >= 0.65: two tokens
  expect_probs(run(p), {0, 4.0 / 7, 0, 3.0 / 7});
  p.top_p = 0.75;  // needs 0.2 as well
  expect_probs(run(p), {0, 4.0 / 9, 2.0 / 9, 3.0 / 9});
  p.top_p = 0.05;  // always the top token
  expect_probs(run(p), {0, 1, 0, 0});
  p = {};
  p.min_p = 0.6;  // p >= 0.24 -> 0.4, 0.3
  expect_probs(run(p), {0, 4.0 / 7, 0, 3.0 / 7});
  p = {};
  p.top_k = 3;     // 0.4, 0.3, 0.2 -> 4/9 3/9 2/9
  p.min_p = 0.6;   // of the renormalised top-k: >= 0.6 * 4/9 -> 4/9 and 3/9
  p.top_p = 0.99;  // exclusive mass of the third (7/9) < 0.99: no further effect
  expect_probs(run(p), {0, 4.0 / 7, 0, 3.0 / 7});
  p = {};
  p.temperature = 0.5;  // p^2 normalised: .01 .16 .04 .09 / .30
  expect_probs(run(p), {0.01 / 0.3, 0.16 / 0.3, 0.04 / 0.3, 0.09 / 0.3});
  p.temperature = 0;  // greedy rows are not filtered: the log-probs reported are the plain softmax
  p.top_k = 1;
  expect_probs(run(p), {0.1, 0.4, 0.2, 0.3});
}

TEST(Sampler, PenaltiesAndPerRowParameters) {
  at::Tensor logits = torch::tensor({{2.0f, -1.0f, 0.5f, 0.0f}, {2.0f, -1.0f, 0.5f, 0.0f}});  // (2, 4)
  r1::engine::PenaltyState pen;
  pen.counts = torch::tensor({{0.0f, 2.0f, 1.0f, 0.0f}, {3.0f, 0.0f, 0.0f, 0.0f}});
  pen.prompt_mask = torch::tensor({{true, false, false, false}, {false, false, false, false}});
  SamplingParams rep;
  rep.repetition_penalty = 2.0;  // row 0: token 0 (prompt) 2 -> 1, token 1 -1 -> -2, token 2 0.5 -> 0.25
  SamplingParams freq;
  freq.frequency_penalty = 0.5;  // row 1: token 0: 2 - 0.5 * 3 = 0.5
  freq.presence_penalty = 0.25;  //         and - 0.25 -> 0.25
  at::Tensor out = r1::engine::process_logits(logits, {&rep, &freq}, &pen);
  at::Tensor want = torch::tensor({{1.0f, -2.0f, 0.25f, 0.0f}, {0.25f, -1.0f, 0.5f, 0.0f}});
  EXPECT_LE((out - want).abs().max().item<double>(), 1e-6) << out;

  // sample(): greedy row 0 takes the penalised argmax; row 1 draws by inverse CDF from its own uniform.
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.repetition_penalty = 2.0;
  SamplingParams plain;
  at::Tensor l2 = torch::tensor({{2.0f, -1.0f, 0.5f, 0.0f}, {0.1f, 0.4f, 0.2f, 0.3f}});
  l2[1] = l2[1].log();
  for (double u : {0.05, 0.3, 0.65, 0.95}) {
    auto step = r1::engine::sample(l2, {&greedy, &plain}, {0.0, u}, &pen);
    EXPECT_EQ(step.tokens[0], 0);  // 1.0 still beats 0.25 and 0
    const int32_t expected = u < 0.1 ? 0 : u < 0.5 ? 1 : u < 0.7 ? 2 : 3;
    EXPECT_EQ(step.tokens[1], expected) << "u " << u;
    EXPECT_NEAR(step.logprobs[1], std::log(std::vector<double>{0.1, 0.4, 0.2, 0.3}[size_t(expected)]), 1e-6);
    EXPECT_NEAR(step.raw_logprobs[0], at::log_softmax(l2[0], -1)[0].item<float>(), 1e-6);  // no processors
    EXPECT_NEAR(step.logprobs[0], at::log_softmax(torch::tensor({1.0f, -2.0f, 0.25f, 0.0f}), -1)[0].item<float>(),
                1e-6);
  }
}

// The raw log-probs the engine reports for sampled tokens (GRPO's pi_old) at a real vocabulary size, with a
// logprob temperature and sampling processors on: within 2e-6 of float64 (ATen's fp32 log_softmax over 40000
// logits is ~2.5e-5 off, more than GRPO's on-policy bound of 1e-5).
TEST(Sampler, RawLogprobsAreFloat64CloseAtALargeVocabulary) {
  torch::manual_seed(8);
  at::Tensor logits = torch::randn({4, 40000}) * 6;  // (B, V)
  SamplingParams p;
  p.temperature = 0.7;
  p.top_k = 50;
  p.logprob_temperature = 0.7;
  SamplingParams q;
  q.logprob_temperature = 1.0;
  auto step = r1::engine::sample(logits, {&p, &p, &q, &q}, {0.1, 0.5, 0.3, 0.9}, nullptr);
  for (int64_t i = 0; i < 4; ++i) {
    const double t = i < 2 ? 0.7 : 1.0;
    const double want = at::log_softmax(logits[i].to(at::kDouble) / t, -1)[step.tokens[size_t(i)]].item<double>();
    EXPECT_NEAR(step.raw_logprobs[size_t(i)], want, 2e-6) << i;
  }
}

TEST(Sampler, SplitMixStreamsAreReproducibleAndUniform) {
  r1::engine::SplitMix64 a{r1::engine::mix_seed(7, 0)}, b{r1::engine::mix_seed(7, 0)}, c{r1::engine::mix_seed(7, 1)};
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    double x = a.uniform();
    EXPECT_EQ(x, b.uniform());
    EXPECT_GE(x, 0.0);
    EXPECT_LT(x, 1.0);
    sum += x;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
  EXPECT_NE(a.next(), c.next());
}
