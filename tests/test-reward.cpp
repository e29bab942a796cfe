// Reward-model training (r1/reward-trainer.h): the Bradley-Terry loss with margin and centring against
// hand-computed values; a reward model trained on a synthetic preference task (correct vs wrong sums) that ranks
// held-out pairs with >= 90 % accuracy, saved as a sequence classifier with pad_token_id; the CLI end to end
// (`r1 reward`, `r1 eval reward`, use_peft refused); resume == the uninterrupted run. Tokenizer:
// tests/golden/tokenizer/r1-bpe.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <random>

#include "common/jsonl.h"
#include "r1/error.h"
#include "r1/model.h"
#include "r1/recipe.h"
#include "r1/reward-trainer.h"
#include "test-helpers.h"

namespace r1 {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kTokenizer = fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/r1-bpe";

double neg_log_sigmoid(double x) { return std::log1p(std::exp(-x)); }

TEST(RewardLoss, BradleyTerryMarginAndCentringByHand) {
  at::Tensor chosen = torch::tensor({1.0f, 0.0f, -0.5f}), rejected = torch::tensor({0.0f, 2.0f, -0.5f});
  at::Tensor margin = torch::tensor({0.5f, 0.0f, -1.0f});
  at::Tensor plain = train::reward_loss(chosen, rejected, at::Tensor(), std::nullopt).losses;
  const double expect_plain[] = {neg_log_sigmoid(1.0), neg_log_sigmoid(-2.0), std::log(2.0)};
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(plain[i].item<double>(), expect_plain[i], 1e-6) << i;
  at::Tensor l = train::reward_loss(chosen, rejected, margin, 0.01).losses;
  const double expect[] = {neg_log_sigmoid(0.5) + 0.01 * 1.0, neg_log_sigmoid(-2.0) + 0.01 * 4.0,
                           neg_log_sigmoid(1.0) + 0.01 * 1.0};
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(l[i].item<double>(), expect[i], 1e-6) << i;
  // TRL's loss is the mean over pairs: -mean(log s(d - m)) + coef * mean((r_c + r_r)^2)
  EXPECT_NEAR(l.mean().item<double>(), (expect[0] + expect[1] + expect[2]) / 3, 1e-6);
}

void write_jsonl(const fs::path& path, const std::vector<json>& rows) {
  std::ofstream out(path);
  for (const auto& r : rows) out << r.dump() << "\n";
}

// "a+b=" with the right sum chosen and a wrong one (off by 1..3) rejected; a, b in 0..4.
std::vector<json> sum_rows(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<json> rows;
  for (size_t i = 0; i < n; ++i) {
    const int a = int(rng() % 5), b = int(rng() % 5), off = 1 + int(rng() % 3);
    const int wrong = (rng() % 2 == 0 && a + b - off >= 0) ? a + b - off : a + b + off;
    rows.push_back({{"prompt", std::to_string(a) + "+" + std::to_string(b) + "="},
                    {"chosen", std::to_string(a + b)},
                    {"rejected", std::to_string(wrong)}});
  }
  return rows;
}

struct RewardRun : ::testing::Test {
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    auto c = model::ModelConfig::parse(R"({"model_type": "llama", "vocab_size": 1300, "hidden_size": 32,
        "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 64, "initializer_range": 0.1, "tie_word_embeddings": true})",
                                       "tiny");
    torch::manual_seed(3);
    model::Transformer m(c);
    m->init_weights();
    model::save_pretrained(*m, *dir_ / "base");
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(kTokenizer / f, *dir_ / "base" / f);
    fs::create_directories(*dir_ / "sums");
    write_jsonl(*dir_ / "sums/train.jsonl", sum_rows(256, 1));
    write_jsonl(*dir_ / "sums/test.jsonl", sum_rows(100, 2));
  }
  static void TearDownTestSuite() { delete dir_; }
  static train::RewardOptions options(const std::string& out, int64_t steps) {
    Recipe recipe;
    recipe.apply_overrides({"--model_name_or_path", (*dir_ / "base").string(), "--dataset_name",
                            (*dir_ / "sums").string(), "--output_dir", (*dir_ / out).string()});
    train::RewardOptions o = train::RewardOptions::from_recipe(recipe);
    o.training.max_steps = steps;
    o.training.per_device_train_batch_size = 16;
    o.training.learning_rate = 3e-3;
    o.training.lr_scheduler_type = "constant";
    o.training.logging_steps = 1;
    o.training.save_strategy = "no";
    return o;
  }
  static test::TempDir* dir_;
};
test::TempDir* RewardRun::dir_ = nullptr;

TEST_F(RewardRun, LearnsHeldOutSumsAndSavesAClassifier) {
  train::RewardOptions o = options("rm", 150);
  EXPECT_DOUBLE_EQ(options("x", 1).training.learning_rate, 3e-3);
  o.training.eval_strategy = "steps";
  o.training.eval_steps = 150;
  train::TrainResult r = train::reward(o);
  std::vector<json> lines;
  for_each_jsonl_row(
      *dir_ / "rm/metrics.jsonl", [&](const json& row, size_t) { lines.push_back(row); }, false);
  ASSERT_FALSE(lines.empty());
  for (const char* k : {"loss", "accuracy", "margin", "rewards/chosen", "rewards/rejected"})
    EXPECT_TRUE(lines[0].contains(k)) << k;
  EXPECT_NEAR(lines[0]["loss"].get<double>(), std::log(2.0), 0.2);  // a fresh head scores near 0
  EXPECT_GE(r.last_eval.at("eval_accuracy"), 0.9);

  // The output is a sequence classifier transformers loads: num_labels 1, pad_token_id set.
  json config = json::parse(test::read_bytes(*dir_ / "rm/config.json"));
  EXPECT_EQ(config["architectures"][0], "LlamaForSequenceClassification");
  EXPECT_TRUE(config.contains("pad_token_id"));
  train::PreferenceScores s = train::score_preferences(*dir_ / "rm", *dir_ / "sums/test.jsonl", 0, 7);
  ASSERT_EQ(s.chosen.size(), 100u);
  double correct = 0;
  for (size_t i = 0; i < s.chosen.size(); ++i) correct += s.chosen[i] > s.rejected[i] ? 1 : 0;
  EXPECT_GE(correct / 100, 0.9);
  EXPECT_NEAR(correct / 100, r.last_eval.at("eval_accuracy"), 1e-9);  // the same tokens, pooling and batches' result
  EXPECT_EQ(train::score_preferences(*dir_ / "rm", *dir_ / "sums/test.jsonl", 3, 8).skipped, 100u);
}

TEST_F(RewardRun, ResumeEqualsTheUninterruptedRun) {
  train::RewardOptions o = options("rm-full", 6);
  o.training.save_strategy = "steps";
  o.training.save_steps = 3;
  train::reward(o);
  train::RewardOptions resumed = options("rm-resumed", 6);
  resumed.training.save_strategy = "steps";
  resumed.training.save_steps = 3;
  resumed.training.resume_from_checkpoint = "true";
  fs::create_directories(*dir_ / "rm-resumed");
  fs::copy(*dir_ / "rm-full/checkpoint-3", *dir_ / "rm-resumed/checkpoint-3", fs::copy_options::recursive);
  train::reward(resumed);
  auto a = model::load_pretrained(*dir_ / "rm-full"), b = model::load_pretrained(*dir_ / "rm-resumed");
  auto ta = model::named_tensors(*a), tb = model::named_tensors(*b);
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) EXPECT_TRUE(ta[i].second.equal(tb[i].second)) << ta[i].first;
}

TEST_F(RewardRun, CliTrainsEvaluatesAndRefusesLora) {
  const std::string base = (*dir_ / "base").string(), data = (*dir_ / "sums").string();
  auto run = test::run_r1("reward --model_name_or_path " + base + " --dataset_name " + data + " --output_dir " +
                          (*dir_ / "cli-rm").string() +
                          " --max_steps 2 --per_device_train_batch_size 4 --logging_steps 1 --threads 1"
                          " --center_rewards_coefficient 0.01");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("reward data: 256 pairs"), std::string::npos) << run.output;
  auto ev = test::run_r1("--threads 1 eval reward --model " + (*dir_ / "cli-rm").string() + " --data " + data +
                         "/test.jsonl --json");
  ASSERT_EQ(ev.status, 0) << ev.output;
  EXPECT_NE(ev.output.find("\"accuracy\""), std::string::npos) << ev.output;
  EXPECT_NE(ev.output.find("\"stderr\""), std::string::npos) << ev.output;
  auto causal = test::run_r1("eval reward --model " + base + " --data " + data + "/test.jsonl");
  EXPECT_EQ(causal.status, 2) << causal.output;
  auto lora = test::run_r1("reward --model_name_or_path " + base + " --dataset_name " + data +
                           " --output_dir y --use_peft true");
  EXPECT_EQ(lora.status, 2) << lora.output;
  EXPECT_NE(lora.output.find("use_peft"), std::string::npos) << lora.output;
  auto dump = test::run_r1("reward --model_name_or_path " + base + " --dataset_name x --output_dir y --dump-config");
  ASSERT_EQ(dump.status, 0) << dump.output;
  EXPECT_NE(dump.output.find("center_rewards_coefficient: ~"), std::string::npos) << dump.output;
  EXPECT_NE(dump.output.find("learning_rate: 0.0001"), std::string::npos) << dump.output;
}

}  // namespace
}  // namespace r1
