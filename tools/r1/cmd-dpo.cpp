// `r1 dpo --config recipe.yaml [--key value ...] [--dump-config]`: direct preference optimisation with TRL's
// DPOTrainer keys (r1/train.h DpoOptions) on the shared trainer; LoRA with use_peft.
#include "commands.h"
#include "training-command.h"

namespace r1::cli {

void add_dpo_command(CLI::App& app, Invocation& ctx) {
  add_training_command(app, ctx,
                       {"dpo", "direct preference optimisation on prompt/chosen/rejected JSONL (TRL DPOTrainer keys)",
                        "recipes/dpo-tiny.yaml", train::DpoOptions::help(),
                        [](const Recipe& recipe) { return to_yaml(train::DpoOptions::from_recipe(recipe).to_json()); },
                        [](const Recipe& recipe, const std::atomic<bool>* stop) {
                          return train::dpo(train::DpoOptions::from_recipe(recipe), stop);
                        }});
}

}  // namespace r1::cli
