// The engine's fused fp32 decode step (src/engine/decode-forward.h) and its kernels against LibTorch:
// packed linear == at::linear for every row count and ragged column tails; decode-forward logits == the
// model's full-forward logits for Llama, Qwen2 (q/k/v biases), Llama with all biases, ALiBi and an untied
// head, through rows at different lengths; bf16 weights and cache close to fp32; repacking after in-place
// weight updates; inference-tensor models refused; the greedy kernel == argmax + log_softmax with ties. Skipped (with a
// message) on CPUs without AVX-512, where the engine keeps the LibTorch path. The exact on-policy envelope: the
// training forward's log-probs equal the engine's sampled ones bit for bit (ExactOnPolicy).
#include <torch/torch.h>

#include <array>
#include <cmath>

#include "engine/decode-forward.h"
#include "engine/kv-cache.h"
#include "kernels/cpu-kernels.h"
#include "kernels/thread-team.h"
#include "r1/engine.h"
#include "r1/model.h"
#include "r1/train.h"
#include "test-helpers.h"

using r1::model::ModelConfig;
using r1::model::Transformer;
namespace kernels = r1::kernels;

namespace {

ModelConfig config_of(const std::string& extra) {
  return ModelConfig::parse(R"({"vocab_size": 70, "hidden_size": 40, "intermediate_size": 52,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 96,
      "initializer_range": 0.3)" +
                                extra + "}",
                            "decode-forward test");
}

Transformer random_model(const ModelConfig& c, uint64_t seed = 5) {
  torch::manual_seed(int64_t(seed));
  Transformer m(c);
  m->init_weights();
  torch::NoGradGuard g;
  for (auto& p : m->parameters()) p.add_(0.1 * torch::randn_like(p));  // non-zero biases, non-unit norms
  return m;
}

#define SKIP_WITHOUT_AVX512() \
  if (!kernels::available()) GTEST_SKIP() << "no AVX-512 on this CPU: the engine uses the LibTorch decode path"

}  // namespace

TEST(DecodeKernels, PackedLinearEqualsAtLinear) {
  SKIP_WITHOUT_AVX512();
  torch::manual_seed(3);
  for (int64_t N : {1, 16, 37, 64, 100, 200}) {
    for (int64_t K : {1, 8, 40, 300}) {  // 300: K slices of 128 and a ragged last slice when rows > 6
      at::Tensor w = torch::randn({N, K}), b = torch::randn({N});
      kernels::PackedLinear plain, biased;
      plain.pack({w}, {at::Tensor()});
      biased.pack({w.narrow(0, 0, N / 2), w.narrow(0, N / 2, N - N / 2)},
                  {at::Tensor(), b.narrow(0, N / 2, N - N / 2)});
      at::Tensor half_bias = torch::cat({torch::zeros({N / 2}), b.narrow(0, N / 2, N - N / 2)});
      for (int64_t rows : {1, 2, 5, 6, 7, 13, 64, 67}) {
        at::Tensor x = torch::randn({rows, K});
        at::Tensor y = torch::full({rows, N}, 7.0f);
        kernels::linear(x.data_ptr<float>(), rows, K, plain, y.data_ptr<float>(), N, false);
        const double tolerance = 1e-5 * std::max(1.0, double(K) / 40);  // fp32 sums of K products of randn
        EXPECT_LE((y - at::linear(x, w)).abs().max().item<double>(), tolerance) << N << " " << K << " " << rows;
        at::Tensor acc = torch::randn({rows, N});
        at::Tensor want = acc + at::linear(x, w, half_bias);
        kernels::linear(x.data_ptr<float>(), rows, K, biased, acc.data_ptr<float>(), N, true);
        EXPECT_LE((acc - want).abs().max().item<double>(), tolerance) << N << " " << K << " " << rows;
        // Batch invariance: each row alone (no K slices) gets the same bits as among `rows` (sliced when > 6).
        at::Tensor alone = torch::randn({rows, N});
        at::Tensor together = alone.clone();
        kernels::linear(x.data_ptr<float>(), rows, K, biased, together.data_ptr<float>(), N, true);
        for (int64_t r = 0; r < rows; ++r)
          kernels::linear(x[r].data_ptr<float>(), 1, K, biased, alone[r].data_ptr<float>(), N, true);
        EXPECT_TRUE(at::equal(together, alone)) << N << " " << K << " " << rows;
      }
    }
  }
}

// bf16 panels: products of bf16 values are exact in fp32, so the kernel equals at::linear on the bf16-rounded
// inputs up to fp32 summation order; K = 301 gives 151 pairs (a slice of 128 and a ragged one) and an odd tail.
TEST(DecodeKernels, PackedLinearBf16EqualsLinearOfRoundedInputs) {
  if (!kernels::bf16_available()) GTEST_SKIP() << "no AVX512-BF16 on this CPU: bf16 keeps the LibTorch path";
  torch::manual_seed(6);
  for (int64_t N : {5, 48, 130}) {
    for (int64_t K : {7, 64, 301}) {
      at::Tensor w = torch::randn({N, K}), b = torch::randn({N});
      kernels::PackedLinear packed;
      packed.pack({w}, {b}, /*bf16=*/true);
      at::Tensor w_rounded = w.to(at::kBFloat16).to(at::kFloat);
      for (int64_t rows : {1, 3, 6, 7, 20, 64}) {
        at::Tensor x = torch::randn({rows, K});
        at::Tensor want = at::linear(x.to(at::kBFloat16).to(at::kFloat), w_rounded, b);
        at::Tensor y = torch::full({rows, N}, 7.0f);
        kernels::linear(x.data_ptr<float>(), rows, K, packed, y.data_ptr<float>(), N, false);
        EXPECT_LE((y - want).abs().max().item<double>(), 1e-4 * std::sqrt(double(K))) << N << " " << K << " " << rows;
      }
    }
  }
}

// Every item of every phase runs exactly once, the phase returns only after all have run, and a phase
// started inside a phase runs inline on its caller.
TEST(ThreadTeam, RunsEveryItemOnceAndNestsInline) {
  r1::kernels::ThreadTeam& team = r1::kernels::ThreadTeam::global();
  for (int64_t threads : {1, 2, 3}) {
    for (int64_t items : {1, 2, 7, 64}) {
      std::unique_ptr<std::atomic<int>[]> runs(new std::atomic<int>[size_t(items)]());
      // atomic: with one item the outer call runs inline on the caller and is no phase, so the nested one is
      // a real parallel phase whose items may run on two threads at once
      std::unique_ptr<std::atomic<int64_t>[]> nested(new std::atomic<int64_t>[size_t(items)]());
      for (int phase = 0; phase < 20; ++phase) {
        team.parallel(items, threads, [&](int64_t i) {
          runs[size_t(i)].fetch_add(1);
          team.parallel(3, threads, [&](int64_t j) { nested[size_t(i)].fetch_add(j + 1); });
        });
        for (int64_t i = 0; i < items; ++i)
          ASSERT_EQ(runs[size_t(i)].load(), phase + 1) << threads << " threads, " << items << " items, item " << i;
      }
      for (int64_t i = 0; i < items; ++i) EXPECT_EQ(nested[size_t(i)].load(), 20 * 6);
    }
  }
}

TEST(DecodeKernels, GreedyEqualsArgmaxAndLogSoftmax) {
  SKIP_WITHOUT_AVX512();
  torch::manual_seed(4);
  for (int64_t V : {1, 15, 16, 33, 8192}) {
    at::Tensor logits = torch::randn({5, V}) * 4;
    if (V > 20) {
      logits[1][3] = 100.0f;  // a tie: the first index wins, as at::argmax
      logits[1][V - 1] = 100.0f;
    }
    std::vector<int32_t> token(5);
    std::vector<float> lp(5);
    kernels::greedy(logits.data_ptr<float>(), 5, V, token.data(), lp.data());
    at::Tensor want = logits.argmax(-1);
    at::Tensor ls = at::log_softmax(logits, -1);
    for (int64_t r = 0; r < 5; ++r) {
      EXPECT_EQ(token[size_t(r)], want[r].item<int64_t>()) << "V " << V << " row " << r;
      EXPECT_NEAR(lp[size_t(r)], ls[r][want[r].item<int64_t>()].item<float>(), 1e-5);
    }
  }
}

// Rows of different lengths placed right-aligned in a slot cache, decoded together step by step; every
// step's logits must equal a full forward over each row's whole sequence (relative to the largest logit).
// `reference` (default: m itself) computes the full forwards; `rows` > 3 adds rows of 1-9 tokens.
void expect_decode_equals_forward(Transformer& m, double tolerance, Transformer reference = nullptr,
                                  int64_t rows_total = 3) {
  torch::NoGradGuard g;
  c10::InferenceMode inference;
  const ModelConfig& c = m->config();
  if (!reference) reference = m;
  const at::ScalarType dtype = m->parameters().front().scalar_type();
  ASSERT_TRUE(r1::engine::DecodeForward::supported(*m));
  r1::engine::DecodeForward fused(*m);
  r1::engine::SlotCache cache(c, rows_total, 40, dtype, at::kCPU);
  std::vector<std::vector<int32_t>> seqs = {{3, 9, 4, 1, 5}, {7, 2, 8, 6, 5, 3, 5, 8, 9}, {1, 4}};
  for (int64_t row = 3; row < rows_total; ++row) {
    seqs.emplace_back();
    for (int64_t t = 0; t < 1 + row * 5 % 9; ++t) seqs.back().push_back(int32_t((row * 7 + t * 3) % c.vocab_size));
  }
  cache.realign(0, 9, 0);
  for (int64_t row = 0; row < rows_total; ++row) {
    const auto& p = seqs[size_t(row)];
    auto prefix = r1::model::KvCache::allocate(c, 1, int64_t(p.size()), dtype, at::kCPU);
    m->forward(torch::tensor(std::vector<int64_t>(p.begin(), p.end())).unsqueeze(0), {.cache = &prefix});
    cache.place(row, prefix, 0, 0, int64_t(p.size()));
  }
  for (int step = 0; step < 6; ++step) {
    const int64_t rows = step < 4 ? rows_total : 1;
    std::vector<int32_t> tokens;
    std::vector<int64_t> positions, first;
    for (int64_t r = 0; r < rows; ++r) {
      auto& s = seqs[size_t(r)];
      s.push_back(int32_t((s.size() * 11 + 3) % c.vocab_size));
      tokens.push_back(s.back());
      positions.push_back(int64_t(s.size()) - 1);
      first.push_back(cache.length() - (int64_t(s.size()) - 1));
    }
    r1::model::KvCache view = cache.view(rows);
    at::Tensor logits = fused.step(tokens, positions, first, view);  // (rows, V)
    cache.commit(view);
    for (int64_t r = 0; r < rows; ++r) {
      const auto& s = seqs[size_t(r)];
      at::Tensor full =
          reference->forward(torch::tensor(std::vector<int64_t>(s.begin(), s.end())).unsqueeze(0)).to(at::kFloat);
      const double scale = std::max(1.0, full[0][-1].abs().max().item<double>());  // fp32 rounding grows with it
      EXPECT_LE((logits[r] - full[0][-1]).abs().max().item<double>(), tolerance * scale)
          << "step " << step << " row " << r << " len " << s.size() << " max |logit| " << scale;
    }
  }
}

TEST(DecodeForward, EqualsFullForwardLlamaTied) {
  SKIP_WITHOUT_AVX512();
  Transformer m = random_model(config_of(R"(, "model_type": "llama", "tie_word_embeddings": true)"));
  expect_decode_equals_forward(m, 1e-5);
}

TEST(DecodeForward, EqualsFullForwardQwen2Untied) {
  SKIP_WITHOUT_AVX512();
  Transformer m = random_model(config_of(R"(, "model_type": "qwen2", "tie_word_embeddings": false)"));
  expect_decode_equals_forward(m, 1e-5);
}

TEST(DecodeForward, EqualsFullForwardLlamaAllBiasesMultiQuery) {
  SKIP_WITHOUT_AVX512();
  Transformer m = random_model(ModelConfig::parse(
      R"({"model_type": "llama", "vocab_size": 50, "hidden_size": 64, "intermediate_size": 80, "num_hidden_layers": 2,
          "num_attention_heads": 2, "num_key_value_heads": 1, "attention_bias": true, "mlp_bias": true,
          "max_position_embeddings": 96, "initializer_range": 0.3, "rope_scaling": {"rope_type": "linear", "factor": 2.0}})",
      "all biases"));
  expect_decode_equals_forward(m, 1e-5);
}

TEST(DecodeForward, EqualsFullForwardAlibi) {
  SKIP_WITHOUT_AVX512();
  Transformer m = random_model(config_of(R"(, "model_type": "llama", "position_embedding_type": "alibi")"));
  expect_decode_equals_forward(m, 1e-5);
}

// Many rows (several micro-kernel row blocks), K > 128 (the products' K slices), head dim 32 with 3 query
// heads per kv head (the two-head attention kernel and a single head), and 1 to 3 threads.
TEST(DecodeForward, EqualsFullForwardManyRowsWideModel) {
  SKIP_WITHOUT_AVX512();
  const ModelConfig c = ModelConfig::parse(
      R"({"model_type": "qwen2", "vocab_size": 300, "hidden_size": 192, "intermediate_size": 200, "num_hidden_layers": 2,
          "num_attention_heads": 6, "num_key_value_heads": 2, "max_position_embeddings": 96, "initializer_range": 0.1})",
      "wide");
  Transformer m = random_model(c);
  const int threads = at::get_num_threads();
  for (int t : {1, 3}) {
    at::set_num_threads(t);
    expect_decode_equals_forward(m, 1e-5, nullptr, 14);
  }
  at::set_num_threads(threads);
}

// One fused decode step after each sequence's prompt (all rows right-aligned in one slot cache): (rows, V).
at::Tensor decode_one_step(Transformer& m, const std::vector<std::vector<int32_t>>& seqs) {
  torch::NoGradGuard g;
  c10::InferenceMode inference;
  const ModelConfig& c = m->config();
  const at::ScalarType dtype = m->parameters().front().scalar_type();
  const int64_t rows = int64_t(seqs.size());
  int64_t longest = 0;
  for (const auto& s : seqs) longest = std::max<int64_t>(longest, int64_t(s.size()));
  r1::engine::DecodeForward fused(*m);
  r1::engine::SlotCache cache(c, rows, longest + 1, dtype, at::kCPU);
  cache.realign(0, longest, 0);
  std::vector<int32_t> tokens;
  std::vector<int64_t> positions, first;
  for (int64_t row = 0; row < rows; ++row) {
    const auto& p = seqs[size_t(row)];
    auto prefix = r1::model::KvCache::allocate(c, 1, int64_t(p.size()), dtype, at::kCPU);
    m->forward(torch::tensor(std::vector<int64_t>(p.begin(), p.end())).unsqueeze(0), {.cache = &prefix});
    cache.place(row, prefix, 0, 0, int64_t(p.size()));
    tokens.push_back(int32_t((p.size() * 11 + 3) % c.vocab_size));
    positions.push_back(int64_t(p.size()));
    first.push_back(longest - int64_t(p.size()));
  }
  r1::model::KvCache view = cache.view(rows);
  return fused.step(tokens, positions, first, view);
}

// bf16 weights and cache against the fp32 model (truth) and LibTorch's bf16 forward, within 5 % of the
// largest logit (bf16 keeps 8 bits of mantissa; a wrong layout or a missed rounding is far outside that).
TEST(DecodeForward, Bf16CloseToFp32Forward) {
  if (!kernels::bf16_available()) GTEST_SKIP() << "no AVX512-BF16 on this CPU: bf16 keeps the LibTorch path";
  const ModelConfig c = ModelConfig::parse(
      R"({"model_type": "qwen2", "vocab_size": 70, "hidden_size": 64, "intermediate_size": 52, "num_hidden_layers": 2,
          "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 96, "initializer_range": 0.3})",
      "bf16");
  Transformer fp32 = random_model(c);
  Transformer bf16(c, torch::TensorOptions().dtype(at::kBFloat16));
  {
    torch::NoGradGuard g;
    auto src = fp32->parameters(), dst = bf16->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
  expect_decode_equals_forward(bf16, 0.05, fp32);
  expect_decode_equals_forward(bf16, 0.05, bf16);
  // Many rows (several micro-kernel row blocks, split over the threads): every row's logits equal the same
  // row decoded alone, bit for bit (the bf16 error itself differs per sequence, so the forward is no yardstick).
  std::vector<std::vector<int32_t>> seqs;
  for (int64_t row = 0; row < 14; ++row) {
    seqs.emplace_back();
    for (int64_t t = 0; t < 1 + row * 5 % 9; ++t) seqs.back().push_back(int32_t((row * 7 + t * 3) % c.vocab_size));
  }
  const at::Tensor batched = decode_one_step(bf16, seqs);  // (14, V)
  for (size_t row = 0; row < seqs.size(); ++row)
    EXPECT_TRUE(at::equal(batched[int64_t(row)], decode_one_step(bf16, {seqs[row]})[0])) << "row " << row;
}

TEST(DecodeForward, RepacksAfterInPlaceWeightUpdates) {
  SKIP_WITHOUT_AVX512();
  Transformer m = random_model(config_of(R"(, "model_type": "qwen2")"));
  r1::engine::DecodeForward fused(*m);
  auto logits_now = [&](bool with_fused) {
    torch::NoGradGuard g;
    r1::engine::SlotCache cache(m->config(), 1, 8, at::kFloat, at::kCPU);
    cache.realign(0, 2, 0);
    auto prefix = r1::model::KvCache::allocate(m->config(), 1, 2, at::kFloat, at::kCPU);
    m->forward(torch::tensor(std::vector<int64_t>{4, 5}).unsqueeze(0), {.cache = &prefix});
    if (!with_fused) return m->forward(torch::tensor(std::vector<int64_t>{4, 5, 6}).unsqueeze(0))[0][-1];
    cache.place(0, prefix, 0, 0, 2);
    r1::model::KvCache view = cache.view(1);
    return fused.step({6}, {2}, {0}, view)[0];
  };
  EXPECT_LE((logits_now(true) - logits_now(false)).abs().max().item<double>(), 1e-5);
  auto params = m->named_parameters();
  for (const char* name : {"model.layers.1.self_attn.k_proj.bias", "model.layers.0.mlp.up_proj.weight",
                           "lm_head.weight", "model.norm.weight", "model.embed_tokens.weight"}) {
    const at::Tensor before = logits_now(true).clone();
    {
      torch::NoGradGuard g;
      params[name].add_(0.5 * torch::randn_like(params[name]));  // an optimizer step, in place
    }
    const at::Tensor after = logits_now(true), want = logits_now(false);
    EXPECT_GT((after - before).abs().max().item<double>(), 1e-3) << name;
    // relative to the largest logit, as the other tests here: the perturbed weights make logits of tens
    const double scale = std::max(1.0, want.abs().max().item<double>());
    EXPECT_LE((after - want).abs().max().item<double>(), 1e-5 * scale) << name;
  }
}

TEST(DecodeForward, InferenceTensorWeightsKeepTheLibTorchPath) {
  SKIP_WITHOUT_AVX512();
  Transformer tracked = random_model(config_of(R"(, "model_type": "llama")"));
  EXPECT_TRUE(r1::engine::DecodeForward::supported(*tracked));
  c10::InferenceMode inference;  // parameters created here have no version counter to watch
  Transformer untracked(config_of(R"(, "model_type": "llama")"));
  EXPECT_FALSE(r1::engine::DecodeForward::supported(*untracked));
}

namespace {}  // namespace

// Exactly on policy: the engine samples from the live fp32 weights, and the log-probs it reports for the sampled
// tokens equal, bit for bit, those a training forward over the right-padded batch of prompt + completion rows
// computes (GRPO's pi_theta at its first iteration), at any decode batch size. By construction: both sides run
// r1's own product and attention kernels (model/exact-ops.h), so this holds whatever BLAS kernels are loaded
// (CTest runs this suite again under other OPENBLAS_CORETYPE families, see tests/CMakeLists.txt). Cases:
// one, two and four query heads per kv head, head dims 8-128 (each attention code path), products with K > 384,
// short prompts and completions, prompts of mixed lengths, ALiBi, untied heads with biases.
struct ExactCase {
  const char* name;
  const char* config;
  std::vector<int> prompt_lengths;
  int64_t completion = 0;
};

void PrintTo(const ExactCase& c, std::ostream* os) { *os << c.name; }

class ExactOnPolicy : public ::testing::TestWithParam<ExactCase> {};

TEST_P(ExactOnPolicy, SampledLogprobsEqualTheTrainingForwardBitForBit) {
  SKIP_WITHOUT_AVX512();
  const ExactCase& x = GetParam();
  const ModelConfig c = ModelConfig::parse(x.config, "exact");
  Transformer m = random_model(c);
  std::vector<r1::engine::Request> requests;
  int64_t longest = 0;
  for (size_t p = 0; p < x.prompt_lengths.size(); ++p) {
    r1::engine::Request r;
    for (int t = 0; t < x.prompt_lengths[p]; ++t) r.prompt.push_back(int32_t((p * 31 + t * 7 + 1) % c.vocab_size));
    r.n = 4;
    r.params.max_new_tokens = x.completion;
    r.params.ignore_eos = true;
    r.params.temperature = 0.9;
    r.params.logprob_temperature = 0.9;
    r.params.seed = 7 + int64_t(p);
    requests.push_back(r);
    longest = std::max<int64_t>(longest, x.prompt_lengths[p]);
  }
  const int64_t B = int64_t(requests.size()) * 4, T = longest + x.completion, rows = B * T;
  for (int64_t max_batch : {1, 8}) {
    r1::engine::EngineOptions eo;
    eo.max_batch = max_batch;
    r1::engine::Engine engine(m, eo);
    std::vector<r1::engine::Result> results = engine.generate(requests);
    // The training side: one right-padded batch, hidden states of the completion positions, token_logprobs.
    std::vector<int64_t> ids(size_t(rows), 0), where, targets;
    std::vector<float> engine_logp;
    int64_t b = 0;
    for (size_t p = 0; p < requests.size(); ++p)
      for (const auto& s : results[p].samples) {
        const auto& prompt = requests[p].prompt;
        std::copy(prompt.begin(), prompt.end(), ids.begin() + b * T);
        std::copy(s.tokens.begin(), s.tokens.end(), ids.begin() + b * T + int64_t(prompt.size()));
        for (size_t t = 0; t < s.tokens.size(); ++t) {
          where.push_back(b * T + int64_t(prompt.size() + t) - 1);
          targets.push_back(s.tokens[t]);
          engine_logp.push_back(s.raw_logprobs[t]);
        }
        ++b;
      }
    // With gradients, as GRPO's learning phase runs it (the autograd path of the kernels).
    at::Tensor hidden = m->hidden_states(torch::tensor(ids).view({B, T})).reshape({rows, c.hidden_size});
    at::Tensor logp =
        r1::train::token_logprobs(*m, hidden.index_select(0, torch::tensor(where)), torch::tensor(targets), 0.9).logp;
    ASSERT_EQ(logp.size(0), int64_t(engine_logp.size()));
    ASSERT_TRUE(logp.requires_grad());
    at::Tensor got = logp.detach();
    int64_t differing = 0;
    for (int64_t i = 0; i < got.size(0); ++i) differing += got[i].item<float>() != engine_logp[size_t(i)];
    EXPECT_EQ(differing, 0) << "of " << got.size(0) << " tokens at max_batch " << max_batch << "; max |diff| "
                            << (got - torch::tensor(engine_logp)).abs().max().item<float>();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Envelope, ExactOnPolicy,
    ::testing::Values(
        ExactCase{"Llama",
                  R"({"model_type": "llama", "vocab_size": 96, "hidden_size": 64, "intermediate_size": 128,
          "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 96,
          "initializer_range": 0.3, "tie_word_embeddings": true})",
                  {37, 40},
                  24},
        ExactCase{"GroupedQueryWideMlp",
                  R"({"model_type": "qwen2", "vocab_size": 120, "hidden_size": 64,
          "intermediate_size": 448, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
          "max_position_embeddings": 96, "initializer_range": 0.3, "tie_word_embeddings": false})",
                  {5, 29, 12},
                  20},
        ExactCase{"ShortSequencesWideModel",
                  R"({"model_type": "llama", "vocab_size": 70, "hidden_size": 400,
          "intermediate_size": 520, "num_hidden_layers": 1, "num_attention_heads": 8, "num_key_value_heads": 2,
          "head_dim": 50, "max_position_embeddings": 64, "initializer_range": 0.05, "attention_bias": true,
          "mlp_bias": true})",
                  {3, 4},
                  5},
        ExactCase{"HeadDim64",
                  R"({"model_type": "llama", "vocab_size": 90, "hidden_size": 128,
          "intermediate_size": 160, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
          "max_position_embeddings": 96, "initializer_range": 0.2})",
                  {21, 8},
                  16},
        ExactCase{"HeadDim128",
                  R"({"model_type": "qwen2", "vocab_size": 90, "hidden_size": 256,
          "intermediate_size": 160, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
          "max_position_embeddings": 96, "initializer_range": 0.1})",
                  {13, 30},
                  16},
        ExactCase{"Alibi",
                  R"({"model_type": "llama", "vocab_size": 80, "hidden_size": 48, "intermediate_size": 96,
          "num_hidden_layers": 2, "num_attention_heads": 6, "num_key_value_heads": 3, "max_position_embeddings": 96,
          "initializer_range": 0.3, "position_embedding_type": "alibi"})",
                  {9, 17},
                  12}),
    [](const ::testing::TestParamInfo<ExactCase>& info) { return std::string(info.param.name); });
