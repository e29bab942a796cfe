// `r1 demo` / `make demo`: DeepSeek-R1-Zero's pipeline end to end on the built-in addition task (r1/synthetic-tasks.h),
// on a laptop CPU in minutes, with nothing downloaded: task data -> BPE tokenizer -> token shards -> pretraining of a
// small model on a corpus of worked solutions (half careful and correct, half quick wrong guesses) -> held-out pass@1
// -> GRPO with accuracy + format rewards -> held-out pass@1 again -> a before/after table and an HTML report
// (inline SVG plots of reward, accuracy, format rate and completion length per RL step). Every stage leaves its
// output under out_dir and is skipped when that output exists (pretraining and GRPO resume from checkpoints);
// the same seed gives the same numbers.
//
// `r1 demo --recipe r1` / `make demo-r1`: DeepSeek-R1's whole recipe on a bilingual version of the task (some problems
// posed in Chinese, whose worked solutions think in either language): R1-Zero -> cold-start data from R1-Zero's correct
// and readable outputs -> SFT of the base -> reasoning RL with accuracy + format + language consistency ->
// rejection sampling -> SFT of the base -> a final RL stage; then a smaller student, distilled from the final model
// (SFT on its rejection-sampled outputs) vs. trained by RL directly (R1 Table 6's question). Each model is evaluated
// on the held-out problems; summary.json, a table and report.html hold the results.
//
// Usage:
//   r1::demo::DemoOptions options;
//   options.out_dir = "runs/demo"; options.grpo_steps = 10;
//   std::atomic<bool> stop{false};  // set by a SIGINT handler: stages stop at a checkpoint
//   r1::demo::DemoResult result = r1::demo::run_demo(options, &stop);  // skips the stages already done
//   double gain = result.after.pass_at_1 - result.before.pass_at_1;  // result.report: the HTML report
//
//   r1::demo::R1DemoOptions r1_options;  // out_dir runs/demo-r1
//   r1::demo::R1DemoResult r1_result = r1::demo::run_r1_demo(r1_options, &stop);
//   r1_result.summary;  // what summary.json holds
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
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
  int64_t min_operand = 10, max_operand = 99;  // every pair of the range is a problem
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
  // bilingual task (the R1 demo): share of problems posed in Chinese, and of their worked solutions in the corpus
  // whose chain of thought is in Chinese (the rest think in English: the language mixing R1 §2.3.2 fixes)
  double chinese_fraction = 0, chinese_cot_fraction = 0.5;
  bool progress = true;
};

// DeepSeek-R1's recipe (see the top of this file). `zero` holds the task, the base model and the R1-Zero stage (its
// GRPO settings are R1-Zero's and the student's RL's); the student is a smaller model pretrained on the same corpus.
struct R1DemoOptions {
  DemoOptions zero = [] {
    DemoOptions o;
    o.out_dir = "runs/demo-r1";
    o.chinese_fraction = 0.3;
    o.grpo_steps = 50;
    o.vocab_size = 384;  // room for the Chinese characters' merges
    return o;
  }();
  int64_t samples_per_prompt = 4;  // rejection sampling: responses per prompt
  int64_t cold_start_prompts = 400, rejection_prompts = 2000, distill_prompts = 2000;
  int64_t sft_epochs = 2, sft_batch = 16;  // R1 §2.3.3: two epochs
  double sft_learning_rate = 1e-3;
  // the RL stages that start from an SFT model (reasoning RL, final RL); the final one trains on the prompts whose
  // pass rate in rejection sampling was at most final_pass_rate_max
  int64_t rl_steps = 30;
  double rl_learning_rate = 1e-4;
  double final_pass_rate_max = 0.75;
  nlohmann::json student_config = {
      {"model_type", "llama"},          {"hidden_size", 64},           {"intermediate_size", 176},
      {"num_hidden_layers", 2},         {"num_attention_heads", 2},    {"num_key_value_heads", 2},
      {"max_position_embeddings", 256}, {"tie_word_embeddings", true}, {"initializer_range", 0.02}};
  int64_t student_pretrain_steps = 3000;
  int64_t student_rl_steps = 100;
};

struct EvalSummary {
  int64_t problems = 0, samples = 0;
  double pass_at_1 = 0;    // mean accuracy over all samples
  double format_rate = 0;  // mean open-r1 format reward
  double mean_length = 0;  // completion tokens
  // mean language_consistency reward (the chain of thought in the problem's language), over all samples and over
  // the samples of problems posed in Chinese (none: nullopt)
  double language_consistency = 0;
  std::optional<double> language_consistency_zh;
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

// One evaluated model of the R1 demo: its held-out evaluation and the seconds of the stages that made it
// (data generation included; evaluation not).
struct R1StageSummary {
  std::string name;
  EvalSummary eval;
  double seconds = 0;
};

struct R1DemoResult {
  std::vector<R1StageSummary> stages;  // base, R1-Zero, cold-start SFT, reasoning RL, rejection-sampling SFT,
                                       // final RL, student base, student distilled, student RL
  std::vector<StageTime> work;         // every step as it ran (or was skipped)
  nlohmann::ordered_json summary;      // summary.json
  std::filesystem::path report;
  bool interrupted = false;
  std::string table() const;  // the stages and the student comparison, as printed
};

// ---- Running the demo and its parts ---------------------------------------------------------------------------------
// pass@1 of the model in model_dir on `problems` (k samples each at `temperature`, seeded), with the prompt
// rendered as in GRPO (the tokenizer's chat template, `system_prompt`), scored by the accuracy and format rewards.
EvalSummary evaluate_pass_at_1(const std::filesystem::path& model_dir, const std::vector<data::TaskProblem>& problems,
                               const std::string& system_prompt, int64_t k, double temperature, int64_t max_new_tokens,
                               uint64_t seed);

DemoResult run_demo(const DemoOptions& options, const std::atomic<bool>* stop_requested = nullptr);
R1DemoResult run_r1_demo(const R1DemoOptions& options, const std::atomic<bool>* stop_requested = nullptr);

// The HTML report: the before/after table, stage times and inline SVG plots of grpo_metrics (metrics.jsonl rows).
std::string demo_report_html(const DemoResult& result, const std::vector<nlohmann::json>& grpo_metrics,
                             const DemoOptions& options);
// The R1 demo's report: the stage table, the student comparison and, per RL stage (name -> its metrics rows),
// plots of accuracy and language consistency per step.
std::string r1_demo_report_html(const R1DemoResult& result,
                                const std::vector<std::pair<std::string, std::vector<nlohmann::json>>>& rl_metrics,
                                const R1DemoOptions& options);

}  // namespace r1::demo
