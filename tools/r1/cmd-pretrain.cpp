// `r1 pretrain --config recipe.yaml [--key value ...] [--dump-config]`: causal-LM pretraining on prepared token
// shards with the shared trainer (r1/train.h). Keys are transformers' TrainingArguments names plus the model
// and data keys; command-line `--key value` pairs override the recipe. SIGINT/SIGTERM stop the run after the
// current step with a checkpoint (a second signal kills at once); resume with --resume_from_checkpoint true.
#include <fmt/format.h>

#include <atomic>
#include <csignal>

#include "commands.h"
#include "common/recipe.h"
#include "r1/error.h"
#include "r1/train.h"

namespace r1::cli {
namespace {

std::atomic<bool> g_stop{false};

void on_stop_signal(int signal) {  // internal linkage: the server has its own
  g_stop.store(true);
  std::signal(signal, SIG_DFL);  // a second signal terminates immediately
}

std::string keys_help(const std::vector<std::pair<std::string, std::string>>& lines) {
  std::string out = "\nRecipe keys (YAML, or --key value on the command line):\n";
  for (const auto& [key, help] : lines) out += fmt::format("  {:<30} {}\n", key, help);
  return out;
}

struct PretrainCli {
  std::string config;
  bool dump = false;
};

}  // namespace

void add_pretrain_command(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<PretrainCli>();
  CLI::App* cmd = app.add_subcommand("pretrain", "pretrain a causal LM on token shards (r1 data prepare)");
  cmd->add_option("--config", opts->config, "recipe YAML (see recipes/pretrain-tiny.yaml)");
  cmd->add_flag("--dump-config", opts->dump, "print the effective configuration as YAML and exit");
  // Every other --key value is a recipe override: keep them here instead of falling through to the main app.
  cmd->fallthrough(false);
  cmd->allow_extras();
  cmd->add_option("--threads", ctx.runtime.threads, "intra-op CPU threads (0 = one per physical core)");
  cmd->add_option("--device", ctx.runtime.device, "cpu, cuda or cuda:N");
  cmd->footer(keys_help(train::PretrainOptions::help()));
  cmd->callback([cmd, opts, &ctx] {
    ctx.run = [cmd, opts] {
      Recipe recipe = opts->config.empty() ? Recipe() : Recipe::load(opts->config);
      recipe.apply_overrides(cmd->remaining());
      train::PretrainOptions options = train::PretrainOptions::from_recipe(recipe);
      if (opts->dump) {
        fmt::print("{}", to_yaml(options.to_json()));
        return 0;
      }
      std::signal(SIGINT, on_stop_signal);
      std::signal(SIGTERM, on_stop_signal);
      train::TrainResult r = train::pretrain(options, &g_stop);
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
