// The demos' building blocks (src/pipeline/demo.cpp, demo-r1.cpp): stages that are skipped when their output
// exists and whose times survive a re-run, and the task data, tokenizer, shards, pretraining and GRPO settings the
// R1-Zero demo and the R1 demo share. Internal to the pipeline part.
//
// Usage:
//   StageLog log(out / "stage-seconds.json");
//   log.run("pretraining", has_model(base), [&] { ... });   // prints "== pretraining", times it, records the time
//   double s = log.seconds("pretraining");                  // also when this run skipped it
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "r1/demo.h"
#include "r1/train.h"

namespace r1::demo::detail {

// Stages that run once: `done` skips one; the seconds of each stage that ran are kept in `file` (JSON), so a
// resumed run still reports how long every stage took.
class StageLog {
 public:
  explicit StageLog(std::filesystem::path file);
  void run(const std::string& name, bool done, const std::function<void()>& fn);
  double seconds(const std::string& name) const;  // 0 when never recorded
  const std::vector<StageTime>& times() const { return times_; }

 private:
  std::filesystem::path file_;
  std::map<std::string, double> recorded_;
  std::vector<StageTime> times_;
};

// The demos' answers are plain numbers in "<answer>\n85\n</answer>", not LaTeX: the accuracy reward reads them as
// Math-Verify's defaults do (the reward's own default, open-r1's preset, takes only LaTeX answers).
const nlohmann::json& accuracy_params();

nlohmann::json problem_row(const data::TaskProblem& p);  // problem, solution, language
void write_jsonl(const std::filesystem::path& path, const std::vector<nlohmann::json>& rows);
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path);
bool has_model(const std::filesystem::path& dir);
// Trainer output_dir handling for a resumable stage: continue from the newest checkpoint, else start over.
void resume_or_restart(train::TrainingArguments& args);

// The task of the options (seed, operand range, held-out problems, share posed in Chinese) and the stages that
// write its files under out_dir: task/{train,test,corpus}.jsonl ("task data"; the corpus renders each prompt as GRPO
// will, chatml + system prompt, followed by a worked solution: careful with probability careful_fraction, a Chinese
// chain of thought for a Chinese problem with probability chinese_cot_fraction), tokenizer/ (a byte-level BPE with
// digits split one by one, chatml, <|im_end|> as eos) and shards/.
data::TaskSplits prepare_task_data(const DemoOptions& o, StageLog& log);

struct PretrainSettings {
  nlohmann::json model_config;
  int64_t steps = 3000, batch = 16, length = 128;
  double learning_rate = 3e-3;
  bool bf16 = true;
  uint64_t seed = 0;
};
PretrainSettings pretrain_settings(const DemoOptions& o);  // the base model's
// Pretrains on out_dir/shards with out_dir/tokenizer (resuming a checkpoint in `out`); true when interrupted.
bool pretrain_demo_model(const PretrainSettings& s, const std::filesystem::path& out_dir,
                         const std::filesystem::path& out, const std::atomic<bool>* stop);

// GRPO as the demo runs it from `model` on the problems in `dataset` (rows of problem_row): prompts rendered with
// the model's chat template and the system prompt, a linearly decaying learning rate, every step logged, a
// checkpoint every 10 steps, resuming one in output_dir. The caller sets the rewards.
train::GrpoOptions demo_grpo_options(const DemoOptions& o, const std::filesystem::path& model,
                                     const std::filesystem::path& dataset, const std::filesystem::path& out);

// The rows of a GRPO run's metrics.jsonl that hold rewards (the plots of the reports).
std::vector<nlohmann::json> grpo_metrics(const std::filesystem::path& run_dir);

}  // namespace r1::demo::detail
