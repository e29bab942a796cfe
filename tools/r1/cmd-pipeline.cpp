// `r1 pipeline recipe.yaml`: runs a multi-stage recipe (r1/pipeline.h), each stage as a child process of this
// same binary (`r1 <run> ...`), so a stage's memory is returned when it ends and Ctrl-C reaches the stage, which
// stops at a checkpoint; running the pipeline again resumes there. --dry-run prints the stages' commands.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "commands.h"
#include "r1/error.h"
#include "r1/pipeline.h"

extern char** environ;

namespace r1::cli {

namespace {

struct PipelineCommandOptions {
  std::string recipe;
  bool dry_run = false;
};

// Runs this binary with `argv` (plus the global options that were given) and waits for it.
int run_child(const std::vector<std::string>& argv, const Invocation& ctx) {
  std::vector<std::string> args = {"r1"};
  if (ctx.runtime.threads > 0) args.insert(args.end(), {"--threads", std::to_string(ctx.runtime.threads)});
  if (ctx.runtime.seed >= 0) args.insert(args.end(), {"--seed", std::to_string(ctx.runtime.seed)});
  if (ctx.runtime.device != "cpu") args.insert(args.end(), {"--device", ctx.runtime.device});
  args.insert(args.end(), argv.begin(), argv.end());
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, cargs.data(), environ);
  if (rc != 0) fail("pipeline: cannot start r1 {}: {}", argv.front(), std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) fail("pipeline: waiting for r1 {}: {}", argv.front(), std::strerror(errno));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int run_pipeline_command(const Invocation& ctx, const PipelineCommandOptions& o) {
  const pipeline::PipelineRecipe recipe = pipeline::load_pipeline(o.recipe);
  if (o.dry_run) {
    for (size_t i = 0; i < recipe.stages.size(); ++i) {
      const pipeline::StageCommand c = pipeline::stage_command(recipe, i);
      fmt::print("== stage {} ({}): r1 {}\n", recipe.stages[i].name, recipe.stages[i].run, fmt::join(c.argv, " "));
      if (!c.config_file.empty()) fmt::print("{}:\n{}", c.config_file.string(), c.config_text);
    }
    return 0;
  }
  const pipeline::PipelineSummary summary =
      pipeline::run_pipeline(recipe, [&](const std::vector<std::string>& argv) { return run_child(argv, ctx); });
  fmt::print("\n{}\n-> {}\n", summary.table(), (recipe.output_dir / "summary.json").string());
  return 0;
}

}  // namespace

void add_pipeline_command(CLI::App& app, Invocation& ctx) {
  auto o = std::make_shared<PipelineCommandOptions>();
  CLI::App* cmd = app.add_subcommand("pipeline", "run a multi-stage recipe (DeepSeek-R1's stages, distillation)");
  cmd->footer(fmt::format(
      "\nA recipe is {{output_dir, stages: [{{name, run, with: {{keys}}}}]}}; run is one of: {}. A key's value may\n"
      "name an earlier stage's key, \"${{stages.NAME.output_dir}}\" (or .output for generate / rejection-sample),\n"
      "and \"${{output_dir}}\". Training stages read `with` as their recipe; the others as --flags. Finished\n"
      "stages are skipped, an interrupted one resumes; evaluation stages' metrics and the times go to\n"
      "<output_dir>/summary.json. See recipes/deepseek-r1.yaml and recipes/distill.yaml.",
      fmt::join(pipeline::pipeline_runs(), ", ")));
  cmd->add_option("recipe", o->recipe, "pipeline recipe YAML")->required();
  cmd->add_flag("--dry-run", o->dry_run, "print each stage's command (and training recipe) without running");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_pipeline_command(ctx, *o); }; });
}

}  // namespace r1::cli
