// What every `r1 eval` subcommand that produces Results shares: the uncertainty options (bootstrap
// resamples, confidence level; the seed is --seed) and the output (a markdown table on stdout, or the
// results JSON with --json; results.json + results.md + per-record JSONL in --output-dir).
#pragma once

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "commands.h"
#include "r1/error.h"
#include "r1/eval.h"

namespace r1::cli {

struct EvalOutputOptions {
  std::string output_dir;
  bool overwrite = false, json = false;
  int64_t resamples = 1000;
  double confidence = 0.95;
  eval::BootstrapOptions bootstrap(const Invocation& ctx) const {
    return {resamples, confidence, uint64_t(ctx.runtime.seed < 0 ? 42 : ctx.runtime.seed)};
  }
};

inline void add_eval_output_options(CLI::App* cmd, EvalOutputOptions& o) {
  cmd->add_option("--output-dir", o.output_dir, "write results.json, results.md and the per-record JSONL here");
  cmd->add_flag("--overwrite", o.overwrite, "replace results already in --output-dir");
  cmd->add_flag("--json", o.json, "print the results JSON instead of the markdown table");
  cmd->add_option("--bootstrap-resamples", o.resamples, "bootstrap resamples for the confidence intervals (0: none)")
      ->capture_default_str()
      ->check(kNonNegative);
  cmd->add_option("--confidence", o.confidence, "confidence level of the intervals")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 0.999));
}

// Refuses an existing results.json early (before any work), unless --overwrite.
inline void check_eval_output(const EvalOutputOptions& o) {
  if (!o.output_dir.empty() && !o.overwrite &&
      std::filesystem::exists(std::filesystem::path(o.output_dir) / "results.json"))
    fail_usage("{}/results.json exists: pass --overwrite to replace it, or choose another --output-dir", o.output_dir);
}

inline int finish_eval(const eval::Results& results, const std::vector<std::string>& records,
                       const std::string& records_name, const EvalOutputOptions& o) {
  if (!o.output_dir.empty()) eval::write_results(o.output_dir, results, records, records_name, o.overwrite);
  fmt::print("{}", o.json ? eval::results_to_json(results) : eval::results_markdown(results));
  if (o.json) return 0;
  for (const auto& [name, value] : results.counts) fmt::print("{}: {}  ", name, value);
  fmt::print("\n");
  if (!o.output_dir.empty()) fmt::print("-> {}/results.json\n", o.output_dir);
  return 0;
}

}  // namespace r1::cli
