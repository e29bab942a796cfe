// GRPO off the simple on-policy path (src/train/grpo.cpp, grpo-loss.h, rollout.h): the sampler correction
// (TRL's vllm_importance_sampling_* modes) and DeepSeek-V3.2's off-policy sequence mask against values computed
// here by hand; the correction built on the engine's sampling distribution, which top-p truncation moves away from
// the learner's (so the ratio is below 1 exactly where the sampler truncated); the padding-free learning phase,
// whose log-probs and gradients equal the padded batch's; TRL's batch decoupling (steps_per_generation,
// generation_batch_size: several optimizer steps per generation, resumable between them); adaptive entropy control;
// and a bf16-sampled run that logs the ratio statistics.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "common/jsonl.h"
#include "r1/engine.h"
#include "r1/error.h"
#include "r1/model.h"
#include "r1/recipe.h"
#include "r1/train.h"
#include "rl-fixture.h"
#include "test-helpers.h"
#include "train/grpo-loss.h"
#include "train/rollout.h"

namespace fs = std::filesystem;
namespace rl = r1::train::rl;
using r1::train::GrpoOptions;

namespace {

at::Tensor rows(const std::vector<std::vector<double>>& v) {
  std::vector<double> flat;
  for (const auto& r : v) flat.insert(flat.end(), r.begin(), r.end());
  return torch::tensor(flat, torch::kDouble).view({int64_t(v.size()), int64_t(v[0].size())});
}

}  // namespace

TEST(GrpoSamplerCorrection, RatiosOfEveryModeByHand) {
  // Two sequences; the second has two tokens. old - sampling per token: {0.5, -1.5, 0.2}, {-0.1, 2.0, (masked)}.
  const at::Tensor old = rows({{-1.0, -2.0, -0.3}, {-0.4, -0.5, -9.0}});
  const at::Tensor samp = rows({{-1.5, -0.5, -0.5}, {-0.3, -2.5, 0.0}});
  const at::Tensor mask = rows({{1, 1, 1}, {1, 1, 0}});
  const double d[2][3] = {{0.5, -1.5, 0.2}, {-0.1, 2.0, 0.0}};
  const double seq[2] = {0.5 - 1.5 + 0.2, -0.1 + 2.0};
  const std::optional<double> lo = 0.5, hi = 3.0;
  using M = rl::SamplingCorrection;

  at::Tensor tt = rl::sampling_importance_ratio(old, samp, mask, M::kTokenTruncate, lo, hi);
  at::Tensor tm = rl::sampling_importance_ratio(old, samp, mask, M::kTokenMask, lo, hi);
  ASSERT_EQ(tt.sizes(), old.sizes());
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i) {
      const double r = std::exp(d[b][i]);
      EXPECT_NEAR(tt[b][i].item<double>(), std::min(std::max(r, 0.5), 3.0), 1e-12) << b << i;
      EXPECT_NEAR(tm[b][i].item<double>(), r < 0.5 || r > 3.0 ? 0.0 : r, 1e-12) << b << i;
    }
  EXPECT_EQ(tm[0][1].item<double>(), 0.0);           // exp(-1.5) = 0.22 < 0.5: masked
  EXPECT_EQ(tm[1][1].item<double>(), 0.0);           // exp(2) = 7.4 > 3: masked
  EXPECT_NEAR(tt[1][2].item<double>(), 1.0, 1e-12);  // a padding slot's difference counts as 0

  at::Tensor st = rl::sampling_importance_ratio(old, samp, mask, M::kSequenceTruncate, lo, hi);
  at::Tensor sm = rl::sampling_importance_ratio(old, samp, mask, M::kSequenceMask, lo, hi);
  ASSERT_EQ(st.sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_NEAR(st[0][0].item<double>(), 0.5, 1e-12);  // exp(-0.8) = 0.45 -> clipped to 0.5
  EXPECT_NEAR(st[1][0].item<double>(), 3.0, 1e-12);  // exp(1.9) = 6.7 -> 3
  EXPECT_EQ(sm[0][0].item<double>(), 0.0);
  EXPECT_EQ(sm[1][0].item<double>(), 0.0);
  // No bounds: the plain ratios; only a lower bound in mask mode masks below it alone (TRL's clip_max null).
  at::Tensor free = rl::sampling_importance_ratio(old, samp, mask, M::kSequenceMask, std::nullopt, std::nullopt);
  EXPECT_NEAR(free[0][0].item<double>(), std::exp(seq[0]), 1e-12);
  EXPECT_NEAR(free[1][0].item<double>(), std::exp(seq[1]), 1e-12);
  at::Tensor low_only = rl::sampling_importance_ratio(old, samp, mask, M::kSequenceMask, 0.5, std::nullopt);
  EXPECT_EQ(low_only[0][0].item<double>(), 0.0);
  EXPECT_NEAR(low_only[1][0].item<double>(), std::exp(seq[1]), 1e-12);
  EXPECT_EQ(rl::parse_sampling_correction("token_mask"), M::kTokenMask);
  R1_EXPECT_THROW_WITH(rl::parse_sampling_correction("token"), r1::UsageError, "vllm_importance_sampling_mode");
}

TEST(GrpoSamplerCorrection, WeightsThePolicyTermOnlyAndMasksOffPolicySequences) {
  const at::Tensor logp = rows({{-1.0, -2.0, -0.5}, {-0.3, -1.2, -0.7}});
  const at::Tensor old = rows({{-1.5, -1.9, -0.2}, {-0.1, -1.6, 0.0}});
  const at::Tensor ref = rows({{-1.1, -2.5, -0.4}, {-0.2, -1.0, 0.0}});
  const at::Tensor samp = rows({{-0.2, -1.0, -0.1}, {-1.3, -0.2, 0.0}});
  const at::Tensor mask = rows({{1, 1, 1}, {1, 1, 0}});
  const at::Tensor adv = torch::tensor(std::vector<double>{0.7, -1.3}, torch::kDouble);
  rl::LossConfig c;
  c.beta = 0.04;
  c.epsilon_high = 0.28;
  const at::Tensor ratio =
      rl::sampling_importance_ratio(old, samp, mask, rl::SamplingCorrection::kTokenTruncate, std::nullopt, 3.0);
  const at::Tensor plain = rl::per_token_loss(c, logp, old, ref, adv, mask);
  const at::Tensor kl = c.beta * rl::per_token_kl(logp, ref);
  const at::Tensor weighted = rl::per_token_loss(c, logp, old, ref, adv, mask, {}, ratio);
  EXPECT_TRUE(torch::allclose(weighted, (plain - kl) * ratio + kl, 1e-12, 1e-12));

  // Off-policy mask: sequence 0 has A > 0 (kept whatever its KL); sequence 1 has A < 0 and mean
  // samp - logp = ((-1.3 + 0.3) + (-0.2 + 1.2)) / 2 = 0, kept at delta 0 and dropped at delta -0.1.
  at::Tensor keep = rl::off_policy_sequence_mask(adv, logp, samp, mask, 0.0);
  EXPECT_EQ(keep[0][0].item<double>(), 1.0);
  EXPECT_EQ(keep[1][0].item<double>(), 1.0);
  const at::Tensor samp_far = rows({{-0.2, -1.0, -0.1}, {-0.2, -0.2, 0.0}});  // mean KL (0.1 + 1.0) / 2 = 0.55
  keep = rl::off_policy_sequence_mask(adv, logp, samp_far, mask, 0.5);
  EXPECT_EQ(keep[0][0].item<double>(), 1.0);
  EXPECT_EQ(keep[1][0].item<double>(), 0.0);
  EXPECT_EQ(rl::off_policy_sequence_mask(adv, logp, samp_far, mask, 0.6)[1][0].item<double>(), 1.0);
  const at::Tensor masked = rl::per_token_loss(c, logp, old, ref, adv, mask, {}, {}, keep);
  EXPECT_TRUE(torch::allclose(masked[0], plain[0], 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(masked[1], kl[1], 1e-12, 1e-12));  // only the KL term is left

  // vespo takes the ratio into its sequence weight: log W += sum_t m log s_t, instead of multiplying the loss.
  rl::LossConfig v;
  v.type = rl::LossType::kVespo;
  at::Tensor phi = rl::vespo_weights(v, logp, old, adv, mask, ratio);
  for (int b = 0; b < 2; ++b) {
    double log_w = 0;
    for (int i = 0; i < 3; ++i)
      log_w += mask[b][i].item<double>() *
               (logp[b][i].item<double>() - old[b][i].item<double>() + std::log(ratio[b][i].item<double>()));
    const double k = b == 0 ? v.vespo_k_pos : v.vespo_k_neg, lambda = b == 0 ? v.vespo_lambda_pos : v.vespo_lambda_neg;
    EXPECT_NEAR(phi[b][0].item<double>(), std::exp(lambda + k * log_w - lambda * std::exp(log_w)), 1e-12) << b;
  }
}

// ---- on the tiny model ------------------------------------------------------------------------------------------

class GrpoOffPolicy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new r1::test::TempDir();
    r1::test::write_tiny_rl_fixture(dir_->path());
  }
  static void TearDownTestSuite() { delete dir_; }

  static GrpoOptions options(const std::string& out, const std::string& extra = "") {
    r1::Recipe recipe = r1::Recipe::parse(
        "model_name_or_path: " + (*dir_ / "model").string() + "\ndataset_name: " + (*dir_ / "prompts.jsonl").string() +
            "\noutput_dir: " + (*dir_ / out).string() +
            "\nchat_template: none\nnum_generations: 8\nper_device_train_batch_size: 16\n"
            "gradient_accumulation_steps: 2\nmax_completion_length: 16\nmax_prompt_length: 32\n"
            "learning_rate: 0.01\nlr_scheduler_type: constant\nlogging_steps: 1\nbeta: 0.0\n"
            "reward_funcs: [soft_overlong_punishment]\n"
            "reward_kwargs: {soft_overlong_punishment: {max_completion_len: 16, soft_punish_cache: 12}}\n" +
            (extra.find("save_steps:") == std::string::npos ? "save_steps: 1000\n" : "") + extra,
        "test");
    return GrpoOptions::from_recipe(recipe);
  }

  static std::vector<nlohmann::json> jsonl(const fs::path& file) {
    std::vector<nlohmann::json> out;
    r1::JsonlReader reader(file);
    nlohmann::json row;
    while (reader.next(row)) out.push_back(row);
    return out;
  }
  static std::vector<nlohmann::json> metrics(const std::string& out) {
    std::vector<nlohmann::json> train;
    for (auto& r : jsonl(*dir_ / out / "metrics.jsonl"))
      if (r.contains("loss")) train.push_back(r);
    return train;
  }

  static r1::test::TempDir* dir_;
};
r1::test::TempDir* GrpoOffPolicy::dir_ = nullptr;

TEST_F(GrpoOffPolicy, PackedScoringEqualsThePaddedBatch) {
  r1::model::Transformer model = r1::model::load_pretrained(*dir_ / "model");
  std::mt19937 rng(5);
  std::vector<std::vector<int32_t>> p, c;
  // Sequences of 43, 12, 11, 27 and 22 tokens (one completion empty): rows of 43 hold [43], [27 12], [22 11].
  const size_t completion_lengths[5] = {40, 5, 0, 12, 3};
  for (int i = 0; i < 5; ++i) {
    std::vector<int32_t> a(size_t(3 + 4 * i)), b(completion_lengths[i]);
    for (auto& x : a) x = int32_t(rng() % 290);
    for (auto& x : b) x = int32_t(rng() % 290);
    p.push_back(a);
    c.push_back(b);
  }
  rl::TokenRows prompts, completions;
  for (size_t i = 0; i < p.size(); ++i) prompts.push_back(&p[i]), completions.push_back(&c[i]);
  auto run = [&](bool packed) {
    model->zero_grad();
    rl::Scored s = rl::score_completions(*model, prompts, completions, 0.7, 0, true, true, packed);
    ((s.logp * s.mask * torch::linspace(-1, 1, s.logp.size(1))).sum() + 0.1 * (s.entropy * s.mask).sum()).backward();
    std::vector<at::Tensor> grads;
    for (const auto& q : model->parameters()) grads.push_back(q.grad().clone());
    return std::make_pair(s, grads);
  };
  auto [padded, g_padded] = run(false);
  auto [packed, g_packed] = run(true);
  ASSERT_EQ(packed.logp.sizes(), padded.logp.sizes());
  EXPECT_TRUE(torch::equal(packed.mask, padded.mask));
  EXPECT_TRUE(torch::allclose(packed.logp, padded.logp, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(packed.entropy, padded.entropy, 1e-5, 1e-5));
  for (size_t i = 0; i < g_padded.size(); ++i)
    EXPECT_TRUE(torch::allclose(g_packed[i], g_padded[i], 1e-4, 1e-6)) << "parameter " << i;
  EXPECT_EQ(packed.tokens, 3 * 43);  // three rows instead of five
  EXPECT_EQ(padded.tokens, 5 * 43);
}

TEST_F(GrpoOffPolicy, TopPTruncationMovesTheSamplerAndTheCorrectionUsesIt) {
  r1::model::Transformer model = r1::model::load_pretrained(*dir_ / "model");
  r1::engine::EngineOptions eo;
  eo.max_batch = 8;
  eo.max_seq_len = 64;
  r1::engine::Engine engine(model, eo);
  r1::engine::Request request;
  request.prompt = {5, 17, 42, 9};
  request.n = 8;
  request.params.temperature = 1.0;
  request.params.top_p = 0.6;
  request.params.max_new_tokens = 16;
  request.params.ignore_eos = true;
  request.params.seed = 11;
  std::vector<r1::engine::Result> results = engine.generate({request});
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::vector<float>> raw, sampled;
  for (const auto& s : results[0].samples)
    tokens.push_back(s.tokens), raw.push_back(s.raw_logprobs), sampled.push_back(s.logprobs);
  // The learner's log-probs are the unprocessed ones (the engine's raw_logprobs, fp32 on this CPU).
  std::vector<int32_t> prompt = request.prompt;
  rl::TokenRows prompts(tokens.size(), &prompt), completions;
  std::vector<const std::vector<float>*> samp_rows;
  for (size_t i = 0; i < tokens.size(); ++i) completions.push_back(&tokens[i]), samp_rows.push_back(&sampled[i]);
  rl::Scored s = [&] {
    torch::NoGradGuard no_grad;
    return rl::score_completions(*model, prompts, completions, 1.0, 0, false);
  }();
  const at::Tensor samp = rl::floats_to_tensor(samp_rows, s.logp.size(1));
  size_t truncated = 0, total = 0;
  for (size_t i = 0; i < tokens.size(); ++i)
    for (size_t t = 0; t < tokens[i].size(); ++t) {
      EXPECT_NEAR(s.logp[int64_t(i)][int64_t(t)].item<float>(), raw[i][t], 1e-4);
      // Renormalised over the kept nucleus: log p_sampled = log p - log(kept mass) >= log p.
      EXPECT_GE(sampled[i][t], raw[i][t] - 1e-6f);
      truncated += sampled[i][t] > raw[i][t] + 1e-4f;
      ++total;
    }
  ASSERT_GT(truncated, total / 4) << "top-p 0.6 should truncate most steps of a random model";
  const at::Tensor ratio =
      rl::sampling_importance_ratio(s.logp, samp, s.mask, rl::SamplingCorrection::kTokenTruncate, std::nullopt, 3.0);
  for (size_t i = 0; i < tokens.size(); ++i)
    for (size_t t = 0; t < tokens[i].size(); ++t) {
      const double r = ratio[int64_t(i)][int64_t(t)].item<double>();
      EXPECT_NEAR(r, std::exp(double(s.logp[int64_t(i)][int64_t(t)].item<float>()) - sampled[i][t]), 1e-5);
      if (sampled[i][t] > raw[i][t] + 1e-4f) {
        EXPECT_LT(r, 1.0);  // kept mass < 1: down-weighted
      }
    }

  // The same in a run: with top_p the ratio statistics sit below 1; without truncation (fp32) they are 1.
  r1::train::grpo(options("top-p",
                          "max_steps: 1\ntop_p: 0.6\nvllm_importance_sampling_correction: true\n"
                          "vllm_importance_sampling_mode: token_truncate\n"));
  r1::train::grpo(options("no-top-p",
                          "max_steps: 1\nvllm_importance_sampling_correction: true\n"
                          "vllm_importance_sampling_mode: token_truncate\n"));
  const auto t = metrics("top-p")[0], n = metrics("no-top-p")[0];
  EXPECT_LT(t["sampling/importance_sampling_ratio/mean"].get<double>(), 0.95);
  EXPECT_LE(t["sampling/importance_sampling_ratio/max"].get<double>(), 1.0 + 1e-5);
  EXPECT_GT(t["sampling/sampling_logp_difference/max"].get<double>(), 0.1);
  EXPECT_NEAR(n["sampling/importance_sampling_ratio/min"].get<double>(), 1.0, 1e-4);
  EXPECT_NEAR(n["sampling/importance_sampling_ratio/max"].get<double>(), 1.0, 1e-4);
  EXPECT_LT(n["sampling/sampling_logp_difference/max"].get<double>(), 1e-4);
  EXPECT_EQ(t["sampling/is_masked_fraction"].get<double>(), 0.0);  // truncate modes mask nothing
}

TEST_F(GrpoOffPolicy, MaskModesAndTheOffPolicyMaskLogWhatTheyDrop) {
  // top_p 0.6 with sequence_mask and C_min 0.5: a 16-token truncated sequence's ratio is far below 0.5.
  r1::train::grpo(options("seq-mask",
                          "max_steps: 1\ntop_p: 0.6\nvllm_importance_sampling_correction: true\n"
                          "vllm_importance_sampling_clip_min: 0.5\noff_policy_mask_threshold: 0.0\n"));
  const auto m = metrics("seq-mask")[0];
  EXPECT_GT(m["sampling/is_masked_fraction"].get<double>(), 0.5);
  EXPECT_LE(m["sampling/is_masked_fraction"].get<double>(), 1.0);
  EXPECT_EQ(m["sampling/importance_sampling_ratio/min"].get<double>(), 0.0);
  // Completions with A < 0 are dropped at delta 0 (their sampler log-probs are higher than the learner's); how many
  // depends on the rewards (the unit test above pins the rule).
  EXPECT_GE(m["off_policy_mask/masked_fraction"].get<double>(), 0.0);
  EXPECT_LE(m["off_policy_mask/masked_fraction"].get<double>(), 1.0);
  EXPECT_TRUE(std::isfinite(m["loss"].get<double>()));
}

TEST_F(GrpoOffPolicy, StepsPerGenerationServesSeveralOptimizerSteps) {
  // steps_per_generation 4 with 2 accumulation steps: one generation of 64 completions, 2 optimizer steps.
  r1::train::grpo(options("spg", "max_steps: 4\nsteps_per_generation: 4\nlog_completions: true\n"));
  const auto rows = metrics("spg");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_TRUE(rows[0].contains("reward"));
  EXPECT_FALSE(rows[1].contains("reward"));  // no generation at step 2
  EXPECT_TRUE(rows[2].contains("reward"));
  std::map<int64_t, int64_t> per_step;
  for (auto& r : jsonl(*dir_ / "spg" / "completions.jsonl")) ++per_step[r["step"].get<int64_t>()];
  EXPECT_EQ(per_step, (std::map<int64_t, int64_t>{{1, 64}, {3, 64}}));
  // The second step of a generation trains off-policy: its ratio moved off 1 after the first update.
  EXPECT_GT(rows[1]["clip_ratio/region_mean"].get<double>() + rows[1]["logprob_max_abs_diff"].get<double>(), 0.0);

  // generation_batch_size 64 is the same run; resuming between the two steps of a generation is exact.
  r1::train::grpo(options("gbs", "max_steps: 2\ngeneration_batch_size: 64\n"));
  r1::train::grpo(options("spg-split", "max_steps: 1\nsteps_per_generation: 4\nsave_steps: 1\n"));
  r1::train::grpo(options("spg-split", "max_steps: 2\nsteps_per_generation: 4\nresume_from_checkpoint: true\n"));
  r1::train::grpo(options("spg-whole", "max_steps: 2\nsteps_per_generation: 4\n"));
  const std::string whole = r1::test::read_bytes(*dir_ / "spg-whole" / "model.safetensors");
  EXPECT_EQ(r1::test::read_bytes(*dir_ / "gbs" / "model.safetensors"), whole);
  EXPECT_EQ(r1::test::read_bytes(*dir_ / "spg-split" / "model.safetensors"), whole);
  EXPECT_EQ(metrics("spg-split")[1]["loss"], metrics("spg-whole")[1]["loss"]);

  R1_EXPECT_THROW_WITH(options("x", "steps_per_generation: 4\ngeneration_batch_size: 64\n"), r1::UsageError,
                       "mutually exclusive");
  R1_EXPECT_THROW_WITH(options("x", "steps_per_generation: 3\n"), r1::UsageError, "multiple of");
  R1_EXPECT_THROW_WITH(options("x", "generation_batch_size: 40\n"), r1::UsageError, "generation_batch_size");
}

TEST_F(GrpoOffPolicy, CorrectionAcrossStepsUsesTheLearnersOldLogprobs) {
  // Two steps per generation with the correction: the old log-probs come from a learner forward at generation
  // time, so the first step's ratio statistics are those of the sampler alone (1 in fp32 without truncation).
  r1::train::grpo(options("spg-is",
                          "max_steps: 2\nsteps_per_generation: 4\nvllm_importance_sampling_correction: "
                          "true\nvllm_importance_sampling_mode: token_mask\n"));
  const auto rows = metrics("spg-is");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_NEAR(r["sampling/importance_sampling_ratio/mean"].get<double>(), 1.0, 1e-4);
    EXPECT_EQ(r["sampling/is_masked_fraction"].get<double>(), 0.0);
  }
  EXPECT_NEAR(rows[0]["clip_ratio/region_mean"].get<double>(), 0.0, 1e-12);  // step 1: on-policy, ratio 1
}

TEST_F(GrpoOffPolicy, AdaptiveEntropyMovesTheCoefficientAndResumes) {
  // entropy_target far above any entropy: the bonus applies and the coefficient grows by delta per step, capped.
  r1::train::grpo(options("ae-up",
                          "max_steps: 3\nuse_adaptive_entropy: true\nentropy_coef: 0.01\n"
                          "entropy_coef_delta: 0.02\nentropy_coef_max: 0.04\nentropy_target: 100\n"));
  auto up = metrics("ae-up");
  ASSERT_EQ(up.size(), 3u);
  EXPECT_NEAR(up[0]["entropy_coef"].get<double>(), 0.03, 1e-12);
  EXPECT_NEAR(up[1]["entropy_coef"].get<double>(), 0.04, 1e-12);
  EXPECT_NEAR(up[2]["entropy_coef"].get<double>(), 0.04, 1e-12);
  // A target of 0: it shrinks to entropy_coef_min, and the bonus never applies (entropy > 0): the run trains as
  // one without a bonus.
  r1::train::grpo(options("ae-down",
                          "max_steps: 2\nuse_adaptive_entropy: true\nentropy_coef: 0.01\n"
                          "entropy_coef_delta: 0.02\nentropy_target: 0\n"));
  auto down = metrics("ae-down");
  EXPECT_NEAR(down[0]["entropy_coef"].get<double>(), 0.0, 1e-12);
  r1::train::grpo(options("no-bonus", "max_steps: 2\n"));
  const auto plain = metrics("no-bonus");
  for (size_t i = 0; i < 2; ++i)
    EXPECT_NEAR(down[i]["loss"].get<double>(), plain[i]["loss"].get<double>(), 1e-6) << "step " << i + 1;
  // The coefficient and the last entropy are part of the checkpoint.
  const std::string up_extra =
      "use_adaptive_entropy: true\nentropy_coef: 0.01\nentropy_coef_delta: 0.02\nentropy_coef_max: 0.04\n"
      "entropy_target: 100\n";
  r1::train::grpo(options("ae-split", "max_steps: 2\nsave_steps: 2\n" + up_extra));
  r1::train::grpo(options("ae-split", "max_steps: 3\nresume_from_checkpoint: true\n" + up_extra));
  EXPECT_EQ(r1::test::read_bytes(*dir_ / "ae-split" / "model.safetensors"),
            r1::test::read_bytes(*dir_ / "ae-up" / "model.safetensors"));
  EXPECT_EQ(metrics("ae-split")[2]["entropy_coef"], up[2]["entropy_coef"]);
}

TEST_F(GrpoOffPolicy, Bf16SamplingLogsTheRatioStatistics) {
  // bf16: the engine samples in bf16, the learner runs under bf16 autocast; the two differ and the run logs by how
  // much. sequence_mask with TRL's [-, 3] bounds.
  r1::train::grpo(options("bf16", "max_steps: 2\nbf16: true\nvllm_importance_sampling_correction: true\n"));
  for (const auto& r : metrics("bf16")) {
    for (const char* key : {"sampling/importance_sampling_ratio/min", "sampling/importance_sampling_ratio/mean",
                            "sampling/importance_sampling_ratio/max", "sampling/sampling_logp_difference/mean",
                            "sampling/sampling_logp_difference/max", "sampling/is_masked_fraction"}) {
      ASSERT_TRUE(r.contains(key)) << key;
      EXPECT_TRUE(std::isfinite(r[key].get<double>())) << key;
    }
    EXPECT_LE(r["sampling/importance_sampling_ratio/min"].get<double>(),
              r["sampling/importance_sampling_ratio/max"].get<double>());
    EXPECT_GE(r["sampling/is_masked_fraction"].get<double>(), 0.0);
  }
}

TEST_F(GrpoOffPolicy, OptionsAreValidatedByName) {
  R1_EXPECT_THROW_WITH(options("x", "vllm_importance_sampling_mode: sequence\n"), r1::UsageError,
                       "vllm_importance_sampling_mode");
  R1_EXPECT_THROW_WITH(options("x", "vllm_importance_sampling_clip_max: -1\n"), r1::UsageError,
                       "vllm_importance_sampling_clip_max");
  R1_EXPECT_THROW_WITH(options("x", "vllm_importance_sampling_clip_min: 4\n"), r1::UsageError,
                       "vllm_importance_sampling_clip_min");
  R1_EXPECT_THROW_WITH(options("x", "loss_type: vespo\nvllm_importance_sampling_correction: true\n"), r1::UsageError,
                       "vespo");
  R1_EXPECT_THROW_WITH(options("x", "off_policy_mask_threshold: -0.5\n"), r1::UsageError, "off_policy_mask_threshold");
  R1_EXPECT_THROW_WITH(options("x", "use_adaptive_entropy: true\nentropy_coef_min: 2\n"), r1::UsageError,
                       "use_adaptive_entropy");
  GrpoOptions o = options("x", "vllm_importance_sampling_clip_max: null\npacking: true\n");
  EXPECT_FALSE(o.vllm_importance_sampling_clip_max.has_value());
  EXPECT_TRUE(o.to_json()["packing"].get<bool>());
  EXPECT_EQ(GrpoOptions().vllm_importance_sampling_clip_max, 3.0);  // TRL's default
}
