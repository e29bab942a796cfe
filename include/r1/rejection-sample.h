// Rejection sampling (DeepSeek-R1 §2.3.3, open-r1's generate + filter steps): sample n responses per prompt from a
// model (local, or any OpenAI-compatible server), score each with rewards from the registry (r1/rewards.h) or reward
// models (a sequence-classifier directory as a reward_funcs entry, src/train/reward-funcs.h), keep
// the correct ones that pass R1's readability filters (one target language in the chain of thought, no overlong
// paragraphs, no code blocks, no duplicates), and write SFT-ready rows; the prompts' pass rates also select
// prompts for the next RL stage (open-r1's pass-rate filtering).
//
// Two steps, each a file: the samples (every response with its prompt, as `r1 generate --group-generations`
// writes them; resumable, since generation is the expensive part) and the kept rows, made again from the samples
// on every run (cheap), so changing a filter never needs new samples.
//
// Usage:
//   r1::pipeline::RejectionSampleOptions o;
//   o.generation.input = "prompts.jsonl"; o.generation.model_dir = "runs/rl"; o.generation.num_generations = 8;
//   o.output = "sft.jsonl"; o.reward_funcs = {"accuracy", "format"};
//   o.filters.language = "en"; o.filters.no_code_blocks = true;
//   r1::pipeline::RejectionSampleReport report = r1::pipeline::rejection_sample(o);
//   // or, on samples already made: r1::pipeline::select_samples(rows, o)
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "r1/text.h"

namespace r1::pipeline {

// ---- Options --------------------------------------------------------------------------------------------------------

enum class KeepPolicy {
  kAllCorrect,  // every correct response that passes the filters
  kBest,        // the one with the highest weighted reward (ties: the first)
  kFirst,       // the first correct one
};
KeepPolicy parse_keep_policy(const std::string& name);  // all-correct | best | first; r1::UsageError otherwise

// R1's filters on correct responses (§2.3.3: "filtered out chain-of-thought with mixed languages, long
// paragraphs, and code blocks"), then duplicates among one prompt's kept responses.
struct SampleFilters {
  std::string language;                    // "" off; else the language_consistency reward's target (en, zh, ...),
                                           // or "row": each prompt's own `language` column
  double min_language_consistency = 0.95;  // share of the chain of thought in `language` a response needs
  int64_t max_paragraph_chars = 0;         // 0 off; a paragraph is text between blank lines
  bool no_code_blocks = false;             // drop responses holding a ``` fence
  bool deduplicate = true;                 // drop exact (whitespace-insensitive) and near duplicates
  double near_duplicate_jaccard = 0.8;     // word 3-gram Jaccard similarity at which two responses are duplicates
};

struct RejectionSampleOptions {
  // Sampling: input rows, prompt column / messages / template, chat template, model or server, sampling
  // parameters, num_generations (n), seed, resume / overwrite. Its `output` is the samples file (default
  // "<output>.samples.jsonl"); group_generations and the column names are set by rejection_sample().
  text::DatasetGenerateOptions generation;
  std::filesystem::path output;  // the kept rows (JSONL), written anew on every run

  std::vector<std::string> reward_funcs = {"accuracy"};
  nlohmann::json reward_kwargs = nlohmann::json::object();  // {reward name: {params}}
  std::vector<double> reward_weights;                       // for kBest (empty: all 1)
  // A response is correct when every reward scores at least its threshold (default 1.0: the registry's
  // pass/fail rewards score 1 for a pass); a reward that does not apply (nullopt) fails it.
  std::map<std::string, double> thresholds;

  KeepPolicy keep = KeepPolicy::kAllCorrect;
  int64_t max_per_prompt = 0;  // 0: no cap
  SampleFilters filters;
  std::string format = "messages";  // or "prompt-completion" (TRL's conversational prompt/completion columns)

  std::filesystem::path pass_rate_output;  // non-empty: the input rows whose pass rate is in [min, max]
  double pass_rate_min = 0, pass_rate_max = 1;
};

// ---- Running it -----------------------------------------------------------------------------------------------------

struct RejectionSampleReport {
  text::DatasetGenerateReport generation;
  int64_t prompts = 0, samples = 0;
  int64_t correct = 0;                     // samples that met every threshold
  std::map<std::string, int64_t> dropped;  // correct samples dropped, by reason: language, paragraph, code,
                                           // duplicate, cap (max_per_prompt / keep policy)
  int64_t kept = 0;
  int64_t prompts_with_kept = 0;
  std::vector<int64_t> pass_rate_histogram;  // 11 bins: pass rate 0, (0, .1], (.1, .2], ..., (.9, 1]
  int64_t pass_rate_prompts = 0;             // written to pass_rate_output
  std::string summary() const;               // one line
};

// Samples (or resumes the samples file), scores, filters and writes. r1::UsageError for bad options (unknown
// reward, threshold for a reward not in reward_funcs, ...), r1::Error naming file:line for bad rows.
RejectionSampleReport rejection_sample(const RejectionSampleOptions& options,
                                       const std::function<void(int64_t, int64_t)>& on_row = {});

// The scoring and filtering alone, on sample rows: each an input row plus "__prompt" (the prompt as sent: a list of
// messages or text) and "__completions" (the responses). Returns the kept rows, in prompt order; fills `report`
// (all but `generation`) and, when pass_rate_rows is not null, the rows (without the sample columns) whose pass
// rate is in [pass_rate_min, pass_rate_max].
std::vector<nlohmann::ordered_json> select_samples(const std::vector<nlohmann::ordered_json>& rows,
                                                   const RejectionSampleOptions& options, RejectionSampleReport& report,
                                                   std::vector<nlohmann::ordered_json>* pass_rate_rows = nullptr);

}  // namespace r1::pipeline
