// GRPO (src/train/grpo*.cpp): advantages of hand-made reward groups (zero-variance groups, the three
// scale_rewards modes, RLOO and REINFORCE++-baseline by hand, groups of 2, the k1 KL in the reward), the per-token
// clipped loss with the k3 KL and each loss_type's aggregation against values computed here by hand, the first-step
// loss of `grpo` at mu = 1 and beta = 0 (exactly 0: group-mean advantages cancel), on-policy log-probs (engine vs
// training forward), a short run that raises the mean reward, short runs with each advantage_estimator (and the KL
// in the reward) checked against their logged rewards, exact resume in the middle of a generation batch
// (num_iterations 2) and with a synced reference, the built-in task, option validation, and the demo pipeline at toy
// sizes (stages skipped on re-run, same seed -> same numbers).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "common/jsonl.h"
#include "r1/demo.h"
#include "r1/error.h"
#include "r1/model.h"
#include "r1/recipe.h"
#include "r1/synthetic-tasks.h"
#include "r1/tokenizer.h"
#include "r1/train.h"
#include "r1/verify.h"
#include "rl-fixture.h"
#include "test-helpers.h"
#include "train/grpo-advantages.h"
#include "train/grpo-loss.h"

namespace fs = std::filesystem;
using namespace r1::train;

namespace {

TEST(GrpoAdvantages, GroupScalingAndZeroVarianceGroups) {
  const std::vector<double> rewards = {1, 0, 1, 0, 2, 2, 2, 2};
  auto a = rl::group_advantages(rewards, 4, rl::ScaleRewards::kGroup);
  const double std1 = std::sqrt(4 * 0.25 / 3);  // unbiased
  EXPECT_NEAR(a.advantages[0], 0.5 / (std1 + 1e-4), 1e-12);
  EXPECT_NEAR(a.advantages[1], -0.5 / (std1 + 1e-4), 1e-12);
  for (int i = 4; i < 8; ++i) EXPECT_EQ(a.advantages[size_t(i)], 0.0);
  EXPECT_DOUBLE_EQ(a.frac_zero_std, 0.5);

  auto none = rl::group_advantages(rewards, 4, rl::ScaleRewards::kNone);
  EXPECT_DOUBLE_EQ(none.advantages[0], 0.5);
  EXPECT_DOUBLE_EQ(none.advantages[3], -0.5);
  EXPECT_DOUBLE_EQ(none.advantages[5], 0.0);

  auto batch = rl::group_advantages(rewards, 4, rl::ScaleRewards::kBatch);
  double mean = 10.0 / 8, ss = 0;
  for (double r : rewards) ss += (r - mean) * (r - mean);
  const double batch_std = std::sqrt(ss / 7);
  EXPECT_NEAR(batch.advantages[0], 0.5 / (batch_std + 1e-4), 1e-12);  // group mean, batch std
  EXPECT_EQ(batch.advantages[6], 0.0);
  EXPECT_EQ(rl::parse_scale_rewards("true"), rl::ScaleRewards::kGroup);
  EXPECT_EQ(rl::parse_scale_rewards("false"), rl::ScaleRewards::kNone);
  EXPECT_THROW(rl::parse_scale_rewards("grouped"), r1::UsageError);
  EXPECT_THROW(rl::group_advantages({1, 2, 3}, 2, rl::ScaleRewards::kGroup), r1::Error);
}

TEST(GrpoAdvantages, RlooLeavesEachCompletionOut) {
  // Group 1: A_i = r_i - mean of the other three; group 2 has zero variance.
  auto a = rl::rloo_advantages({1, 0, 0, 0, 2, 2, 2, 2}, 4);
  EXPECT_DOUBLE_EQ(a.advantages[0], 1.0 - 0.0);
  for (int i = 1; i < 4; ++i) EXPECT_DOUBLE_EQ(a.advantages[size_t(i)], 0.0 - 1.0 / 3);
  for (int i = 4; i < 8; ++i) EXPECT_EQ(a.advantages[size_t(i)], 0.0);
  EXPECT_DOUBLE_EQ(a.frac_zero_std, 0.5);
  EXPECT_NEAR(a.group_std[0], 0.5, 1e-15);  // unbiased std of {1, 0, 0, 0}: sqrt(0.75 / 3)
  // Groups of 2: the baseline is the sibling's reward.
  auto pairs = rl::rloo_advantages({3, 1, 0.5, 0.5, -1, 2}, 2);
  const std::vector<double> expected = {2, -2, 0, 0, -3, 3};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_DOUBLE_EQ(pairs.advantages[i], expected[i]) << i;
  EXPECT_THROW(rl::rloo_advantages({1, 2}, 1), r1::Error);
  EXPECT_THROW(rl::rloo_advantages({1, 2, 3}, 2), r1::Error);
}

TEST(GrpoAdvantages, ReinforcePlusPlusBaselineWhitensOverTheBatch) {
  // One token per completion: c = r - group mean = {0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0}, mean 0, unbiased
  // variance 0.75 / 7 over the 8 values, A = c / sqrt(var + 1e-8).
  const std::vector<double> rewards = {1, 0, 0, 0, 2, 2, 2, 2};
  auto a = rl::reinforce_plus_plus_baseline_advantages(rewards, 4, std::vector<double>(8, 1.0));
  const double s = std::sqrt(0.75 / 7 + 1e-8);
  EXPECT_NEAR(a.advantages[0], 0.75 / s, 1e-12);
  EXPECT_NEAR(a.advantages[2], -0.25 / s, 1e-12);
  EXPECT_EQ(a.advantages[5], 0.0);
  EXPECT_DOUBLE_EQ(a.frac_zero_std, 0.5);

  // Token-weighted as verl's masked_whiten over the response tokens: 2, 1, 1, 1, 3, 3, 3, 3 tokens. 17 tokens,
  // mean (2 * 0.75 - 3 * 0.25) / 17 = 0.75 / 17, unbiased variance over the 17 tokens.
  auto w = rl::reinforce_plus_plus_baseline_advantages(rewards, 4, {2, 1, 1, 1, 3, 3, 3, 3});
  const double mu = 0.75 / 17;
  const double var = (2 * (0.75 - mu) * (0.75 - mu) + 3 * (0.25 + mu) * (0.25 + mu) + 12 * mu * mu) / 16;
  EXPECT_NEAR(w.advantages[0], (0.75 - mu) / std::sqrt(var + 1e-8), 1e-12);
  EXPECT_NEAR(w.advantages[1], (-0.25 - mu) / std::sqrt(var + 1e-8), 1e-12);
  EXPECT_NEAR(w.advantages[7], -mu / std::sqrt(var + 1e-8), 1e-12);  // a zero-variance group moves with the batch

  // Groups of 2: c = {1, -1, 0, 0}, variance 2 / 3.
  auto pairs = rl::reinforce_plus_plus_baseline_advantages({3, 1, 0.5, 0.5}, 2, {1, 1, 1, 1});
  EXPECT_NEAR(pairs.advantages[0], 1 / std::sqrt(2.0 / 3 + 1e-8), 1e-12);
  EXPECT_NEAR(pairs.advantages[1], -1 / std::sqrt(2.0 / 3 + 1e-8), 1e-12);
  EXPECT_EQ(pairs.advantages[2], 0.0);
  // Every group without variance: all 0 (no 0 / 0).
  for (double x : rl::reinforce_plus_plus_baseline_advantages({1, 1, 2, 2}, 2, {4, 5, 6, 7}).advantages)
    EXPECT_EQ(x, 0.0);
  EXPECT_THROW(rl::reinforce_plus_plus_baseline_advantages({1, 2}, 2, {1}), r1::Error);
}

TEST(GrpoAdvantages, EstimatorNamesDispatchAndKlInReward) {
  EXPECT_EQ(rl::parse_advantage_estimator("grpo"), rl::AdvantageEstimator::kGrpo);
  EXPECT_EQ(rl::parse_advantage_estimator("rloo"), rl::AdvantageEstimator::kRloo);
  EXPECT_EQ(rl::parse_advantage_estimator("reinforce_plus_plus_baseline"),
            rl::AdvantageEstimator::kReinforcePlusPlusBaseline);
  R1_EXPECT_THROW_WITH(rl::parse_advantage_estimator("gae"), r1::UsageError, "advantage_estimator");
  const std::vector<double> r = {1, 0, 0, 0}, tokens = {3, 1, 2, 2};
  EXPECT_EQ(rl::compute_advantages(rl::AdvantageEstimator::kGrpo, r, 4, rl::ScaleRewards::kNone, tokens).advantages,
            rl::group_advantages(r, 4, rl::ScaleRewards::kNone).advantages);
  EXPECT_EQ(rl::compute_advantages(rl::AdvantageEstimator::kRloo, r, 4, rl::ScaleRewards::kGroup, tokens).advantages,
            rl::rloo_advantages(r, 4).advantages);
  EXPECT_EQ(
      rl::compute_advantages(rl::AdvantageEstimator::kReinforcePlusPlusBaseline, r, 4, rl::ScaleRewards::kGroup, tokens)
          .advantages,
      rl::reinforce_plus_plus_baseline_advantages(r, 4, tokens).advantages);
  // k1 summed over the completion: (-1 + 1.5) + (-2 + 1) = -0.5
  EXPECT_DOUBLE_EQ(rl::sequence_kl({-1.0f, -2.0f}, {-1.5f, -1.0f}), -0.5);
  EXPECT_THROW(rl::sequence_kl({-1.0f}, {}), r1::Error);
}

// Two sequences, three completion slots; the second sequence has two tokens.
struct HandCase {
  std::vector<std::vector<double>> logp = {{-1.0, -2.0, -0.5}, {-0.3, -1.2, 0.0}};
  std::vector<std::vector<double>> old = {{-1.5, -1.9, -0.2}, {-0.1, -1.6, 0.0}};
  std::vector<std::vector<double>> ref = {{-1.1, -2.5, -0.4}, {-0.2, -1.0, 0.0}};
  std::vector<std::vector<double>> mask = {{1, 1, 1}, {1, 1, 0}};
  std::vector<double> adv = {0.7, -1.3};
  double eps = 0.2, eps_high = 0.28;

  at::Tensor t(const std::vector<std::vector<double>>& v) const {
    return torch::tensor(std::vector<double>{v[0][0], v[0][1], v[0][2], v[1][0], v[1][1], v[1][2]}, torch::kDouble)
        .view({2, 3});
  }
  double token(int b, int i, double beta) const {
    const double ratio = std::exp(logp[b][i] - old[b][i]);
    const double clipped = std::min(std::max(ratio, 1 - eps), 1 + eps_high);
    double l = -std::min(ratio * adv[b], clipped * adv[b]);
    const double d = ref[b][i] - logp[b][i];
    return l + beta * (std::exp(d) - d - 1);
  }
};

TEST(GrpoLoss, PerTokenLossAndEveryAggregationByHand) {
  HandCase h;
  for (double beta : {0.0, 0.04}) {
    at::Tensor loss = rl::per_token_loss(h.t(h.logp), h.t(h.old), beta != 0 ? h.t(h.ref) : at::Tensor(),
                                         torch::tensor(h.adv, torch::kDouble), h.eps, h.eps_high, beta);
    for (int b = 0; b < 2; ++b)
      for (int i = 0; i < 3; ++i) EXPECT_NEAR(loss[b][i].item<double>(), h.token(b, i, beta), 1e-12) << b << i;
    double seq0 = 0, seq1 = 0;
    for (int i = 0; i < 3; ++i) seq0 += h.token(0, i, beta);
    for (int i = 0; i < 2; ++i) seq1 += h.token(1, i, beta);
    const at::Tensor mask = h.t(h.mask);
    auto agg = [&](rl::LossType type) { return rl::aggregate_loss(loss, mask, type, 8).item<double>(); };
    EXPECT_NEAR(agg(rl::LossType::kGrpo), seq0 / 3 + seq1 / 2, 1e-12);
    EXPECT_NEAR(agg(rl::LossType::kBnpo), (seq0 + seq1) / 5, 1e-12);
    EXPECT_NEAR(agg(rl::LossType::kDrGrpo), (seq0 + seq1) / 8, 1e-12);
    EXPECT_NEAR(agg(rl::LossType::kDapo), seq0 + seq1, 1e-12);
  }
  // Normalisers over a step of 4 micro-batches, 32 sequences, 500 completion tokens.
  EXPECT_EQ(rl::loss_normaliser(rl::LossType::kGrpo, 32, 4, 500), 32);
  EXPECT_EQ(rl::loss_normaliser(rl::LossType::kBnpo, 32, 4, 500), 4);
  EXPECT_EQ(rl::loss_normaliser(rl::LossType::kDrGrpo, 32, 4, 500), 32);
  EXPECT_EQ(rl::loss_normaliser(rl::LossType::kDapo, 32, 4, 500), 500);
  // Token (0, 0): ratio e^0.5 = 1.65 > 1.28 with A > 0 -> high-clipped; (1, 1): ratio e^0.4 with A < 0 is not
  // low-clipped; (0, 2): ratio e^-0.3 = 0.74 < 0.8 but A > 0 -> not clipped; (1, 0): e^-0.2 = 0.82 >= 0.8.
  rl::ClipCounts c =
      rl::clip_counts(h.t(h.logp), h.t(h.old), torch::tensor(h.adv, torch::kDouble), h.t(h.mask), h.eps, h.eps_high);
  EXPECT_EQ(c.high, 1);
  EXPECT_EQ(c.low, 0);
  EXPECT_EQ(c.region, 1);
}

TEST(GrpoLoss, FirstIterationRatioIsOneAndGroupAdvantagesCancel) {
  // mu = 1: old = logp.detach() -> per-token loss -A_i, and sum_i mean_t(-A_i) = 0 within each group.
  auto adv = rl::group_advantages({1, 0, 0, 1, 0.5, 0.25}, 3, rl::ScaleRewards::kGroup);
  at::Tensor logp = torch::randn({6, 5}, torch::kDouble).requires_grad_(true);
  at::Tensor mask = torch::ones({6, 5}, torch::kDouble);
  mask.index_put_({3, torch::indexing::Slice(2)}, 0);
  at::Tensor loss =
      rl::per_token_loss(logp, logp.detach(), at::Tensor(), torch::tensor(adv.advantages, torch::kDouble), 0.2, 0.2, 0);
  EXPECT_NEAR(rl::aggregate_loss(loss, mask, rl::LossType::kGrpo, 5).item<double>(), 0.0, 1e-12);
}

// ---- end-to-end runs on a tiny model ------------------------------------------------------------------------

class GrpoRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new r1::test::TempDir();
    r1::test::write_tiny_rl_fixture(dir_->path());
  }
  static void TearDownTestSuite() { delete dir_; }

  // A recipe on the tiny model: reward = DAPO's soft overlong punishment (shorter is better past 4 tokens), which
  // a random model can improve on by learning to end its completions.
  static GrpoOptions options(const std::string& out, const std::string& extra = "") {
    r1::Recipe recipe = r1::Recipe::parse(
        "model_name_or_path: " + (*dir_ / "model").string() + "\ndataset_name: " + (*dir_ / "prompts.jsonl").string() +
            "\noutput_dir: " + (*dir_ / out).string() +
            "\nchat_template: none\nnum_generations: 8\nper_device_train_batch_size: 16\n"
            "gradient_accumulation_steps: 2\nmax_completion_length: 16\nmax_prompt_length: 32\n"
            "learning_rate: 0.01\nlr_scheduler_type: constant\nlogging_steps: 1\nsave_steps: 1000\n"
            "reward_funcs: [soft_overlong_punishment]\n"
            "reward_kwargs: {soft_overlong_punishment: {max_completion_len: 16, soft_punish_cache: 12}}\n" +
            extra + (extra.find("beta:") == std::string::npos ? "beta: 0.0\n" : ""),
        "test");
    return GrpoOptions::from_recipe(recipe);
  }

  static std::vector<nlohmann::json> metrics(const std::string& out) {
    std::vector<nlohmann::json> rows;
    r1::JsonlReader reader(*dir_ / out / "metrics.jsonl");
    nlohmann::json row;
    while (reader.next(row)) rows.push_back(row);
    return rows;
  }

  static r1::test::TempDir* dir_;
};
r1::test::TempDir* GrpoRun::dir_ = nullptr;

TEST_F(GrpoRun, FirstStepLossIsZeroAndSamplingIsOnPolicy) {
  GrpoOptions o = options("first", "max_steps: 2\nlog_completions: true\n");
  grpo(o);
  auto rows = metrics("first");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_NEAR(r["loss"].get<double>(), 0.0, 1e-6);           // mu = 1, beta = 0: the group-mean advantages cancel
    EXPECT_LE(r["logprob_max_abs_diff"].get<double>(), 1e-5);  // engine log-probs == training forward
    EXPECT_DOUBLE_EQ(r["clip_ratio/region_mean"].get<double>(), 0.0);
    for (const char* key : {"reward", "reward_std", "frac_reward_zero_std", "completions/mean_length",
                            "completions/clipped_ratio", "entropy", "rollout_tokens_per_second", "time/sampling",
                            "time/scoring", "time/learning", "rewards/soft_overlong_punishment/mean"})
      EXPECT_TRUE(r.contains(key)) << key;
  }
  // 2 steps x 4 prompts x 8 generations logged, with their rewards
  size_t lines = 0;
  r1::JsonlReader reader(*dir_ / "first" / "completions.jsonl");
  nlohmann::json row;
  while (reader.next(row)) {
    ++lines;
    EXPECT_TRUE(row.contains("soft_overlong_punishment") && row.contains("advantage") && row.contains("prompt"));
  }
  EXPECT_EQ(lines, 64u);
}

TEST_F(GrpoRun, TwentyStepsRaiseTheMeanReward) {
  grpo(options("learn", "max_steps: 20\n"));
  auto rows = metrics("learn");
  ASSERT_EQ(rows.size(), 20u);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += rows[size_t(i)]["reward"].get<double>() / 5;
  for (int i = 15; i < 20; ++i) last += rows[size_t(i)]["reward"].get<double>() / 5;
  EXPECT_GT(last, first + 0.2) << "mean reward of the first 5 steps " << first << ", last 5 " << last;
}

TEST_F(GrpoRun, ResumeInsideAGenerationBatchIsExact) {
  // num_iterations 2 and beta > 0 with a KL, dapo loss: the checkpoint after step 3 holds a half-used generation.
  const std::string extra = "num_iterations: 2\nbeta: 0.1\nloss_type: dapo\nepsilon_high: 0.28\n";
  grpo(options("whole", extra + "max_steps: 4\n"));
  grpo(options("split", extra + "max_steps: 3\n"));
  GrpoOptions resumed = options("split", extra + "max_steps: 4\nresume_from_checkpoint: true\n");
  grpo(resumed);
  EXPECT_EQ(r1::test::read_bytes(*dir_ / "whole" / "model.safetensors"),
            r1::test::read_bytes(*dir_ / "split" / "model.safetensors"));
  auto a = metrics("whole"), b = metrics("split");
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.back()["loss"], b.back()["loss"]);
  EXPECT_GT(a.back()["kl"].get<double>(), 0.0);
}

TEST_F(GrpoRun, ResumeRestoresTheSyncedReference) {
  // sync_ref_model: the reference mixes in the policy before step 3 (its 2nd completed step); the run resumed after
  // step 3 must score step 4's KL against that mixed reference, not against the initial model.
  const std::string extra = "beta: 0.1\nsync_ref_model: true\nref_model_sync_steps: 2\nref_model_mixup_alpha: 0.5\n";
  grpo(options("sync-whole", extra + "max_steps: 4\n"));
  grpo(options("sync-split", extra + "max_steps: 3\n"));
  EXPECT_TRUE(fs::exists(*dir_ / "sync-split" / "checkpoint-3" / "ref_model.safetensors"));
  grpo(options("sync-split", extra + "max_steps: 4\nresume_from_checkpoint: true\n"));
  auto a = metrics("sync-whole"), b = metrics("sync-split");
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.back()["kl"], b.back()["kl"]);
  EXPECT_EQ(a.back()["loss"], b.back()["loss"]);
  EXPECT_TRUE(r1::test::read_bytes(*dir_ / "sync-whole" / "model.safetensors") ==
              r1::test::read_bytes(*dir_ / "sync-split" / "model.safetensors"));
}

// completions.jsonl of a run, grouped by step.
std::map<int64_t, std::vector<nlohmann::json>> completions_by_step(const fs::path& file) {
  std::map<int64_t, std::vector<nlohmann::json>> out;
  r1::JsonlReader reader(file);
  nlohmann::json row;
  while (reader.next(row)) out[row["step"].get<int64_t>()].push_back(row);
  return out;
}

// At mu = 1, beta 0 in the loss and loss_type grpo the ratio is exactly 1, so the loss is -mean(A).
double minus_mean_advantage(const std::vector<nlohmann::json>& rows) {
  double sum = 0;
  for (const auto& r : rows) sum += r["advantage"].get<double>();
  return -sum / double(rows.size());
}

TEST_F(GrpoRun, RlooRunUsesLeaveOneOutAdvantages) {
  grpo(options("rloo", "max_steps: 2\nlog_completions: true\nadvantage_estimator: rloo\n"));
  auto rows = metrics("rloo");
  ASSERT_EQ(rows.size(), 2u);
  auto steps = completions_by_step(*dir_ / "rloo" / "completions.jsonl");
  ASSERT_EQ(steps.size(), 2u);
  for (const auto& [step, done] : steps) {
    ASSERT_EQ(done.size(), 32u);
    for (size_t g = 0; g < 32; g += 8) {
      double sum = 0;
      for (size_t i = g; i < g + 8; ++i) sum += done[i]["reward"].get<double>();
      for (size_t i = g; i < g + 8; ++i) {
        const double r = done[i]["reward"].get<double>();
        EXPECT_NEAR(done[i]["advantage"].get<double>(), r - (sum - r) / 7, 1e-12);
      }
    }
    EXPECT_NEAR(rows[size_t(step - 1)]["loss"].get<double>(), minus_mean_advantage(done), 1e-6);  // 0: sums cancel
  }
}

TEST_F(GrpoRun, ReinforcePlusPlusBaselineRunWhitensGroupCentredRewards) {
  grpo(options("rpp", "max_steps: 2\nlog_completions: true\nadvantage_estimator: reinforce_plus_plus_baseline\n"));
  auto rows = metrics("rpp");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& [step, done] : completions_by_step(*dir_ / "rpp" / "completions.jsonl")) {
    ASSERT_EQ(done.size(), 32u);
    // A = (c - mu) * s with c = r - group mean: one positive slope s over the whole batch.
    std::vector<double> c(32), a(32);
    for (size_t g = 0; g < 32; g += 8) {
      double mean = 0;
      for (size_t i = g; i < g + 8; ++i) mean += done[i]["reward"].get<double>() / 8;
      for (size_t i = g; i < g + 8; ++i) c[i] = done[i]["reward"].get<double>() - mean, a[i] = done[i]["advantage"];
    }
    const size_t lo = size_t(std::min_element(c.begin(), c.end()) - c.begin());
    const size_t hi = size_t(std::max_element(c.begin(), c.end()) - c.begin());
    ASSERT_GT(c[hi] - c[lo], 1e-9) << "step " << step << ": no reward variance to whiten";
    const double slope = (a[hi] - a[lo]) / (c[hi] - c[lo]);
    EXPECT_GT(slope, 0);
    for (size_t i = 0; i < 32; ++i) EXPECT_NEAR(a[i] - a[lo], slope * (c[i] - c[lo]), 1e-9) << i;
    EXPECT_NEAR(rows[size_t(step - 1)]["loss"].get<double>(), minus_mean_advantage(done), 1e-5);
  }
}

TEST_F(GrpoRun, KlInRewardMovesTheAdvantagesNotTheLoss) {
  grpo(options("kl-reward",
               "max_steps: 2\nlog_completions: true\nadvantage_estimator: rloo\n"
               "use_kl_in_reward: true\nbeta: 0.5\n"));
  auto rows = metrics("kl-reward");
  ASSERT_EQ(rows.size(), 2u);
  auto steps = completions_by_step(*dir_ / "kl-reward" / "completions.jsonl");
  EXPECT_NEAR(rows[0]["reward_kl_penalty"].get<double>(), 0.0, 1e-5);  // step 1: policy == reference
  EXPECT_NE(rows[1]["reward_kl_penalty"].get<double>(), 0.0);
  EXPECT_GT(rows[1]["kl"].get<double>(), 0.0);  // still logged (k3, policy vs reference)
  // No KL term in the loss: -mean(A) (0 for rloo) although kl > 0; the KL moved the advantages off the raw rewards'.
  EXPECT_NEAR(rows[1]["loss"].get<double>(), minus_mean_advantage(steps[2]), 1e-6);
  double off = 0;
  const auto& done = steps[2];
  for (size_t g = 0; g < done.size(); g += 8) {
    double sum = 0;
    for (size_t i = g; i < g + 8; ++i) sum += done[i]["reward"].get<double>();
    for (size_t i = g; i < g + 8; ++i) {
      const double r = done[i]["reward"].get<double>();
      off = std::max(off, std::fabs(done[i]["advantage"].get<double>() - (r - (sum - r) / 7)));
    }
  }
  EXPECT_GT(off, 1e-7);
}

TEST(GrpoOptions, ValidationNamesTheKey) {
  auto parse = [](const std::string& yaml) { return GrpoOptions::from_recipe(r1::Recipe::parse(yaml, "t")); };
  const std::string base = "model_name_or_path: m\ndataset_name: d.jsonl\noutput_dir: o\n";
  R1_EXPECT_THROW_WITH(parse(base + "num_generations: 3\nper_device_train_batch_size: 8\n"), r1::UsageError,
                       "divisible by num_generations");
  R1_EXPECT_THROW_WITH(parse(base + "loss_type: ppo\n"), r1::UsageError, "loss_type");
  R1_EXPECT_THROW_WITH(parse(base + "num_generation: 8\n"), r1::UsageError, "num_generations");
  R1_EXPECT_THROW_WITH(parse(base + "reward_funcs: [accuracy]\nreward_weights: [1, 2]\n"), r1::UsageError,
                       "reward_weights");
  R1_EXPECT_THROW_WITH(parse(base + "advantage_estimator: gae\n"), r1::UsageError, "advantage_estimator");
  R1_EXPECT_THROW_WITH(parse(base + "advantage_estimator: rloo\nscale_rewards: batch\n"), r1::UsageError,
                       "scale_rewards");
  R1_EXPECT_THROW_WITH(parse(base + "advantage_estimator: reinforce_plus_plus_baseline\nscale_rewards: none\n"),
                       r1::UsageError, "grpo only");
  R1_EXPECT_THROW_WITH(parse(base + "use_kl_in_reward: true\nbeta: 0\n"), r1::UsageError, "use_kl_in_reward");
  EXPECT_EQ(parse(base + "advantage_estimator: rloo\nuse_kl_in_reward: true\n").advantage_estimator, "rloo");
  GrpoOptions o = parse(base);
  EXPECT_EQ(o.training.learning_rate, 1e-6);
  EXPECT_EQ(o.beta, 0.04);
  EXPECT_EQ(o.loss_type, "grpo");
  EXPECT_EQ(o.advantage_estimator, "grpo");
  EXPECT_FALSE(o.use_kl_in_reward);
  EXPECT_EQ(o.to_json()["advantage_estimator"], "grpo");
  EXPECT_EQ(o.to_json()["num_generations"], 8);
}

TEST(AdditionTask, HeldOutSplitAndWorkedSolutions) {
  r1::data::TaskSplits s = r1::data::make_addition_task({.seed = 5, .test_problems = 50});
  EXPECT_EQ(s.test.size(), 50u);
  EXPECT_EQ(s.train.size() + s.test.size(), 90u * 90u);
  std::set<std::string> test;
  for (const auto& p : s.test) test.insert(p.problem);
  for (const auto& p : s.train) EXPECT_EQ(test.count(p.problem), 0u);
  std::mt19937_64 rng(0);
  r1::data::TaskProblem p{"What is 47 + 38?", "85", 47, 38};
  EXPECT_EQ(r1::data::addition_solution(p, true, rng),
            "<think>\n7 + 8 = 15, write 5 carry 1\n4 + 3 + 1 = 8, write 8\n</think>\n<answer>\n85\n</answer>");
  for (int i = 0; i < 20; ++i) {
    std::string guess = r1::data::addition_solution(p, false, rng);
    EXPECT_EQ(guess.find("<answer>\n85\n"), std::string::npos) << guess;
  }
}

// The whole demo pipeline at toy sizes: every stage runs, a second run skips them all with the same numbers, and
// a fresh directory with the same seed reproduces the evaluations exactly.
TEST(DemoPipeline, RunsEveryStageThenSkipsThemAndRepeatsItsNumbers) {
  r1::test::TempDir dir;
  r1::demo::DemoOptions o;
  o.test_problems = 16;
  o.corpus_documents = 300;
  o.vocab_size = 300;
  o.model_config.update({{"hidden_size", 32},
                         {"intermediate_size", 64},
                         {"num_hidden_layers", 1},
                         {"num_attention_heads", 2},
                         {"num_key_value_heads", 2}});
  o.pretrain_steps = 3;
  o.pretrain_batch = 4;
  o.pretrain_length = 64;
  o.eval_samples = 2;
  o.max_completion_length = 12;
  o.grpo_steps = 2;
  o.num_generations = 4;
  o.grpo_batch = 8;
  o.grpo_accumulation = 1;
  o.progress = false;
  o.out_dir = dir / "a";
  r1::demo::DemoResult first = r1::demo::run_demo(o);
  ASSERT_FALSE(first.interrupted);
  for (const auto& s : first.stages) EXPECT_FALSE(s.skipped) << s.stage;
  EXPECT_EQ(first.before.samples, 32);
  EXPECT_EQ(first.after.samples, 32);
  EXPECT_TRUE(fs::exists(first.report));
  EXPECT_NE(r1::test::read_bytes(first.report).find("<svg"), std::string::npos);
  r1::demo::DemoResult again = r1::demo::run_demo(o);
  for (const auto& s : again.stages) EXPECT_TRUE(s.skipped) << s.stage;
  EXPECT_EQ(again.after.to_json(), first.after.to_json());
  o.out_dir = dir / "b";
  r1::demo::DemoResult fresh = r1::demo::run_demo(o);
  for (const char* key : {"pass_at_1", "format_rate", "mean_length"}) {
    EXPECT_EQ(fresh.before.to_json()[key], first.before.to_json()[key]) << key;
    EXPECT_EQ(fresh.after.to_json()[key], first.after.to_json()[key]) << key;
  }
}

}  // namespace
