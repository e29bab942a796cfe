// `r1 grpo --config recipe.yaml [--key value ...] [--dump-config]`: GRPO (R1-Zero RL) with TRL's GRPOConfig keys on
// the shared trainer (r1/train.h). Command-line `--key value` pairs override the recipe. SIGINT/SIGTERM stop the
// run after the current step with a checkpoint (a second signal kills at once); resume with
// --resume_from_checkpoint true.
#include <fmt/format.h>

#include <atomic>
#include <csignal>

#include "commands.h"
#include "common/recipe.h"
#include "r1/error.h"
#include "r1/train.h"

namespace r1::cli {
namespace {

std::atomic<bool> g_grpo_stop{false};

void on_grpo_stop(int signal) {
  g_grpo_stop.store(true);
  std::signal(signal, SIG_DFL);
}

struct GrpoCli {
  std::string config;
  bool dump = false;
};

}  // namespace

void add_grpo_command(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<GrpoCli>();
  CLI::App* cmd = app.add_subcommand("grpo", "reinforcement learning with verifiable rewards (GRPO, TRL's GRPOConfig keys)");
  cmd->add_option("--config", opts->config, "recipe YAML (see recipes/grpo-demo.yaml)");
  cmd->add_flag("--dump-config", opts->dump, "print the effective configuration as YAML and exit");
  cmd->fallthrough(false);
  cmd->allow_extras();
  cmd->add_option("--threads", ctx.runtime.threads, "intra-op CPU threads (0 = one per physical core)");
  cmd->add_option("--device", ctx.runtime.device, "cpu, cuda or cuda:N");
  std::string footer = "\nRecipe keys (YAML, or --key value on the command line):\n";
  for (const auto& [key, help] : train::GrpoOptions::help()) footer += fmt::format("  {:<30} {}\n", key, help);
  cmd->footer(footer);
  cmd->callback([cmd, opts, &ctx] {
    ctx.run = [cmd, opts] {
      Recipe recipe = opts->config.empty() ? Recipe() : Recipe::load(opts->config);
      recipe.apply_overrides(cmd->remaining());
      train::GrpoOptions options = train::GrpoOptions::from_recipe(recipe);
      if (opts->dump) {
        fmt::print("{}", to_yaml(options.to_json()));
        return 0;
      }
      std::signal(SIGINT, on_grpo_stop);
      std::signal(SIGTERM, on_grpo_stop);
      train::TrainResult r = train::grpo(options, &g_grpo_stop);
      if (r.stopped_nonfinite) {
        fmt::print(stderr, "r1: error: training stopped after repeated non-finite losses; last checkpoint {}\n",
                   r.last_checkpoint.string());
        return 1;
      }
      if (r.interrupted) {
        fmt::print("interrupted at step {}; resume with --resume_from_checkpoint true\n", r.global_step);
        return 130;
      }
      return 0;
    };
  });
}

}  // namespace r1::cli
