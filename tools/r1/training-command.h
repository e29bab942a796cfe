// A training subcommand (`r1 pretrain`, `r1 sft`, `r1 dpo`, `r1 distill`, `r1 grpo`): --config recipe.yaml,
// `--key value` overrides, --dump-config, --threads/--device, the recipe keys listed in --help, and SIGINT/SIGTERM
// -> stop after the current step with a checkpoint (a second signal kills at once). The command supplies its option
// parsing and its run.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "r1/recipe.h"
#include "r1/train.h"

namespace r1::cli {

struct TrainingCommand {
  std::string name, description, example_recipe;
  std::vector<std::pair<std::string, std::string>> keys_help;
  std::function<std::string(const Recipe&)> dump_config;  // parses and validates, returns the effective YAML
  std::function<train::TrainResult(const Recipe&, const std::atomic<bool>* stop)> run;
  std::string notes = "";  // printed after the recipe keys in --help
};

void add_training_command(CLI::App& app, Invocation& ctx, TrainingCommand command);

}  // namespace r1::cli
