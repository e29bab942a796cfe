// `r1 rejection-sample`: DeepSeek-R1's rejection sampling (§2.3.3) as one command — sample n responses per prompt
// (the generation options of `r1 generate`), keep the correct, readable ones as SFT rows, and optionally write
// the prompts whose pass rate lies in a range (open-r1's pass-rate filtering). The work is in
// src/pipeline/rejection-sample.cpp; this file parses options and prints the stats line.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "generation-options.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/rejection-sample.h"

namespace r1::cli {

namespace {

struct RejectionSampleCommandOptions {
  GenerationCommandOptions generation;
  pipeline::RejectionSampleOptions job;
  std::string output, samples, reward_kwargs, keep = "all-correct";
  std::vector<std::string> thresholds;
  std::vector<double> reward_weights;
  bool keep_duplicates = false, quiet = false;
};

int run_rejection_sample(const Invocation& ctx, RejectionSampleCommandOptions& o) {
  apply_generation_options(ctx, o.generation);
  pipeline::RejectionSampleOptions& job = o.job;
  job.generation = o.generation.job;
  job.generation.output = o.samples;
  job.output = o.output;
  job.reward_weights = o.reward_weights;
  if (!o.reward_kwargs.empty()) {
    job.reward_kwargs = parse_json(o.reward_kwargs, "--reward-kwargs");
    if (!job.reward_kwargs.is_object()) fail_usage("--reward-kwargs: expected a JSON object {{reward: {{params}}}}");
  }
  for (const std::string& t : o.thresholds) {
    const size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0) fail_usage("--threshold: expected NAME=VALUE, got '{}'", t);
    try {
      size_t used = 0;
      job.thresholds[t.substr(0, eq)] = std::stod(t.substr(eq + 1), &used);
      if (used != t.size() - eq - 1) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      fail_usage("--threshold {}: the value is not a number", t);
    }
  }
  job.keep = pipeline::parse_keep_policy(o.keep);
  job.filters.deduplicate = !o.keep_duplicates;
  auto report = pipeline::rejection_sample(job, [&](int64_t done, int64_t total) {
    if (!o.quiet) fmt::print(stderr, "\rprompts sampled {}/{}", done, total);
  });
  if (!o.quiet && report.generation.generated > 0) fmt::print(stderr, "\n");
  fmt::print("{}\n", report.summary());
  fmt::print("-> {}{}\n", o.output,
             job.pass_rate_output.empty() ? std::string() : fmt::format(", {}", job.pass_rate_output.string()));
  return 0;
}

}  // namespace

void add_rejection_sample_command(CLI::App& app, Invocation& ctx) {
  auto o = std::make_shared<RejectionSampleCommandOptions>();
  pipeline::RejectionSampleOptions& j = o->job;
  CLI::App* cmd = app.add_subcommand(
      "rejection-sample",
      "sample n responses per prompt, keep the correct and readable ones as SFT data (DeepSeek-R1 §2.3.3)");
  cmd->footer(
      "\nEvery response is scored by --reward-funcs (the GRPO reward registry; the gold answer is the row's\n"
      "'solution' or 'answer' column for accuracy) and is correct when each reward is >= its --threshold (default\n"
      "1). Correct responses then pass R1's filters (--language, --max-paragraph-chars, --no-code-blocks) and\n"
      "duplicate removal, and --keep / --max-per-prompt choose among them. Kept rows are SFT-ready: 'messages'\n"
      "(or 'prompt'/'completion' with --format prompt-completion) with the reasoning inside <think></think>,\n"
      "plus 'pass_rate', 'rewards', 'sample_index' and the input row as 'source_row'. The samples are kept in\n"
      "--samples (default <output stem>.samples.jsonl): --resume samples only what is missing there, then\n"
      "selects again, so changing a filter needs no new samples. --pass-rate-output writes the input rows whose\n"
      "pass rate is in [--pass-rate-min, --pass-rate-max], for the next RL stage (open-r1's pass-rate filter).\n"
      "A --reward-funcs entry may be a reward model: a directory holding a sequence classifier (r1 reward). It\n"
      "scores prompt + response rendered with its own tokenizer and chat template (logits[:, 0], as TRL), on\n"
      "--device, in batches ('{\"DIR\": {\"batch_size\": 16}}'); '{\"DIR\": {\"score\": \"answer\"}}' scores only\n"
      "the text after </think>. Give it a --threshold DIR=V. With a reward model, rows another reward cannot\n"
      "score (accuracy without a gold answer) get no score from that reward instead of an error.");
  cmd->add_option("--output", o->output, "JSONL of kept rows (written anew on each run)")->required();
  cmd->add_option("--samples", o->samples, "JSONL of every sample (default: <output stem>.samples.jsonl)");
  add_generation_options(cmd, o->generation, "-n,--num-samples");
  cmd->add_option("--reward-funcs", j.reward_funcs,
                  "comma-separated reward names (r1 grpo --help lists them) or reward model directories")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--reward-kwargs", o->reward_kwargs,
                  "JSON object {reward: {params}}, e.g. '{\"accuracy\": "
                  "{\"preset\": \"math-verify\"}}'");
  cmd->add_option("--reward-weights", o->reward_weights, "weights of --reward-funcs, for --keep best (default 1 each)")
      ->delimiter(',');
  cmd->add_option("--threshold", o->thresholds,
                  "NAME=VALUE: a response is correct when reward NAME >= VALUE "
                  "(repeatable; default 1 for each reward)");
  cmd->add_option("--keep", o->keep, "all-correct | best (highest weighted reward) | first")->capture_default_str();
  cmd->add_option("--max-per-prompt", j.max_per_prompt, "at most K kept responses per prompt (0: no cap)")
      ->capture_default_str()
      ->check(kNonNegative);
  cmd->add_option("--language", j.filters.language,
                  "keep responses whose chain of thought is in this language (en, zh, ...; language_consistency), or "
                  "'row': each prompt's own `language` column");
  cmd->add_option("--min-language-consistency", j.filters.min_language_consistency,
                  "share of the chain of thought in --language a response needs")
      ->capture_default_str();
  cmd->add_option("--max-paragraph-chars", j.filters.max_paragraph_chars,
                  "drop responses with a longer paragraph (0: off)")
      ->capture_default_str()
      ->check(kNonNegative);
  cmd->add_flag("--no-code-blocks", j.filters.no_code_blocks, "drop responses holding a ``` code block");
  cmd->add_flag("--keep-duplicates", o->keep_duplicates, "do not remove exact and near-duplicate responses");
  cmd->add_option("--near-duplicate-jaccard", j.filters.near_duplicate_jaccard,
                  "word-trigram Jaccard similarity at which two responses of a prompt are duplicates")
      ->capture_default_str();
  cmd->add_option("--format", j.format, "messages | prompt-completion")->capture_default_str();
  cmd->add_option("--pass-rate-output", j.pass_rate_output, "JSONL of the input rows whose pass rate is in range");
  cmd->add_option("--pass-rate-min", j.pass_rate_min, "lowest pass rate written to --pass-rate-output")
      ->capture_default_str();
  cmd->add_option("--pass-rate-max", j.pass_rate_max, "highest pass rate written to --pass-rate-output")
      ->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "no progress line");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_rejection_sample(ctx, *o); }; });
}

}  // namespace r1::cli
