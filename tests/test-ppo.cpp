// PPO (r1 ppo): its arithmetic against float64 references and hand values (GAE, whitening, KL estimators, the
// clipped losses), and runs on a tiny model: TRL's metrics, the value model saved beside the policy, a reward model
// as the reward (and the value model's start), and resume inside a rollout.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "common/jsonl.h"
#include "r1/error.h"
#include "r1/model.h"
#include "r1/recipe.h"
#include "r1/train.h"
#include "rl-fixture.h"
#include "test-helpers.h"
#include "train/ppo-math.h"

namespace {
namespace fs = std::filesystem;
namespace rl = r1::train::rl;
using r1::train::PpoOptions;

// ---- arithmetic ---------------------------------------------------------------------------------------------------

// GAE from its definition, A_t = sum_{l >= 0} (gamma lam)^l delta_{t+l}, in float64: a different algorithm from the
// implementation's backward recursion.
std::vector<std::vector<double>> gae_reference(const std::vector<std::vector<double>>& r,
                                               const std::vector<std::vector<double>>& v, double gamma, double lam) {
  std::vector<std::vector<double>> out;
  for (size_t b = 0; b < r.size(); ++b) {
    const size_t n = r[b].size();
    std::vector<double> delta(n), adv(n, 0.0);
    for (size_t t = 0; t < n; ++t) delta[t] = r[b][t] + gamma * (t + 1 < n ? v[b][t + 1] : 0.0) - v[b][t];
    for (size_t t = 0; t < n; ++t)
      for (size_t l = 0; t + l < n; ++l) adv[t] += std::pow(gamma * lam, double(l)) * delta[t + l];
    out.push_back(adv);
  }
  return out;
}

TEST(PpoMath, GaeMatchesAFloat64Reference) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  const std::vector<size_t> lengths = {5, 1, 8, 3};
  const int64_t L = 8;
  std::vector<std::vector<double>> r, v;
  at::Tensor rewards = at::zeros({4, L}), values = at::zeros({4, L}), mask = at::zeros({4, L});
  for (size_t b = 0; b < lengths.size(); ++b) {
    r.emplace_back();
    v.emplace_back();
    for (size_t t = 0; t < lengths[b]; ++t) {
      r[b].push_back(float(normal(rng)));
      v[b].push_back(float(normal(rng)));
      rewards[int64_t(b)][int64_t(t)] = r[b][t];
      values[int64_t(b)][int64_t(t)] = v[b][t];
      mask[int64_t(b)][int64_t(t)] = 1;
    }
    for (int64_t t = int64_t(lengths[b]); t < L; ++t) {  // garbage past the end must not leak in
      rewards[int64_t(b)][t] = 100.0;
      values[int64_t(b)][t] = -100.0;
    }
  }
  for (auto [gamma, lam] : {std::pair{0.9, 0.8}, std::pair{1.0, 0.95}, std::pair{0.5, 1.0}}) {
    rl::Gae g = rl::generalized_advantages(rewards, values, mask, gamma, lam);
    const auto expected = gae_reference(r, v, gamma, lam);
    for (size_t b = 0; b < lengths.size(); ++b)
      for (int64_t t = 0; t < L; ++t) {
        const bool in = size_t(t) < lengths[b];
        const double a = in ? expected[b][size_t(t)] : 0.0;
        EXPECT_NEAR(g.advantages[int64_t(b)][t].item<double>(), a, 1e-5) << b << "," << t << " gamma " << gamma;
        EXPECT_NEAR(g.returns[int64_t(b)][t].item<double>(), in ? a + v[b][size_t(t)] : 0.0, 1e-5);
      }
  }
}

TEST(PpoMath, WhiteningAndKlEstimatorsByHand) {
  at::Tensor x = torch::tensor({{1.0, 2.0, 9.0}, {3.0, 7.0, 9.0}}, torch::kDouble);
  at::Tensor mask = torch::tensor({{1.0, 1.0, 0.0}, {1.0, 1.0, 1.0}}, torch::kDouble);
  // masked values 1 2 3 7 9: mean 4.4, unbiased variance (11.56 + 5.76 + 1.96 + 6.76 + 21.16) / 4 = 11.8
  const double mean = 4.4, sd = std::sqrt(11.8 + 1e-8);
  at::Tensor w = rl::masked_whiten(x, mask, true);
  EXPECT_NEAR(w[0][0].item<double>(), (1 - mean) / sd, 1e-12);
  EXPECT_NEAR(w[1][2].item<double>(), (9 - mean) / sd, 1e-12);
  EXPECT_EQ(w[0][2].item<double>(), 0.0);
  EXPECT_NEAR(rl::masked_whiten(x, mask, false)[1][1].item<double>(), (7 - mean) / sd + mean, 1e-12);
  // one masked value: left alone (TRL would divide by zero)
  at::Tensor one = torch::tensor({{1.0, 0.0}}, torch::kDouble);
  EXPECT_EQ(rl::masked_whiten(x.narrow(0, 0, 1).narrow(1, 0, 2), one, true)[0][0].item<double>(), 1.0);

  at::Tensor old_logp = torch::tensor({-1.0, -2.0}, torch::kDouble), ref = torch::tensor({-1.5, -1.0}, torch::kDouble);
  at::Tensor k1 = rl::kl_estimate(old_logp, ref, rl::KlEstimator::kK1);
  at::Tensor k3 = rl::kl_estimate(old_logp, ref, rl::KlEstimator::kK3);
  EXPECT_NEAR(k1[0].item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(k1[1].item<double>(), -1.0, 1e-12);
  EXPECT_NEAR(k3[0].item<double>(), std::exp(-0.5) - 1 + 0.5, 1e-12);
  EXPECT_NEAR(k3[1].item<double>(), std::exp(1.0) - 1 - 1.0, 1e-12);
  EXPECT_THROW(rl::parse_kl_estimator("k2"), r1::UsageError);
}

TEST(PpoMath, ClippedPolicyAndValueLossesByHand) {
  // token 0: ratio e^0.5 > 1.2 with A > 0 (clipped); token 1: ratio e^-0.5 < 0.8 with A < 0 (clipped); token 2:
  // ratio 1; token 3 masked.
  at::Tensor logp = torch::tensor({{0.5, -0.5, 0.0, 3.0}}, torch::kDouble).requires_grad_();
  at::Tensor old = torch::zeros({1, 4}, torch::kDouble);
  at::Tensor adv = torch::tensor({{1.0, -2.0, 0.5, 9.0}}, torch::kDouble);
  at::Tensor values = torch::tensor({{1.0, 0.0, 0.3, 5.0}}, torch::kDouble).requires_grad_();
  at::Tensor old_values = torch::tensor({{0.0, 0.0, 0.5, 0.0}}, torch::kDouble);
  at::Tensor returns = torch::tensor({{2.0, 1.0, 0.0, 0.0}}, torch::kDouble);
  at::Tensor mask = torch::tensor({{1.0, 1.0, 1.0, 0.0}}, torch::kDouble);
  rl::PpoLoss l = rl::ppo_loss(logp, values, old, old_values, adv, returns, mask, 0.2, 0.2);
  const double r0 = std::exp(0.5), r1v = std::exp(-0.5);
  // max(-A r, -A clip(r)): token 0 -min(1.65, 1.2) = -1.2; token 1: max(2 r1, 2 * 0.8) = 1.6; token 2: -0.5
  (void)r0;
  EXPECT_NEAR(l.pg_loss.item<double>(), (-1.2 + std::max(2 * r1v, 1.6) - 0.5) / 3, 1e-12);
  // values: token 0 V 1, clipped 0.2, R 2: max(1, 3.24) = 3.24; token 1 V 0 (no clip), R 1: 1; token 2 V 0.3
  // clipped 0.3, R 0: 0.09
  EXPECT_NEAR(l.vf_loss.item<double>(), 0.5 * (3.24 + 1.0 + 0.09) / 3, 1e-12);
  EXPECT_NEAR(l.pg_clipfrac, 2.0 / 3, 1e-12);  // tokens 0 and 1 take the clipped branch
  EXPECT_NEAR(l.vf_clipfrac, 1.0 / 3, 1e-12);  // token 0
  EXPECT_NEAR(l.approxkl, 0.5 * (0.25 + 0.25) / 3, 1e-12);
  (l.pg_loss + l.vf_loss).backward();
  EXPECT_EQ(logp.grad()[0][0].item<double>(), 0.0);  // clipped: no gradient
  EXPECT_NEAR(logp.grad()[0][2].item<double>(), -0.5 / 3, 1e-12);
  EXPECT_EQ(values.grad()[0][0].item<double>(), 0.0);  // the clipped value branch has no gradient in V
  EXPECT_EQ(logp.grad()[0][3].item<double>(), 0.0);
}

// ---- runs on a tiny model -----------------------------------------------------------------------------------------

class PpoRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new r1::test::TempDir();
    r1::test::write_tiny_rl_fixture(dir_->path());
  }
  static void TearDownTestSuite() { delete dir_; }

  // Reward: DAPO's soft overlong punishment (shorter is better past 4 tokens), which a random model can improve on.
  static PpoOptions options(const std::string& out, const std::string& extra = "") {
    const bool own_reward = extra.find("reward_model_path:") != std::string::npos;
    r1::Recipe recipe = r1::Recipe::parse(
        "model_name_or_path: " + (*dir_ / "model").string() + "\ndataset_name: " + (*dir_ / "prompts.jsonl").string() +
            "\noutput_dir: " + (*dir_ / out).string() +
            "\nchat_template: none\nper_device_train_batch_size: 8\ngradient_accumulation_steps: 2\n"
            "response_length: 16\nmax_prompt_length: 32\ntemperature: 1.0\n"
            "learning_rate: 0.01\nlr_scheduler_type: constant\nlogging_steps: 1\nsave_steps: 1000\n" +
            (own_reward
                 ? std::string()
                 : "reward_funcs: [soft_overlong_punishment]\n"
                   "reward_kwargs: {soft_overlong_punishment: {max_completion_len: 16, soft_punish_cache: 12}}\n") +
            extra,
        "test");
    return PpoOptions::from_recipe(recipe);
  }

  static std::vector<nlohmann::json> metrics(const std::string& out) {
    return r1::test::read_jsonl(*dir_ / out / "metrics.jsonl");
  }

  static r1::test::TempDir* dir_;
};
r1::test::TempDir* PpoRun::dir_ = nullptr;

TEST_F(PpoRun, TwoStepsLogTrlMetricsAndSaveTheValueModel) {
  r1::train::TrainResult result = r1::train::ppo(options("two",
                                                         "max_steps: 2\nnum_ppo_epochs: 2\nkl_coef: 0.05\n"
                                                         "missing_eos_penalty: 1.0\nlog_completions: true\n"));
  EXPECT_EQ(result.global_step, 2);
  auto rows = metrics("two");
  ASSERT_EQ(rows.size(), 2u);
  // the first step of a rollout is on-policy: the engine's log-probs are the training forward's
  EXPECT_NEAR(rows[0]["val/ratio"].get<double>(), 1.0, 1e-5);
  EXPECT_NEAR(rows[0]["policy/approxkl_avg"].get<double>(), 0.0, 1e-8);
  EXPECT_EQ(rows[0]["policy/clipfrac_avg"].get<double>(), 0.0);
  EXPECT_NE(rows[1]["val/ratio"].get<double>(), 1.0);  // the second epoch sees the updated policy
  for (const char* key :
       {"objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "objective/scores",
        "loss/policy_avg", "loss/value_avg", "val/clipfrac_avg", "policy/entropy_avg", "val/num_eos_tokens", "reward",
        "rewards/soft_overlong_punishment/mean", "completions/mean_length", "time/sampling", "time/learning"})
    EXPECT_TRUE(rows[0].contains(key)) << key;
  EXPECT_FALSE(rows[1].contains("objective/scores"));  // one rollout: its numbers on the step that made it
  EXPECT_EQ(r1::test::read_jsonl(*dir_ / "two" / "completions.jsonl").size(), 16u);
  // the value model: a one-label classifier on its own trunk, trained (its head moved from the fresh init)
  r1::model::Transformer value = r1::model::load_pretrained(*dir_ / "two" / "value_model");
  EXPECT_TRUE(value->config().is_classifier());
  EXPECT_EQ(value->config().num_labels, 1);
  r1::model::Transformer policy = r1::model::load_pretrained(*dir_ / "two");
  r1::model::Transformer initial = r1::model::load_pretrained(*dir_ / "model");
  EXPECT_FALSE(policy->weights().embed.equal(initial->weights().embed));
  EXPECT_FALSE(value->weights().embed.equal(initial->weights().embed));
  EXPECT_TRUE(fs::exists(*dir_ / "two" / "checkpoint-2" / "value_model.safetensors"));
}

TEST_F(PpoRun, ResumeInsideARolloutIsExact) {
  // 2 epochs x 2 mini-batches per rollout; k3 KL and whitened rewards; the checkpoint after step 3 is mid-rollout.
  const std::string extra =
      "num_ppo_epochs: 2\nnum_mini_batches: 2\nkl_coef: 0.1\nkl_estimator: k3\nwhiten_rewards: true\n"
      "gamma: 0.9\nlam: 0.8\n";
  r1::train::ppo(options("whole", extra + "max_steps: 5\n"));
  r1::train::ppo(options("split", extra + "max_steps: 3\n"));
  r1::train::ppo(options("split", extra + "max_steps: 5\nresume_from_checkpoint: true\n"));
  EXPECT_EQ(r1::test::read_bytes(*dir_ / "whole" / "model.safetensors"),
            r1::test::read_bytes(*dir_ / "split" / "model.safetensors"));
  EXPECT_EQ(r1::test::read_bytes(*dir_ / "whole" / "value_model" / "model.safetensors"),
            r1::test::read_bytes(*dir_ / "split" / "value_model" / "model.safetensors"));
  auto a = metrics("whole"), b = metrics("split");
  ASSERT_EQ(a.size(), 5u);
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(a[3]["loss"], b[3]["loss"]);
  EXPECT_EQ(a[4]["objective/kl"], b[4]["objective/kl"]);
  EXPECT_GT(a[4]["objective/kl"].get<double>(), 0.0);
}

TEST_F(PpoRun, TwentyStepsRaiseTheMeanScore) {
  r1::train::ppo(options("learn", "max_steps: 20\nnum_ppo_epochs: 1\nkl_coef: 0.0\nvf_coef: 0.5\n"));
  auto rows = metrics("learn");
  ASSERT_EQ(rows.size(), 20u);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += rows[size_t(i)]["objective/scores"].get<double>() / 5;
  for (int i = 15; i < 20; ++i) last += rows[size_t(i)]["objective/scores"].get<double>() / 5;
  EXPECT_GT(last, first + 0.2) << "mean score of the first 5 steps " << first << ", last 5 " << last;
}

TEST_F(PpoRun, ARewardModelScoresAndStartsTheValueModel) {
  // A reward model with the policy's vocabulary: the tiny model's trunk under a fresh one-label head.
  const fs::path rm = *dir_ / "rm";
  torch::manual_seed(11);
  r1::model::Transformer classifier = r1::model::load_pretrained(*dir_ / "model", {.num_labels = 1});
  r1::model::save_pretrained(*classifier, rm, {.overwrite = true});
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(*dir_ / "model" / f, rm / f, fs::copy_options::overwrite_existing);
  r1::train::ppo(options("rm-run", "reward_model_path: " + rm.string() + "\nmax_steps: 1\nnum_ppo_epochs: 1\n"));
  auto rows = metrics("rm-run");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].contains("rewards/rm/mean"));
  // the value model started from the reward model: its head moved by one step from the reward model's
  r1::model::Transformer value = r1::model::load_pretrained(*dir_ / "rm-run" / "value_model");
  const double moved = (value->weights().embed - classifier->weights().embed).abs().max().item<double>();
  EXPECT_GT(moved, 0.0);
  EXPECT_LT(moved, 0.05);  // one AdamW step at lr 0.01 moves each weight by about lr
}

TEST(PpoOptionsTest, ValidationNamesTheKey) {
  auto parse = [](const std::string& text) { return PpoOptions::from_recipe(r1::Recipe::parse(text, "test")); };
  const std::string base = "model_name_or_path: m\ndataset_name: d.jsonl\noutput_dir: o\n";
  R1_EXPECT_THROW_WITH(parse(base), r1::UsageError, "reward_model_path");
  R1_EXPECT_THROW_WITH(parse(base + "reward_model_path: rm\nreward_funcs: [format]\n"), r1::UsageError, "not both");
  R1_EXPECT_THROW_WITH(parse(base + "reward_funcs: [format]\nkl_estimator: k2\n"), r1::UsageError, "kl_estimator");
  R1_EXPECT_THROW_WITH(parse(base + "reward_funcs: [format]\nnum_ppo_epochs: 0\n"), r1::UsageError, "num_ppo_epochs");
  R1_EXPECT_THROW_WITH(parse(base + "reward_funcs: [format]\nlam: 1.5\n"), r1::UsageError, "lam");
  R1_EXPECT_THROW_WITH(parse(base + "reward_funcs: [format]\nvalue_head: x\n"), r1::UsageError, "value_head");
  // total_episodes: 100 completions in rollouts of 8 x 2 x 2 = 32 -> 4 rollouts of 2 x 2 optimizer steps
  PpoOptions o = parse(base +
                       "reward_funcs: [format]\ntotal_episodes: 100\nper_device_train_batch_size: 8\n"
                       "gradient_accumulation_steps: 2\nnum_mini_batches: 2\nnum_ppo_epochs: 2\n");
  EXPECT_EQ(o.training.max_steps, 16);
  EXPECT_EQ(PpoOptions::from_recipe(r1::Recipe::parse(r1::to_yaml(o.to_json()), "dump")).training.max_steps, 16);
  EXPECT_DOUBLE_EQ(parse(base + "reward_funcs: [format]\n").training.learning_rate, 3e-6);
}

}  // namespace
