// The transformer against golden logits from the independent reference (tests/reference/make-model-golden.py:
// Qwen2 GQA+bias+tied, Llama-3 MQA+head_dim+llama3 RoPE scaling, ALiBi), and invariances: padding, KV cache,
// MHA as the GQA special case, tied vs untied heads, init statistics, save/load round trips, bf16, and errors
// for checkpoints that do not match their config.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "model/fused-ops.h"
#include "r1/error.h"
#include "r1/model.h"
#include "r1/safetensors.h"
#include "test-helpers.h"

namespace fs = std::filesystem;
using r1::model::ForwardArgs;
using r1::model::ModelConfig;
using r1::model::Transformer;
using r1::test::TempDir;

namespace {

fs::path golden_dir(const std::string& name) { return fs::path(R1_SOURCE_DIR) / "tests" / "golden" / name; }

ModelConfig tiny_config(const std::string& extra = "") {
  return ModelConfig::parse(R"({"model_type": "llama", "vocab_size": 50, "hidden_size": 32, "intermediate_size": 48,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64,
      "initializer_range": 0.2, "pad_token_id": 0)" +
                                extra + "}",
                            "tiny");
}

Transformer random_model(const ModelConfig& c, uint64_t seed = 7) {
  torch::manual_seed(seed);
  Transformer m(c);
  m->init_weights();
  torch::NoGradGuard g;
  for (auto& p : m->parameters()) p.add_(0.05 * torch::randn_like(p));  // non-trivial norms and biases too
  return m;
}

double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

class GoldenLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenLogits, MatchTheReferenceImplementation) {
  torch::NoGradGuard no_grad;
  fs::path dir = golden_dir(GetParam());
  Transformer model = r1::model::load_pretrained(dir);
  r1::safetensors::File golden(dir / "golden.safetensors");
  at::Tensor ids = golden.get("input_ids"), mask = golden.get("attention_mask"), pos = golden.get("position_ids");
  at::Tensor want = golden.get("logits");  // (B, T, V)
  ForwardArgs args;
  args.attention_mask = mask;
  args.positions = pos;
  at::Tensor got = model->forward(ids, args);
  ASSERT_EQ(got.sizes(), want.sizes());
  at::Tensor real = mask.to(at::kBool);  // padded positions carry no meaning
  EXPECT_LE(max_diff(got.index({real}), want.index({real})), 1e-4);
  // Positions derived from the mask by default (left padding) give the same result.
  args.positions = at::Tensor();
  EXPECT_LE(max_diff(model->forward(ids, args).index({real}), want.index({real})), 1e-4);
  // bf16 weights and activations stay close (a smoke check of the reduced-precision path).
  Transformer bf16 = r1::model::load_pretrained(dir, {.dtype = at::kBFloat16});
  EXPECT_LE(max_diff(bf16->forward(ids, args).to(at::kFloat).index({real}), want.index({real})), 0.25);
}

INSTANTIATE_TEST_SUITE_P(Reference, GoldenLogits, ::testing::Values("qwen2-tiny", "llama-tiny", "llama-alibi-tiny"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(Model, LeftPaddedRowsMatchUnpaddedRows) {
  for (const char* extra : {"", R"(, "position_embedding_type": "alibi")"}) {
    torch::NoGradGuard g;
    Transformer m = random_model(tiny_config(extra));
    at::Tensor a = torch::randint(1, 50, {1, 6}), b = torch::randint(1, 50, {1, 4});
    at::Tensor ids = torch::zeros({2, 6}, torch::kLong), mask = torch::zeros({2, 6}, torch::kLong);
    ids[0] = a[0];
    mask[0].fill_(1);
    ids[1].narrow(0, 2, 4).copy_(b[0]);
    mask[1].narrow(0, 2, 4).fill_(1);
    at::Tensor batched = m->forward(ids, {.attention_mask = mask});
    EXPECT_LE(max_diff(batched[0], m->forward(a)[0]), 1e-5) << extra;
    EXPECT_LE(max_diff(batched[1].narrow(0, 2, 4), m->forward(b)[0]), 1e-5) << extra;
    EXPECT_FALSE(batched.isnan().any().item<bool>()) << "padding rows must not produce NaN";
  }
}

TEST(Model, KvCacheDecodeEqualsFullForward) {
  for (const char* extra : {"", R"(, "position_embedding_type": "alibi")"}) {
    torch::NoGradGuard g;
    ModelConfig c = tiny_config(extra);
    Transformer m = random_model(c);
    at::Tensor ids = torch::randint(1, 50, {2, 10});
    at::Tensor full = m->forward(ids);  // (2, 10, V)
    auto cache = r1::model::KvCache::allocate(c, 2, 16, at::kFloat, at::kCPU);
    at::Tensor prefill = m->forward(ids.narrow(1, 0, 6), {.cache = &cache});
    EXPECT_EQ(cache.length, 6);
    EXPECT_LE(max_diff(prefill, full.narrow(1, 0, 6)), 1e-5);
    for (int64_t t = 6; t < 10; ++t) {
      at::Tensor step = m->forward(ids.narrow(1, t, 1), {.cache = &cache});
      EXPECT_LE(max_diff(step[0][0], full[0][t]), 1e-5) << extra << " t=" << t;
      EXPECT_LE(max_diff(step[1][0], full[1][t]), 1e-5) << extra << " t=" << t;
    }
    R1_EXPECT_THROW_WITH(m->forward(torch::randint(1, 50, {2, 7}), {.cache = &cache}), r1::Error, "KV cache holds 16");
  }
}

TEST(Model, LaterTokensDoNotChangeEarlierLogits) {
  torch::NoGradGuard g;
  Transformer m = random_model(tiny_config());
  at::Tensor ids = torch::randint(1, 50, {1, 8});
  at::Tensor before = m->forward(ids);
  ids[0][7] = (ids[0][7].item<int64_t>() % 49) + 1;
  at::Tensor after = m->forward(ids);
  EXPECT_EQ(max_diff(before.narrow(1, 0, 7), after.narrow(1, 0, 7)), 0.0);
  EXPECT_GT(max_diff(before[0][7], after[0][7]), 1e-4);
}

// Prefill/training shapes (>= 32 rows, and at least the fused weight's rows) take the fused q|k|v and gate|up GEMMs and
// the one-baddbmm causal scores; short inputs take the separate projections and the boolean mask. Both must give the
// same logits, with and without biases (Qwen2) and with ALiBi.
TEST(Model, FusedAndSeparateProjectionsAgree) {
  torch::NoGradGuard g;
  for (const char* type : {"llama", "qwen2", "alibi"}) {
    ModelConfig c = tiny_config();
    if (std::string(type) == "qwen2") c.model_type = "qwen2";
    if (std::string(type) == "alibi") c.position_embedding_type = r1::model::PositionEncoding::kAlibi;
    Transformer m = random_model(c);
    at::Tensor ids = torch::randint(1, 50, {2, 60});
    at::Tensor fused = m->forward(ids);  // 120 rows >= 96 fused gate|up rows
    for (int64_t b = 0; b < 2; ++b) {
      at::Tensor alone = m->forward(ids.narrow(0, b, 1).narrow(1, 0, 20));  // 20 rows
      EXPECT_LT(max_diff(fused.narrow(0, b, 1).narrow(1, 0, 20), alone), 1e-5) << type;
    }
  }
}

// The fp32 forward's own product and attention kernels (model/exact-ops.h) against the same model in float64,
// which runs ATen's ops: values and gradients, for causal, left-padded, packed (segment ids) and KV-cache
// forwards, RoPE and ALiBi, grouped-query attention. (Bit equality with the decode step: test-decode-forward.)
TEST(ExactKernels, MatchFloat64ATenForwardAndGradients) {
  for (const char* extra : {"", R"(, "position_embedding_type": "alibi")", R"(, "num_key_value_heads": 1)"}) {
    ModelConfig c = tiny_config(extra);
    Transformer m = random_model(c);
    Transformer ref = random_model(c);
    ref->to(torch::kDouble);
    at::Tensor ids = torch::randint(1, 50, {3, 40});
    at::Tensor mask = torch::ones({3, 40}, torch::kLong);
    mask[1].narrow(0, 0, 7).fill_(0);   // left padding
    mask[2].narrow(0, 33, 7).fill_(0);  // right padding
    at::Tensor segments = torch::zeros({3, 40}, torch::kLong);
    segments.narrow(1, 15, 25).fill_(1);
    segments.narrow(1, 31, 9).fill_(2);
    at::Tensor probe = torch::randn({3, 40, 50}, torch::kDouble);
    for (int variant = 0; variant < 3; ++variant) {
      ForwardArgs args;
      if (variant == 1) args.attention_mask = mask;
      if (variant == 2) args.segment_ids = segments;
      for (Transformer* model : {&m, &ref}) (*model)->zero_grad();
      at::Tensor got = m->forward(ids, args), want = ref->forward(ids, args);  // (3, 40, V)
      at::Tensor valid = variant == 1 ? mask.to(torch::kBool) : torch::ones({3, 40}, torch::kBool);
      valid = valid.unsqueeze(-1).expand_as(got);
      EXPECT_LT(max_diff(got.masked_select(valid).to(torch::kDouble), want.masked_select(valid)), 2e-5)
          << extra << " variant " << variant << " nan in exact: " << got.isnan().any().item<bool>()
          << ", in float64 ATen: " << want.isnan().any().item<bool>();
      (got.to(torch::kDouble) * probe * valid).sum().backward();
      (want * probe * valid).sum().backward();
      auto mine = m->named_parameters(), theirs = ref->named_parameters();
      for (const auto& item : mine) {
        const at::Tensor& g = item.value().grad();
        const at::Tensor& h = theirs[item.key()].grad();
        ASSERT_TRUE(g.defined()) << item.key();
        const double scale = std::max(1.0, h.abs().max().item<double>());
        EXPECT_LT(max_diff(g.to(torch::kDouble), h) / scale, 1e-4)
            << extra << " variant " << variant << " " << item.key();
      }
    }
    // KV cache: a prefill then token-by-token steps equal the full forward.
    torch::NoGradGuard no_grad;
    auto cache = r1::model::KvCache::allocate(c, 3, 48, at::kFloat, at::kCPU);
    at::Tensor full = m->forward(ids);
    at::Tensor prefill = m->forward(ids.narrow(1, 0, 30), {.cache = &cache});
    EXPECT_TRUE(torch::equal(prefill, full.narrow(1, 0, 30))) << extra;
    for (int64_t t = 30; t < 40; ++t)
      EXPECT_TRUE(torch::equal(m->forward(ids.narrow(1, t, 1), {.cache = &cache}).select(1, 0), full.select(1, t)))
          << extra << " t=" << t;
  }
}

// The fused RMSNorm / SwiGLU kernels against the ATen expressions they replace, values and gradients.
TEST(FusedOps, RmsNormAndSwigluMatchATen) {
  torch::manual_seed(21);
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const double tol = dtype == at::kFloat ? 1e-5 : 4e-2;  // bf16: one ulp at |v| ~ 4-8 (ATen rounds twice)
    at::Tensor x = torch::randn({3, 5, 40}).to(dtype).requires_grad_(true);
    at::Tensor w = (torch::rand({40}) + 0.5).requires_grad_(true);
    at::Tensor dy = torch::randn({3, 5, 40});
    at::Tensor y = r1::model::detail::rms_norm(x, w, 1e-6, dtype);
    (y.to(at::kFloat) * dy).sum().backward();
    at::Tensor xr = x.detach().clone().requires_grad_(true), wr = w.detach().clone().requires_grad_(true);
    at::Tensor h = xr.to(at::kFloat);
    at::Tensor yr = (wr * (h * at::rsqrt(h.pow(2).mean(-1, true) + 1e-6))).to(dtype);
    (yr.to(at::kFloat) * dy).sum().backward();
    EXPECT_LT(max_diff(y.to(at::kFloat), yr.to(at::kFloat)), tol) << dtype;
    EXPECT_LT(max_diff(x.grad().to(at::kFloat), xr.grad().to(at::kFloat)), tol) << dtype;
    EXPECT_LT(max_diff(w.grad(), wr.grad()), 10 * tol) << dtype;

    at::Tensor gu = torch::randn({4, 7, 2 * 24}).to(dtype).requires_grad_(true);
    at::Tensor dz = torch::randn({4, 7, 24});
    at::Tensor z = r1::model::detail::swiglu(gu);
    (z.to(at::kFloat) * dz).sum().backward();
    at::Tensor gur = gu.detach().clone().requires_grad_(true);
    auto halves = gur.chunk(2, -1);
    at::Tensor zr = at::silu(halves[0]) * halves[1];
    (zr.to(at::kFloat) * dz).sum().backward();
    EXPECT_LT(max_diff(z.to(at::kFloat), zr.to(at::kFloat)), tol) << dtype;
    EXPECT_LT(max_diff(gu.grad().to(at::kFloat), gur.grad().to(at::kFloat)), tol) << dtype;

    at::Tensor g = halves[0].detach().contiguous().requires_grad_(true),
               u = halves[1].detach().contiguous().requires_grad_(true);
    at::Tensor zp = r1::model::detail::swiglu(g, u);
    (zp.to(at::kFloat) * dz).sum().backward();
    EXPECT_LT(max_diff(zp.to(at::kFloat), zr.to(at::kFloat)), tol) << dtype;
    EXPECT_LT(max_diff(g.grad().to(at::kFloat), gur.grad().narrow(-1, 0, 24).to(at::kFloat)), tol) << dtype;
    EXPECT_LT(max_diff(u.grad().to(at::kFloat), gur.grad().narrow(-1, 24, 24).to(at::kFloat)), tol) << dtype;
  }
}

TEST(FusedOps, RopeAndSoftmaxMatchATen) {
  torch::manual_seed(22);
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const double tol = dtype == at::kFloat ? 1e-5 : 4e-2;
    // RoPE on a strided (B, T, NH, D) view (a slice of heads, as the fused q|k|v path passes), per-row and
    // broadcast positions, against HF's x * cos + rotate_half(x) * sin.
    for (int64_t cos_rows : {1, 2}) {
      at::Tensor base = torch::randn({2, 5, 7, 16}).to(dtype);
      at::Tensor x = base.narrow(2, 1, 5).detach().requires_grad_(true);  // (2, 5, 5, 16), not contiguous
      at::Tensor angles = torch::rand({cos_rows, 5, 8}) * 6;
      at::Tensor emb = at::cat({angles, angles}, -1);  // (rows, T, D)
      at::Tensor cos = emb.cos(), sin = emb.sin();
      at::Tensor dy = torch::randn({2, 5, 5, 16});
      at::Tensor y = r1::model::detail::rope(x, cos, sin);
      (y.to(at::kFloat) * dy).sum().backward();
      at::Tensor xr = x.detach().to(at::kFloat).requires_grad_(true);
      auto halves = xr.chunk(2, -1);
      at::Tensor yr = xr * cos.unsqueeze(2) + at::cat({-halves[1], halves[0]}, -1) * sin.unsqueeze(2);
      (yr * dy).sum().backward();
      EXPECT_EQ(y.scalar_type(), dtype);
      EXPECT_LT(max_diff(y.to(at::kFloat), yr), tol) << dtype;
      EXPECT_LT(max_diff(x.grad().to(at::kFloat), xr.grad()), tol) << dtype;
    }
    R1_EXPECT_THROW_WITH(
        r1::model::detail::rope(torch::zeros({1, 3, 2, 8}), torch::zeros({1, 4, 8}), torch::zeros({1, 4, 8})),
        r1::Error, "rope");

    // Softmax with masked entries (the dtype's lowest value), one row masked throughout, fp32 math and
    // output in fp32 or bf16, against at::softmax(x, -1, float).
    at::Tensor scores = (torch::randn({3, 4, 37}) * 4).to(dtype);
    const double lowest = dtype == at::kFloat ? -3.4028234663852886e38 : -3.3895313892515355e38;
    scores.index_put_({0, 1, torch::indexing::Slice(5, 37)}, lowest);
    scores.index_put_({1, 2}, lowest);
    scores.requires_grad_(true);
    at::Tensor dp = torch::randn({3, 4, 37});
    at::Tensor p = r1::model::detail::softmax_last_dim(scores, dtype);
    (p.to(at::kFloat) * dp).sum().backward();
    at::Tensor sr = scores.detach().clone().requires_grad_(true);
    at::Tensor pr = at::softmax(sr, -1, at::kFloat);
    (pr * dp).sum().backward();
    EXPECT_EQ(p.scalar_type(), dtype);
    EXPECT_LT(max_diff(p.to(at::kFloat), pr), dtype == at::kFloat ? 1e-6 : 4e-3) << dtype;
    EXPECT_EQ(p.index({0, 1, torch::indexing::Slice(5, 37)}).abs().max().item<float>(), 0.0f);  // masked: exactly 0
    EXPECT_LT(max_diff(p.index({1, 2}).to(at::kFloat), torch::full({37}, 1.0 / 37)), 1e-3);     // all masked: uniform
    EXPECT_LT(max_diff(scores.grad().to(at::kFloat), sr.grad().to(at::kFloat)), tol) << dtype;
    EXPECT_EQ(scores.grad().scalar_type(), dtype);
  }
}

TEST(Model, MultiHeadIsTheGroupedQuerySpecialCase) {
  // A GQA model (4 query heads, 2 kv heads) equals an MHA model whose k/v projections repeat each kv head
  // for its query heads (h -> h / 2), as HF's repeat_kv.
  torch::NoGradGuard g;
  ModelConfig gqa_config = tiny_config();
  Transformer gqa = random_model(gqa_config);
  ModelConfig mha_config = gqa_config;
  mha_config.num_key_value_heads = 4;
  Transformer mha(mha_config);
  auto src = gqa->named_parameters();
  const int64_t D = gqa_config.resolved_head_dim();
  for (auto& item : mha->named_parameters()) {
    const at::Tensor& from = src[item.key()];
    bool kv = item.key().find("k_proj") != std::string::npos || item.key().find("v_proj") != std::string::npos;
    if (kv)  // (Hkv*D, C) -> (H*D, C): each kv head's D rows repeated for its 2 query heads
      item.value().copy_(from.view({2, 1, D, -1}).expand({2, 2, D, from.size(-1)}).reshape(item.value().sizes()));
    else
      item.value().copy_(from);
  }
  at::Tensor ids = torch::randint(1, 50, {2, 7});
  EXPECT_LE(max_diff(gqa->forward(ids), mha->forward(ids)), 1e-5);
}

TEST(Model, TiedAndUntiedHeads) {
  torch::NoGradGuard g;
  ModelConfig tied_config = tiny_config(R"(, "tie_word_embeddings": true)");
  Transformer tied = random_model(tied_config);
  auto names = tied->named_parameters().keys();
  EXPECT_EQ(std::count(names.begin(), names.end(), "lm_head.weight"), 0);
  ModelConfig untied_config = tied_config;
  untied_config.tie_word_embeddings = false;
  Transformer untied(untied_config);
  auto src = tied->named_parameters();
  for (auto& item : untied->named_parameters())
    item.value().copy_(item.key() == "lm_head.weight" ? src["model.embed_tokens.weight"] : src[item.key()]);
  at::Tensor ids = torch::randint(1, 50, {1, 5});
  EXPECT_LE(max_diff(tied->forward(ids), untied->forward(ids)), 1e-6);
  EXPECT_EQ(untied->num_parameters() - tied->num_parameters(), 50 * 32);
  // In the tied model the embedding is the output projection: changing it changes the logits directly.
  at::Tensor h = tied->hidden_states(ids);
  tied->named_parameters()["model.embed_tokens.weight"][3].zero_();
  EXPECT_EQ(tied->logits(h).select(-1, 3).abs().max().item<float>(), 0.0f);
}

TEST(Model, InitFollowsHuggingFaceLlama) {
  ModelConfig c = tiny_config(R"(, "attention_bias": true, "initializer_range": 0.02, "vocab_size": 4000,
                                  "hidden_size": 128, "intermediate_size": 256)");
  torch::manual_seed(0);
  Transformer m(c);
  m->init_weights();
  auto p = m->named_parameters();
  at::Tensor embed = p["model.embed_tokens.weight"];
  EXPECT_EQ(embed[0].abs().max().item<float>(), 0.0f);  // padding row
  EXPECT_NEAR(embed.narrow(0, 1, 3999).std().item<double>(), 0.02, 0.001);
  EXPECT_NEAR(p["model.layers.0.mlp.up_proj.weight"].std().item<double>(), 0.02, 0.001);
  EXPECT_EQ(p["model.layers.0.self_attn.o_proj.bias"].abs().max().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(p["model.norm.weight"], torch::ones({128})));
  // Same seed, same weights.
  torch::manual_seed(0);
  Transformer again(c);
  again->init_weights();
  EXPECT_TRUE(torch::equal(again->named_parameters()["model.layers.1.self_attn.q_proj.weight"],
                           p["model.layers.1.self_attn.q_proj.weight"]));
}

TEST(Checkpoint, SaveLoadRoundTripIsBitExact) {
  TempDir dir;
  Transformer m = random_model(tiny_config(R"(, "tie_word_embeddings": false, "attention_bias": true)"));
  r1::model::save_pretrained(*m, dir / "m");
  for (const char* f : {"config.json", "model.safetensors", "generation_config.json"})
    EXPECT_TRUE(fs::exists(dir / "m" / f)) << f;
  Transformer loaded = r1::model::load_pretrained(dir / "m");
  auto a = m->named_parameters(), b = loaded->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  EXPECT_EQ(loaded->config().to_json(), m->config().to_json());

  // Sharded save loads the same weights.
  r1::model::save_pretrained(*m, dir / "sharded", {.max_shard_bytes = 20000});
  EXPECT_TRUE(fs::exists(dir / "sharded" / "model.safetensors.index.json"));
  Transformer from_shards = r1::model::load_pretrained(dir / "sharded");
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), from_shards->named_parameters()[item.key()]));

  // bf16 storage: half the bytes, config says so, loads back as the rounded values.
  r1::model::save_pretrained(*m, dir / "bf16", {.dtype = at::kBFloat16});
  EXPECT_EQ(ModelConfig::load(dir / "bf16" / "config.json").torch_dtype, "bfloat16");
  Transformer half = r1::model::load_pretrained(dir / "bf16");
  for (const auto& item : a)
    EXPECT_TRUE(torch::equal(item.value().to(at::kBFloat16).to(at::kFloat), half->named_parameters()[item.key()]));
}

TEST(Checkpoint, RefusesToOverwriteWithoutPermission) {
  TempDir dir;
  Transformer m = random_model(tiny_config());
  r1::model::save_pretrained(*m, dir / "m");
  std::string before = r1::test::read_bytes(dir / "m" / "model.safetensors");
  r1::test::write_bytes(dir / "m" / "generation_config.json", R"({"temperature": 0.6})");
  Transformer other = random_model(tiny_config(), 99);
  R1_EXPECT_THROW_WITH(r1::model::save_pretrained(*other, dir / "m"), r1::Error, "already holds a model",
                       "--overwrite");
  EXPECT_EQ(r1::test::read_bytes(dir / "m" / "model.safetensors"), before);
  r1::model::save_pretrained(*other, dir / "m", {.overwrite = true});
  EXPECT_NE(r1::test::read_bytes(dir / "m" / "model.safetensors"), before);
  // The user's sampling defaults survive.
  EXPECT_EQ(r1::test::read_bytes(dir / "m" / "generation_config.json"), R"({"temperature": 0.6})");
}

TEST(Checkpoint, MismatchedWeightsAreNamed) {
  TempDir dir;
  ModelConfig c = tiny_config(R"(, "tie_word_embeddings": false)");
  Transformer m = random_model(c);
  r1::model::save_pretrained(*m, dir / "m");
  auto tensors = r1::model::named_tensors(*m);

  auto save_with = [&](std::vector<std::pair<std::string, at::Tensor>> t) {
    r1::safetensors::save(dir / "m" / "model.safetensors", t);
  };
  auto without = tensors;
  without.erase(without.begin() + 3);
  save_with(without);
  R1_EXPECT_THROW_WITH(r1::model::load_pretrained(dir / "m"), r1::Error, "missing", tensors[3].first);

  auto wrong_shape = tensors;
  wrong_shape[1].second = torch::zeros({5});
  save_with(wrong_shape);
  R1_EXPECT_THROW_WITH(r1::model::load_pretrained(dir / "m"), r1::Error, tensors[1].first, "shape [5]", "[32]");

  auto extra = tensors;
  extra.emplace_back("model.layers.7.mlp.up_proj.weight", torch::zeros({2}));
  save_with(extra);
  R1_EXPECT_THROW_WITH(r1::model::load_pretrained(dir / "m"), r1::Error, "model.layers.7.mlp.up_proj.weight",
                       "not used");

  auto with_rope_table = tensors;  // old transformers stored these buffers; they are skipped
  with_rope_table.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", torch::zeros({4}));
  save_with(with_rope_table);
  EXPECT_NO_THROW(r1::model::load_pretrained(dir / "m"));

  R1_EXPECT_THROW_WITH(r1::model::load_pretrained(dir / "nothing"), r1::Error, "no such directory");
}

TEST(Checkpoint, ConvertKeepsOtherFilesAndConfigKeys) {
  TempDir dir;
  Transformer m = random_model(tiny_config());
  r1::model::save_pretrained(*m, dir / "in");
  r1::test::write_bytes(dir / "in" / "tokenizer.json", "{\"model\": {}}");
  auto raw = nlohmann::json::parse(r1::test::read_bytes(dir / "in" / "config.json"));
  raw["custom_key"] = "kept";
  r1::test::write_bytes(dir / "in" / "config.json", raw.dump());

  r1::model::convert_checkpoint(dir / "in", dir / "out", {.dtype = at::kHalf});
  auto out = nlohmann::json::parse(r1::test::read_bytes(dir / "out" / "config.json"));
  EXPECT_EQ(out["torch_dtype"], "float16");
  EXPECT_EQ(out["custom_key"], "kept");
  EXPECT_EQ(r1::test::read_bytes(dir / "out" / "tokenizer.json"), "{\"model\": {}}");
  auto summary = r1::model::summarize_checkpoint(dir / "out");
  EXPECT_EQ(summary.dtypes.at("F16"), int64_t(r1::model::named_tensors(*m).size()));
  EXPECT_TRUE(summary.problems.empty());
  EXPECT_EQ(summary.parameters, m->num_parameters());
  R1_EXPECT_THROW_WITH(r1::model::convert_checkpoint(dir / "in", dir / "out", {.dtype = at::kHalf}), r1::Error,
                       "not empty", "--overwrite");
  R1_EXPECT_THROW_WITH(r1::model::convert_checkpoint(dir / "in", dir / "in", {.dtype = at::kHalf}), r1::Error,
                       "must differ");
}

TEST(Model, ConcurrentForwardsOnOneModelAgree) {
  // The engine and the trainer share one model object: forward() must not mutate it.
  Transformer m = random_model(tiny_config());
  at::Tensor ids = torch::randint(1, 50, {2, 9});
  at::Tensor want;
  {
    torch::NoGradGuard g;
    want = m->forward(ids);
  }
  std::vector<at::Tensor> got(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      torch::NoGradGuard g;
      for (int k = 0; k < 5; ++k) got[i] = m->forward(ids);
    });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_TRUE(torch::equal(g, want));
}

TEST(Checkpoint, ResizeEmbeddingsInitialisesNewRowsFromTheirPieces) {
  for (bool tied : {true, false}) {
    ModelConfig c = tiny_config(tied ? R"(, "tie_word_embeddings": true)" : R"(, "tie_word_embeddings": false)");
    Transformer m = random_model(c);
    std::map<int64_t, std::vector<int32_t>> init = {{50, {3, 7}}, {52, {11}}};
    Transformer r = r1::model::resize_token_embeddings(*m, 56, init);
    EXPECT_EQ(r->config().vocab_size, 56);
    auto a = m->named_parameters(), b = r->named_parameters();
    for (const char* name : {"model.embed_tokens.weight", "lm_head.weight"}) {
      if (!a.contains(name)) continue;
      at::Tensor old = a[name], now = b[name];
      EXPECT_TRUE(torch::equal(now.narrow(0, 0, 50), old));
      EXPECT_TRUE(torch::allclose(now[50], (old[3] + old[7]) / 2));
      EXPECT_TRUE(torch::allclose(now[52], old[11]));
      EXPECT_TRUE(torch::allclose(now[51], old.mean(0)));  // no pieces: the mean row
    }
    EXPECT_TRUE(torch::equal(b["model.layers.1.mlp.up_proj.weight"], a["model.layers.1.mlp.up_proj.weight"]));
    // Old tokens' logits are unchanged by the resize.
    torch::NoGradGuard g;
    at::Tensor ids = torch::randint(1, 50, {1, 6});
    EXPECT_LE(max_diff(r->forward(ids).narrow(-1, 0, 50), m->forward(ids)), 1e-5);
    R1_EXPECT_THROW_WITH(r1::model::resize_token_embeddings(*m, 56, {{53, {70}}}), r1::Error, "source id 70");
  }
}
