// add_training_command (see training-command.h): the CLI shape every fine-tuning subcommand shares.
#include "training-command.h"

#include <fmt/format.h>

#include <csignal>
#include <memory>

#include "r1/distributed.h"
#include "r1/error.h"

namespace r1::cli {
namespace {

std::atomic<bool> g_stop{false};

void on_stop_signal(int signal) {
  g_stop.store(true);
  std::signal(signal, SIG_DFL);  // a second signal terminates immediately
}

struct Parsed {
  std::string config;
  bool dump = false;
};

}  // namespace

void add_training_command(CLI::App& app, Invocation& ctx, TrainingCommand command) {
  auto opts = std::make_shared<Parsed>();
  auto cmd_spec = std::make_shared<TrainingCommand>(std::move(command));
  CLI::App* cmd = app.add_subcommand(cmd_spec->name, cmd_spec->description);
  cmd->add_option("--config", opts->config, "recipe YAML (see " + cmd_spec->example_recipe + ")");
  cmd->add_flag("--dump-config", opts->dump, "print the effective configuration as YAML and exit");
  cmd->fallthrough(false);  // every other --key value is a recipe override
  cmd->allow_extras();
  cmd->add_option("--threads", ctx.runtime.threads, "intra-op CPU threads (0 = one per physical core)");
  cmd->add_option("--device", ctx.runtime.device, "cpu, cuda or cuda:N");
  std::string footer = "\nRecipe keys (YAML, or --key value on the command line):\n";
  for (const auto& [key, help] : cmd_spec->keys_help) footer += fmt::format("  {:<30} {}\n", key, help);
  if (!cmd_spec->notes.empty()) footer += "\n" + cmd_spec->notes;
  cmd->footer(footer);
  cmd->callback([cmd, opts, cmd_spec, &ctx] {
    ctx.run = [cmd, opts, cmd_spec, &ctx] {
      // The trainers run on the device of the model they are given (the library's CUDA tests train there), but the
      // commands load models on the CPU; until they load on --device, refuse rather than train on the CPU unasked.
      if (ctx.runtime.device != "cpu")
        fail_usage(
            "--device {}: `r1 {}` trains on the CPU only for now (the library's trainers run on a CUDA model; "
            "the command does not load one there yet)",
            ctx.runtime.device, cmd_spec->name);
      Recipe recipe = opts->config.empty() ? Recipe() : Recipe::load(opts->config);
      recipe.apply_overrides(cmd->remaining());
      if (opts->dump) {
        fmt::print("{}", cmd_spec->dump_config(recipe));
        return 0;
      }
      // data parallel: rank 0 prints the run's lines; the others keep stderr (errors, warnings) only
      if (dist::read_launch_env().rank != 0 && std::freopen("/dev/null", "w", stdout) == nullptr)
        fail("cannot redirect the standard output of rank {}", dist::read_launch_env().rank);
      std::signal(SIGINT, on_stop_signal);
      std::signal(SIGTERM, on_stop_signal);
      train::TrainResult r = cmd_spec->run(recipe, &g_stop);
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
