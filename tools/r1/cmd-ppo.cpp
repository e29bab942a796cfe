// `r1 ppo --config recipe.yaml [--key value ...] [--dump-config]`: PPO with a value model and GAE, TRL's PPOConfig
// keys, on the shared trainer (r1/train.h PpoOptions). Command-line `--key value` pairs override the recipe.
// SIGINT/SIGTERM stop the run after the current step with a checkpoint; resume with --resume_from_checkpoint true.
#include "commands.h"
#include "training-command.h"

namespace r1::cli {

void add_ppo_command(CLI::App& app, Invocation& ctx) {
  add_training_command(
      app, ctx,
      {"ppo", "PPO with a value model and GAE (TRL's PPOConfig keys): the baseline GRPO drops the critic from",
       "recipes/ppo-demo.yaml", train::PpoOptions::help(),
       [](const Recipe& recipe) { return to_yaml(train::PpoOptions::from_recipe(recipe).to_json()); },
       [](const Recipe& recipe, const std::atomic<bool>* stop) {
         return train::ppo(train::PpoOptions::from_recipe(recipe), stop);
       },
       "Each rollout: one completion for each of per_device_train_batch_size * gradient_accumulation_steps *\n"
       "num_mini_batches prompts; it serves num_ppo_epochs * num_mini_batches optimizer steps (max_steps counts\n"
       "optimizer steps). The value model (a sequence classifier on its own trunk) trains with the policy and is\n"
       "saved to output_dir/value_model. Logged as TRL: objective/kl, objective/scores, objective/rlhf_reward,\n"
       "loss/policy_avg, loss/value_avg, policy/clipfrac_avg, val/clipfrac_avg, policy/approxkl_avg, val/ratio.\n"});
}

}  // namespace r1::cli
