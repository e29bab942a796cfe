// Reward-model training (r1/reward-trainer.h): the Bradley-Terry loss with margin and centring against
// hand-computed values; a reward model trained on a synthetic preference task (correct vs wrong sums) that ranks
// held-out pairs with >= 90 % accuracy, saved as a sequence classifier with pad_token_id; the CLI end to end
// (`r1 reward`, `r1 eval reward`); resume == the uninterrupted run. LoRA (use_peft, PEFT's SEQ_CLS): only adapters
// and the score head are optimised, the output is PEFT's adapter layout with the head, merging gives the same
// rewards, the adapter directory scores in `r1 eval reward` and as a GRPO reward model, resume is exact.
// Tokenizer: tests/golden/tokenizer/r1-bpe.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "common/jsonl.h"
#include "r1/error.h"
#include "r1/lora.h"
#include "r1/model.h"
#include "r1/recipe.h"
#include "r1/reward-trainer.h"
#include "r1/safetensors.h"
#include "test-helpers.h"
#include "train/reward-funcs.h"

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

train::RewardOptions lora_options(train::RewardOptions o) {
  o.finetune.peft.use_peft = true;
  o.finetune.peft.lora_r = 4;
  o.finetune.peft.lora_alpha = 8;
  o.finetune.peft.lora_target_modules = {"q_proj", "v_proj", "down_proj"};
  return o;
}

// (name, tensor) of a safetensors file, sorted by name.
std::map<std::string, at::Tensor> file_tensors(const fs::path& path) {
  safetensors::File f(path);
  std::map<std::string, at::Tensor> out;
  for (const auto& info : f.tensors()) out.emplace(info.name, f.get(info.name));
  return out;
}

TEST_F(RewardRun, LoraTrainsAdaptersAndTheScoreHeadInPeftsLayout) {
  train::RewardOptions o = lora_options(options("rm-lora", 20));
  o.training.save_strategy = "steps";
  o.training.save_steps = 20;
  train::reward(o);
  const fs::path out = *dir_ / "rm-lora";
  EXPECT_FALSE(fs::exists(out / "config.json"));  // PeftModel.save_pretrained: the adapter only
  json config = json::parse(test::read_bytes(out / "adapter_config.json"));
  EXPECT_EQ(config["task_type"], "SEQ_CLS");
  EXPECT_EQ(config["modules_to_save"], json({"classifier", "score"}));  // what PeftModelForSequenceClassification adds
  EXPECT_EQ(config["base_model_name_or_path"], (*dir_ / "base").string());
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["r"], 4);

  // PEFT's keys: lora_A / lora_B of the three targets in both layers, and the head under the module's own name.
  auto saved = file_tensors(out / "adapter_model.safetensors");
  std::set<std::string> expected = {"base_model.model.score.weight"};
  for (int l = 0; l < 2; ++l)
    for (const char* m : {"self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"})
      for (const char* ab : {"lora_A", "lora_B"})
        expected.insert(fmt::format("base_model.model.model.layers.{}.{}.{}.weight", l, m, ab));
  std::set<std::string> names;
  for (const auto& [name, t] : saved) names.insert(name);
  EXPECT_EQ(names, expected);
  EXPECT_EQ(saved.at("base_model.model.score.weight").sizes(), at::IntArrayRef({1, 32}));

  // The optimizer holds exactly these (so every other weight is the base's, bit for bit) and all of them moved:
  // B from zero, the head from its seeded initialisation.
  auto opt = file_tensors(out / "checkpoint-20/optimizer.safetensors");
  std::set<std::string> optimised;
  for (const auto& [name, t] : opt)
    if (name.size() > 8 && name.compare(name.size() - 8, 8, ".exp_avg") == 0)
      optimised.insert("base_model.model." + name.substr(0, name.size() - 8));
  EXPECT_EQ(optimised, expected);
  torch::manual_seed(uint64_t(o.training.seed));
  model::Transformer fresh = model::load_pretrained(*dir_ / "base", {.num_labels = 1});  // the run's initial head
  for (const auto& [name, t] : model::named_tensors(*fresh)) {
    if (name != "score.weight") continue;
    EXPECT_FALSE(t.equal(saved.at("base_model.model.score.weight")));
  }
  for (int l = 0; l < 2; ++l)
    EXPECT_GT(saved.at(fmt::format("base_model.model.model.layers.{}.self_attn.q_proj.lora_B.weight", l))
                  .abs()
                  .max()
                  .item<float>(),
              0);

  // Loaded with its base: a classifier with adapters whose weights are the base's and the saved ones.
  model::Transformer adapted = model::load_with_adapter(out);
  ASSERT_TRUE(adapted->config().is_classifier());
  ASSERT_TRUE(adapted->has_lora());
  for (const auto& [name, t] : model::adapter_tensors(*adapted)) EXPECT_TRUE(t.equal(saved.at(name))) << name;
  auto base_tensors = model::named_tensors(*fresh), adapted_tensors = model::named_tensors(*adapted);
  ASSERT_EQ(base_tensors.size(), adapted_tensors.size());
  for (size_t i = 0; i < base_tensors.size(); ++i) {
    if (base_tensors[i].first == "score.weight") continue;
    EXPECT_TRUE(base_tensors[i].second.equal(adapted_tensors[i].second)) << base_tensors[i].first;
  }

  // Merging (library and `r1 model merge-lora`) gives a full classifier with the same rewards.
  // rows one at a time: the base's config (hence the adapter's model) has no pad_token_id, as in PEFT
  const at::Tensor ids = torch::randint(1, 1000, {3, 9}, torch::kLong);  // (3, T)
  auto rewards = [&](model::TransformerImpl& m) {
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> r;
    for (int64_t i = 0; i < 3; ++i) r.push_back(m.sequence_logits(ids.narrow(0, i, 1)));  // (1, 1)
    return torch::cat(r);                                                                 // (3, 1)
  };
  adapted->eval();  // lora_dropout (0.05, TRL's default) off
  const at::Tensor expect = rewards(*adapted);
  auto merge =
      test::run_r1("--threads 1 model merge-lora " + out.string() + " --out " + (*dir_ / "rm-merged").string());
  ASSERT_EQ(merge.status, 0) << merge.output;
  json merged_config = json::parse(test::read_bytes(*dir_ / "rm-merged/config.json"));
  EXPECT_EQ(merged_config["architectures"][0], "LlamaForSequenceClassification");
  EXPECT_EQ(merged_config["id2label"].size(), 1u);  // num_labels 1, as transformers writes it
  EXPECT_EQ(merged_config["pad_token_id"], 0);      // the tokenizer's, as the full-model run saves it
  model::Transformer merged = model::load_pretrained(*dir_ / "rm-merged");
  EXPECT_TRUE(torch::allclose(rewards(*merged), expect, 1e-4, 1e-5));
  model::merge_lora(*adapted);
  EXPECT_TRUE(torch::allclose(rewards(*adapted), expect, 1e-4, 1e-5));
  model::Transformer direct = model::load_pretrained(out, {.num_labels = 1});  // an adapter directory, merged
  EXPECT_TRUE(torch::allclose(rewards(*direct), expect, 1e-4, 1e-5));
  EXPECT_THROW(model::load_pretrained(out, {.num_labels = 2}), UsageError);

  // `r1 eval reward` scores the adapter directory as the merged one; so does a GRPO reward model.
  auto a = train::score_preferences(out, *dir_ / "sums/test.jsonl", 0, 8);
  auto b = train::score_preferences(*dir_ / "rm-merged", *dir_ / "sums/test.jsonl", 0, 8);
  ASSERT_EQ(a.chosen.size(), b.chosen.size());
  for (size_t i = 0; i < a.chosen.size(); ++i) EXPECT_NEAR(a.chosen[i], b.chosen[i], 1e-4) << i;
  EXPECT_TRUE(train::is_reward_model_dir(out.string()));
  train::RewardModel ra(out, {}, at::kCPU), rb(*dir_ / "rm-merged", {}, at::kCPU);
  const std::vector<json> prompts = {"1+2=", "3+3="};
  const std::vector<std::string> completions = {"3", "5"};
  auto sa = ra.score(prompts, completions), sb = rb.score(prompts, completions);
  ASSERT_EQ(sa.size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(sa[i], sb[i], 1e-4) << i;
}

TEST_F(RewardRun, LoraResumeEqualsTheUninterruptedRun) {
  auto run = [&](const std::string& out, bool resume) {
    train::RewardOptions o = lora_options(options(out, 6));
    o.training.save_strategy = "steps";
    o.training.save_steps = 3;
    if (resume) o.training.resume_from_checkpoint = "true";
    train::reward(o);
  };
  run("rm-lora-full", false);
  fs::create_directories(*dir_ / "rm-lora-resumed");
  fs::copy(*dir_ / "rm-lora-full/checkpoint-3", *dir_ / "rm-lora-resumed/checkpoint-3", fs::copy_options::recursive);
  run("rm-lora-resumed", true);
  auto a = file_tensors(*dir_ / "rm-lora-full/adapter_model.safetensors");
  auto b = file_tensors(*dir_ / "rm-lora-resumed/adapter_model.safetensors");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_TRUE(a.count("base_model.model.score.weight"));
  for (const auto& [name, t] : a) EXPECT_TRUE(t.equal(b.at(name))) << name;
  // the step-3 checkpoint's head is not the final one: the comparison covers training after the resume
  auto mid = file_tensors(*dir_ / "rm-lora-full/checkpoint-3/adapter_model.safetensors");
  EXPECT_FALSE(mid.at("base_model.model.score.weight").equal(a.at("base_model.model.score.weight")));
}

TEST(LoraAdapterConfig, SeqClsAddsTheClassifierModulesAndOthersAreRefused) {
  json j = {{"r", 4},
            {"lora_alpha", 8},
            {"target_modules", {"q_proj"}},
            {"task_type", "SEQ_CLS"},
            {"modules_to_save", nullptr}};
  model::LoraConfig c = model::LoraConfig::from_adapter_config(j, "a.json");
  EXPECT_EQ(c.task_type, "SEQ_CLS");
  EXPECT_EQ(c.modules_to_save, (std::vector<std::string>{"classifier", "score"}));
  EXPECT_EQ(c.to_adapter_config()["modules_to_save"], json({"classifier", "score"}));
  j["modules_to_save"] = {"score"};
  EXPECT_EQ(model::LoraConfig::from_adapter_config(j, "a.json").modules_to_save,
            (std::vector<std::string>{"score", "classifier"}));
  j["modules_to_save"] = {"lm_head"};
  EXPECT_THROW(model::LoraConfig::from_adapter_config(j, "a.json"), Error);
  j["modules_to_save"] = {"score"};
  j["task_type"] = "CAUSAL_LM";
  EXPECT_THROW(model::LoraConfig::from_adapter_config(j, "a.json"), Error);
  j["modules_to_save"] = nullptr;
  j["task_type"] = "TOKEN_CLS";
  EXPECT_THROW(model::LoraConfig::from_adapter_config(j, "a.json"), Error);
}

TEST_F(RewardRun, CliTrainsEvaluatesAndTrainsLora) {
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
  const std::string lora_dir = (*dir_ / "cli-rm-lora").string();
  auto lora = test::run_r1("reward --model_name_or_path " + base + " --dataset_name " + data + " --output_dir " +
                           lora_dir + " --use_peft true --max_steps 2 --per_device_train_batch_size 4 --threads 1");
  ASSERT_EQ(lora.status, 0) << lora.output;
  EXPECT_NE(lora.output.find("modules_to_save [classifier, score]"), std::string::npos) << lora.output;
  EXPECT_TRUE(fs::exists(fs::path(lora_dir) / "adapter_config.json"));
  auto ev_lora = test::run_r1("--threads 1 eval reward --model " + lora_dir + " --data " + data + "/test.jsonl --json");
  ASSERT_EQ(ev_lora.status, 0) << ev_lora.output;
  EXPECT_NE(ev_lora.output.find("\"accuracy\""), std::string::npos) << ev_lora.output;
  auto dump = test::run_r1("reward --model_name_or_path " + base + " --dataset_name x --output_dir y --dump-config");
  ASSERT_EQ(dump.status, 0) << dump.output;
  EXPECT_NE(dump.output.find("center_rewards_coefficient: ~"), std::string::npos) << dump.output;
  EXPECT_NE(dump.output.find("learning_rate: 0.0001"), std::string::npos) << dump.output;
}

}  // namespace
}  // namespace r1
