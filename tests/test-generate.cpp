// `r1 generate` end to end on a tiny random model with an r1-trained tokenizer: flat and grouped output,
// prompt columns, templates and messages, refusal to overwrite, resume after a torn write equals an
// uninterrupted run, and --server against a test-only OpenAI stub (cpp-httplib) with a failing first attempt.
// The model vocabulary (1300) is padded past the tokenizer's (1200), as Hub models often are.
#include <httplib.h>
#include <torch/torch.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "r1/model.h"
#include "test-helpers.h"

namespace fs = std::filesystem;
using nlohmann::json;
using r1::test::read_jsonl;
using r1::test::run_r1;
using r1::test::TempDir;

namespace {

void write_problems(const fs::path& p, int rows) {
  std::ofstream out(p);
  for (int i = 0; i < rows; ++i)
    out << json{{"id", i},
                {"problem", "What is " + std::to_string(i) + " + 2?"},
                {"prompt", "Count to " + std::to_string(i)},
                {"messages", json::array({{{"role", "user"}, {"content", "hi " + std::to_string(i)}},
                                          {{"role", "assistant"}, {"content", "an old answer"}}})}}
               .dump()
        << "\n";
}

class Generate : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = r1::model::ModelConfig::parse(R"({"model_type": "llama", "vocab_size": 1300, "hidden_size": 32,
        "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 256, "initializer_range": 0.3})",
                                           "tiny");
    torch::manual_seed(3);
    r1::model::Transformer m(c);
    m->init_weights();
    r1::model::save_pretrained(*m, dir_ / "model");
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/r1-bpe" / f, dir_ / "model" / f);
    write_problems(dir_ / "in.jsonl", 5);
  }
  std::string common() const {
    return "generate --model " + (dir_ / "model").string() + " --input " + (dir_ / "in.jsonl").string() +
           " --max-new-tokens 12 --quiet --batch-size 3";
  }
  TempDir dir_;
};

}  // namespace

TEST_F(Generate, FlatAndGroupedOutputKeepTheRow) {
  auto r = run_r1(common() + " --output " + (dir_ / "flat.jsonl").string() + " --num-generations 2 --temperature 0.9");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("5 rows (0 already done, 5 generated), 10 completions"), std::string::npos) << r.output;
  auto flat = read_jsonl(dir_ / "flat.jsonl");
  ASSERT_EQ(flat.size(), 10u);
  for (size_t i = 0; i < flat.size(); ++i) {
    EXPECT_EQ(flat[i]["id"], int(i / 2));
    EXPECT_TRUE(flat[i]["generation"].is_string());
    EXPECT_TRUE(flat[i]["finish_reason"] == "length" || flat[i]["finish_reason"] == "stop");
  }
  EXPECT_NE(flat[0]["generation"], flat[1]["generation"]);  // two samples of one prompt

  r = run_r1(common() + " --output " + (dir_ / "grouped.jsonl").string() +
             " --num-generations 3 --group-generations --template 'Solve: {{ problem }}' --chat-template none");
  ASSERT_EQ(r.status, 0) << r.output;
  auto grouped = read_jsonl(dir_ / "grouped.jsonl");
  ASSERT_EQ(grouped.size(), 5u);
  for (size_t i = 0; i < grouped.size(); ++i) {
    EXPECT_EQ(grouped[i]["problem"], "What is " + std::to_string(i) + " + 2?");
    EXPECT_EQ(grouped[i]["generations"].size(), 3u);
    EXPECT_EQ(grouped[i]["finish_reasons"].size(), 3u);
  }
  // Greedy through the chat template from the messages column (the old assistant answer is dropped).
  r = run_r1(common() + " --output " + (dir_ / "chat.jsonl").string() +
             " --messages-column messages --chat-template chatml --temperature 0");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_jsonl(dir_ / "chat.jsonl").size(), 5u);
}

TEST_F(Generate, ResumeAfterATornWriteEqualsAnUninterruptedRun) {
  const std::string opts = " --num-generations 2 --temperature 1.0 --top-p 0.9";
  auto r = run_r1(common() + opts + " --output " + (dir_ / "full.jsonl").string());
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string full = r1::test::read_bytes(dir_ / "full.jsonl");
  // A run killed after two rows (four lines) and half of the fifth line.
  size_t cut = 0;
  for (int lines = 0; lines < 4; ++lines) cut = full.find('\n', cut) + 1;
  const size_t torn = full.find('\n', cut) - 10;
  r1::test::write_bytes(dir_ / "part.jsonl", full.substr(0, torn));
  r = run_r1(common() + opts + " --output " + (dir_ / "part.jsonl").string());
  EXPECT_EQ(r.status, 2) << r.output;  // never appended to or replaced without being asked
  EXPECT_NE(r.output.find("--resume"), std::string::npos) << r.output;
  r = run_r1(common() + opts + " --output " + (dir_ / "part.jsonl").string() + " --resume");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("(2 already done, 3 generated)"), std::string::npos) << r.output;
  EXPECT_EQ(r1::test::read_bytes(dir_ / "part.jsonl"), full);
  r = run_r1(common() + opts + " --output " + (dir_ / "part.jsonl").string() + " --resume");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("(5 already done, 0 generated)"), std::string::npos) << r.output;
  EXPECT_EQ(r1::test::read_bytes(dir_ / "part.jsonl"), full);
}

TEST_F(Generate, BadInputAndUsage) {
  auto r = run_r1("generate --input " + (dir_ / "in.jsonl").string() + " --output " + (dir_ / "o.jsonl").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--model"), std::string::npos) << r.output;
  r = run_r1(common() + " --output " + (dir_ / "o.jsonl").string() + " --prompt-column nope");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("in.jsonl:1: no string column 'nope'"), std::string::npos) << r.output;
  r1::test::write_bytes(dir_ / "bad.jsonl", "{\"prompt\": \"a\"}\n{oops\n");
  r = run_r1("generate --model " + (dir_ / "model").string() + " --input " + (dir_ / "bad.jsonl").string() +
             " --output " + (dir_ / "o2.jsonl").string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("bad.jsonl:2: not valid JSON (syntax error"), std::string::npos) << r.output;
}

TEST_F(Generate, ServerClientAgainstAStubWithRetries) {
  httplib::Server server;
  std::mutex mutex;
  std::vector<json> seen;
  int calls = 0;
  server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mutex);
    if (calls++ == 0) {  // the first attempt fails: the client retries
      res.status = 503;
      res.set_content("busy", "text/plain");
      return;
    }
    json body = json::parse(req.body);
    seen.push_back(body);
    json choices = json::array();
    for (int k = 0; k < body["n"].get<int>(); ++k)
      choices.push_back(
          {{"index", k},
           {"message",
            {{"role", "assistant"},
             {"content", "echo " + body["messages"].back()["content"].get<std::string>() + " #" + std::to_string(k)}}},
           {"finish_reason", "stop"}});
    res.set_content(json{{"choices", choices}}.dump(), "application/json");
  });
  server.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body);
    json choices = json::array();
    for (int k = 0; k < body["n"].get<int>(); ++k)
      choices.push_back(
          {{"index", k}, {"text", "raw " + body["prompt"].get<std::string>()}, {"finish_reason", "length"}});
    res.set_content(json{{"choices", choices}}.dump(), "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  auto r = run_r1("generate --server http://127.0.0.1:" + std::to_string(port) + " --input " +
                  (dir_ / "in.jsonl").string() + " --output " + (dir_ / "remote.jsonl").string() +
                  " --num-generations 2 --group-generations --concurrency 3 --retries 2 --max-new-tokens 7 --quiet"
                  " --system-prompt 'be brief'");
  // Plain text prompts (no chat template) go to /v1/completions; --limit takes the first rows.
  auto raw = run_r1("generate --server http://127.0.0.1:" + std::to_string(port) + "/v1/ --input " +
                    (dir_ / "in.jsonl").string() + " --output " + (dir_ / "raw.jsonl").string() +
                    " --chat-template none --template 'Q: {{ problem }}' --limit 2 --quiet");
  server.stop();
  thread.join();
  ASSERT_EQ(raw.status, 0) << raw.output;
  auto raw_rows = read_jsonl(dir_ / "raw.jsonl");
  ASSERT_EQ(raw_rows.size(), 2u);
  EXPECT_EQ(raw_rows[1]["generation"], "raw Q: What is 1 + 2?");
  EXPECT_EQ(raw_rows[1]["finish_reason"], "length");
  ASSERT_EQ(r.status, 0) << r.output;
  auto rows = read_jsonl(dir_ / "remote.jsonl");
  ASSERT_EQ(rows.size(), 5u);
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string prompt = "Count to " + std::to_string(i);
    EXPECT_EQ(rows[i]["generations"], json::array({"echo " + prompt + " #0", "echo " + prompt + " #1"}));
  }
  ASSERT_EQ(seen.size(), 5u);
  for (const json& body : seen) {
    EXPECT_EQ(body["n"], 2);
    EXPECT_EQ(body["max_tokens"], 7);
    EXPECT_EQ(body["messages"][0], json({{"role", "system"}, {"content", "be brief"}}));
  }
  // A server that never answers well: the run fails naming the endpoint after its retries.
  r = run_r1("generate --server http://127.0.0.1:" + std::to_string(port) + " --input " + (dir_ / "in.jsonl").string() +
             " --output " + (dir_ / "down.jsonl").string() + " --retries 1 --quiet");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("failed after 2 attempts"), std::string::npos) << r.output;
}
