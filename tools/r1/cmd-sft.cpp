// `r1 sft --config recipe.yaml [--key value ...] [--dump-config]`: supervised fine-tuning with TRL's
// SFTTrainer keys (r1/train.h SftOptions) on the shared trainer; LoRA with use_peft.
#include "commands.h"
#include "training-command.h"

namespace r1::cli {

void add_sft_command(CLI::App& app, Invocation& ctx) {
  add_training_command(
      app, ctx,
      {"sft", "supervised fine-tuning on text / prompt-completion / messages JSONL (TRL SFTTrainer keys)",
       "recipes/sft-tiny.yaml", train::SftOptions::help(),
       [](const Recipe& recipe) { return to_yaml(train::SftOptions::from_recipe(recipe).to_json()); },
       [](const Recipe& recipe, const std::atomic<bool>* stop) {
         return train::sft(train::SftOptions::from_recipe(recipe), stop);
       }});
}

}  // namespace r1::cli
