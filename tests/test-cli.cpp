// End-to-end runs of the r1 binary: help and version, usage errors (exit 2, one line), runtime errors
// (exit 1, one line naming the problem, no stack trace), and model init -> info -> convert -> info.
#include <nlohmann/json.hpp>

#include "test-helpers.h"

using r1::test::run_r1;
using r1::test::TempDir;

namespace {
const std::string kTiny = std::string(R1_SOURCE_DIR) + "/recipes/models/tiny.json";

size_t line_count(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

void expect_one_line_error(const r1::test::CommandResult& r, int status, const std::string& fragment) {
  EXPECT_EQ(r.status, status) << r.output;
  EXPECT_EQ(line_count(r.output), 1u) << r.output;
  EXPECT_EQ(r.output.rfind("r1: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find(fragment), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Exception raised from"), std::string::npos) << r.output;
}
}  // namespace

TEST(Cli, HelpAndVersion) {
  auto v = run_r1("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_NE(v.output.find("r1 0."), std::string::npos) << v.output;
  EXPECT_NE(v.output.find("LibTorch"), std::string::npos);
  auto h = run_r1("--help");
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.output.find("model"), std::string::npos);
  EXPECT_NE(h.output.find("--threads"), std::string::npos);
  for (const char* sub : {"model --help", "model init --help", "model info --help", "model convert --help"}) {
    auto r = run_r1(sub);
    EXPECT_EQ(r.status, 0) << sub;
    EXPECT_NE(r.output.find("Usage: r1 model"), std::string::npos) << r.output;
  }
}

TEST(Cli, StartsWithFastKernelSettingsWithoutUserEnvironment) {
  auto r = r1::test::run_r1("--version");  // ctest sets OMP_WAIT_POLICY; check the binary sets it by itself
  std::string cmd = "env -u OMP_WAIT_POLICY -u R1_BOOTSTRAPPED " + std::string(R1_CLI) + " --version 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[4096];
  std::string out;
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0);
  EXPECT_NE(out.find("OMP_WAIT_POLICY=PASSIVE"), std::string::npos) << out;
  EXPECT_EQ(out.find("1 intra-op thread(s) on 2"), std::string::npos) << "threads must default to the cores: " << out;
  EXPECT_EQ(r.status, 0);

  // The allocator: r1's settings without the user's; a value the user gave glibc stands.
  const std::string unset =
      "env -u MALLOC_MMAP_THRESHOLD_ -u MALLOC_TRIM_THRESHOLD_ -u MALLOC_TOP_PAD_ -u GLIBC_TUNABLES ";
  for (const auto& [env, expected] : std::vector<std::pair<std::string, std::string>>{
           {"", "malloc: mmap/trim thresholds 64/512 MiB, top pad 64 MiB (r1)"},
           {"MALLOC_TOP_PAD_=0 ", "malloc: partly the user's settings"},
           {"GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072:"
            "glibc.malloc.top_pad=0 ",
            "malloc: the user's settings"}}) {
    pipe = popen((unset + env + R1_CLI + " --version 2>&1").c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    out.clear();
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    EXPECT_EQ(pclose(pipe), 0);
    EXPECT_NE(out.find(expected), std::string::npos) << env << ": " << out;
  }
}

TEST(Cli, UsageErrorsExitTwoWithOneLine) {
  expect_one_line_error(run_r1(""), 2, "subcommand");
  expect_one_line_error(run_r1("frobnicate"), 2, "frobnicate");
  expect_one_line_error(run_r1("model init --out /tmp/x"), 2, "--config");
  expect_one_line_error(run_r1("model init --config " + kTiny + " --out /tmp/x --dtype int3"), 2, "int3");
  expect_one_line_error(run_r1("--device tpu model info /tmp"), 2, "--device");
  expect_one_line_error(run_r1("--threads -1 model info /tmp"), 2, "--threads");
  expect_one_line_error(run_r1("model init --config " + kTiny + " --out /tmp/x --max-shard-size huge"), 2,
                        "--max-shard-size");
}

TEST(Cli, RuntimeErrorsExitOneWithOneLine) {
  TempDir dir;
  expect_one_line_error(run_r1("model info " + (dir / "missing").string()), 1, "no such directory");
  r1::test::write_bytes(dir / "config.json", "{\"model_type\": \"llama\", \"hidden_size\": 7}");
  expect_one_line_error(run_r1("model info " + dir.path().string()), 1, "config.json");
  r1::test::write_bytes(dir / "config.json", "{\"model_type\": \"llama\"}");
  r1::test::write_bytes(dir / "model.safetensors", "garbage!garbage!");
  expect_one_line_error(run_r1("model info " + dir.path().string()), 1, "model.safetensors");
}

TEST(Cli, InitInfoConvertInfo) {
  TempDir dir;
  std::string model = (dir / "tiny").string(), half = (dir / "tiny-bf16").string();
  auto init = run_r1("--seed 3 model init --config " + kTiny + " --out " + model);
  ASSERT_EQ(init.status, 0) << init.output;
  EXPECT_NE(init.output.find("5.25 M parameters"), std::string::npos) << init.output;

  auto info = run_r1("model info " + model);
  ASSERT_EQ(info.status, 0) << info.output;
  for (const char* fragment :
       {"LlamaForCausalLM", "5.25 M", "grouped-query 2:1", "F32 x 38", "weights match config.json"})
    EXPECT_NE(info.output.find(fragment), std::string::npos) << fragment << "\n" << info.output;

  // Never overwrite without --overwrite; the model is left as it was.
  std::string before = r1::test::read_bytes(dir / "tiny" / "model.safetensors");
  expect_one_line_error(run_r1("--seed 4 model init --config " + kTiny + " --out " + model), 1, "--overwrite");
  EXPECT_EQ(r1::test::read_bytes(dir / "tiny" / "model.safetensors"), before);
  // Same seed, same bytes; another seed, other bytes.
  ASSERT_EQ(run_r1("--seed 3 model init --overwrite --config " + kTiny + " --out " + model).status, 0);
  EXPECT_EQ(r1::test::read_bytes(dir / "tiny" / "model.safetensors"), before);
  ASSERT_EQ(run_r1("--seed 4 model init --overwrite --config " + kTiny + " --out " + model).status, 0);
  EXPECT_NE(r1::test::read_bytes(dir / "tiny" / "model.safetensors"), before);

  auto convert = run_r1("model convert " + model + " --dtype bf16 --out " + half);
  ASSERT_EQ(convert.status, 0) << convert.output;
  auto j = nlohmann::json::parse(run_r1("model info --json " + half).output);
  EXPECT_EQ(j["torch_dtype"], "bfloat16");
  EXPECT_EQ(j["stored_dtypes"]["BF16"], 38);
  EXPECT_EQ(j["parameters"], 5'245'184);  // 8192*256 + 4*(2*256^2 + 2*128*256 + 3*256*768 + 2*256) + 256
  EXPECT_TRUE(j["problems"].empty());
  auto f32 = nlohmann::json::parse(run_r1("model info --json " + model).output);
  EXPECT_NEAR(double(j["weight_bytes"]) / double(f32["weight_bytes"]), 0.5, 0.01);
}

TEST(Cli, TokenizerTrainEncodeDecodeExtendRender) {
  TempDir dir;
  std::string corpus = std::string(R1_SOURCE_DIR) + "/tests/golden/tokenizer/corpus.txt";
  std::string zh = std::string(R1_SOURCE_DIR) + "/tests/golden/tokenizer/corpus-zh.txt";
  std::string tok = (dir / "tok").string(), ext = (dir / "ext").string();
  auto train =
      run_r1("tokenizer train --input " + corpus + " --out " + tok +
             " --vocab-size 800 --special-tokens '<|endoftext|>,<|im_start|>,<|im_end|>' --eos-token '<|im_end|>'");
  ASSERT_EQ(train.status, 0) << train.output;
  EXPECT_NE(train.output.find("800 tokens (3 special)"), std::string::npos) << train.output;
  expect_one_line_error(run_r1("tokenizer train --input " + corpus + " --out " + tok + " --vocab-size 800"), 1,
                        "--overwrite");
  expect_one_line_error(
      run_r1("tokenizer train --input " + corpus + " --out " + (dir / "x").string() + " --eos-token '<eos>'"), 2,
      "--eos-token");
  auto enc = run_r1("tokenizer encode --tokenizer " + tok + " --text 'Hello <|im_end|> world'");
  ASSERT_EQ(enc.status, 0) << enc.output;
  EXPECT_NE(enc.output.find(" 2 "), std::string::npos) << "<|im_end|> is id 2: " << enc.output;
  auto dec =
      run_r1("tokenizer decode --tokenizer " + tok + " --ids '" + enc.output.substr(0, enc.output.size() - 1) + "'");
  EXPECT_EQ(dec.output, "Hello <|im_end|> world\n");
  EXPECT_EQ(run_r1("tokenizer decode --tokenizer " + tok + " --skip-special-tokens --ids '" +
                   enc.output.substr(0, enc.output.size() - 1) + "'")
                .output,
            "Hello  world\n");
  expect_one_line_error(run_r1("tokenizer decode --tokenizer " + tok + " --ids '1 x'"), 2, "'x'");
  expect_one_line_error(run_r1("tokenizer decode --tokenizer " + tok + " --ids '99999'"), 1, "99999");
  auto info = run_r1("tokenizer info " + tok);
  EXPECT_NE(info.output.find("eos <|im_end|>"), std::string::npos) << info.output;

  auto extend = run_r1("tokenizer extend --base " + tok + " --corpus " + zh + " --add 100 --out " + ext);
  ASSERT_EQ(extend.status, 0) << extend.output;
  EXPECT_NE(extend.output.find("added 100 tokens (800 -> 900)"), std::string::npos) << extend.output;

  r1::test::write_bytes(dir / "chat.json",
                        R"([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}])");
  auto chat = run_r1("tokenizer render-chat --tokenizer " + tok + " --template chatml --json --messages " +
                     (dir / "chat.json").string());
  ASSERT_EQ(chat.status, 0) << chat.output;
  auto j = nlohmann::json::parse(chat.output);
  EXPECT_EQ(j["text"], "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n");
  EXPECT_EQ(j["ids"].size(), j["assistant_mask"].size());
  expect_one_line_error(
      run_r1("tokenizer render-chat --tokenizer " + tok + " --messages " + (dir / "chat.json").string()), 2,
      "chat_template");
  expect_one_line_error(run_r1("tokenizer render-chat --tokenizer " + tok + " --template nope --messages " +
                               (dir / "chat.json").string()),
                        2, "--template: 'nope' is not a file, a built-in template");  // an option's value: exit 2
}
