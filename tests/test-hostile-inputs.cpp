// Hostile JSON at every entry where a user's file reaches r1 (issue 15 item 1): dataset rows of sft, dpo, grpo,
// generate, verify, eval gen tasks and tokenizer training, and the model's config.json. Each input is one good row
// followed by a row holding an unused column nested 100,000 deep (which crashed these commands with a stack overflow),
// a number that overflows a double, or invalid UTF-8. Every command must exit 1 (not die on a signal) with one line
// naming file:line and saying what is wrong, and no library exception text.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "common/checksum.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/io.h"
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
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(kTokenizer / f, *dir_ / "model" / f);
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
  const std::string chat =
      R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})";
  const std::string pref = R"({"prompt": "hi", "chosen": "yes", "rejected": "no")";
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    auto row = [&](const std::string& start) { return start + ", \"extra\": " + h.value + "}"; };
    fs::path p = write("sft-" + h.name + ".jsonl", chat, row(chat.substr(0, chat.size() - 1)));
    expect_named_error(run_r1("sft --model_name_or_path " + model + " --dataset_name " + p.string() + " --output_dir " +
                              out + " --max_steps 1 --threads 1"),
                       p.filename().string() + ":2:", h.expected);
    p = write("dpo-" + h.name + ".jsonl", pref + "}", row(pref));
    expect_named_error(run_r1("dpo --model_name_or_path " + model + " --dataset_name " + p.string() + " --output_dir " +
                              out + " --max_steps 1 --threads 1"),
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
    expect_named_error(
        run_r1("tokenizer train --input " + p.string() + " --out " + (*dir_ / "tok").string() + " --vocab-size 300"),
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
    expect_named_error(run_r1(std::string("verify --input ") + input), input,
                       "not a regular file (a character device)");
    expect_named_error(run_r1("generate --model " + model + " --input " + input + " --output " + out + " --overwrite"),
                       input, "not a regular file");
  }
  const fs::path empty = *dir_ / "empty.jsonl";
  r1::test::write_bytes(empty, "\n  \n");
  expect_named_error(
      run_r1("generate --model " + model + " --input " + empty.string() + " --output " + out + " --overwrite"),
      "empty.jsonl", "no rows");
  const fs::path rows = *dir_ / "blank-verify.jsonl";
  r1::test::write_bytes(rows, "");
  expect_named_error(run_r1("verify --input " + rows.string()), "blank-verify.jsonl", "no rows");

  // A FIFO in place of the weights: refused at once instead of waiting for a writer.
  const fs::path fifo_dir = *dir_ / "fifo-model";
  fs::create_directories(fifo_dir);
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(*dir_ / "model" / f, fifo_dir / f);
  ASSERT_EQ(mkfifo((fifo_dir / "model.safetensors").c_str(), 0600), 0);
  expect_named_error(run_r1("model info " + fifo_dir.string()), "model.safetensors", "not a regular file");

  // More layers than the weights hold (within the plausible range): refused by the weight check, not allocated.
  const fs::path deeper = *dir_ / "deeper-model";
  fs::create_directories(deeper);
  for (const auto& entry : fs::directory_iterator(*dir_ / "model"))
    fs::copy_file(entry.path(), deeper / entry.path().filename());
  std::string config = r1::test::read_bytes(deeper / "config.json");
  const size_t at = config.find("\"num_hidden_layers\": ");
  ASSERT_NE(at, std::string::npos) << config;
  config.replace(at, config.find_first_of(",}", at) - at, "\"num_hidden_layers\": 4000");
  r1::test::write_bytes(deeper / "config.json", config);
  r1::test::write_bytes(*dir_ / "one-prompt.jsonl", "{\"prompt\": \"hi\"}\n");
  for (const std::string& command : {"model info " + deeper.string(),
                                     "generate --model " + deeper.string() + " --input " +
                                         (*dir_ / "one-prompt.jsonl").string() + " --output " + out + " --overwrite"})
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
  const std::string rest =
      " --model_name_or_path " + model + " --dataset_name x.jsonl --output_dir " + (*dir_ / "o").string();
  for (const auto& [file, expected] :
       std::vector<std::pair<fs::path, std::string>>{{cyclic, "cyclic.yaml:2: 'extra': nested deeper than 64 levels"},
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

namespace {

// Rewrites a checkpoint file and re-stamps the manifest, as a hand edit that knows the format would: the content
// checks behind the checksum are what is tested.
void edit_checkpoint_file(const fs::path& checkpoint, const std::string& name,
                          const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = nlohmann::json::parse(r1::test::read_bytes(checkpoint / name));
  edit(j);
  r1::test::write_bytes(checkpoint / name, j.dump(2));
  nlohmann::json manifest = nlohmann::json::parse(r1::test::read_bytes(checkpoint / "manifest.json"));
  manifest["files"][name] = {{"bytes", fs::file_size(checkpoint / name)},
                             {"checksum", r1::checksum_file(checkpoint / name)}};
  r1::test::write_bytes(checkpoint / "manifest.json", manifest.dump(2));
}

}  // namespace

// Shards, checkpoints and saved states checked before they are trusted: a token id beyond the shard's
// vocabulary (an index error inside the model before), a manifest whose step or version disagrees with its
// checkpoint, a trainer state with a data state of the wrong shape or a step past int64 (a library exception
// or a wrapped number before), and a checkpoint whose config.json is not the model being trained (rope_theta
// changed: every shape fits, so it resumed silently before).
TEST_F(HostileInputs, ShardsCheckpointsAndStatesAreChecked) {
  const fs::path shards = *dir_ / "shards", run = *dir_ / "pt-run";
  auto prep = run_r1("data prepare --tokenizer " + kTokenizer.string() + " --input " + std::string(R1_SOURCE_DIR) +
                     "/tests/golden/tokenizer/corpus.txt --out " + shards.string());
  ASSERT_EQ(prep.status, 0) << prep.output;
  auto pretrain = [&](const fs::path& data, const fs::path& out, const std::string& more) {
    return run_r1(
        "pretrain --model_config '{model_type: llama, hidden_size: 16, intermediate_size: 32, "
        "num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, vocab_size: 1200}' "
        "--tokenizer_name_or_path " +
        kTokenizer.string() + " --dataset_name " + data.string() + " --output_dir " + out.string() +
        " --max_length 16 --per_device_train_batch_size 2 --threads 1 " + more);
  };
  auto trained = pretrain(shards, run, "--max_steps 2 --save_steps 1");
  ASSERT_EQ(trained.status, 0) << trained.output;

  const fs::path bad_shards = *dir_ / "bad-shards";
  fs::copy(shards, bad_shards);
  std::string bytes = r1::test::read_bytes(bad_shards / "train-00000.bin");
  for (size_t i = r1::data::kShardHeaderBytes; i + 1 < bytes.size(); i += 2) bytes[i] = '\xff', bytes[i + 1] = '\x7f';
  r1::test::write_bytes(bad_shards / "train-00000.bin", bytes);
  expect_named_error(pretrain(bad_shards, *dir_ / "pt-bad", "--max_steps 1 --save_strategy no"),
                     "train-00000.bin: token ", "is id 32767, outside the shard's vocabulary of");

  struct Case {
    std::string name, file;
    std::function<void(nlohmann::json&)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"step", "manifest.json", [](nlohmann::json& j) { j["step"] = 7; },
       "\"step\" is 7 in a directory named for step 2"},
      {"version", "manifest.json", [](nlohmann::json& j) { j["version"] = 2; },
       "\"version\" must be an integer in [1, 1], found 2"},
      {"global-step", "trainer_state.json", [](nlohmann::json& j) { j["global_step"] = 2.0; },
       "\"global_step\" must be an integer in [0, 4], found 2.0"},
      {"other-step", "trainer_state.json", [](nlohmann::json& j) { j["global_step"] = 1; },
       "\"global_step\" is 1 but the checkpoint's manifest says step 2"},
      {"data-state", "trainer_state.json", [](nlohmann::json& j) { j["data_state"] = "resume here"; },
       "trainer_state.json: \"data_state\": data loader state: missing \"format\""},
      {"sources", "trainer_state.json", [](nlohmann::json& j) { j["data_state"]["sources"][0]["cursor"] = "x"; },
       "trainer_state.json: \"data_state\": data loader state: malformed (type must be number, but is string)"},
      {"config", "config.json", [](nlohmann::json& j) { j["rope_theta"] = 500.0; },
       "config.json: \"rope_theta\" is 500.0 in the checkpoint"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path copy = *dir_ / ("pt-" + c.name);
    fs::copy(run, copy, fs::copy_options::recursive);
    const fs::path checkpoint = copy / "checkpoint-2";
    if (c.file == "manifest.json") {
      nlohmann::json manifest = nlohmann::json::parse(r1::test::read_bytes(checkpoint / "manifest.json"));
      c.edit(manifest);
      r1::test::write_bytes(checkpoint / "manifest.json", manifest.dump(2));
    } else {
      edit_checkpoint_file(checkpoint, c.file, c.edit);
    }
    expect_named_error(
        pretrain(shards, copy, "--max_steps 4 --save_steps 1 --resume_from_checkpoint " + checkpoint.string()),
        checkpoint.filename().string() + "/" + c.file, c.expected);
  }
}

// A saved state's integer: its type and range checked, a number past int64 refused rather than wrapped.
TEST(SavedState, IntegersAreCheckedNotWrapped) {
  const auto j = nlohmann::json::parse(R"({"a": 3, "big": 18446744073709551615, "neg": -1, "frac": 1.5, "s": "3"})");
  EXPECT_EQ(r1::json_integer(j, "a", 0, 3, "state"), 3);
  for (const auto& [key, found] : std::vector<std::pair<const char*, std::string>>{
           {"big", "18446744073709551615"}, {"neg", "-1"}, {"frac", "1.5"}, {"s", "\"3\""}, {"none", "nothing"}}) {
    try {
      r1::json_integer(j, key, 0, INT64_MAX, "state");
      ADD_FAILURE() << key << " accepted";
    } catch (const r1::Error& e) {
      EXPECT_EQ(std::string(e.what()),
                fmt::format("state: \"{}\" must be an integer in [0, {}], found {}", key, INT64_MAX, found));
    }
  }
  EXPECT_THROW(r1::json_integer(j, "a", 0, 2, "state"), r1::Error);
}

// Numbers at the edges of their types: a recipe integer past int64 (it wrapped), a negative save_steps (it meant
// "only at the end" by accident), CLI bounds said plainly (CLI11 printed DBL_MAX), a symbolic-link loop named.
TEST_F(HostileInputs, NumbersAndPathsAtTheEdges) {
  const std::string model = (*dir_ / "model").string();
  const std::string rest =
      " --model_name_or_path " + model + " --dataset_name x.jsonl --output_dir " + (*dir_ / "o").string();
  for (const auto& [flag, expected] : std::vector<std::pair<std::string, std::string>>{
           {"--max_steps 99999999999999999999", "max_steps"},
           {"--save_steps -1", "save_steps must be >= 0 (0: a checkpoint only at the end), got -1"},
           {"--output_dir / --overwrite_output_dir true", "output_dir '/' is the file system's root"},
           {"--output_dir /tmp/.. --overwrite_output_dir true", "is the file system's root"}}) {
    SCOPED_TRACE(flag);
    auto r = run_r1("sft" + rest + " " + flag);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  }
  const fs::path recipe = *dir_ / "huge.yaml";
  r1::test::write_bytes(recipe, "max_steps: 99999999999999999999\n");
  auto huge = run_r1("sft --config " + recipe.string() + rest);
  EXPECT_EQ(huge.status, 2) << huge.output;
  EXPECT_NE(huge.output.find("an integer in the 64-bit range"), std::string::npos) << huge.output;

  r1::test::write_bytes(*dir_ / "prompt.jsonl", "{\"prompt\": \"hi\"}\n");
  auto negative = run_r1("generate --model " + model + " --input " + (*dir_ / "prompt.jsonl").string() + " --output " +
                         (*dir_ / "y.jsonl").string() + " --max-new-tokens -1");
  EXPECT_EQ(negative.status, 2) << negative.output;
  EXPECT_NE(negative.output.find("must be > 0, got -1"), std::string::npos) << negative.output;
  EXPECT_EQ(negative.output.find("1.79769"), std::string::npos) << negative.output;

  const fs::path a = *dir_ / "loop-a", b = *dir_ / "loop-b";
  fs::create_symlink(b, a);
  fs::create_symlink(a, b);
  auto loop = run_r1("model info " + a.string());
  EXPECT_EQ(loop.status, 1) << loop.output;
  EXPECT_NE(loop.output.find("loop-a"), std::string::npos) << loop.output;
  EXPECT_NE(loop.output.find("symbolic links"), std::string::npos) << loop.output;
}

// Tokenizer training: an empty corpus is refused naming the file (it wrote a tokenizer of the byte alphabet
// only); a special token given twice is kept once, as HF's trainer does.
TEST_F(HostileInputs, TokenizerTrainingInputs) {
  const fs::path blank = *dir_ / "blank.txt", out = *dir_ / "tok-blank";
  r1::test::write_bytes(blank, "");
  expect_named_error(
      run_r1("tokenizer train --input " + blank.string() + " --out " + out.string() + " --vocab-size 300"), "blank.txt",
      "no text to train on");
  EXPECT_FALSE(fs::exists(out / "tokenizer.json"));
  const fs::path twice = *dir_ / "tok-twice";
  auto r =
      run_r1("tokenizer train --input " + std::string(R1_SOURCE_DIR) + "/tests/golden/tokenizer/corpus.txt --out " +
             twice.string() + " --vocab-size 300 --special-tokens '<s>,<s>,</s>'");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r1::test::read_bytes(twice / "tokenizer.json"));
  ASSERT_EQ(j["added_tokens"].size(), 2u) << j["added_tokens"].dump();
  EXPECT_EQ(j["added_tokens"][0]["content"], "<s>");
  EXPECT_EQ(j["added_tokens"][1]["content"], "</s>");
  EXPECT_EQ(j["model"]["vocab"]["</s>"], 1);
}

// A dataset conversation whose content is a list of OpenAI text parts trains like its string form (serve
// accepted it; sft refused it); a part that is not text is refused naming file:line.
TEST_F(HostileInputs, ContentPartsTrainLikeStrings) {
  const std::string model = (*dir_ / "model").string();
  const fs::path parts = write(
      "parts.jsonl",
      R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "there"}]}, {"role": "assistant", "content": [{"type": "text", "text": "yo"}]}]})",
      R"({"messages": [{"role": "user", "content": "hi\nthere"}, {"role": "assistant", "content": "yo"}]})");
  auto r =
      run_r1("sft --model_name_or_path " + model + " --dataset_name " + parts.string() + " --output_dir " +
             (*dir_ / "sft-parts").string() + " --max_steps 1 --threads 1 --chat_template chatml --save_strategy no");
  EXPECT_EQ(r.status, 0) << r.output;
  const fs::path image = write(
      "image.jsonl", R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})",
      R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}, {"role": "assistant", "content": "yo"}]})");
  expect_named_error(
      run_r1("sft --model_name_or_path " + model + " --dataset_name " + image.string() + " --output_dir " +
             (*dir_ / "sft-image").string() + " --max_steps 1 --threads 1 --chat_template chatml"),
      "image.jsonl:2:", "only parts of type \"text\" are supported");
}

// GRPO rows checked when the dataset loads, named by file:line (blank lines counted): a row the accuracy
// reward cannot score (it failed as "example 0" after the first generation), a malformed verification_info,
// an empty prompt or conversation.
TEST_F(HostileInputs, GrpoRowsAreCheckedForTheirRewards) {
  const std::string model = (*dir_ / "model").string();
  const std::string good = R"({"prompt": "1+1?", "solution": "2"})";
  for (const auto& [name, bad, rewards, expected] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"nosolution", R"({"prompt": "1+1?"})", "accuracy",
            "reward 'accuracy' needs a 'solution' or 'answer' column"},
           {"code", R"({"prompt": "x", "verification_info": {"test_cases": [{"input": "1"}]}})", "code",
            "reward 'code': each test case needs string 'input' and 'output'"},
           {"emptyprompt", R"({"prompt": "", "solution": "2"})", "accuracy", "'prompt' is empty"},
           {"emptyconversation", R"({"prompt": [], "solution": "2"})", "accuracy",
            "'prompt' is an empty conversation"}}) {
    SCOPED_TRACE(name);
    const fs::path p = *dir_ / ("grpo-" + name + ".jsonl");
    std::ofstream(p, std::ios::binary) << good << "\n\n" << bad << "\n";
    expect_named_error(
        run_r1("grpo --model_name_or_path " + model + " --dataset_name " + p.string() + " --output_dir " +
               (*dir_ / "grpo-out").string() + " --max_steps 1 --threads 1 --reward_funcs " + rewards),
        p.filename().string() + ":3: ", expected);
  }
}

// A tokenizer with more ids than the model has embedding rows: one check (Tokenizer::require_fits) in every
// command that loads both, a usage error naming the model (eval ppl and eval mc died with "index out of range
// in self"; grpo failed only after loading).
TEST_F(HostileInputs, TokenizerLargerThanTheModelIsRefusedEverywhere) {
  const fs::path small = *dir_ / "vocab100";
  r1::test::write_bytes(*dir_ / "vocab100.json",
                        R"({"model_type": "llama", "vocab_size": 100, "hidden_size": 16, "intermediate_size": 32,
                            "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1})");
  auto init = run_r1("--seed 1 model init --config " + (*dir_ / "vocab100.json").string() + " --out " + small.string());
  ASSERT_EQ(init.status, 0) << init.output;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(kTokenizer / f, small / f);
  const std::string m = small.string(), d = dir_->path().string();
  r1::test::write_bytes(*dir_ / "fit-text.jsonl", "{\"text\": \"hello there\"}\n");
  r1::test::write_bytes(*dir_ / "fit-prompts.jsonl", "{\"prompt\": \"1+1?\", \"solution\": \"2\"}\n");
  r1::test::write_bytes(*dir_ / "fit-chat.jsonl",
                        R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})"
                        "\n");
  for (const std::string& command :
       {"eval ppl --model " + m + " --data " + d + "/fit-text.jsonl",
        "eval mc --model " + m + " --task " + std::string(R1_SOURCE_DIR) + "/tests/tasks/mmlu.jsonl --limit 2",
        "generate --model " + m + " --input " + d + "/fit-prompts.jsonl --output " + d + "/fit-out.jsonl --overwrite",
        "grpo --model_name_or_path " + m + " --dataset_name " + d + "/fit-prompts.jsonl --output_dir " + d +
            "/fit-grpo --max_steps 1",
        "sft --model_name_or_path " + m + " --dataset_name " + d + "/fit-chat.jsonl --output_dir " + d +
            "/fit-sft --max_steps 1 --chat_template chatml"}) {
    SCOPED_TRACE(command);
    auto r = run_r1(command);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("vocab100: the tokenizer has 1200 tokens but the model has only 100 embedding rows"),
              std::string::npos)
        << r.output;
  }
}

// generate and eval gen (the same LocalTextBackend::encode) name the row whose prompt cannot run (it was "engine: the
// prompt is empty" with no row).
TEST_F(HostileInputs, PromptsThatCannotRunAreNamedByRow) {
  const std::string model = (*dir_ / "model").string();
  const fs::path empty = write("gen-empty.jsonl", R"({"prompt": "hi"})", R"({"prompt": ""})");
  expect_named_error(
      run_r1("generate --model " + model + " --input " + empty.string() + " --output " +
             (*dir_ / "gen-out.jsonl").string() + " --overwrite --chat-template none --max-new-tokens 2"),
      "gen-empty.jsonl:2: ", "the prompt renders to no tokens");
  std::string words;
  for (int i = 0; i < 600; ++i) words += "word" + std::to_string(i) + " ";
  const fs::path long_rows = write("gen-long.jsonl", R"({"prompt": "hi"})", R"({"prompt": ")" + words + R"("})");
  expect_named_error(run_r1("generate --model " + model + " --input " + long_rows.string() + " --output " +
                            (*dir_ / "gen-out.jsonl").string() + " --overwrite --max-new-tokens 2 --max-seq-len 64"),
                     "gen-long.jsonl:2: the prompt has ",
                     "the context holds 64 (prompt + at least one new token, --max-seq-len)");
}

// A batch larger than the data: capped at the rows there are, said once (batch 20,000 of one example repeated
// it 20,000 times per batch: the same loss, 7.5 GB).
TEST_F(HostileInputs, BatchLargerThanTheDataIsCapped) {
  const std::string model = (*dir_ / "model").string();
  const fs::path chat = write(
      "one-chat.jsonl", R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})",
      R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})");
  auto sft = run_r1(
      "sft --model_name_or_path " + model + " --dataset_name " + chat.string() + " --output_dir " +
      (*dir_ / "big-batch-sft").string() +
      " --max_steps 1 --threads 1 --chat_template chatml --save_strategy no --per_device_train_batch_size 100000");
  EXPECT_EQ(sft.status, 0) << sft.output;
  EXPECT_NE(sft.output.find("per_device_train_batch_size 100000 is more than the 2 rows: batches of 2"),
            std::string::npos)
      << sft.output;
  const fs::path pairs = write("one-pair.jsonl", R"({"prompt": "hi", "chosen": "yes", "rejected": "no"})",
                               R"({"prompt": "a", "chosen": "b", "rejected": "c"})");
  auto dpo = run_r1("dpo --model_name_or_path " + model + " --dataset_name " + pairs.string() + " --output_dir " +
                    (*dir_ / "big-batch-dpo").string() +
                    " --max_steps 1 --threads 1 --save_strategy no --per_device_train_batch_size 100000");
  EXPECT_EQ(dpo.status, 0) << dpo.output;
  EXPECT_NE(dpo.output.find("per_device_train_batch_size 100000 is more than the 2 pairs: batches of 2"),
            std::string::npos)
      << dpo.output;
}
