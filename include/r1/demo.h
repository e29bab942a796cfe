// `r1 demo` / `make demo`: DeepSeek-R1-Zero's pipeline end to end on the built-in addition task (r1/synthetic-tasks.h),
// on a laptop CPU in minutes, with nothing downloaded: task data -> BPE tokenizer -> token shards -> pretraining of a
// small model on a corpus of worked solutions (half careful and correct, half quick wrong guesses) -> held-out pass@1
// -> GRPO with accuracy + format rewards -> held-out pass@1 again -> a before/after table and an HTML report
// (inline SVG plots of reward, accuracy, format rate and completion length per RL step). Every stage leaves its
// output under out_dir and is skipped when that output exists (pretraining and GRPO resume from checkpoints);
// the same seed gives the same numbers.
//
// Usage:
//   r1::demo::DemoOptions options;
//   options.out_dir = "runs/demo"; options.grpo_steps = 10;
//   std::atomic<bool> stop{false};  // set by a SIGINT handler: stages stop at a checkpoint
//   r1::demo::DemoResult result = r1::demo::run_demo(options, &stop);  // skips the stages already done
//   double gain = result.after.pass_at_1 - result.before.pass_at_1;  // result.report: the HTML report
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "r1/synthetic-tasks.h"

namespace r1::demo {

// ---- Options and results --------------------------------------------------------------------------------------------

struct DemoOptions {
  std::filesystem::path out_dir = "runs/demo";
  uint64_t seed = 0;
  // task and corpus
  int64_t test_problems = 200;
  int64_t corpus_documents = 80000;
  double careful_fraction = 0.5;  // share of careful (correct) worked solutions in the pretraining corpus
  std::string system_prompt = "Think in <think> </think>, then answer in <answer> </answer>.";
  int64_t vocab_size = 320;
  // pretraining
  nlohmann::json model_config = {
      {"model_type", "llama"},          {"hidden_size", 128},          {"intermediate_size", 352},
      {"num_hidden_layers", 4},         {"num_attention_heads", 4},    {"num_key_value_heads", 4},
      {"max_position_embeddings", 256}, {"tie_word_embeddings", true}, {"initializer_range", 0.02}};
  int64_t pretrain_steps = 3000, pretrain_batch = 16, pretrain_length = 128;
  double pretrain_learning_rate = 3e-3;
  bool pretrain_bf16 = true;  // autocast matmuls to bf16 (fp32 master weights): ~2x the tokens/s; GRPO stays fp32
  // evaluation: pass@1 over `eval_samples` samples per held-out problem
  int64_t eval_samples = 4;
  double eval_temperature = 1.0;
  int64_t max_completion_length = 96;
  // GRPO
  int64_t grpo_steps = 30, num_generations = 8, grpo_batch = 64, grpo_accumulation = 2;
  double grpo_learning_rate = 5e-4, beta = 0.0;
  bool progress = true;
};

struct EvalSummary {
  int64_t problems = 0, samples = 0;
  double pass_at_1 = 0;    // mean accuracy over all samples
  double format_rate = 0;  // mean open-r1 format reward
  double mean_length = 0;  // completion tokens
  double seconds = 0;
  nlohmann::json to_json() const;
  static EvalSummary from_json(const nlohmann::json& j);
};

struct StageTime {
  std::string stage;
  double seconds = 0;
  bool skipped = false;  // its output was already there
};

struct DemoResult {
  EvalSummary before, after;
  std::vector<StageTime> stages;
  std::filesystem::path report;
  bool interrupted = false;
};

// ---- Running the demo and its parts ---------------------------------------------------------------------------------
// pass@1 of the model in model_dir on `problems` (k samples each at `temperature`, seeded), with the prompt
// rendered as in GRPO (the tokenizer's chat template, `system_prompt`), scored by the accuracy and format rewards.
EvalSummary evaluate_pass_at_1(const std::filesystem::path& model_dir, const std::vector<data::TaskProblem>& problems,
                               const std::string& system_prompt, int64_t k, double temperature, int64_t max_new_tokens,
                               uint64_t seed);

DemoResult run_demo(const DemoOptions& options, const std::atomic<bool>* stop_requested = nullptr);

// The HTML report: the before/after table, stage times and inline SVG plots of grpo_metrics (metrics.jsonl rows).
std::string demo_report_html(const DemoResult& result, const std::vector<nlohmann::json>& grpo_metrics,
                             const DemoOptions& options);

}  // namespace r1::demo
