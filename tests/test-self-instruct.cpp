// Tests for `r1 data self-instruct` (r1/self-instruct.h): ROUGE-L on hand-computed pairs (rouge_score's tokens
// for English, characters for Chinese), the prompt, parsing and every filter on canned replies (English and
// Chinese), the shipped seed tasks, and the whole run against a scripted OpenAI-compatible server (cpp-httplib)
// whose canned completions include malformed, blocked and truncated tasks: exactly the expected triples are kept,
// the rejected file names each reason, prompts follow --seed, and --resume continues with the pool reloaded; and a
// tiny random local model through the engine (its replies are noise: every piece is dropped as malformed).
#include <httplib.h>
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "r1/error.h"
#include "r1/model.h"
#include "r1/self-instruct.h"
#include "test-helpers.h"

namespace r1::pipeline {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using test::TempDir;

const fs::path kSeeds = fs::path(R1_SOURCE_DIR) / "recipes/self-instruct/seed_tasks.jsonl";

// ---- ROUGE-L
// -----------------------------------------------------------------------------------------------------------

TEST(SelfInstructRouge, TokensAsRougeScoreWithChineseCharacters) {
  EXPECT_EQ(rouge_tokens("Hello, World! It's 2023."), (std::vector<std::string>{"hello", "world", "it", "s", "2023"}));
  EXPECT_EQ(rouge_tokens("café au lait"), (std::vector<std::string>{"caf", "au", "lait"}));  // non-ASCII drops out
  EXPECT_EQ(rouge_tokens("用Python写代码"), (std::vector<std::string>{"用", "python", "写", "代", "码"}));
  EXPECT_TRUE(rouge_tokens(" ... ").empty());
}

TEST(SelfInstructRouge, HandComputedPairs) {
  // LCS "the cat on the mat" = 5 of 6 and 6: P = R = 5/6.
  EXPECT_NEAR(rouge_l("The cat sat on the mat.", "the cat is on the mat"), 5.0 / 6, 1e-12);
  // LCS "a c" = 2: P = 2/2, R = 2/4, F = 2 * 1 * 0.5 / 1.5.
  EXPECT_NEAR(rouge_l("a b c d", "a c"), 2.0 / 3, 1e-12);
  EXPECT_NEAR(rouge_l("a c", "a b c d"), 2.0 / 3, 1e-12);  // F is symmetric
  // Characters: LCS "我喜欢" = 3 of 4 and 4.
  EXPECT_NEAR(rouge_l("我喜欢猫。", "我喜欢狗"), 0.75, 1e-12);
  // LCS "give three tips for staying healthy" = 6 of 6 and 8: P = 1, R = 0.75.
  EXPECT_NEAR(rouge_l("Give three tips for staying healthy.", "Give three tips for staying healthy and fit."),
              2 * 0.75 / 1.75, 1e-12);
  EXPECT_EQ(rouge_l("identical words", "Identical, words!"), 1.0);
  EXPECT_EQ(rouge_l("", "anything"), 0.0);
  EXPECT_EQ(rouge_l("x y", "z w"), 0.0);
}

// ---- Prompts and parsing
// -----------------------------------------------------------------------------------------------

TEST(SelfInstructPrompt, NumberedExamplesThenTheNextInstruction) {
  const std::string p =
      self_instruct_prompt({{"Name a  fruit:", "", "Apple."}, {"Add the numbers.", "2 and 3", "5"}}, "en", 20);
  EXPECT_NE(p.find("come up with a set of 20 diverse task instructions"), std::string::npos) << p;
  EXPECT_NE(p.find("List of 20 tasks:\n###\n1. Instruction: Name a fruit\n1. Input:\n<noinput>\n1. Output:\nApple.\n"
                   "###\n2. Instruction: Add the numbers.\n2. Input:\n2 and 3\n2. Output:\n5\n###\n3. Instruction:"),
            std::string::npos)
      << p;
  EXPECT_TRUE(p.ends_with("###\n3. Instruction:")) << p;
  const std::string zh = self_instruct_prompt({{"说一种水果", "", "苹果"}}, "zh", 10);
  EXPECT_NE(zh.find("10条"), std::string::npos) << zh;
  EXPECT_NE(zh.find("###\n1. 指令: 说一种水果\n1. 输入:\n<无输入>\n1. 输出:\n苹果\n###\n2. 指令:"), std::string::npos)
      << zh;
  EXPECT_EQ(self_instruct_prompt({{"a b c d", "", "e"}}, "en", 7, "Make {num_tasks} tasks."),
            "Make 7 tasks.\n###\n1. Instruction: a b c d\n1. Input:\n<noinput>\n1. Output:\ne\n###\n2. Instruction:");
}

// A completion continuing "4. Instruction:" with a task for every filter, cut by max_tokens.
const char* kReply =
    " Give three tips for staying healthy.\n4. Input:\n<noinput>\n4. Output:\n1. Eat a balanced diet. 2. Exercise "
    "regularly. 3. Sleep well.\n"
    "###\n5. Instruction: Draw a picture of a cat sitting on a windowsill.\n5. Input:\n<noinput>\n5. Output:\nI "
    "cannot do that.\n"
    "###\n6. Instruction: Name a color.\n6. Input:\n<noinput>\n6. Output:\nBlue.\n"
    "###\n7. Instruction: Explain why leaves change colour in autumn.\n7. Output:\nChlorophyll breaks down.\n"
    "###\n8. Instruction: Give three tips for staying healthy and fit.\n8. Input:\n<noinput>\n8. Output:\nEat well, "
    "move, sleep.\n"
    "###\n9. Instruction: \"Translate the word hello into Spanish.\"\n9. Input:\n<noinput>\n9. Output:\nHola.\n"
    "###\n10. Instruction: Écrivez un poème sur la mer en quatre vers.\n10. Input:\n<noinput>\n10. Output:\nLa mer.\n"
    "###\n11. Instruction: Write a program that prints the first ten primes.\n11. Input:\n<noinput>\n11. Output:\n"
    "print([2, 3, 5, 7, 11, 13, 17, 19, 23, 29])\n"
    "###\n12. Instruction: Convert the temperature to Fahrenheit and show the formula.\n12. Input:\n25 degrees "
    "Celsius\n12. Output:\n<nooutput>\n"
    "###\n13. Instruction: Suggest a name for a new bakery in a small town.\n13. Input:\n<noinput>\n13. Output:\n"
    "Golden Crust Bakery\n"
    "###\n14. Instruction: Describe the";

TEST(SelfInstructParse, EveryFilterOnACannedReply) {
  const std::vector<ParsedTask> tasks = parse_self_instruct_reply(kReply, "length", 3, SelfInstructFilters());
  std::vector<std::string> reasons;
  for (const ParsedTask& t : tasks) reasons.push_back(t.reason);
  EXPECT_EQ(reasons, (std::vector<std::string>{"", "blocked_keyword", "instruction_length", "malformed", "",
                                               "starts_with_punctuation", "non_ascii_start", "write_a_program",
                                               "non_text_output", "", "truncated"}));
  ASSERT_EQ(tasks.size(), 11u);
  EXPECT_EQ(tasks[0].task.instruction, "Give three tips for staying healthy.");
  EXPECT_EQ(tasks[0].task.input, "");
  EXPECT_EQ(tasks[0].task.output, "1. Eat a balanced diet. 2. Exercise regularly. 3. Sleep well.");
  EXPECT_EQ(tasks[1].detail, "picture");
  EXPECT_EQ(tasks[8].task.input, "25 degrees Celsius");
  // Not cut by max_tokens: the last piece is parsed (and is malformed here).
  EXPECT_EQ(parse_self_instruct_reply(kReply, "stop", 3, SelfInstructFilters()).back().reason, "malformed");
  // A chat reply restating the first marker, numbered from 1, with Chinese-style colons.
  const auto chat = parse_self_instruct_reply(
      "###\n1. Instruction： List two primary colours please.\n1. Input：\n\n1. Output：\nRed and blue.\n###\n", "stop",
      3, SelfInstructFilters());
  ASSERT_EQ(chat.size(), 1u);
  EXPECT_EQ(chat[0].reason, "");
  EXPECT_EQ(chat[0].task.instruction, "List two primary colours please.");
  // Numbers that disagree within a piece.
  EXPECT_EQ(
      parse_self_instruct_reply(" a b c d e\n5. Input:\nx\n5. Output:\ny", "stop", 3, SelfInstructFilters())[0].reason,
      "malformed");
}

TEST(SelfInstructParse, ChineseRepliesAndBelleKeywords) {
  SelfInstructFilters zh;
  zh.language = "zh";
  const auto tasks = parse_self_instruct_reply(
      "把下面的句子改写得更加礼貌。\n4. 输入：\n把门关上。\n4. 输出：\n请您把门关上，谢谢。\n"
      "###\n5. 指令：根据这张图片写一段描述。\n5. 输入：\n<无输入>\n5. 输出：\n这是一只猫。\n"
      "###\n6. 指令：你好\n6. 输入：\n<无输入>\n6. 输出：\n你好！\n"
      "###\n7. 指令：《静夜思》的作者是谁？\n7. 输入：\n无输入\n7. 输出：\n李白。\n"
      "###\n8. 指令：写一句关于春天的谚语。\n8. 输入：\n<无输入>\n8. 输出：\n一年之计在于春。",
      "stop", 3, zh);
  ASSERT_EQ(tasks.size(), 5u);
  EXPECT_EQ(tasks[0].reason, "");
  EXPECT_EQ(tasks[0].task.instruction, "把下面的句子改写得更加礼貌。");
  EXPECT_EQ(tasks[0].task.input, "把门关上。");
  EXPECT_EQ(tasks[1].reason, "blocked_keyword");
  EXPECT_EQ(tasks[1].detail, "图片");
  EXPECT_EQ(tasks[2].reason, "instruction_length");  // 2 characters
  EXPECT_EQ(tasks[3].reason, "starts_with_punctuation");
  EXPECT_EQ(tasks[4].reason, "");  // a non-ASCII start is fine in Chinese
  EXPECT_EQ(tasks[4].task.input, "");
}

TEST(SelfInstructSeeds, TheShippedFileHoldsTwentyEnglishAndTwentyChinese) {
  const std::vector<SeedTask> seeds = load_seed_tasks(kSeeds);
  ASSERT_EQ(seeds.size(), 40u);
  int en = 0, zh = 0;
  for (const SeedTask& s : seeds) {
    en += s.language == "en";
    zh += s.language == "zh";
    EXPECT_FALSE(s.task.instruction.empty());
    EXPECT_FALSE(s.task.output.empty());
  }
  EXPECT_EQ(en, 20);
  EXPECT_EQ(zh, 20);
  TempDir dir;
  test::write_bytes(dir / "bad.jsonl", "{\"instruction\": \"x\", \"instances\": []}\n");
  R1_EXPECT_THROW_WITH(load_seed_tasks(dir / "bad.jsonl"), Error, "bad.jsonl:1: 'instances'");
}

// ---- The run against a scripted server
// ---------------------------------------------------------------------------------

class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::pair<std::string, std::string>> replies) : replies_(std::move(replies)) {
    server_.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      const json body = json::parse(req.body);
      bodies_.push_back(body);
      const auto& [text, reason] = replies_[std::min(calls_++, replies_.size() - 1)];
      res.set_content(
          json{{"choices", json::array({{{"index", 0}, {"text", text}, {"finish_reason", reason}}})}}.dump(),
          "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~ScriptedServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<json> bodies() {
    std::lock_guard<std::mutex> lock(mutex_);
    return bodies_;
  }

 private:
  std::vector<std::pair<std::string, std::string>> replies_;
  httplib::Server server_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<json> bodies_;
  size_t calls_ = 0;
  int port_ = 0;
};

TEST(SelfInstructRun, KeepsExactlyTheFilteredTriplesAndResumes) {
  TempDir dir;
  ScriptedServer server({{kReply, "length"},
                         {" Tell me a short joke about programmers.\n4. Input:\n<noinput>\n4. Output:\nWhy do "
                          "programmers prefer dark mode? Because light attracts bugs.\n###\n",
                          "stop"},
                         {"I am not sure what you want.", "stop"},
                         {kReply, "length"}});
  const std::string common = "data self-instruct --seed-tasks " + kSeeds.string() + " --server " + server.url() +
                             " --output " + (dir / "out.jsonl").string() + " --rejected " +
                             (dir / "rejected.jsonl").string() + " --request-batch-size 1 --concurrency 1 --quiet";
  auto r = test::run_r1(common + " --num-instructions 2 --seed 7");
  ASSERT_EQ(r.status, 0) << r.output;
  auto rows = test::read_jsonl(dir / "out.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (json{{"instruction", "Give three tips for staying healthy."},
                           {"input", ""},
                           {"output", "1. Eat a balanced diet. 2. Exercise regularly. 3. Sleep well."}}));
  EXPECT_EQ(rows[1], (json{{"instruction", "Suggest a name for a new bakery in a small town."},
                           {"input", ""},
                           {"output", "Golden Crust Bakery"}}));
  std::vector<std::string> reasons;
  for (const json& row : test::read_jsonl(dir / "rejected.jsonl")) reasons.push_back(row["reason"]);
  // The output was full after the bakery: the truncated last piece was never looked at.
  EXPECT_EQ(reasons, (std::vector<std::string>{"blocked_keyword", "instruction_length", "malformed", "similar",
                                               "starts_with_punctuation", "non_ascii_start", "write_a_program",
                                               "non_text_output"}));
  EXPECT_NE(r.output.find("1 requests, 10 tasks parsed, 8 dropped"), std::string::npos) << r.output;  // 2 kept
  EXPECT_EQ(json::parse(test::read_bytes(fs::path(dir / "out.jsonl").string() + ".state.json"))["requests"], 1);

  // The request: a completion prompt with 3 English seed tasks, ending where the model continues; Alpaca's sampling.
  auto bodies = server.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  const std::string prompt = bodies[0]["prompt"];
  EXPECT_TRUE(prompt.ends_with("###\n4. Instruction:")) << prompt;
  EXPECT_NE(prompt.find("\n3. Output:\n"), std::string::npos);
  EXPECT_EQ(prompt.find("指令"), std::string::npos);
  EXPECT_EQ(bodies[0]["stop"], json::array({"\n20."}));
  EXPECT_EQ(bodies[0]["temperature"], 1.0);
  EXPECT_EQ(bodies[0]["max_tokens"], 1024);

  // An existing output needs --resume or --overwrite.
  r = test::run_r1(common + " --num-instructions 3 --seed 7");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("pass --resume"), std::string::npos) << r.output;

  // --resume: the next request (number 1) brings the joke; then a malformed reply, then kReply again, whose tasks
  // the reloaded pool now rejects as similar; --max-requests stops the run.
  r = test::run_r1(common + " --num-instructions 4 --seed 7 --resume --max-requests 4");
  ASSERT_EQ(r.status, 0) << r.output;
  rows = test::read_jsonl(dir / "out.jsonl");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2]["instruction"], "Tell me a short joke about programmers.");
  EXPECT_NE(r.output.find("3 requests"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("output holds 3 instructions (2 from before)"), std::string::npos) << r.output;
  size_t similar = 0;
  for (const json& row : test::read_jsonl(dir / "rejected.jsonl"))
    if (row["request"] == 3 && row["reason"] == "similar") ++similar;
  EXPECT_EQ(similar, 3u);  // the healthy-tips pair and the bakery
  bodies = server.bodies();
  ASSERT_EQ(bodies.size(), 4u);
  EXPECT_NE(bodies[1]["seed"], bodies[0]["seed"]);
  EXPECT_NE(bodies[1]["prompt"], bodies[0]["prompt"]);

  // The same --seed gives the same first prompt in a fresh run; another seed another.
  r = test::run_r1(common + " --num-instructions 1 --seed 7 --overwrite");
  ASSERT_EQ(r.status, 0) << r.output;
  r = test::run_r1(common + " --num-instructions 1 --seed 8 --overwrite");
  ASSERT_EQ(r.status, 0) << r.output;
  bodies = server.bodies();
  ASSERT_EQ(bodies.size(), 6u);
  EXPECT_EQ(bodies[4]["prompt"], bodies[0]["prompt"]);
  EXPECT_EQ(bodies[4]["seed"], bodies[0]["seed"]);
  EXPECT_NE(bodies[5]["prompt"], bodies[0]["prompt"]);
}

TEST(SelfInstructRun, ChineseSeedsAndUsageErrors) {
  TempDir dir;
  ScriptedServer server(std::vector<std::pair<std::string, std::string>>{
      {"写一句关于勤奋的名言。\n4. 输入：\n<无输入>\n4. 输出：\n业精于勤，荒于嬉。\n###\n", "stop"}});
  auto r = test::run_r1("data self-instruct --seed-tasks " + kSeeds.string() + " --server " + server.url() +
                        " --output " + (dir / "zh.jsonl").string() + " --language zh --num-instructions 1 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto rows = test::read_jsonl(dir / "zh.jsonl");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["instruction"], "写一句关于勤奋的名言。");
  const std::string prompt = server.bodies()[0]["prompt"];
  EXPECT_NE(prompt.find("3. 输出:"), std::string::npos) << prompt;
  EXPECT_TRUE(prompt.ends_with("###\n4. 指令:")) << prompt;

  r = test::run_r1("data self-instruct --seed-tasks " + kSeeds.string() + " --output " + (dir / "x.jsonl").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--model DIR or --server URL"), std::string::npos) << r.output;
  r = test::run_r1("data self-instruct --seed-tasks " + kSeeds.string() + " --server " + server.url() + " --output " +
                   (dir / "x.jsonl").string() + " --language fr");
  EXPECT_EQ(r.status, 2) << r.output;
  r = test::run_r1("data self-instruct --seed-tasks " + kSeeds.string() + " --server " + server.url() + " --output " +
                   (dir / "x.jsonl").string() + " --num-prompt-instructions 21 --num-tasks 30");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("20 seed task(s) in language 'en'"), std::string::npos) << r.output;
  r = test::run_r1("data self-instruct --help");
  EXPECT_EQ(r.status, 0);
  for (const char* option : {"--num-instructions", "--rouge-threshold", "--resume", "--blocked-keywords"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option;
}

TEST(SelfInstructRun, LocalModelThroughTheEngine) {
  TempDir dir;
  auto c = model::ModelConfig::parse(R"({"model_type": "llama", "vocab_size": 1200, "hidden_size": 32,
      "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
      "max_position_embeddings": 4096, "initializer_range": 0.3})",
                                     "tiny");
  torch::manual_seed(3);
  model::Transformer m(c);
  m->init_weights();
  model::save_pretrained(*m, dir / "model");
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/r1-bpe" / f, dir / "model" / f);
  auto r =
      test::run_r1("data self-instruct --seed-tasks " + kSeeds.string() + " --model " + (dir / "model").string() +
                   " --output " + (dir / "out.jsonl").string() + " --rejected " + (dir / "rejected.jsonl").string() +
                   " --max-new-tokens 8 --request-batch-size 2 --max-requests 4 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("4 requests"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "out.jsonl"));
  EXPECT_TRUE(test::read_jsonl(dir / "out.jsonl").empty());
  const auto rejected = test::read_jsonl(dir / "rejected.jsonl");
  ASSERT_FALSE(rejected.empty());
  for (const json& row : rejected) EXPECT_TRUE(row["reason"] == "malformed" || row["reason"] == "truncated") << row;
}

}  // namespace
}  // namespace r1::pipeline
