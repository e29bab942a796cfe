// SFT, DPO and LoRA: the SFT loss mask token by token on a rendered conversation (and the other TRL formats),
// best-fit-decreasing packing by hand, packed rows == separate forwards (segment_ids) and packed loss ==
// unpacked loss, DPO losses from their formulas on hand-made log-probs and ln 2 at step 0, a short DPO run
// raising held-out preference accuracy, LoRA (only adapters change, merge == adapter forward, disabled ==
// base, PEFT file names and keys, resume), and the CLI end to end (r1 sft, r1 dpo, r1 model merge-lora).
// Tokenizer: tests/golden/tokenizer/r1-bpe (byte-level BPE, <|im_start|>/<|im_end|>, EOS <|endoftext|>).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <random>

#include "common/jsonl.h"
#include "r1/chat-template.h"
#include "r1/data.h"
#include "r1/engine.h"
#include "r1/error.h"
#include "r1/lora.h"
#include "r1/model.h"
#include "r1/recipe.h"
#include "r1/safetensors.h"
#include "r1/tokenizer.h"
#include "r1/train.h"
#include "test-helpers.h"
#include "train/finetune.h"

namespace r1 {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using test::TempDir;

const fs::path kTokenizer = fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/r1-bpe";

const tokenizer::Tokenizer& tok() {
  static tokenizer::Tokenizer t = tokenizer::Tokenizer::load(kTokenizer);
  return t;
}

model::Transformer tiny_model(uint64_t seed, bool tied = true) {
  auto c = model::ModelConfig::parse(R"({"model_type": "llama", "vocab_size": 1300, "hidden_size": 32,
      "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
      "max_position_embeddings": 256, "initializer_range": 0.1})",
                                     "tiny");
  c.tie_word_embeddings = tied;
  torch::manual_seed(seed);
  model::Transformer m(c);
  m->init_weights();
  return m;
}

// A model directory with the tokenizer beside the weights.
fs::path save_tiny(const fs::path& dir, uint64_t seed) {
  auto m = tiny_model(seed);
  model::save_pretrained(*m, dir);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(kTokenizer / f, dir / f);
  return dir;
}

void write_jsonl(const fs::path& path, const std::vector<json>& rows) {
  std::ofstream out(path);
  for (const auto& r : rows) out << r.dump() << "\n";
}

std::string decode(const std::vector<int32_t>& ids) { return tok().decode(ids); }

// ---- SFT examples -----------------------------------------------------------------------------------------

TEST(SftExample, AssistantOnlyMaskTokenByToken) {
  auto chatml = tokenizer::ChatTemplate::named("chatml");
  const json messages = json::array({{{"role", "system"}, {"content", "Be brief."}},
                                     {{"role", "user"}, {"content", "What is 2 + 3?"}},
                                     {{"role", "assistant"}, {"content", "It is 5."}},
                                     {{"role", "user"}, {"content", "And 4 + 4?"}},
                                     {{"role", "assistant"}, {"content", "The answer is 8, of course."}}});
  data::SftFormatOptions o;
  o.assistant_only_loss = true;
  data::SftExample ex = data::sft_example(tok(), &chatml, {{"messages", messages}}, o, "row:1");
  ASSERT_EQ(ex.ids.size(), ex.loss_mask.size());
  // the rendered text, its tokens with byte spans, and the assistant spans found independently in the text
  const std::string text = chatml.render(json{{"messages", messages}, {"add_generation_prompt", false}}).text;
  std::vector<std::pair<size_t, size_t>> spans;
  for (const char* content : {"It is 5.", "The answer is 8, of course."}) {
    const std::string turn = std::string("<|im_start|>assistant\n") + content + "<|im_end|>\n";
    const size_t at = text.find(turn);
    ASSERT_NE(at, std::string::npos);
    spans.emplace_back(at + std::string("<|im_start|>assistant\n").size(), at + turn.size());
  }
  auto tokens = tok().encode_with_spans(text, false);
  ASSERT_EQ(tokens.size(), ex.ids.size());
  std::string targets;
  for (size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(tokens[i].id, ex.ids[i]) << i;
    bool inside = false;
    for (auto [b, e] : spans) inside = inside || (tokens[i].begin >= b && tokens[i].end <= e);
    EXPECT_EQ(ex.loss_mask[i], inside ? 1 : 0) << "token " << i << " '" << decode({ex.ids[i]}) << "'";
    if (ex.loss_mask[i]) targets += decode({ex.ids[i]});
  }
  EXPECT_EQ(targets, "It is 5.<|im_end|>\nThe answer is 8, of course.<|im_end|>\n");
  // without assistant_only_loss every token but the first is a target
  data::SftExample all = data::sft_example(tok(), &chatml, {{"messages", messages}}, {}, "row:1");
  EXPECT_EQ(all.ids, ex.ids);
  EXPECT_EQ(all.loss_mask[0], 0);
  for (size_t i = 1; i < all.loss_mask.size(); ++i) EXPECT_EQ(all.loss_mask[i], 1);
}

TEST(SftExample, PromptCompletionTextAlpacaAndTruncation) {
  const int32_t eos = *tok().eos_id();
  const auto prompt = tok().encode("Question: what is 2 + 2?", true);
  const auto completion = tok().encode(" Four.", false);
  data::SftExample ex =
      data::sft_example(tok(), nullptr, {{"prompt", "Question: what is 2 + 2?"}, {"completion", " Four."}}, {}, "r");
  std::vector<int32_t> expected = prompt;
  expected.insert(expected.end(), completion.begin(), completion.end());
  expected.push_back(eos);
  EXPECT_EQ(ex.ids, expected);
  for (size_t i = 0; i < ex.ids.size(); ++i) EXPECT_EQ(ex.loss_mask[i], i >= prompt.size() ? 1 : 0) << i;

  data::SftFormatOptions whole;
  whole.completion_only_loss = false;
  ex =
      data::sft_example(tok(), nullptr, {{"prompt", "Question: what is 2 + 2?"}, {"completion", " Four."}}, whole, "r");
  for (size_t i = 0; i < ex.ids.size(); ++i) EXPECT_EQ(ex.loss_mask[i], i > 0 ? 1 : 0) << i;

  ex = data::sft_example(tok(), nullptr, {{"text", "plain text"}}, {}, "r");
  EXPECT_EQ(ex.ids.back(), eos);
  EXPECT_EQ(ex.loss_mask.front(), 0);
  EXPECT_EQ(ex.loss_mask.back(), 1);

  // Alpaca: instruction + "\n\n" + input as the prompt, output as the completion
  data::SftExample alpaca =
      data::sft_example(tok(), nullptr, {{"instruction", "Add."}, {"input", "2 and 2"}, {"output", " 4"}}, {}, "r");
  data::SftExample same =
      data::sft_example(tok(), nullptr, {{"prompt", "Add.\n\n2 and 2"}, {"completion", " 4"}}, {}, "r");
  EXPECT_EQ(alpaca.ids, same.ids);
  EXPECT_EQ(alpaca.loss_mask, same.loss_mask);

  data::SftFormatOptions short_ones;
  short_ones.max_length = 4;
  ex = data::sft_example(tok(), nullptr, {{"text", "a somewhat longer text than four tokens"}}, short_ones, "r");
  EXPECT_EQ(ex.ids.size(), 4u);
  EXPECT_TRUE(ex.truncated);

  R1_EXPECT_THROW_WITH(data::sft_example(tok(), nullptr, {{"question", "x"}}, {}, "data.jsonl:7"), Error,
                       "data.jsonl:7", "question");
  R1_EXPECT_THROW_WITH(
      data::sft_example(tok(), nullptr, {{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}}, {},
                        "data.jsonl:3"),
      Error, "data.jsonl:3", "chat_template");
  // Malformed messages are named by the row and the message, not by the chat template's position.
  auto chatml = tokenizer::ChatTemplate::named("chatml");
  const json user = {{"role", "user"}, {"content", "hi"}};
  for (const auto& [messages, expected] : std::vector<std::pair<json, std::string>>{
           {json::array({user, {{"content", "no role"}}}), "data.jsonl:9: message 1 has no string 'role'"},
           {json::array({user, {{"role", 5}, {"content", "x"}}}), "data.jsonl:9: message 1 has no string 'role'"},
           {json::array({user, {{"role", "assistant"}, {"content", 42}}}), "data.jsonl:9: message 1's 'content'"},
           {json::array({user, "just text"}), "data.jsonl:9: message 1 is not a {role, content} object"}}) {
    R1_EXPECT_THROW_WITH(data::sft_example(tok(), &chatml, {{"messages", messages}}, {}, "data.jsonl:9"), Error,
                         expected);
    R1_EXPECT_THROW_WITH(
        data::preference_example(tok(), &chatml,
                                 {{"prompt", json::array({user})}, {"chosen", messages}, {"rejected", messages}}, 0, 0,
                                 "prefs.jsonl:9"),
        Error, "prefs.jsonl:9");
  }
}

TEST(Packing, BestFitDecreasingByHand) {
  // longest first: 6 -> bin0 (room 2), 5 -> bin1 (room 3), 4 -> bin2 (room 4), 3 -> bin1 (fullest that fits),
  // 2 -> bin0
  auto bins = data::pack_best_fit_decreasing({5, 3, 4, 2, 6}, 8);
  ASSERT_EQ(bins.size(), 3u);
  EXPECT_EQ(bins[0], (std::vector<size_t>{4, 3}));
  EXPECT_EQ(bins[1], (std::vector<size_t>{0, 1}));
  EXPECT_EQ(bins[2], (std::vector<size_t>{2}));
  EXPECT_THROW(data::pack_best_fit_decreasing({9}, 8), Error);
}

TEST(Packing, PackedForwardEqualsSeparateForwards) {
  auto m = tiny_model(1);
  m->eval();
  torch::NoGradGuard no_grad;
  at::Tensor a = torch::randint(0, 1200, {1, 7}, torch::kLong), b = torch::randint(0, 1200, {1, 5}, torch::kLong);
  at::Tensor packed = torch::cat({a, b}, 1);                                                                // (1, 12)
  at::Tensor seg = torch::cat({torch::zeros({1, 7}, torch::kLong), torch::ones({1, 5}, torch::kLong)}, 1);  // (1, 12)
  model::ForwardArgs args;
  args.segment_ids = seg;
  at::Tensor together = m->forward(packed, args);  // (1, 12, V)
  EXPECT_TRUE(at::allclose(together.narrow(1, 0, 7), m->forward(a), 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(together.narrow(1, 7, 5), m->forward(b), 1e-5, 1e-5));
  // without segments the second example would see the first: the check above can fail
  EXPECT_FALSE(at::allclose(m->forward(packed).narrow(1, 7, 5), m->forward(b), 1e-3, 1e-3));
}

TEST(Packing, PackedLossEqualsUnpackedLoss) {
  auto m = tiny_model(2);
  std::vector<data::SftExample> ex;
  for (const char* text : {"one two three four five", "six", "seven eight nine", "ten eleven"})
    ex.push_back(data::sft_example(tok(), nullptr, {{"prompt", "Say:"}, {"completion", text}}, {}, "r"));
  auto seg = [&](size_t i) { return train::detail::Segment{&ex[i].ids, &ex[i].loss_mask}; };
  auto loss = [&](const std::vector<std::vector<train::detail::Segment>>& rows) {
    auto b = train::detail::make_lm_batch(rows, 0, at::kCPU);
    auto t = train::detail::target_logits(*m, b);
    auto [sum, n] = train::causal_lm_loss_sum(t.logits.unsqueeze(0), t.labels.unsqueeze(0));
    EXPECT_EQ(n, b.targets);
    return std::pair{sum.item<double>(), n};
  };
  auto unpacked = loss({{seg(0)}, {seg(1)}, {seg(2)}, {seg(3)}});  // padded rows
  auto packed = loss({{seg(0), seg(1)}, {seg(2), seg(3)}});        // two examples per row
  auto padding_free = loss({{seg(0), seg(1), seg(2), seg(3)}});    // one row
  EXPECT_EQ(unpacked.second, packed.second);
  EXPECT_NEAR(packed.first, unpacked.first, 1e-4 * unpacked.first);
  EXPECT_NEAR(padding_free.first, unpacked.first, 1e-4 * unpacked.first);
  int64_t completion_tokens = 0;
  for (const auto& e : ex)
    for (uint8_t v : e.loss_mask) completion_tokens += v;
  EXPECT_EQ(unpacked.second, completion_tokens);
}

// ---- DPO ----------------------------------------------------------------------------------------------------

double log_sigmoid(double x) { return -std::log1p(std::exp(-x)); }

TEST(DpoLoss, FormulasOnHandMadeLogProbs) {
  const std::vector<double> pc = {-3.0, -7.5, -2.0}, pr = {-4.0, -6.0, -9.0}, rc = {-3.5, -7.0, -2.5},
                            rr = {-3.8, -6.5, -8.0};
  auto t = [](const std::vector<double>& v) { return torch::tensor(v, torch::kDouble); };
  const double beta = 0.3, e = 0.1;
  for (const char* type : {"sigmoid", "robust", "hinge", "ipo"}) {
    train::DpoLoss l = train::dpo_loss(t(pc), t(pr), t(rc), t(rr), type, beta, e);
    for (size_t i = 0; i < pc.size(); ++i) {
      const double z = (pc[i] - pr[i]) - (rc[i] - rr[i]);
      double expected = 0;
      if (std::string(type) == "sigmoid") expected = -log_sigmoid(beta * z) * (1 - e) - log_sigmoid(-beta * z) * e;
      if (std::string(type) == "robust")
        expected = (-log_sigmoid(beta * z) * (1 - e) + log_sigmoid(-beta * z) * e) / (1 - 2 * e);
      if (std::string(type) == "hinge") expected = std::max(0.0, 1 - beta * z);
      if (std::string(type) == "ipo") expected = (z - 1 / (2 * beta)) * (z - 1 / (2 * beta));
      EXPECT_NEAR(l.losses[int64_t(i)].item<double>(), expected, 1e-12) << type << " " << i;
      EXPECT_NEAR(l.chosen_rewards[int64_t(i)].item<double>(), beta * (pc[i] - rc[i]), 1e-12);
      EXPECT_NEAR(l.rejected_rewards[int64_t(i)].item<double>(), beta * (pr[i] - rr[i]), 1e-12);
    }
  }
  // policy == reference, no smoothing: ln 2 exactly
  train::DpoLoss same = train::dpo_loss(t(pc), t(pr), t(pc), t(pr), "sigmoid", beta, 0.0);
  for (int64_t i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(same.losses[i].item<double>(), std::log(2.0));
  EXPECT_THROW(train::dpo_loss(t(pc), t(pr), t(rc), t(rr), "kto", beta, 0), UsageError);
}

// Synthetic preferences: after "Pick:" the chosen continuation uses words of one list, the rejected of another.
std::vector<json> preference_rows(size_t n, uint64_t seed) {
  const std::vector<std::string> prompts = {"red",   "blue", "green", "small", "large",
                                            "quick", "slow", "warm",  "cold",  "old"};
  const std::vector<std::string> good = {" yes please", " thank you", " good idea", " yes indeed"};
  const std::vector<std::string> bad = {" no way", " go away", " bad idea", " not now"};
  std::mt19937_64 rng(seed);
  std::vector<json> rows;
  for (size_t i = 0; i < n; ++i)
    rows.push_back({{"prompt", "Pick: " + prompts[rng() % prompts.size()] + " " + prompts[rng() % prompts.size()]},
                    {"chosen", good[rng() % good.size()]},
                    {"rejected", bad[rng() % bad.size()]}});
  return rows;
}

struct FinetuneRun : ::testing::Test {
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    save_tiny(*dir_ / "base", 11);
    fs::create_directories(*dir_ / "prefs");
    write_jsonl(*dir_ / "prefs/train.jsonl", preference_rows(64, 1));
    write_jsonl(*dir_ / "prefs/test.jsonl", preference_rows(32, 2));
    std::vector<json> chats;
    for (int i = 0; i < 24; ++i)
      chats.push_back(
          {{"messages",
            json::array({{{"role", "user"}, {"content", "Count from " + std::to_string(i)}},
                         {{"role", "assistant"}, {"content", std::to_string(i + 1) + " " + std::to_string(i + 2)}}})}});
    write_jsonl(*dir_ / "chat.jsonl", chats);
  }
  static void TearDownTestSuite() { delete dir_; }

  static train::DpoOptions dpo_options(const std::string& out, int64_t steps) {
    train::DpoOptions o;
    o.finetune.model_name_or_path = (*dir_ / "base").string();
    o.finetune.tokenizer_name_or_path = o.finetune.model_name_or_path;
    o.finetune.dataset_name = (*dir_ / "prefs").string();
    o.training.output_dir = (*dir_ / out).string();
    o.training.max_steps = steps;
    o.training.per_device_train_batch_size = 8;
    o.training.learning_rate = 5e-3;
    o.training.lr_scheduler_type = "constant";
    o.training.logging_steps = 1;
    o.training.save_strategy = "no";
    o.training.save_final_model = false;
    o.beta = 0.5;
    return o;
  }
  static train::SftOptions sft_options(const std::string& out, int64_t steps) {
    train::SftOptions o;
    o.finetune.model_name_or_path = (*dir_ / "base").string();
    o.finetune.tokenizer_name_or_path = o.finetune.model_name_or_path;
    o.finetune.dataset_name = (*dir_ / "chat.jsonl").string();
    o.finetune.chat_template = "chatml";
    o.training.output_dir = (*dir_ / out).string();
    o.training.max_steps = steps;
    o.training.per_device_train_batch_size = 4;
    o.training.learning_rate = 1e-2;
    o.training.logging_steps = 1;
    o.training.save_steps = 2;
    o.max_length = 64;
    return o;
  }
  static std::vector<json> metrics(const std::string& out) {
    std::vector<json> lines;
    for_each_jsonl_row(
        *dir_ / out / "metrics.jsonl", [&](const json& r, size_t) { lines.push_back(r); }, false);
    return lines;
  }
  static TempDir* dir_;
};
TempDir* FinetuneRun::dir_ = nullptr;

TEST_F(FinetuneRun, DpoStartsAtLn2AndLearnsHeldOutPreferences) {
  train::DpoOptions o = dpo_options("dpo", 30);
  o.training.eval_strategy = "steps";
  o.training.eval_steps = 30;
  train::TrainResult r = train::dpo(o);
  auto lines = metrics("dpo");
  ASSERT_FALSE(lines.empty());
  EXPECT_NEAR(lines[0]["loss"].get<double>(), std::log(2.0), 1e-6);  // policy == reference at step 0
  EXPECT_EQ(lines[0]["rewards/margins"].get<double>(), 0.0);
  for (const char* k : {"rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen",
                        "logps/rejected"})
    EXPECT_TRUE(lines[0].contains(k)) << k;
  EXPECT_TRUE(lines.back().contains("eval_rewards/accuracies"));
  EXPECT_GE(r.last_eval.at("eval_rewards/accuracies"), 0.9);  // held-out pairs, 0 at step 0 (equal rewards)
  EXPECT_LT(r.last_eval.at("eval_loss"), 0.5 * std::log(2.0));
}

TEST_F(FinetuneRun, DpoPrecomputedReferenceMatchesLiveReference) {
  train::TrainResult live = train::dpo(dpo_options("dpo-live", 4));
  train::DpoOptions o = dpo_options("dpo-pre", 4);
  o.precompute_ref_log_probs = true;
  train::TrainResult pre = train::dpo(o);
  EXPECT_NEAR(pre.last_loss, live.last_loss, 1e-4);
  EXPECT_NEAR(metrics("dpo-pre")[0]["loss"].get<double>(), std::log(2.0), 1e-5);
}

TEST_F(FinetuneRun, IpoStartsAtItsMarginAndAveragesLogProbsOverTokens) {
  train::DpoOptions o = dpo_options("dpo-ipo", 1);
  o.loss_type = "ipo";
  train::dpo(o);
  train::dpo(dpo_options("dpo-sigmoid", 1));
  const json ipo = metrics("dpo-ipo")[0], sigmoid = metrics("dpo-sigmoid")[0];
  EXPECT_NEAR(ipo["loss"].get<double>(), std::pow(1 / (2 * o.beta), 2), 1e-6);  // z = 0 at step 0
  // same pairs, same model: IPO's log-probs are the summed ones divided by the continuation lengths; the
  // chosen continuations here are 4..6 tokens plus EOS
  const double per_token = ipo["logps/chosen"].get<double>(), summed = sigmoid["logps/chosen"].get<double>();
  EXPECT_LT(summed, 4.5 * per_token);
  EXPECT_GT(summed, 7.5 * per_token);
}

TEST_F(FinetuneRun, DpoWithLoraUsesDisabledAdaptersAsReference) {
  train::DpoOptions o = dpo_options("dpo-lora", 6);
  o.finetune.peft.use_peft = true;
  o.finetune.peft.lora_target_modules = {"all-linear"};
  o.finetune.peft.lora_dropout = 0;
  o.training.save_final_model = true;
  train::dpo(o);
  auto lines = metrics("dpo-lora");
  EXPECT_NEAR(lines[0]["loss"].get<double>(), std::log(2.0), 1e-6);
  EXPECT_LT(lines.back()["loss"].get<double>(), lines[0]["loss"].get<double>());
  EXPECT_TRUE(fs::exists(*dir_ / "dpo-lora/adapter_model.safetensors"));
  EXPECT_FALSE(fs::exists(*dir_ / "dpo-lora/model.safetensors"));
}

// ---- LoRA ---------------------------------------------------------------------------------------------------

TEST(Lora, FreshAdapterIsIdentityMergeEqualsAdapterForwardAndDisableGivesBase) {
  auto m = tiny_model(3, /*tied=*/false);
  m->eval();
  at::Tensor ids = torch::randint(0, 1200, {2, 40}, torch::kLong);  // 80 rows: the fused-projection path
  torch::NoGradGuard no_grad;
  at::Tensor base = m->forward(ids);
  model::LoraConfig c;
  c.r = 4;
  c.lora_alpha = 8;
  c.target_modules = {"all-linear"};
  model::apply_lora(*m, c);
  EXPECT_TRUE(m->has_lora());
  EXPECT_TRUE(at::allclose(m->forward(ids), base, 1e-6, 1e-6));  // B = 0
  for (auto& [name, t] : model::adapter_tensors(*m)) t.normal_(0, 0.2);
  at::Tensor adapted = m->forward(ids);
  EXPECT_FALSE(at::allclose(adapted, base, 1e-3, 1e-3));
  {
    model::AdaptersDisabled off(*m);
    EXPECT_TRUE(at::allclose(m->forward(ids), base, 1e-6, 1e-6));
  }
  EXPECT_TRUE(at::allclose(m->forward(ids), adapted, 1e-6, 1e-6));
  model::merge_lora(*m);
  EXPECT_FALSE(m->has_lora());
  EXPECT_TRUE(at::allclose(m->forward(ids), adapted, 1e-4, 1e-4));
  for (const auto& p : m->named_parameters()) EXPECT_EQ(p.key().find("lora"), std::string::npos) << p.key();
}

namespace {
// 12 greedy tokens from the engine after a fixed 4-token prompt.
engine::Sample greedy_sample(model::Transformer& m) {
  engine::Request request;
  request.prompt = {5, 17, 99, 3};
  request.params.temperature = 0;
  request.params.max_new_tokens = 12;
  request.params.ignore_eos = true;
  return engine::Engine(m, {}).generate({request})[0].samples[0];
}
}  // namespace

// The engine's packed decode step reads the base weights only: with unmerged adapters it must take the module
// forward, so sampling from an adapted policy (GRPO with LoRA) equals sampling from its merged weights.
TEST(Lora, EngineGeneratesFromTheAdaptedWeights) {
  auto m = tiny_model(4, /*tied=*/false);
  m->eval();
  model::LoraConfig c;
  c.r = 4;
  c.lora_alpha = 8;
  c.target_modules = {"all-linear"};
  model::apply_lora(*m, c);
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : model::adapter_tensors(*m)) t.normal_(0, 0.3);
  }
  engine::Sample adapted = greedy_sample(m);
  model::merge_lora(*m);
  engine::Sample merged = greedy_sample(m);
  EXPECT_EQ(adapted.tokens, merged.tokens);
  for (size_t i = 0; i < merged.raw_logprobs.size(); ++i)
    EXPECT_NEAR(adapted.raw_logprobs[i], merged.raw_logprobs[i], 1e-4) << i;
}

// An adapter named on lm_head itself ("all-linear" leaves it out, as PEFT does): the engine's split head
// projection for one or two fp32 rows multiplies by the base weight, so it must defer to the module's logits
// while that adapter is active.
TEST(Lora, EngineSeesAnAdapterOnTheLmHead) {
  auto m = tiny_model(6, /*tied=*/false);
  m->eval();
  model::LoraConfig c;
  c.r = 4;
  c.lora_alpha = 8;
  c.target_modules = {"lm_head"};
  model::apply_lora(*m, c);
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : model::adapter_tensors(*m)) t.normal_(0, 0.5);
  }
  engine::Sample adapted = greedy_sample(m);
  engine::Sample base;
  {
    model::AdaptersDisabled off(*m);
    base = greedy_sample(m);
  }
  model::merge_lora(*m);
  engine::Sample merged = greedy_sample(m);
  EXPECT_EQ(adapted.tokens, merged.tokens);
  double largest_change = 0;
  for (size_t i = 0; i < merged.raw_logprobs.size(); ++i) {
    EXPECT_NEAR(adapted.raw_logprobs[i], merged.raw_logprobs[i], 1e-4) << i;
    largest_change = std::max(largest_change, double(std::abs(adapted.raw_logprobs[i] - base.raw_logprobs[i])));
  }
  EXPECT_GT(largest_change, 1e-3);  // the adapter changes the outputs, so the checks above can fail
}

// The fused LM-head loss multiplies by lm_head.weight directly: with an adapter on lm_head it must give the
// loss of the adapted logits.
TEST(Lora, FusedLossSeesAnAdapterOnTheLmHead) {
  auto m = tiny_model(5, /*tied=*/false);
  model::LoraConfig c;
  c.r = 4;
  c.lora_alpha = 8;
  c.lora_dropout = 0;
  c.target_modules = {"lm_head"};
  model::apply_lora(*m, c);
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : model::adapter_tensors(*m)) t.normal_(0, 0.5);
  }
  at::Tensor ids = torch::randint(0, 1200, {2, 9}, torch::kLong);
  at::Tensor hidden = m->hidden_states(ids.narrow(1, 0, 8));
  const double fused = train::causal_lm_loss_sum(*m, hidden, ids.narrow(1, 1, 8)).first.item<double>();
  const double plain = train::causal_lm_loss_sum(m->logits(hidden), ids.narrow(1, 1, 8)).first.item<double>();
  EXPECT_NEAR(fused, plain, 1e-4 * plain);
  model::AdaptersDisabled off(*m);
  const double base = train::causal_lm_loss_sum(m->logits(hidden), ids.narrow(1, 1, 8)).first.item<double>();
  EXPECT_GT(std::abs(base - plain), 1e-3);  // the adapter changes the loss, so the check above can fail
}

TEST(Lora, TargetsAndErrors) {
  auto m = tiny_model(4);
  model::LoraConfig c;
  c.target_modules = {"q_proj", "v_proj"};
  model::apply_lora(*m, c);
  auto tensors = model::adapter_tensors(*m);
  ASSERT_EQ(tensors.size(), 2u * 2 * 2);  // 2 layers x 2 modules x (A, B)
  EXPECT_EQ(tensors[0].first, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(tensors[0].second.sizes(), (c10::IntArrayRef{8, 32}));  // (r, in)
  EXPECT_EQ(tensors[1].first, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
  EXPECT_EQ(tensors[3].second.sizes(), (c10::IntArrayRef{16, 8}));  // v_proj (out = Hkv*D, r)
  // only adapter tensors are trainable, so only they reach the optimizer
  auto params = train::optimizer_params(*m, {});
  ASSERT_EQ(params.size(), tensors.size());
  for (const auto& p : params) EXPECT_NE(p.name.find(".lora_"), std::string::npos) << p.name;
  EXPECT_THROW(model::apply_lora(*m, c), UsageError);  // twice
  auto other = tiny_model(4);
  c.target_modules = {"qkv"};
  R1_EXPECT_THROW_WITH(model::apply_lora(*other, c), UsageError, "qkv", "matched no Linear");
  c.target_modules = {"q_proj"};
  c.r = 0;
  EXPECT_THROW(model::apply_lora(*other, c), UsageError);
}

TEST_F(FinetuneRun, LoraSftChangesOnlyAdaptersWritesPeftFilesAndResumes) {
  train::SftOptions o = sft_options("sft-lora", 4);
  o.finetune.peft.use_peft = true;
  o.finetune.peft.lora_r = 4;
  o.finetune.peft.lora_alpha = 16;
  o.finetune.peft.lora_target_modules = {"q_proj", "k_proj", "v_proj", "o_proj"};
  o.assistant_only_loss = true;
  train::sft(o);
  const fs::path out = *dir_ / "sft-lora";
  // PEFT's files and keys
  EXPECT_FALSE(fs::exists(out / "model.safetensors"));
  json config = json::parse(test::read_bytes(out / "adapter_config.json"));
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["task_type"], "CAUSAL_LM");
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"].get<double>(), 16.0);
  EXPECT_EQ(config["target_modules"], json({"q_proj", "k_proj", "v_proj", "o_proj"}));
  EXPECT_EQ(config["base_model_name_or_path"], (*dir_ / "base").string());
  safetensors::File adapter(out / "adapter_model.safetensors");
  EXPECT_EQ(adapter.tensors().size(), 2u * 4 * 2);
  ASSERT_NE(adapter.find("base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight"), nullptr);
  EXPECT_GT(adapter.get("base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight").abs().max().item<double>(),
            0);
  EXPECT_TRUE(fs::exists(out / "tokenizer.json"));
  // the base weights did not move: adapter + untouched base == the trained model
  auto base = model::load_pretrained(*dir_ / "base");
  auto loaded = model::load_with_adapter(out);
  auto a = model::named_tensors(*base), b = model::named_tensors(*loaded);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].second.equal(b[i].second)) << a[i].first;
  // resume from checkpoint-2 to step 4 == the uninterrupted run
  train::SftOptions resumed = sft_options("sft-lora-resumed", 4);
  resumed.finetune = o.finetune;
  resumed.assistant_only_loss = true;
  fs::create_directories(*dir_ / "sft-lora-resumed");
  fs::copy(out / "checkpoint-2", *dir_ / "sft-lora-resumed/checkpoint-2", fs::copy_options::recursive);
  resumed.training.resume_from_checkpoint = "true";
  train::sft(resumed);
  safetensors::File again(*dir_ / "sft-lora-resumed/adapter_model.safetensors");
  for (const auto& info : adapter.tensors())
    EXPECT_TRUE(adapter.get(info.name).equal(again.get(info.name))) << info.name;
  // a PEFT directory loads merged as a plain model
  auto merged = model::load_pretrained(out);
  EXPECT_FALSE(merged->has_lora());
}

TEST_F(FinetuneRun, SftPackedLossFallsAndMatchesTrlNormalisation) {
  train::SftOptions o = sft_options("sft-packed", 8);
  o.packing = true;
  o.training.gradient_accumulation_steps = 2;
  o.training.per_device_train_batch_size = 2;
  o.training.save_strategy = "no";
  train::sft(o);
  auto lines = metrics("sft-packed");
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_LT(lines.back()["loss"].get<double>(), lines[0]["loss"].get<double>());
  const double acc = lines.back()["mean_token_accuracy"].get<double>();
  EXPECT_GT(acc, 0.0);
  EXPECT_LE(acc, 1.0);
}

// ---- CLI ----------------------------------------------------------------------------------------------------

TEST_F(FinetuneRun, CliSftDpoAndMergeLora) {
  const std::string base = (*dir_ / "base").string();
  auto sft =
      test::run_r1("sft --model_name_or_path " + base + " --dataset_name " + (*dir_ / "chat.jsonl").string() +
                   " --chat_template chatml --assistant_only_loss true --output_dir " + (*dir_ / "cli-sft").string() +
                   " --max_steps 3 --per_device_train_batch_size 4 --learning_rate 1e-3 --logging_steps 1 --threads 1");
  ASSERT_EQ(sft.status, 0) << sft.output;
  EXPECT_NE(sft.output.find("sft data: 24 examples"), std::string::npos) << sft.output;
  EXPECT_TRUE(fs::exists(*dir_ / "cli-sft/model.safetensors"));
  // the chat template travels with the tokenizer
  EXPECT_NE(test::read_bytes(*dir_ / "cli-sft/tokenizer_config.json").find("im_start"), std::string::npos);

  auto dpo = test::run_r1(
      "dpo --model_name_or_path " + (*dir_ / "cli-sft").string() + " --dataset_name " + (*dir_ / "prefs").string() +
      " --use_peft true --lora_target_modules all-linear --lora_r 4 --output_dir " + (*dir_ / "cli-dpo").string() +
      " --max_steps 3 --per_device_train_batch_size 4 --logging_steps 1 --threads 1");
  ASSERT_EQ(dpo.status, 0) << dpo.output;
  EXPECT_NE(dpo.output.find("rewards/accuracies"), std::string::npos) << dpo.output;
  EXPECT_TRUE(fs::exists(*dir_ / "cli-dpo/adapter_model.safetensors"));

  auto merge =
      test::run_r1("model merge-lora " + (*dir_ / "cli-dpo").string() + " --out " + (*dir_ / "cli-merged").string());
  ASSERT_EQ(merge.status, 0) << merge.output;
  auto merged = model::load_pretrained(*dir_ / "cli-merged");
  auto adapted = model::load_with_adapter(*dir_ / "cli-dpo");
  at::Tensor ids = torch::randint(0, 1200, {1, 12}, torch::kLong);
  torch::NoGradGuard no_grad;
  adapted->eval();
  EXPECT_TRUE(at::allclose(merged->forward(ids), adapted->forward(ids), 1e-4, 1e-4));
  EXPECT_TRUE(fs::exists(*dir_ / "cli-merged/tokenizer.json"));
  auto again =
      test::run_r1("model merge-lora " + (*dir_ / "cli-dpo").string() + " --out " + (*dir_ / "cli-merged").string());
  EXPECT_EQ(again.status, 1) << again.output;  // refuses to overwrite

  auto bad = test::run_r1("dpo --model_name_or_path " + base + " --dataset_name x --output_dir y --los_type ipo");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("loss_type"), std::string::npos) << bad.output;  // the suggestion
  auto help = test::run_r1("sft --help");
  EXPECT_NE(help.output.find("assistant_only_loss"), std::string::npos);
  auto dump = test::run_r1("dpo --model_name_or_path " + base + " --dataset_name x --output_dir y --dump-config");
  ASSERT_EQ(dump.status, 0) << dump.output;
  EXPECT_NE(dump.output.find("loss_type: sigmoid"), std::string::npos) << dump.output;
}

}  // namespace
}  // namespace r1
