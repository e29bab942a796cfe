// Multi-stage pipelines (`r1 pipeline recipe.yaml`): DeepSeek-R1's recipe — cold-start SFT, reasoning RL,
// rejection sampling, SFT again, RL for all scenarios, distillation — written as data, each stage one r1 command
// with its own keys, a later stage naming an earlier one's output as `${stages.NAME.KEY}`.
//
//   output_dir: runs/r1                 # each stage's output goes under it unless its keys say otherwise
//   stages:
//     - name: cold_start
//       run: sft                        # pretrain | sft | dpo | grpo | distill | generate | rejection-sample |
//       with: {model_name_or_path: base, dataset_name: data/cold.jsonl}      #   eval (= eval gen) | eval-mc
//     - name: rl
//       run: grpo
//       with: {model_name_or_path: "${stages.cold_start.output_dir}", dataset_name: data/math.jsonl}
//
// A finished stage is skipped (a marker under <output_dir>/.pipeline/ holds the settings it ran with; other
// settings now are an error, so nothing finished is silently redone or mixed); an interrupted training stage
// resumes from its last checkpoint, an interrupted generation continues its output file. Evaluation stages'
// metrics and every stage's time go into <output_dir>/summary.json and a table.
//
// Usage:
//   r1::pipeline::PipelineRecipe recipe = r1::pipeline::load_pipeline("recipes/deepseek-r1.yaml");
//   r1::pipeline::PipelineSummary summary = r1::pipeline::run_pipeline(recipe, runner);  // runner: runs one argv
//   std::string table = summary.table();
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace r1::pipeline {

struct PipelineStage {
  std::string name, run;                                           // run: one of pipeline_runs()
  nlohmann::ordered_json with = nlohmann::ordered_json::object();  // keys, references resolved
};

struct PipelineRecipe {
  std::filesystem::path source;      // the YAML file (for errors)
  std::filesystem::path output_dir;  // default: runs/<file stem>
  std::vector<PipelineStage> stages;
};

std::vector<std::string> pipeline_runs();  // the stage kinds, for --help and errors

// Reads and checks the recipe: unique stage names, known `run`s, `with` mappings, every `${stages.NAME.KEY}` naming an
// earlier stage's key (or its output_dir / output), `${output_dir}`. r1::UsageError naming the file and the stage.
PipelineRecipe load_pipeline(const std::filesystem::path& yaml_file);
PipelineRecipe parse_pipeline(const std::string& yaml_text, const std::string& source);

// One stage as an r1 command line (without the program name) and the files it leaves.
struct StageCommand {
  std::vector<std::string> argv;
  std::filesystem::path config_file;  // training stages: the recipe written for it ("" otherwise)
  std::string config_text;            // its content
  std::filesystem::path output;       // output_dir (training, eval) or output file (generate, rejection-sample)
};
// `resume`: the stage ran before without finishing (continue its checkpoint / output file).
StageCommand stage_command(const PipelineRecipe& recipe, size_t index);

struct StageResult {
  std::string name, run;
  std::string status;  // "done earlier" | "ran" | "failed" | "not run"
  double seconds = 0;  // of the run that finished it
  std::filesystem::path output;
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();  // eval stages: results.json's metrics
};

struct PipelineSummary {
  std::vector<StageResult> stages;
  bool complete = false;
  std::string table() const;  // markdown: stage | run | status | seconds | metrics
  nlohmann::ordered_json to_json() const;
};

// Runs the stages in order through `runner` (the r1 command line of a stage -> its exit status; the CLI runs
// each in a child process). Stops at the first failure (the summary says which; running again resumes there).
// Writes <output_dir>/summary.json after each stage.
using StageRunner = std::function<int(const std::vector<std::string>& argv)>;
PipelineSummary run_pipeline(const PipelineRecipe& recipe, const StageRunner& runner);

}  // namespace r1::pipeline
