// `r1 pretrain --config recipe.yaml [--key value ...] [--dump-config]`: causal-LM pretraining on prepared token
// shards with the shared trainer (r1/train.h). Keys are transformers' TrainingArguments names plus the model
// and data keys; command-line `--key value` pairs override the recipe. SIGINT/SIGTERM stop the run after the
// current step with a checkpoint (a second signal kills at once); resume with --resume_from_checkpoint true.
#include "commands.h"
#include "training-command.h"

namespace r1::cli {

void add_pretrain_command(CLI::App& app, Invocation& ctx) {
  add_training_command(
      app, ctx,
      {"pretrain", "pretrain a causal LM on token shards (r1 data prepare)", "recipes/pretrain-tiny.yaml",
       train::PretrainOptions::help(),
       [](const Recipe& recipe) { return to_yaml(train::PretrainOptions::from_recipe(recipe).to_json()); },
       [](const Recipe& recipe, const std::atomic<bool>* stop) {
         return train::pretrain(train::PretrainOptions::from_recipe(recipe), stop);
       }});
}

}  // namespace r1::cli
