// CUDA checks (CTest label `gpu`, skipped by `make test`; run with `make test-gpu` or scripts/gpu-check.sh on a CUDA
// LibTorch): the golden logits and KV-cache decode on the GPU equal the CPU results in fp32 and bf16, through both
// attention paths; the fused attention (at::scaled_dot_product_attention) equals the explicit matmul + softmax in
// forward and backward, with grouped-query heads, padding, ALiBi, a KV cache and bf16; SFT and GRPO steps run on
// CUDA in bf16 (library level). GpuParity writes r1's logits for tests/reference/gpu-parity.py, which compares them
// with transformers' and peft's on the same machine.
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "model/autocast-state.h"
#include "model/layers.h"
#include "r1/lora.h"
#include "r1/model.h"
#include "r1/safetensors.h"
#include "r1/train.h"
#include "test-helpers.h"
#include "train/grpo-advantages.h"
#include "train/grpo-loss.h"

namespace fs = std::filesystem;
using r1::model::detail::fused_attention_compiled;
using r1::model::detail::set_fused_attention;

namespace {

const fs::path kGolden = fs::path(R1_SOURCE_DIR) / "tests" / "golden";

#define R1_REQUIRE_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device (this LibTorch: CPU only, or no GPU visible)"

// max |got - want| / max |want|: the relative difference of the parity tables (elementwise ratios are meaningless
// for logits near zero).
double relative_difference(const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor g = got.detach().to(at::kCPU, at::kDouble), w = want.detach().to(at::kCPU, at::kDouble);
  return ((g - w).abs().max() / w.abs().max().clamp_min(1e-30)).item<double>();
}

// The fused attention on or off for a scope (on again afterwards, the default).
class AttentionPath {
 public:
  explicit AttentionPath(bool fused) { set_fused_attention(fused); }
  ~AttentionPath() { set_fused_attention(true); }
  AttentionPath(const AttentionPath&) = delete;
  AttentionPath& operator=(const AttentionPath&) = delete;
};

// CUDA autocast (bf16) for a scope, as the trainers' bf16 mode.
class CudaAutocast {
 public:
  CudaAutocast() { r1::model::detail::set_autocast(at::kCUDA, true, at::kBFloat16); }
  ~CudaAutocast() {
    r1::model::detail::set_autocast(at::kCUDA, false, at::kBFloat16);
    at::autocast::clear_cache();
  }
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;
};

std::vector<bool> attention_paths() {
  std::vector<bool> paths = {false};
  if (fused_attention_compiled()) paths.push_back(true);
  return paths;
}

}  // namespace

TEST(Gpu, GoldenLogitsAndCacheOnCuda) {
  R1_REQUIRE_CUDA();
  torch::NoGradGuard no_grad;
  at::globalContext().setAllowTF32CuBLAS(false);
  for (bool fused : attention_paths()) {
    AttentionPath path(fused);
    for (const char* name : {"qwen2-tiny", "llama-tiny", "llama-alibi-tiny"}) {
      SCOPED_TRACE(std::string(name) + (fused ? " (fused attention)" : " (explicit attention)"));
      fs::path dir = kGolden / name;
      r1::safetensors::File golden(dir / "golden.safetensors");
      at::Tensor ids = golden.get("input_ids").cuda(), mask = golden.get("attention_mask").cuda();
      at::Tensor want = golden.get("logits");
      auto model = r1::model::load_pretrained(dir, {.device = at::Device(at::kCUDA)});
      at::Tensor got = model->forward(ids, {.attention_mask = mask}).cpu();
      at::Tensor real = mask.cpu().to(at::kBool);
      EXPECT_LE((got.index({real}) - want.index({real})).abs().max().item<double>(), 1e-4);

      // Decode with a KV cache on the GPU equals the full forward (row 0: no padding).
      at::Tensor row = ids.narrow(0, 0, 1);
      auto cache = r1::model::KvCache::allocate(model->config(), 1, 16, at::kFloat, at::Device(at::kCUDA));
      model->forward(row.narrow(1, 0, 5), {.cache = &cache});
      at::Tensor step = model->forward(row.narrow(1, 5, 1), {.cache = &cache}).cpu();
      EXPECT_LE((step[0][0] - want[0][5]).abs().max().item<double>(), 1e-4);

      auto bf16 = r1::model::load_pretrained(dir, {.dtype = at::kBFloat16, .device = at::Device(at::kCUDA)});
      at::Tensor low = bf16->forward(ids, {.attention_mask = mask}).to(at::kFloat).cpu();
      EXPECT_LE((low.index({real}) - want.index({real})).abs().max().item<double>(), 0.25);
    }
  }
}

namespace {

// Models whose weights (std 0.1) make attention sharp enough to matter; head sizes 64 and 32, T past a tile.
struct AttentionCase {
  const char* name;
  const char* config;
};
const AttentionCase kAttentionCases[] = {
    {"llama-gqa", R"({"model_type": "llama", "vocab_size": 256, "hidden_size": 256, "intermediate_size": 384,
                      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                      "initializer_range": 0.1, "tie_word_embeddings": false})"},
    {"qwen2-mqa", R"({"model_type": "qwen2", "vocab_size": 256, "hidden_size": 128, "intermediate_size": 256,
                      "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                      "initializer_range": 0.1, "rope_theta": 1000000.0, "tie_word_embeddings": true})"},
    {"alibi", R"({"model_type": "llama", "position_embedding_type": "alibi", "vocab_size": 256, "hidden_size": 192,
                  "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 6,
                  "num_key_value_heads": 3, "attention_bias": true, "initializer_range": 0.1})"},
};

r1::model::Transformer random_cuda_model(const char* config_json) {
  auto config = r1::model::ModelConfig::parse(config_json, "test config");
  torch::manual_seed(7);
  r1::model::Transformer model(config, at::TensorOptions().dtype(at::kFloat).device(at::kCUDA));
  model->init_weights();
  model->eval();
  return model;
}

// Three rows of T = 100 tokens: row 0 unpadded, rows 1 and 2 left-padded by 7 and 60.
std::pair<at::Tensor, at::Tensor> padded_batch(int64_t vocab) {
  torch::manual_seed(11);
  at::Tensor ids = torch::randint(0, vocab, {3, 100}, torch::kLong);
  at::Tensor mask = torch::ones({3, 100}, torch::kLong);
  mask[1].narrow(0, 0, 7).zero_();
  mask[2].narrow(0, 0, 60).zero_();
  return {ids.cuda(), mask.cuda()};
}

// Gradients of every parameter for loss = sum(logits * weights) over the real tokens.
std::vector<at::Tensor> gradients(r1::model::Transformer& model, const at::Tensor& ids, const at::Tensor& mask,
                                  const at::Tensor& weights, bool autocast) {
  model->zero_grad();
  at::Tensor logits;
  if (autocast) {
    CudaAutocast on;
    logits = model->forward(ids, {.attention_mask = mask});
  } else {
    logits = model->forward(ids, {.attention_mask = mask});
  }
  (logits.to(at::kFloat) * weights * mask.unsqueeze(-1).to(at::kFloat)).sum().backward();
  std::vector<at::Tensor> grads;
  for (const auto& p : model->parameters()) grads.push_back(p.grad().detach().to(at::kDouble).flatten());
  return grads;
}

// Per parameter: max |got - want| over max |want|, where a parameter whose gradient is zero by symmetry (a key
// bias shifts every score of a query alike, which softmax ignores) is measured against 1% of the largest gradient.
void expect_same_gradients(const std::vector<at::Tensor>& got, const std::vector<at::Tensor>& want, double tolerance) {
  ASSERT_EQ(got.size(), want.size());
  double largest = 0;
  for (const at::Tensor& w : want) largest = std::max(largest, w.abs().max().item<double>());
  for (size_t i = 0; i < want.size(); ++i) {
    const double scale = std::max(want[i].abs().max().item<double>(), 1e-2 * largest);
    EXPECT_LE((got[i] - want[i]).abs().max().item<double>() / scale, tolerance) << "parameter " << i;
  }
}

}  // namespace

TEST(Gpu, FusedAttentionEqualsExplicit) {
  R1_REQUIRE_CUDA();
  if (!fused_attention_compiled()) GTEST_SKIP() << "this LibTorch has no at::scaled_dot_product_attention (< 2.0)";
  at::globalContext().setAllowTF32CuBLAS(false);
  for (const AttentionCase& c : kAttentionCases) {
    SCOPED_TRACE(c.name);
    auto model = random_cuda_model(c.config);
    const auto [ids, mask] = padded_batch(model->config().vocab_size);
    const at::Tensor real = mask.to(at::kBool);
    auto logits = [&](bool fused, const at::Tensor& m) {
      torch::NoGradGuard no_grad;
      AttentionPath path(fused);
      return model->forward(ids, {.attention_mask = m});
    };
    // fp32: causal only (FlashAttention's is_causal, or the memory-efficient kernel in fp32), then with padding.
    const at::Tensor plain = logits(false, at::Tensor());
    EXPECT_LE(relative_difference(logits(true, at::Tensor()), plain), 1e-5);
    const at::Tensor explicit_padded = logits(false, mask), fused_padded = logits(true, mask);
    EXPECT_LE(relative_difference(fused_padded.index({real}), explicit_padded.index({real})), 1e-5);
    EXPECT_TRUE(fused_padded.isfinite().all().item<bool>()) << "a padding row became NaN";

    // Backward in fp32: every parameter's gradient.
    torch::manual_seed(3);
    const at::Tensor weights = torch::randn(plain.sizes(), plain.options());
    std::vector<at::Tensor> want, got;
    {
      AttentionPath path(false);
      want = gradients(model, ids, mask, weights, false);
    }
    got = gradients(model, ids, mask, weights, false);
    expect_same_gradients(got, want, 1e-4);

    // KV cache: a 90-token prefill with padding (fused), then 10 single-token steps (explicit: a decode step keeps
    // the explicit path), equal the fused full forward.
    {
      torch::NoGradGuard no_grad;
      auto cache = r1::model::KvCache::allocate(model->config(), 3, 128, at::kFloat, at::Device(at::kCUDA));
      model->forward(ids.narrow(1, 0, 90), {.attention_mask = mask.narrow(1, 0, 90), .cache = &cache});
      for (int64_t t = 90; t < 100; ++t) {
        at::Tensor step =
            model->forward(ids.narrow(1, t, 1), {.attention_mask = mask.narrow(1, 0, t + 1), .cache = &cache});
        EXPECT_LE(relative_difference(step.select(1, 0), fused_padded.select(1, t)), 1e-5) << "step " << t;
      }
      // A second chunk of 50 tokens after a 50-token prefill, no mask: causality alone with a cache offset.
      auto chunks = r1::model::KvCache::allocate(model->config(), 1, 128, at::kFloat, at::Device(at::kCUDA));
      at::Tensor row = ids.narrow(0, 0, 1);
      model->forward(row.narrow(1, 0, 50), {.cache = &chunks});
      at::Tensor second = model->forward(row.narrow(1, 50, 50), {.cache = &chunks});
      EXPECT_LE(relative_difference(second, plain.narrow(0, 0, 1).narrow(1, 50, 50)), 1e-5);
    }

    // bf16 weights: the fused path (fp32 scores and softmax inside the kernel) is about as far from the fp32
    // logits as the explicit path (bf16 scores): within twice its error, bf16's compounded rounding differing in
    // order between the two.
    {
      auto low = random_cuda_model(c.config);
      low->to(at::kBFloat16);
      for (const at::Tensor& m : {at::Tensor(), mask}) {
        const bool padded = m.defined();
        const at::Tensor want32 = padded ? explicit_padded : plain;
        torch::NoGradGuard no_grad;
        at::Tensor fused_bf16, explicit_bf16;
        {
          AttentionPath path(true);
          fused_bf16 = low->forward(ids, {.attention_mask = m}).to(at::kFloat);
        }
        {
          AttentionPath path(false);
          explicit_bf16 = low->forward(ids, {.attention_mask = m}).to(at::kFloat);
        }
        const at::Tensor keep = padded ? real : torch::ones_like(real);
        const double fused_error = relative_difference(fused_bf16.index({keep}), want32.index({keep}));
        const double explicit_error = relative_difference(explicit_bf16.index({keep}), want32.index({keep}));
        EXPECT_LE(fused_error, std::max(2.0 * explicit_error, 0.02)) << (padded ? "padded" : "causal");
        EXPECT_TRUE(fused_bf16.isfinite().all().item<bool>());
        std::printf("[%s] bf16 %s: fused %.2e, explicit %.2e (relative to fp32)\n", c.name,
                    padded ? "padded" : "causal", fused_error, explicit_error);
      }
    }

    // bf16 autocast on fp32 weights (the trainers' bf16): both paths' gradients are the fp32 ones within bf16's
    // rounding, the fused within twice the explicit path's error.
    {
      std::vector<at::Tensor> want16, got16;
      {
        AttentionPath path(false);
        want16 = gradients(model, ids, mask, weights, true);
      }
      got16 = gradients(model, ids, mask, weights, true);
      auto error = [&](const std::vector<at::Tensor>& g) {  // over all parameters, relative to the largest
        double diff = 0, largest = 0;
        for (size_t i = 0; i < want.size(); ++i) {
          diff = std::max(diff, (g[i] - want[i]).abs().max().item<double>());
          largest = std::max(largest, want[i].abs().max().item<double>());
        }
        return diff / largest;
      };
      const double fused_error = error(got16), explicit_error = error(want16);
      EXPECT_LE(fused_error, std::max(2.0 * explicit_error, 0.02));
      std::printf("[%s] bf16 autocast gradients: fused %.2e, explicit %.2e (relative to fp32)\n", c.name, fused_error,
                  explicit_error);
    }
  }
}

// The trainers' steps on CUDA in bf16 autocast, at the library level: SFT's masked causal-LM loss over packed rows
// (segment ids) with activation checkpointing, and GRPO's clipped surrogate with the KL term over the log-probs of
// sampled completions. The checkpointed gradients equal the plain ones (the recomputation runs under the forward's
// CUDA autocast; in fp32 it would differ by bf16's rounding), every gradient is finite, AdamW lowers the SFT loss
// on a fixed batch, and a GRPO step taken on policy starts at ratio 1.
TEST(Gpu, SftAndGrpoStepsOnCudaInBf16) {
  R1_REQUIRE_CUDA();
  at::globalContext().setAllowTF32CuBLAS(false);
  auto model = random_cuda_model(kAttentionCases[0].config);  // fp32 master weights, as the trainers keep them
  model->train();
  const at::TensorOptions ids_options = torch::TensorOptions().dtype(torch::kLong).device(at::kCUDA);
  torch::manual_seed(5);
  const int64_t B = 4, T = 64;
  const at::Tensor ids = torch::randint(0, 256, {B, T + 1}, ids_options);
  const at::Tensor segments = (torch::arange(T, ids_options) >= T / 2).to(torch::kLong).unsqueeze(0).expand({B, T});
  at::Tensor labels = ids.narrow(1, 1, T).clone();  // the first 16 tokens of each packed example are its prompt
  labels.narrow(1, 0, 16).fill_(-100);
  labels.narrow(1, T / 2, 16).fill_(-100);
  auto sft_step = [&](bool checkpointing) {
    model->set_gradient_checkpointing(checkpointing);
    model->zero_grad();
    at::Tensor loss;
    {
      CudaAutocast bf16;
      const at::Tensor hidden = model->hidden_states(ids.narrow(1, 0, T), {.segment_ids = segments.contiguous()});
      auto [sum, tokens] = r1::model::causal_lm_loss_sum(*model, hidden, labels);
      loss = sum / double(tokens);
    }
    loss.backward();
    std::vector<at::Tensor> grads;
    for (const auto& p : model->parameters()) grads.push_back(p.grad().detach().to(at::kDouble).flatten());
    return std::make_pair(loss.item<double>(), grads);
  };
  {
    // Compared on the explicit attention, whose backward has no atomics: the recomputation repeats the forward's
    // bf16 arithmetic exactly, so the two agree to float rounding (a recomputation in fp32 would be ~1e-2 off).
    AttentionPath deterministic(false);
    const auto [plain_loss, plain_grads] = sft_step(false);
    const auto [checkpointed_loss, checkpointed_grads] = sft_step(true);
    EXPECT_NEAR(checkpointed_loss, plain_loss, 1e-6 * std::abs(plain_loss));
    expect_same_gradients(checkpointed_grads, plain_grads, 1e-4);
  }
  for (const at::Tensor& g : sft_step(true).second) EXPECT_TRUE(g.isfinite().all().item<bool>());  // fused

  r1::train::AdamW optimizer(r1::train::optimizer_params(*model, {"bias", "norm", "embed_tokens"}), 0.0, 0.9, 0.95,
                             1e-8);
  double first = 0, last = 0;
  for (int step = 0; step < 6; ++step) {
    last = sft_step(true).first;
    if (step == 0) first = last;
    optimizer.step(3e-3);
    optimizer.zero_grad();
  }
  EXPECT_LT(last, 0.9 * first) << "SFT on a fixed batch: loss " << first << " -> " << last;

  // GRPO: 2 prompts x 4 completions of 24 tokens after a 16-token prompt, rewards -> group advantages.
  namespace rl = r1::train::rl;
  const int64_t N = 8, P = 16, L = 24;
  model->set_gradient_checkpointing(false);
  const at::Tensor sequences = torch::randint(0, 256, {N, P + L}, ids_options);
  at::Tensor mask = torch::ones({N, L}, torch::TensorOptions().device(at::kCUDA));
  mask[1].narrow(0, 20, 4).zero_();  // a completion that ended early
  const rl::Advantages advantages = rl::group_advantages({1, 0, 0, 1, 0, 0, 1, 1}, 4, rl::ScaleRewards::kGroup);
  const at::Tensor a = torch::tensor(advantages.advantages, torch::kDouble).to(at::kCUDA, at::kFloat);
  auto completion_logp = [&] {
    CudaAutocast bf16;
    const at::Tensor hidden = model->hidden_states(sequences.narrow(1, 0, P + L - 1));  // (N, P+L-1, C)
    const at::Tensor rows = hidden.narrow(1, P - 1, L).reshape({N * L, hidden.size(2)});
    return r1::model::token_logprobs(*model, rows, sequences.narrow(1, P, L).reshape({N * L})).logp.view({N, L});
  };
  at::Tensor old;
  {
    torch::NoGradGuard no_grad;
    old = completion_logp();
  }
  model->zero_grad();
  const at::Tensor logp = completion_logp();
  EXPECT_LE((logp.detach() - old).abs().max().item<double>(), 1e-5) << "on policy, the ratio starts at 1";
  const at::Tensor per_token = rl::per_token_loss(logp, old, old, a, 0.2, 0.2, 0.04);
  const at::Tensor loss = rl::aggregate_loss(per_token, mask, rl::LossType::kGrpo, L) /
                          rl::loss_normaliser(rl::LossType::kGrpo, N, 1, int64_t(mask.sum().item<double>()));
  loss.backward();
  double norm = 0;
  for (const auto& p : model->parameters()) {
    EXPECT_TRUE(p.grad().isfinite().all().item<bool>());
    norm += p.grad().to(at::kDouble).pow(2).sum().item<double>();
  }
  EXPECT_GT(norm, 0.0) << "the advantages are not all zero: the surrogate has a gradient";
  optimizer.step(1e-3);
  optimizer.zero_grad();
}

// tests/reference/gpu-parity.py's r1 side. R1_PARITY_DIR/cases.json lists {name, model, adapter (optional),
// inputs}: HF directories written by r1 or by transformers, a PEFT adapter written by `r1 sft`, and a safetensors
// file of input_ids and attention_mask. For each case r1's logits on the CPU in fp32 and on CUDA in fp32 (both
// attention paths) and bf16 go to R1_PARITY_DIR/<name>.r1.safetensors; the script compares them with transformers'
// and peft's. Skipped without R1_PARITY_DIR.
TEST(GpuParity, LogitsForTheReferenceScript) {
  const char* parity_dir = std::getenv("R1_PARITY_DIR");
  if (parity_dir == nullptr) GTEST_SKIP() << "R1_PARITY_DIR is not set (tests/reference/gpu-parity.py sets it)";
  const fs::path dir(parity_dir);
  const bool cuda = torch::cuda::is_available();
  at::globalContext().setAllowTF32CuBLAS(false);
  torch::NoGradGuard no_grad;
  const auto cases = nlohmann::json::parse(r1::test::read_bytes(dir / "cases.json"));
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    r1::safetensors::File inputs(c.at("inputs").get<std::string>());
    const at::Tensor ids = inputs.get("input_ids"), mask = inputs.get("attention_mask");
    auto load = [&](at::ScalarType dtype, at::Device device) {
      const r1::model::LoadOptions options{.dtype = dtype, .device = device};
      auto model = c.contains("adapter") ? r1::model::load_with_adapter(c.at("adapter").get<std::string>(),
                                                                        c.at("model").get<std::string>(), options)
                                         : r1::model::load_pretrained(c.at("model").get<std::string>(), options);
      model->eval();
      return model;
    };
    std::vector<std::pair<std::string, at::Tensor>> out;
    const at::Tensor cpu = load(at::kFloat, at::kCPU)->forward(ids, {.attention_mask = mask});
    out.emplace_back("cpu_float32", cpu);
    if (cuda) {
      const at::Device gpu(at::kCUDA);
      auto model = load(at::kFloat, gpu);
      const at::Tensor fused = model->forward(ids.cuda(), {.attention_mask = mask.cuda()}).cpu();
      out.emplace_back("cuda_float32", fused);
      {
        AttentionPath path(false);
        out.emplace_back("cuda_float32_explicit", model->forward(ids.cuda(), {.attention_mask = mask.cuda()}).cpu());
      }
      out.emplace_back(
          "cuda_bfloat16",
          load(at::kBFloat16, gpu)->forward(ids.cuda(), {.attention_mask = mask.cuda()}).to(at::kFloat).cpu());
      const at::Tensor real = mask.to(at::kBool);
      EXPECT_LE(relative_difference(fused.index({real}), cpu.index({real})), 1e-5);
    }
    r1::safetensors::save(dir / (name + ".r1.safetensors"), out);
  }
}
