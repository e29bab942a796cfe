// Reward models as reward_funcs entries (src/train/reward-funcs.cpp): a randomly initialised sequence classifier
// with a ChatML template scores exactly sequence_logits(...)[:, 0] of the text TRL would render (conversational
// prompts through the reward model's own template, text prompts concatenated), the "answer" option scores only the
// text after </think>, scores do not depend on the batch size, entries resolve (registry name, classifier
// directory, usage errors naming a bad entry), a mixed dataset leaves rows without a gold answer to the reward model
// alone (accuracy n/a, TRL's NaN in combine_rewards), rejection sampling keeps by the model's score, and a 2-step
// GRPO run with reward_funcs [accuracy, <classifier dir>] logs rewards/<dir name>/mean.
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <map>

#include "common/jsonl.h"
#include "r1/error.h"
#include "r1/model.h"
#include "r1/recipe.h"
#include "r1/rejection-sample.h"
#include "r1/rewards.h"
#include "r1/tokenizer.h"
#include "r1/train.h"
#include "test-helpers.h"
#include "train/reward-funcs.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace r1::train;

namespace {

const char* kChatMl =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

json trunk(const r1::tokenizer::Tokenizer& tok) {
  return {{"model_type", "llama"},        {"vocab_size", tok.vocab_size()}, {"hidden_size", 32},
          {"intermediate_size", 64},      {"num_hidden_layers", 2},         {"num_attention_heads", 4},
          {"num_key_value_heads", 2},     {"max_position_embeddings", 128}, {"initializer_range", 0.2},
          {"eos_token_id", *tok.eos_id()}};
}

class ModelReward : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new r1::test::TempDir();
    {
      std::ofstream corpus(*dir_ / "corpus.txt");
      for (int i = 0; i < 200; ++i)
        corpus << "What is " << i << " + " << i + 1 << "? The answer is " << 2 * i + 1 << ". Say hello kindly.\n";
    }
    r1::tokenizer::TrainOptions t;
    t.pre_tokenizer = "qwen2";
    t.vocab_size = 300;
    t.special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    t.show_progress = false;
    r1::tokenizer::Tokenizer tok = r1::tokenizer::train_tokenizer({*dir_ / "corpus.txt"}, t);
    auto c = tok.config();
    c.eos_token = "<|im_end|>";
    c.pad_token = "<|endoftext|>";
    c.chat_template = kChatMl;
    tok.set_config(c);

    torch::manual_seed(5);
    json policy = trunk(tok);
    policy["tie_word_embeddings"] = true;
    r1::model::Transformer lm(r1::model::ModelConfig::parse(policy.dump(), "policy"));
    lm->init_weights();
    r1::model::save_pretrained(*lm, *dir_ / "policy");
    tok.save(*dir_ / "policy", true);

    json rm = trunk(tok);
    rm["architectures"] = {"LlamaForSequenceClassification"};
    rm["id2label"] = {{"0", "LABEL_0"}};
    rm["pad_token_id"] = tok.padding_id();
    r1::model::Transformer classifier(r1::model::ModelConfig::parse(rm.dump(), "rm"));
    classifier->init_weights();
    r1::model::save_pretrained(*classifier, *dir_ / "rm");
    tok.save(*dir_ / "rm", true);
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string rm_dir() { return (*dir_ / "rm").string(); }

  // The reference: the classifier loaded on its own, sequence_logits[:, 0] of `text` tokenized without specials.
  static double expected_score(const std::string& text) {
    torch::NoGradGuard no_grad;
    r1::model::Transformer m = r1::model::load_pretrained(rm_dir());
    m->eval();
    const auto tok = r1::tokenizer::Tokenizer::load(rm_dir());
    const std::vector<int32_t> ids = tok.encode(text, false);
    at::Tensor input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);
    return m->sequence_logits(input)[0][0].item<double>();
  }

  static r1::test::TempDir* dir_;
};
r1::test::TempDir* ModelReward::dir_ = nullptr;

TEST_F(ModelReward, ScoresTheFirstLogitOfPromptPlusCompletionAsTrlRendersIt) {
  RewardModel rm(rm_dir(), {}, at::kCPU);
  const json conversation = json::array({{{"role", "user"}, {"content", "What is 1 + 2?"}}});
  const std::string completion = "<think>1 + 2 is 3</think>The answer is 3.";
  const std::string chat =
      "<|im_start|>user\nWhat is 1 + 2?<|im_end|>\n<|im_start|>assistant\n<think>1 + 2 is 3</think>The answer is "
      "3.<|im_end|>\n";
  EXPECT_EQ(rm.render(conversation, completion), chat);
  const std::string plain = "What is 1 + 2? <think>1 + 2 is 3</think>The answer is 3.";
  EXPECT_EQ(rm.render(json("What is 1 + 2? "), completion), plain);

  const std::vector<double> s = rm.score({conversation, json("What is 1 + 2? ")}, {completion, completion});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[0], expected_score(chat), 1e-5);
  EXPECT_NEAR(s[1], expected_score(plain), 1e-5);
  EXPECT_GT(std::abs(s[0] - s[1]), 1e-6);  // the two renderings are different inputs
}

TEST_F(ModelReward, AnswerOptionScoresOnlyTheTextAfterTheReasoning) {
  EXPECT_EQ(answer_part("<think>a</think>b"), "b");
  EXPECT_EQ(answer_part("reasoning</think>\nfinal"), "\nfinal");
  EXPECT_EQ(answer_part("no reasoning here"), "no reasoning here");

  RewardModel answer(rm_dir(), RewardModelOptions::parse({{"score", "answer"}}, "rm"), at::kCPU);
  RewardModel all(rm_dir(), RewardModelOptions::parse({{"score", "all"}}, "rm"), at::kCPU);
  const json conversation = json::array({{{"role", "user"}, {"content", "Say hello"}}});
  const std::string expected = "<|im_start|>user\nSay hello<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n";
  EXPECT_EQ(answer.render(conversation, "<think>be kind</think>hello"), expected);
  const double a = answer.score({conversation}, {"<think>be kind</think>hello"})[0];
  EXPECT_NEAR(a, expected_score(expected), 1e-5);
  EXPECT_NEAR(a, all.score({conversation}, {"hello"})[0], 1e-6);  // the reasoning is not seen
  EXPECT_GT(std::abs(a - all.score({conversation}, {"<think>be kind</think>hello"})[0]), 1e-6);

  R1_EXPECT_THROW_WITH(RewardModelOptions::parse({{"score", "reasoning"}}, "rm"), r1::UsageError, "score");
  R1_EXPECT_THROW_WITH(RewardModelOptions::parse({{"batch_size", 0}}, "rm"), r1::UsageError, "batch_size");
  R1_EXPECT_THROW_WITH(RewardModelOptions::parse({{"temperature", 1}}, "rm"), r1::UsageError, "temperature");
}

TEST_F(ModelReward, ScoresDoNotDependOnTheBatchSize) {
  std::vector<json> prompts;
  std::vector<std::string> completions;
  for (int i = 0; i < 7; ++i) {
    prompts.push_back(i % 2 ? json("What is " + std::to_string(i) + "? ")
                            : json::array({{{"role", "user"}, {"content", "What is " + std::to_string(i) + "?"}}}));
    completions.push_back(std::string(size_t(1 + 5 * i), 'x') + " The answer is " + std::to_string(i));
  }
  const std::vector<double> one = RewardModel(rm_dir(), {.batch_size = 1}, at::kCPU).score(prompts, completions);
  for (int64_t batch : {3, 16}) {
    const std::vector<double> many = RewardModel(rm_dir(), {.batch_size = batch}, at::kCPU).score(prompts, completions);
    ASSERT_EQ(many.size(), one.size());
    for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(many[i], one[i], 1e-5) << "batch " << batch << " row " << i;
  }
}

TEST_F(ModelReward, EntriesAreRegistryNamesOrClassifierDirectories) {
  const json kwargs = {{rm_dir(), {{"score", "answer"}}}};
  std::vector<RewardFunc> fns = make_reward_funcs({"format", rm_dir()}, kwargs, at::kCPU);
  ASSERT_EQ(fns.size(), 2u);
  EXPECT_EQ(fns[0].name(), "format");
  EXPECT_FALSE(fns[0].is_model());
  EXPECT_EQ(fns[1].name(), "rm");  // TRL's reward_func_names: the model's last path component
  EXPECT_TRUE(fns[1].is_model());
  EXPECT_EQ(make_reward_funcs({rm_dir() + "/"}, json::object(), at::kCPU)[0].name(), "rm");
  EXPECT_TRUE(is_reward_model_entry(rm_dir()));
  EXPECT_FALSE(is_reward_model_entry((*dir_ / "policy").string()));

  R1_EXPECT_THROW_WITH(check_reward_funcs({"no_such_reward"}, json::object()), r1::UsageError, "'no_such_reward'",
                       "reward model directory");
  R1_EXPECT_THROW_WITH(check_reward_funcs({(*dir_ / "policy").string()}, json::object()), r1::UsageError,
                       "not a sequence-classification model");
  R1_EXPECT_THROW_WITH(check_reward_funcs({rm_dir()}, json{{rm_dir(), {{"beta", 1}}}}), r1::UsageError,
                       "unknown parameter 'beta'");
}

// R1's mixed data: reasoning rows carry a gold answer, general rows do not. accuracy is "not applicable" on the
// latter (never called on them), so the weighted sum there is the reward model's score alone.
TEST_F(ModelReward, MixedDatasetLeavesRowsWithoutAGoldAnswerToTheRewardModel) {
  const std::vector<json> prompts = {json("What is 1 + 1? "), json("Say hello. ")};
  const std::vector<std::string> completions = {"The answer is $\\boxed{2}$", "hello"};
  const std::vector<json> examples = {{{"solution", "$2$"}}, {{"topic", "chat"}}};
  std::vector<RewardFunc> fns = make_reward_funcs({"accuracy", rm_dir()}, json::object(), at::kCPU);
  const std::vector<r1::rewards::Score> accuracy = fns[0](prompts, completions, examples);
  const std::vector<r1::rewards::Score> model = fns[1](prompts, completions, examples);
  ASSERT_TRUE(accuracy[0].has_value());
  EXPECT_DOUBLE_EQ(*accuracy[0], 1.0);
  EXPECT_FALSE(accuracy[1].has_value());
  ASSERT_TRUE(model[0] && model[1]);
  EXPECT_NEAR(*model[1], expected_score("Say hello. hello"), 1e-5);
  const std::vector<r1::rewards::Score> total = r1::rewards::combine_rewards({accuracy, model}, {1.0, 0.5});
  EXPECT_NEAR(*total[0], 1.0 + 0.5 * *model[0], 1e-12);
  EXPECT_NEAR(*total[1], 0.5 * *model[1], 1e-12);

  // Without a reward model a row without a gold answer stays an error.
  std::vector<RewardFunc> alone = make_reward_funcs({"accuracy"}, json::object(), at::kCPU);
  EXPECT_THROW(alone[0](prompts, completions, examples), r1::Error);
}

TEST_F(ModelReward, RejectionSamplingKeepsByTheModelsScore) {
  using Json = nlohmann::ordered_json;
  const Json prompt = Json::array({{{"role", "user"}, {"content", "Say hello"}}});
  const std::vector<Json> rows = {{{"topic", "chat"},
                                   {"__prompt", prompt},
                                   {"__completions", Json::array({"hello", "hello kindly"})},
                                   {"finish_reasons", Json::array({"stop", "stop"})}}};
  r1::pipeline::RejectionSampleOptions o;
  o.reward_funcs = {rm_dir()};
  o.thresholds[rm_dir()] = -1e9;  // every response passes; best keeps the higher score
  o.keep = r1::pipeline::KeepPolicy::kBest;
  r1::pipeline::RejectionSampleReport report;
  const std::vector<Json> kept = r1::pipeline::select_samples(rows, o, report);
  ASSERT_EQ(kept.size(), 1u);
  RewardModel rm(rm_dir(), {}, at::kCPU);
  const std::vector<double> s =
      rm.score({json::parse(prompt.dump()), json::parse(prompt.dump())}, {"hello", "hello kindly"});
  const size_t best = s[1] > s[0] ? 1 : 0;
  EXPECT_EQ(kept[0]["sample_index"].get<size_t>(), best);
  EXPECT_NEAR(kept[0]["rewards"][rm_dir()].get<double>(), s[best], 1e-9);
}

TEST_F(ModelReward, TwoStepGrpoRunWithARewardModelReward) {
  {
    std::ofstream data(*dir_ / "mixed.jsonl");
    for (int i = 0; i < 4; ++i) {
      data << json{{"problem", "What is " + std::to_string(i) + " + 1?"},
                   {"solution", "$" + std::to_string(i + 1) + "$"}}
                  .dump()
           << "\n";
      data << json{{"prompt", "Say hello " + std::to_string(i) + " times."}}.dump() << "\n";
    }
  }
  const std::string out = (*dir_ / "grpo").string();
  r1::Recipe recipe = r1::Recipe::parse(
      "model_name_or_path: " + (*dir_ / "policy").string() + "\ndataset_name: " + (*dir_ / "mixed.jsonl").string() +
          "\noutput_dir: " + out +
          "\nnum_generations: 2\nper_device_train_batch_size: 4\ngradient_accumulation_steps: 1\n"
          "max_completion_length: 8\nmax_prompt_length: 48\nmax_steps: 2\nlogging_steps: 1\nsave_steps: 1000\n"
          "beta: 0.0\nlog_completions: true\nreward_funcs: [accuracy, \"" +
          rm_dir() + "\"]\nreward_kwargs: {\"" + rm_dir() + "\": {score: answer, batch_size: 3}}\n",
      "test");
  grpo(GrpoOptions::from_recipe(recipe));
  const std::vector<json> metrics = r1::test::read_jsonl(fs::path(out) / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 2u);
  for (const json& m : metrics) {
    ASSERT_TRUE(m.contains("rewards/rm/mean")) << m.dump();
    EXPECT_TRUE(m["rewards/rm/mean"].is_number());
    EXPECT_TRUE(m.contains("rewards/accuracy/mean"));
  }
  // Every completion has a model score; accuracy is null exactly on the rows without a solution; the logged mean is
  // the mean of the logged scores.
  RewardModel rm(rm_dir(), {.score = ScoredText::kAnswer}, at::kCPU);
  size_t lines = 0;
  std::map<int64_t, std::pair<double, int>> per_step;
  for (const json& row : r1::test::read_jsonl(fs::path(out) / "completions.jsonl")) {
    ++lines;
    ASSERT_TRUE(row["rm"].is_number()) << row.dump();
    const std::string rendered = row["prompt"].get<std::string>();
    EXPECT_EQ(row["accuracy"].is_null(), rendered.find("Say hello") != std::string::npos) << row.dump();
    auto& [sum, n] = per_step[row["step"].get<int64_t>()];
    sum += row["rm"].get<double>(), ++n;
    // The reward model saw the policy's conversation through its own template; a random policy's bytes may not be
    // UTF-8, which the log replaces, so only clean completions can be scored again from the log.
    const std::string completion = row["completion"].get<std::string>();
    if (completion.find("\xEF\xBF\xBD") != std::string::npos) continue;
    const size_t begin = rendered.find("user\n") + 5, end = rendered.find("<|im_end|>");
    const json conversation = json::array({{{"role", "user"}, {"content", rendered.substr(begin, end - begin)}}});
    EXPECT_NEAR(row["rm"].get<double>(), rm.score({conversation}, {completion})[0], 1e-4) << row.dump();
  }
  for (const auto& [step, sum_n] : per_step)
    EXPECT_NEAR(metrics[size_t(step - 1)]["rewards/rm/mean"].get<double>(), sum_n.first / sum_n.second, 1e-6);
  EXPECT_EQ(lines, 8u);  // 2 steps x 2 prompts x 2 generations
}

}  // namespace
