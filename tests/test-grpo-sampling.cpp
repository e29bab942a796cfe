// GRPO's sampling around the learning phase (src/train/grpo.cpp): DAPO's dynamic sampling (verl's filter_groups)
// drops exactly the zero-variance groups of the generation the run without it trains on and samples further rounds
// until every trained group has reward variance, counts what it dropped, stops at max_num_gen_batches with an error
// naming the key, and resumes exactly; evaluation during training (eval_strategy steps) logs eval/pass@1,
// eval_reward and eval_rewards/<name>/mean equal to the means of the completions it logs, with the accuracy column
// recomputed here by the accuracy reward; option validation and the eval split's path.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "common/jsonl.h"
#include "r1/error.h"
#include "r1/recipe.h"
#include "r1/rewards.h"
#include "r1/train.h"
#include "rl-fixture.h"
#include "test-helpers.h"
#include "train/grpo-data.h"

namespace fs = std::filesystem;
using namespace r1::train;

namespace {

class GrpoSampling : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new r1::test::TempDir();
    r1::test::write_tiny_rl_fixture(dir_->path());
    // A dataset directory with train and test splits: the fixture's prompts, and 5 held-out rows.
    fs::create_directories(*dir_ / "task");
    fs::copy_file(*dir_ / "prompts.jsonl", *dir_ / "task" / "train.jsonl");
    std::ifstream in(*dir_ / "prompts.jsonl");
    std::ofstream test(*dir_ / "task" / "test.jsonl");
    std::string line;
    for (int i = 0; i < 5 && std::getline(in, line); ++i) test << line << "\n";
  }
  static void TearDownTestSuite() { delete dir_; }

  // The tiny model with the reward 0 for completions of at most 15 tokens and -1 for those cut at 16
  // (soft_overlong_punishment with a 1-token cache): a group has variance only when some but not all of its 8
  // completions end early.
  static GrpoOptions options(const std::string& out, const std::string& extra = "") {
    r1::Recipe recipe = r1::Recipe::parse(
        "model_name_or_path: " + (*dir_ / "model").string() + "\ndataset_name: " + (*dir_ / "task").string() +
            "\noutput_dir: " + (*dir_ / out).string() +
            "\nchat_template: none\nnum_generations: 8\nper_device_train_batch_size: 16\n"
            "gradient_accumulation_steps: 2\nmax_completion_length: 16\nmax_prompt_length: 32\n"
            "learning_rate: 0.01\nlr_scheduler_type: constant\nlogging_steps: 1\nsave_steps: 1000\nbeta: 0.0\n"
            "log_completions: true\n" +
            (extra.find("reward_funcs:") == std::string::npos
                 ? "reward_funcs: [soft_overlong_punishment]\n"
                   "reward_kwargs: {soft_overlong_punishment: {max_completion_len: 16, soft_punish_cache: 1}}\n"
                 : "") +
            extra,
        "test");
    return GrpoOptions::from_recipe(recipe);
  }

  static std::vector<nlohmann::json> jsonl(const fs::path& file) {
    std::vector<nlohmann::json> rows;
    r1::JsonlReader reader(file);
    nlohmann::json row;
    while (reader.next(row)) rows.push_back(row);
    return rows;
  }
  // metrics.jsonl's training lines (those with a loss) and evaluation lines (those with eval_reward).
  static std::vector<nlohmann::json> train_lines(const std::string& out) {
    std::vector<nlohmann::json> rows;
    for (auto& r : jsonl(*dir_ / out / "metrics.jsonl"))
      if (r.contains("loss")) rows.push_back(r);
    return rows;
  }
  static std::vector<nlohmann::json> eval_lines(const std::string& out) {
    std::vector<nlohmann::json> rows;
    for (auto& r : jsonl(*dir_ / out / "metrics.jsonl"))
      if (r.contains("eval_reward")) rows.push_back(r);
    return rows;
  }
  static std::map<int64_t, std::vector<nlohmann::json>> by_step(const fs::path& file) {
    std::map<int64_t, std::vector<nlohmann::json>> out;
    for (auto& r : jsonl(file)) out[r["step"].get<int64_t>()].push_back(r);
    return out;
  }
  static bool has_variance(const std::vector<nlohmann::json>& rows, size_t begin) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = begin; i < begin + 8; ++i)
      lo = std::min(lo, rows[i]["reward"].get<double>()), hi = std::max(hi, rows[i]["reward"].get<double>());
    return hi > lo;
  }

  static r1::test::TempDir* dir_;
};
r1::test::TempDir* GrpoSampling::dir_ = nullptr;

TEST_F(GrpoSampling, DynamicSamplingDropsTheGroupsWithoutVariance) {
  grpo(options("plain", "max_steps: 1\n"));
  grpo(options("dynamic", "max_steps: 2\ndynamic_sampling: true\nmax_num_gen_batches: 0\n"));
  // The first round of the dynamic run is the plain run's generation (same prompts, same seeds).
  const std::vector<nlohmann::json> plain = by_step(*dir_ / "plain" / "completions.jsonl")[1];
  ASSERT_EQ(plain.size(), 32u);
  std::vector<size_t> informative;
  for (size_t g = 0; g < 32; g += 8)
    if (has_variance(plain, g)) informative.push_back(g);
  const size_t zero_variance = 4 - informative.size();
  ASSERT_GT(zero_variance, 0u) << "the fixture's first generation has no group without variance to drop";
  EXPECT_FALSE(train_lines("plain")[0].contains("dynamic_sampling/dropped_groups"));  // off: not logged

  auto rows = train_lines("dynamic");
  auto steps = by_step(*dir_ / "dynamic" / "completions.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_EQ(steps.size(), 2u);
  for (const auto& [step, done] : steps) {
    ASSERT_EQ(done.size(), 32u) << "step " << step;
    for (size_t g = 0; g < 32; g += 8) EXPECT_TRUE(has_variance(done, g)) << "step " << step << " group " << g / 8;
    const auto& m = rows[size_t(step - 1)];
    const double rounds = m["dynamic_sampling/generation_rounds"].get<double>();
    const double dropped = m["dynamic_sampling/dropped_groups"].get<double>();
    const double surplus = m["dynamic_sampling/surplus_groups"].get<double>();
    EXPECT_EQ(rounds * 4, dropped + 4 + surplus) << "step " << step;  // every sampled group is accounted for
    EXPECT_EQ(m["frac_reward_zero_std"].get<double>(), 0.0);
  }
  // Step 1 drops the plain generation's zero-variance groups and trains its informative ones first, in order.
  const auto& first = rows[0];
  EXPECT_GE(first["dynamic_sampling/generation_rounds"].get<double>(), 2.0);
  EXPECT_GE(first["dynamic_sampling/dropped_groups"].get<double>(), double(zero_variance));
  const auto& trained = steps[1];
  for (size_t k = 0; k < informative.size(); ++k)
    for (size_t i = 0; i < 8; ++i) {
      EXPECT_EQ(trained[8 * k + i]["completion"], plain[informative[k] + i]["completion"]) << k << " " << i;
      EXPECT_EQ(trained[8 * k + i]["reward"], plain[informative[k] + i]["reward"]);
    }
}

TEST_F(GrpoSampling, DynamicSamplingStopsAtMaxNumGenBatches) {
  // Every completion scores 0 (no completion comes near 1000 tokens): no group is informative.
  const std::string constant =
      "reward_funcs: [soft_overlong_punishment]\n"
      "reward_kwargs: {soft_overlong_punishment: {max_completion_len: 1000, soft_punish_cache: 1}}\n";
  R1_EXPECT_THROW_WITH(
      grpo(options("capped", constant + "max_steps: 1\ndynamic_sampling: true\nmax_num_gen_batches: 3\n")), r1::Error,
      "3 generation rounds (max_num_gen_batches) gave 0 of the 4 groups");
  // dynamic_sampling_metric names one reward: the accuracy of the untrained model is 0 everywhere, so no group is
  // informative by it although the length reward varies.
  R1_EXPECT_THROW_WITH(grpo(options("capped-accuracy",
                                    "max_steps: 1\ndynamic_sampling: true\nmax_num_gen_batches: 2\n"
                                    "dynamic_sampling_metric: accuracy\n"
                                    "reward_funcs: [soft_overlong_punishment, accuracy]\n"
                                    "reward_kwargs: {soft_overlong_punishment: {max_completion_len: 16, "
                                    "soft_punish_cache: 12}}\n")),
                       r1::Error, "2 generation rounds (max_num_gen_batches) gave 0 of the 4 groups");
  // The same reward without dynamic sampling trains (on zero advantages).
  grpo(options("constant", constant + "max_steps: 1\n"));
  EXPECT_EQ(train_lines("constant")[0]["frac_reward_zero_std"].get<double>(), 1.0);
}

TEST_F(GrpoSampling, DynamicSamplingResumesExactly) {
  const std::string extra = "dynamic_sampling: true\nmax_num_gen_batches: 0\nloss_type: dapo\n";
  grpo(options("ds-whole", extra + "max_steps: 3\n"));
  grpo(options("ds-split", extra + "max_steps: 2\n"));
  grpo(options("ds-split", extra + "max_steps: 3\nresume_from_checkpoint: true\n"));
  EXPECT_EQ(r1::test::read_bytes(*dir_ / "ds-whole" / "model.safetensors"),
            r1::test::read_bytes(*dir_ / "ds-split" / "model.safetensors"));
  auto a = train_lines("ds-whole"), b = train_lines("ds-split");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (const char* key : {"loss", "reward", "dynamic_sampling/generation_rounds", "dynamic_sampling/dropped_groups"})
    EXPECT_EQ(a.back()[key], b.back()[key]) << key;
}

TEST_F(GrpoSampling, EvaluationLogsPassAtOneOverTheTestSplit) {
  grpo(options("eval",
               "max_steps: 2\neval_steps: 1\nmax_eval_samples: 3\nnum_generations_eval: 4\n"
               "reward_funcs: [soft_overlong_punishment, accuracy]\n"
               "reward_kwargs: {soft_overlong_punishment: {max_completion_len: 16, soft_punish_cache: 8}}\n"));
  auto evals = eval_lines("eval");
  ASSERT_EQ(evals.size(), 2u);
  auto logged = by_step(*dir_ / "eval" / "eval_completions.jsonl");
  ASSERT_EQ(logged.size(), 2u);
  r1::rewards::RewardFn accuracy = r1::rewards::make_reward("accuracy");
  std::vector<nlohmann::json> test_rows = jsonl(*dir_ / "task" / "test.jsonl");
  for (const auto& m : evals) {
    const int64_t step = m["step"].get<int64_t>();
    const auto& done = logged[step];
    ASSERT_EQ(done.size(), 12u) << "3 prompts x 4 samples at step " << step;
    std::vector<std::string> texts;
    std::vector<nlohmann::json> examples;
    double acc = 0, length = 0, total = 0;
    for (size_t i = 0; i < done.size(); ++i) {
      EXPECT_EQ(done[i]["prompt"], test_rows[i / 4]["problem"]);
      texts.push_back(done[i]["completion"]);
      examples.push_back(test_rows[i / 4]);
      acc += done[i]["accuracy"].get<double>() / 12;
      length += done[i]["soft_overlong_punishment"].get<double>() / 12;
      total += done[i]["reward"].get<double>() / 12;
    }
    std::vector<r1::rewards::Score> direct = accuracy(texts, examples);
    for (size_t i = 0; i < done.size(); ++i) EXPECT_EQ(*direct[i], done[i]["accuracy"].get<double>()) << i;
    EXPECT_NEAR(m["eval/pass@1"].get<double>(), acc, 1e-12);
    EXPECT_NEAR(m["eval_rewards/accuracy/mean"].get<double>(), acc, 1e-12);
    EXPECT_NEAR(m["eval_rewards/soft_overlong_punishment/mean"].get<double>(), length, 1e-12);
    EXPECT_NEAR(m["eval_reward"].get<double>(), total, 1e-12);
    EXPECT_LT(length, 0.0);  // some completions run past 8 tokens: a non-trivial mean
  }
  // Without accuracy among the rewards: the rewards' means, no pass@1; no split, no evaluation.
  grpo(options("eval-no-acc", "max_steps: 1\neval_steps: 1\nmax_eval_samples: 2\n"));
  auto no_acc = eval_lines("eval-no-acc");
  ASSERT_EQ(no_acc.size(), 1u);
  EXPECT_FALSE(no_acc[0].contains("eval/pass@1"));
  EXPECT_TRUE(no_acc[0].contains("eval_rewards/soft_overlong_punishment/mean"));
  grpo(options("eval-no-split", "max_steps: 1\neval_steps: 1\ndataset_test_split: validation\n"));
  EXPECT_TRUE(eval_lines("eval-no-split").empty());
}

TEST(GrpoSamplingOptions, ValidationNamesTheKeyAndSplitPaths) {
  auto parse = [](const std::string& yaml) { return GrpoOptions::from_recipe(r1::Recipe::parse(yaml, "t")); };
  const std::string base = "model_name_or_path: m\ndataset_name: d.jsonl\noutput_dir: o\n";
  R1_EXPECT_THROW_WITH(parse(base + "dynamic_sampling: true\ndynamic_sampling_metric: acc\n"), r1::UsageError,
                       "dynamic_sampling_metric");
  R1_EXPECT_THROW_WITH(parse(base + "max_num_gen_batches: -1\n"), r1::UsageError, "max_num_gen_batches");
  R1_EXPECT_THROW_WITH(parse(base + "num_generations_eval: 0\n"), r1::UsageError, "num_generations_eval");
  GrpoOptions o = parse(base + "dynamic_sampling_metric: accuracy\n");
  EXPECT_EQ(o.dynamic_sampling_metric, "accuracy");
  GrpoOptions d = parse(base);
  EXPECT_FALSE(d.dynamic_sampling);
  EXPECT_EQ(d.dynamic_sampling_metric, "reward");
  EXPECT_EQ(d.max_num_gen_batches, 10);
  EXPECT_FALSE(d.num_generations_eval.has_value());
  EXPECT_EQ(d.to_json()["dataset_test_split"], "test");
  EXPECT_EQ(rl::split_path("/x/data.jsonl", "test"), fs::path("/x/data.test.jsonl"));
  r1::test::TempDir dir;
  EXPECT_EQ(rl::split_path(dir.path().string(), "dev"), dir.path() / "dev.jsonl");
}

}  // namespace
