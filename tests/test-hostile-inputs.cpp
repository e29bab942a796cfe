// Hostile JSON at every entry where a user's file reaches r1 (issue 15 item 1): dataset rows of sft, dpo, grpo,
// generate, verify, eval gen tasks and tokenizer training, and the model's config.json. Each input is one good row followed by
// a row holding an unused column nested 100,000 deep (which crashed these commands with a stack overflow), a
// number that overflows a double, or invalid UTF-8. Every command must exit 1 (not die on a signal) with one
// line naming file:line and saying what is wrong, and no library exception text.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test-helpers.h"

namespace fs = std::filesystem;
using r1::test::run_r1;
using r1::test::TempDir;

namespace {

const fs::path kTokenizer = fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/r1-bpe";
const std::string kTiny = std::string(R1_SOURCE_DIR) + "/recipes/models/tiny.json";

struct Hostile {
  std::string name, value, expected;
};

std::vector<Hostile> hostile_values() {
  return {{"deep", std::string(100000, '[') + std::string(100000, ']'), "nested deeper than 512 levels"},
          {"overflow", "1e999999", "number overflow"},
          {"utf8", "\"\xff\xfe\"", "UTF-8"}};
}

void expect_named_error(const r1::test::CommandResult& r, const std::string& where, const std::string& expected) {
  EXPECT_EQ(r.status, 1) << r.output;  // -1 would be a signal
  EXPECT_NE(r.output.find(where), std::string::npos) << "no '" << where << "' in: " << r.output;
  EXPECT_NE(r.output.find(expected), std::string::npos) << "no '" << expected << "' in: " << r.output;
  EXPECT_EQ(r.output.find("json.exception"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
}

class HostileInputs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string model = (*dir_ / "model").string();
    auto init = run_r1("--seed 1 model init --config " + kTiny + " --out " + model);
    ASSERT_EQ(init.status, 0) << init.output;
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(kTokenizer / f, *dir_ / "model" / f);
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path write(const std::string& name, const std::string& good_row, const std::string& bad_row) {
    const fs::path p = *dir_ / name;
    std::ofstream(p, std::ios::binary) << good_row << "\n" << bad_row << "\n";
    return p;
  }
  static inline TempDir* dir_ = nullptr;
};

TEST_F(HostileInputs, DatasetRowsNameFileAndLine) {
  const std::string model = (*dir_ / "model").string(), out = (*dir_ / "out").string();
  const std::string chat = R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})";
  const std::string pref = R"({"prompt": "hi", "chosen": "yes", "rejected": "no")";
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    auto row = [&](const std::string& start) { return start + ", \"extra\": " + h.value + "}"; };
    fs::path p = write("sft-" + h.name + ".jsonl", chat, row(chat.substr(0, chat.size() - 1)));
    expect_named_error(run_r1("sft --model_name_or_path " + model + " --dataset_name " + p.string() +
                              " --output_dir " + out + " --max_steps 1 --threads 1"),
                       p.filename().string() + ":2:", h.expected);
    p = write("dpo-" + h.name + ".jsonl", pref + "}", row(pref));
    expect_named_error(run_r1("dpo --model_name_or_path " + model + " --dataset_name " + p.string() +
                              " --output_dir " + out + " --max_steps 1 --threads 1"),
                       p.filename().string() + ":2:", h.expected);
    p = write("grpo-" + h.name + ".jsonl", R"({"prompt": "1+1?", "solution": "2"})",
              row(R"({"prompt": "1+1?", "solution": "2")"));
    expect_named_error(run_r1("grpo --model_name_or_path " + model + " --dataset_name " + p.string() +
                              " --output_dir " + out + " --max_steps 1 --threads 1"),
                       p.filename().string() + ":2:", h.expected);
    p = write("generate-" + h.name + ".jsonl", R"({"prompt": "hi"})", row(R"({"prompt": "hi")"));
    expect_named_error(run_r1("generate --model " + model + " --input " + p.string() + " --output " + out +
                              ".jsonl --overwrite --max-new-tokens 2"),
                       p.filename().string() + ":2:", h.expected);
    p = write("verify-" + h.name + ".jsonl", R"({"solution": "2", "completion": "2"})",
              row(R"({"solution": "2", "completion": "2")"));
    expect_named_error(run_r1("verify --input " + p.string()), p.filename().string() + ":2:", h.expected);
    p = write("task-" + h.name + ".jsonl", R"({"problem": "1+1?", "answer": "2"})",
              row(R"({"problem": "1+1?", "answer": "2")"));
    expect_named_error(run_r1("eval gen --model " + model + " --task " + p.string() + " --max-new-tokens 2 -n 1"),
                       p.filename().string() + ":2:", h.expected);
    p = write("corpus-" + h.name + ".jsonl", R"({"text": "hello"})", row(R"({"text": "hello")"));
    expect_named_error(run_r1("tokenizer train --input " + p.string() + " --out " + (*dir_ / "tok").string() +
                              " --vocab-size 300"),
                       p.filename().string() + ":2:", h.expected);
  }
}

TEST_F(HostileInputs, ModelConfigNamesTheFile) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    const fs::path dir = *dir_ / ("bad-config-" + h.name);
    fs::create_directories(dir);
    for (const auto& entry : fs::directory_iterator(*dir_ / "model"))
      fs::copy_file(entry.path(), dir / entry.path().filename(), fs::copy_options::overwrite_existing);
    std::string config = r1::test::read_bytes(dir / "config.json");
    config.insert(config.find('{') + 1, "\"extra\": " + h.value + ", ");
    r1::test::write_bytes(dir / "config.json", config);
    expect_named_error(run_r1("model info " + dir.string()), "config.json", h.expected);
  }
}

// Files checked before use: not regular files, empty inputs, a config the weights cannot hold.
TEST_F(HostileInputs, FilesAreCheckedBeforeUse) {
  const std::string model = (*dir_ / "model").string(), out = (*dir_ / "out.jsonl").string();
  for (const char* input : {"/dev/zero", "/dev/null"}) {
    expect_named_error(run_r1(std::string("verify --input ") + input), input, "not a regular file (a character device)");
    expect_named_error(run_r1("generate --model " + model + " --input " + input + " --output " + out + " --overwrite"),
                       input, "not a regular file");
  }
  const fs::path empty = *dir_ / "empty.jsonl";
  r1::test::write_bytes(empty, "\n  \n");
  expect_named_error(run_r1("generate --model " + model + " --input " + empty.string() + " --output " + out + " --overwrite"),
                     "empty.jsonl", "no rows");
  const fs::path rows = *dir_ / "blank-verify.jsonl";
  r1::test::write_bytes(rows, "");
  expect_named_error(run_r1("verify --input " + rows.string()), "blank-verify.jsonl", "no rows");

  // A FIFO in place of the weights: refused at once instead of waiting for a writer.
  const fs::path fifo_dir = *dir_ / "fifo-model";
  fs::create_directories(fifo_dir);
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"}) fs::copy_file(*dir_ / "model" / f, fifo_dir / f);
  ASSERT_EQ(mkfifo((fifo_dir / "model.safetensors").c_str(), 0600), 0);
  expect_named_error(run_r1("model info " + fifo_dir.string()), "model.safetensors", "not a regular file");

  // More layers than the weights hold (within the plausible range): refused by the weight check, not allocated.
  const fs::path deeper = *dir_ / "deeper-model";
  fs::create_directories(deeper);
  for (const auto& entry : fs::directory_iterator(*dir_ / "model")) fs::copy_file(entry.path(), deeper / entry.path().filename());
  std::string config = r1::test::read_bytes(deeper / "config.json");
  const size_t at = config.find("\"num_hidden_layers\": ");
  ASSERT_NE(at, std::string::npos) << config;
  config.replace(at, config.find_first_of(",}", at) - at, "\"num_hidden_layers\": 4000");
  r1::test::write_bytes(deeper / "config.json", config);
  r1::test::write_bytes(*dir_ / "one-prompt.jsonl", "{\"prompt\": \"hi\"}\n");
  for (const std::string& command : {"model info " + deeper.string(),
                                     "generate --model " + deeper.string() + " --input " + (*dir_ / "one-prompt.jsonl").string() +
                                         " --output " + out + " --overwrite"})
    expect_named_error(run_r1(command), "num_hidden_layers 4000 but the weights hold 4 layer(s)", "");
}

// Recipes: a recursive YAML alias (crashed with SIGSEGV) and an exponential one ("billion laughs", ran without
// bound) are usage errors naming the file and key; an infinite learning rate is refused, not trained into NaN.
TEST_F(HostileInputs, RecipesAndOutputsAreChecked) {
  const std::string model = (*dir_ / "model").string();
  const fs::path cyclic = *dir_ / "cyclic.yaml", laughs = *dir_ / "laughs.yaml", inf = *dir_ / "inf.yaml";
  r1::test::write_bytes(cyclic, "learning_rate: 1e-3\nextra: &x [*x]\n");
  std::string billion = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i < 10; ++i) {
    billion += fmt::format("a{}: &a{} [", i, i);
    for (int k = 0; k < 9; ++k) billion += fmt::format("{}*a{}", k ? ", " : "", i - 1);
    billion += "]\n";
  }
  r1::test::write_bytes(laughs, billion);
  r1::test::write_bytes(inf, "learning_rate: .inf\n");
  const std::string rest = " --model_name_or_path " + model + " --dataset_name x.jsonl --output_dir " + (*dir_ / "o").string();
  for (const auto& [file, expected] : std::vector<std::pair<fs::path, std::string>>{
           {cyclic, "cyclic.yaml:2: 'extra': nested deeper than 64 levels"},
           {laughs, "laughs.yaml:"},
           {inf, "learning_rate must be a finite number > 0, got inf"}}) {
    auto r = run_r1("sft --config " + file.string() + rest);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  }
  EXPECT_NE(run_r1("sft --config " + laughs.string() + rest).output.find("more than 100000 values"), std::string::npos);
  // --overwrite replaces an output file, never a directory.
  const fs::path out_dir = *dir_ / "out-dir";
  fs::create_directories(out_dir);
  r1::test::write_bytes(*dir_ / "one.jsonl", "{\"prompt\": \"hi\"}\n");
  auto r = run_r1("generate --model " + model + " --input " + (*dir_ / "one.jsonl").string() + " --output " +
                  out_dir.string() + " --overwrite --max-new-tokens 2");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("exists and is not a regular file"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_directory(out_dir));
}

}  // namespace
