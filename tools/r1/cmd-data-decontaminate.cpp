// `r1 data decontaminate`: open-r1's scripts/decontaminate.py — drop (or flag) training rows that share a word
// n-gram with a benchmark problem. Benchmark files are read with `r1 eval`'s task reader (the problem column
// of math / aime / gpqa / generic tasks) or, with --benchmark-field, by one named column. The work is in the
// library (r1/data.h, decontaminate); this file reads the benchmarks, parses options and prints the report.
#include <fmt/format.h>

#include <filesystem>

#include "commands.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/eval.h"

namespace r1::cli {
namespace fs = std::filesystem;

namespace {

struct DecontaminateCommandOptions {
  data::DecontaminateOptions job;
  std::vector<std::string> inputs, benchmarks;
  std::string output, report, mode = "drop", benchmark_field, task_type = "auto";
  bool quiet = false;
};

// "NAME=FILE" or "FILE" (named after the file's stem: aime_2024.jsonl -> aime_2024).
data::Benchmark read_benchmark(const std::string& spec, const DecontaminateCommandOptions& o) {
  const size_t eq = spec.find('=');
  const bool named = eq != std::string::npos && eq > 0 && !fs::exists(spec);
  const fs::path path = named ? fs::path(spec.substr(eq + 1)) : fs::path(spec);
  const std::string name = named ? spec.substr(0, eq) : path.stem().string();
  if (!o.benchmark_field.empty()) return data::read_benchmark_column(path, o.benchmark_field, name);
  eval::Task task;
  try {
    task = eval::load_task(path, {.type = o.task_type});
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    fail("{} (or name the problem column with --benchmark-field)", e.what());
  }
  data::Benchmark b{.name = name, .path = path, .problems = {}, .lines = {}};
  for (eval::Problem& p : task.problems) {
    b.problems.push_back(std::move(p.problem));
    b.lines.push_back(p.line);
  }
  return b;
}

int run_decontaminate(const Invocation& ctx, DecontaminateCommandOptions& o) {
  data::DecontaminateOptions& job = o.job;
  job.inputs.assign(o.inputs.begin(), o.inputs.end());
  job.output = o.output;
  job.report = o.report;
  if (o.mode == "drop")
    job.mode = data::ContaminationMode::Drop;
  else if (o.mode == "flag")
    job.mode = data::ContaminationMode::Flag;
  else
    fail_usage("--mode: expected drop or flag, got '{}'", o.mode);
  std::vector<data::Benchmark> benchmarks;
  for (const std::string& spec : o.benchmarks) benchmarks.push_back(read_benchmark(spec, o));
  job.threads = ctx.runtime.threads;
  job.show_progress = !o.quiet;
  data::DecontaminateSummary s = data::decontaminate(job, benchmarks);
  fmt::print("{}wrote {}{}\n", s.format(), o.output, o.report.empty() ? "" : fmt::format(" and {}", o.report));
  return 0;
}

}  // namespace

void add_data_decontaminate_command(CLI::App& data, Invocation& ctx) {
  auto o = std::make_shared<DecontaminateCommandOptions>();
  CLI::App* cmd = data.add_subcommand(
      "decontaminate",
      "drop (or flag) training rows that share a word n-gram with a benchmark problem, as open-r1's "
      "scripts/decontaminate.py does. Uses --threads.");
  cmd->footer(
      "\nText is normalised as open-r1 does (lower case, split on whitespace; punctuation stays part of the\n"
      "words). A row is contaminated by a benchmark when one of its --ngram-word sequences is also in one of\n"
      "the benchmark's problems; rows with fewer words are never contaminated. Benchmarks are `r1 eval` task\n"
      "files: the problem column of math (problem/solution), aime (problem/answer), gpqa (Question) and generic\n"
      "(prompt/answer) tasks, or any JSONL with --benchmark-field. --mode drop writes the clean rows unchanged\n"
      "(open-r1's --cleanup); --mode flag writes every row with a contaminated_<benchmark> column per benchmark.\n"
      "The summary lists, per benchmark, the rows it contaminates and the first matched n-gram; --report\n"
      "writes one JSON line per contaminated row. Plain-text inputs are one row per line (drop mode only).");
  cmd->add_option("--input", o->inputs, "training JSONL (or text) files or directories")->required()->expected(1, -1);
  cmd->add_option("--output", o->output, "the rows written (see --mode)")->required();
  cmd->add_option("--benchmark", o->benchmarks, "benchmark file, FILE or NAME=FILE (repeat for several)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--benchmark-field", o->benchmark_field,
                  "read each benchmark's problems from this column instead of the eval task reader");
  cmd->add_option("--task-type", o->task_type, "benchmarks' eval task type: auto, math, aime, gpqa or generic")
      ->capture_default_str();
  cmd->add_option("--field", o->job.field, "the training rows' problem column (open-r1's --problem_column)")
      ->capture_default_str();
  cmd->add_option("--ngram", o->job.ngram, "words per n-gram (open-r1's --ngram_size)")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--mode", o->mode, "drop or flag")->capture_default_str();
  cmd->add_option("--report", o->report, "JSONL: one line per contaminated row");
  cmd->add_flag("--skip-invalid", o->job.skip_invalid, "skip and count malformed rows and rows without --field");
  cmd->add_flag("--overwrite", o->job.overwrite, "replace an existing --output / --report");
  cmd->add_flag("--quiet", o->quiet, "no progress bar");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_decontaminate(ctx, *o); }; });
}

}  // namespace r1::cli
