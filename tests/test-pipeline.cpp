// `r1 pipeline` (r1/pipeline.h): recipes whose references do not resolve are usage errors naming the stage; each
// stage becomes the right command (training stages a recipe file, the others --flags, outputs defaulted under the
// pipeline's directory); and a pipeline killed in its second stage (SFT, killed after a checkpoint) resumes there
// and ends with the same summary as one that was never interrupted. The shipped recipes are valid.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "r1/error.h"
#include "r1/model.h"
#include "r1/pipeline.h"
#include "test-helpers.h"

extern char** environ;

namespace fs = std::filesystem;
using nlohmann::json;
using r1::pipeline::parse_pipeline;

namespace {

TEST(Pipeline, ReferencesThatDoNotResolveNameTheStage) {
  const std::string head = "output_dir: /tmp/p\nstages:\n";
  auto bad = [&](const std::string& stages, std::initializer_list<std::string> fragments) {
    try {
      parse_pipeline(head + stages, "p.yaml");
      ADD_FAILURE() << "accepted: " << stages;
    } catch (const r1::UsageError& e) {
      for (const std::string& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  };
  bad("  - {name: a, run: sft, with: {model_name_or_path: '${stages.b.output_dir}'}}\n"
      "  - {name: b, run: sft}\n",
      {"p.yaml: stage 'a'", "names no earlier stage 'b'"});
  bad("  - {name: a, run: sft}\n  - {name: b, run: grpo, with: {model_name_or_path: '${stages.a.lerning_rate}'}}\n",
      {"stage 'b'", "stage 'a' has no key 'lerning_rate'"});
  bad("  - {name: a, run: sft, with: {x: '${stage.a}'}}\n", {"stage 'a'", "is not ${output_dir}"});
  bad("  - {name: a, run: train}\n", {"stage 'a'", "'run' must be one of", "rejection-sample"});
  bad("  - {name: a, run: sft}\n  - {name: a, run: sft}\n", {"stage 'a'", "a second stage"});
  bad("  - {name: a, run: sft, width: {}}\n", {"stage 'a'", "unknown key 'width'"});
  bad("  - {run: sft}\n", {"stage 1 needs a 'name'"});
  R1_EXPECT_THROW_WITH(parse_pipeline("output_dir: x\n", "p.yaml"), r1::UsageError, "'stages' must be");
}

TEST(Pipeline, StagesBecomeCommands) {
  const auto r = parse_pipeline(R"(output_dir: /tmp/runs/r1
stages:
  - name: cold
    run: sft
    with: {model_name_or_path: base, learning_rate: 1.0e-5}
  - name: rs
    run: rejection-sample
    with: {model: "${stages.cold.output_dir}", input: p.jsonl, n: 4, reward_funcs: [accuracy, format],
           no_code_blocks: true, keep_duplicates: false}
  - name: sft2
    run: sft
    with: {model_name_or_path: base, dataset_name: "${stages.rs.output}", output_dir: "${output_dir}/final"}
  - name: score
    run: eval
    with: {model: "${stages.sft2.output_dir}", task: t.jsonl}
)",
                                "r1.yaml");
  ASSERT_EQ(r.stages.size(), 4u);
  auto cold = r1::pipeline::stage_command(r, 0);
  EXPECT_EQ(cold.argv, (std::vector<std::string>{"sft", "--config", "/tmp/runs/r1/.pipeline/cold.yaml"}));
  EXPECT_NE(cold.config_text.find("output_dir: /tmp/runs/r1/cold"), std::string::npos) << cold.config_text;
  EXPECT_NE(cold.config_text.find("learning_rate: 1e-05"), std::string::npos) << cold.config_text;
  // Keys in the order the recipe reader gives them (sorted), the output defaulted, a generation resumable.
  EXPECT_EQ(r1::pipeline::stage_command(r, 1).argv,
            (std::vector<std::string>{"rejection-sample", "--input", "p.jsonl", "--model", "/tmp/runs/r1/cold", "-n",
                                      "4", "--no-code-blocks", "--reward-funcs", "accuracy,format", "--output",
                                      "/tmp/runs/r1/rs/sft.jsonl", "--resume"}));
  EXPECT_EQ(r.stages[2].with["dataset_name"], "/tmp/runs/r1/rs/sft.jsonl");
  EXPECT_EQ(r.stages[2].with["output_dir"], "/tmp/runs/r1/final");
  EXPECT_EQ(r1::pipeline::stage_command(r, 3).argv,
            (std::vector<std::string>{"eval", "gen", "--model", "/tmp/runs/r1/final", "--task", "t.jsonl",
                                      "--output-dir", "/tmp/runs/r1/score", "--overwrite"}));
}

// The shipped recipes parse, and each training stage's keys pass its command's own validation (--dump-config).
TEST(Pipeline, ShippedRecipesAreValid) {
  for (const char* name : {"deepseek-r1.yaml", "distill.yaml"}) {
    SCOPED_TRACE(name);
    const auto r = r1::pipeline::load_pipeline(fs::path(R1_SOURCE_DIR) / "recipes" / name);
    r1::test::TempDir dir;
    for (size_t i = 0; i < r.stages.size(); ++i) {
      const auto c = r1::pipeline::stage_command(r, i);
      if (c.config_file.empty()) continue;
      r1::test::write_bytes(dir / "stage.yaml", c.config_text);
      auto dump = r1::test::run_r1(r.stages[i].run + " --config " + (dir / "stage.yaml").string() + " --dump-config");
      EXPECT_EQ(dump.status, 0) << r.stages[i].name << ": " << dump.output;
    }
  }
}

class PipelineRun : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = r1::model::ModelConfig::parse(R"({"model_type": "llama", "vocab_size": 1200, "hidden_size": 32,
        "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 256, "initializer_range": 0.2})",
                                           "tiny");
    torch::manual_seed(5);
    r1::model::Transformer m(c);
    m->init_weights();
    r1::model::save_pretrained(*m, dir_ / "base");
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(fs::path(R1_SOURCE_DIR) / "tests/golden/tokenizer/r1-bpe" / f, dir_ / "base" / f);
    std::ofstream data(dir_ / "chat.jsonl");
    for (int i = 0; i < 16; ++i)
      data << json{{"messages",
                    json::array({{{"role", "user"}, {"content", "What is " + std::to_string(i) + "?"}},
                                 {{"role", "assistant"}, {"content", "It is " + std::to_string(i) + "."}}})}}
                  .dump()
           << "\n";
  }
  // eval-mc of the base model, SFT (the stage that is killed), eval-mc of the result.
  r1::pipeline::PipelineRecipe recipe(const std::string& out) const {
    const std::string task = std::string(R1_SOURCE_DIR) + "/tests/tasks/mmlu.jsonl";
    return parse_pipeline("output_dir: " + (dir_ / out).string() + R"(
stages:
  - name: before
    run: eval-mc
    with: {model: )" + (dir_ / "base").string() +
                              ", task: " + task + R"(, limit: 4, bootstrap_resamples: 0}
  - name: sft
    run: sft
    with: {model_name_or_path: )" +
                              (dir_ / "base").string() + ", dataset_name: " + (dir_ / "chat.jsonl").string() +
                              R"(, chat_template: chatml,
           max_steps: 300, save_steps: 20, logging_steps: 50, per_device_train_batch_size: 2, learning_rate: 1.0e-3,
           seed: 3}
  - name: after
    run: eval-mc
    with: {model: "${stages.sft.output_dir}", task: )" +
                              task +
                              R"(, limit: 4, bootstrap_resamples: 0}
)",
                          out + ".yaml");
  }
  r1::test::TempDir dir_;
};

// Runs `r1 <argv>` as a child; when `kill_after` names a file, kills the child as soon as that file exists.
int run_child(const std::vector<std::string>& argv, const fs::path& kill_after = {}) {
  std::vector<std::string> args = {R1_CLI, "--threads", "1"};
  args.insert(args.end(), argv.begin(), argv.end());
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, R1_CLI, nullptr, nullptr, cargs.data(), environ) != 0) return -1;
  int status = 0;
  while (true) {
    if (waitpid(pid, &status, kill_after.empty() ? 0 : WNOHANG) == pid) break;
    if (!kill_after.empty() && fs::exists(kill_after)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(PipelineRun, KilledInTheSecondStageResumesToTheSameSummary) {
  const auto whole = r1::pipeline::run_pipeline(recipe("whole"), [](const auto& argv) { return run_child(argv); });
  ASSERT_TRUE(whole.complete);

  const auto killed = recipe("killed");
  const fs::path checkpoint = dir_ / "killed/sft/checkpoint-40/trainer_state.json";
  R1_EXPECT_THROW_WITH(
      r1::pipeline::run_pipeline(
          killed, [&](const auto& argv) { return run_child(argv, argv[0] == "sft" ? checkpoint : fs::path()); }),
      r1::Error, "stage 'sft'", "run the pipeline again to resume");
  ASSERT_TRUE(fs::exists(checkpoint));
  ASSERT_FALSE(fs::exists(dir_ / "killed/sft/model.safetensors"));  // killed before the end
  const json partial = json::parse(r1::test::read_bytes(dir_ / "killed/summary.json"));
  EXPECT_EQ(partial["stages"][0]["status"], "ran");
  EXPECT_EQ(partial["stages"][1]["status"], "failed");
  EXPECT_EQ(partial["complete"], false);

  std::vector<std::string> resumed_sft;
  const auto resumed = r1::pipeline::run_pipeline(killed, [&](const auto& argv) {
    if (argv[0] == "sft") resumed_sft.push_back(r1::test::read_bytes(dir_ / "killed/.pipeline/sft.yaml"));
    return run_child(argv);
  });
  ASSERT_TRUE(resumed.complete);
  ASSERT_EQ(resumed_sft.size(), 1u);
  EXPECT_NE(resumed_sft[0].find("resume_from_checkpoint"), std::string::npos);
  EXPECT_EQ(resumed.stages[0].status, "done earlier");
  ASSERT_EQ(resumed.stages.size(), whole.stages.size());
  for (size_t i = 0; i < whole.stages.size(); ++i) EXPECT_EQ(resumed.stages[i].metrics, whole.stages[i].metrics) << i;
  EXPECT_FALSE(whole.stages[2].metrics.empty());
  EXPECT_NE(whole.stages[0].metrics, whole.stages[2].metrics);  // the SFT changed the model's answers
  // Once finished, a stage with other settings is refused rather than silently redone.
  auto changed = recipe("killed");
  changed.stages[1].with["learning_rate"] = 5e-4;
  R1_EXPECT_THROW_WITH(r1::pipeline::run_pipeline(changed, [](const auto& argv) { return run_child(argv); }),
                       r1::UsageError, "stage 'sft'", "finished with other settings");
}

}  // namespace
