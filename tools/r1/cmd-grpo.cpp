// `r1 grpo --config recipe.yaml [--key value ...] [--dump-config]`: GRPO (R1-Zero RL) with TRL's GRPOConfig keys on
// the shared trainer (r1/train.h GrpoOptions). Command-line `--key value` pairs override the recipe. SIGINT/SIGTERM
// stop the run after the current step with a checkpoint (a second signal kills at once); resume with
// --resume_from_checkpoint true.
#include "commands.h"
#include "training-command.h"

namespace r1::cli {

void add_grpo_command(CLI::App& app, Invocation& ctx) {
  add_training_command(
      app, ctx,
      {"grpo", "reinforcement learning with verifiable rewards (GRPO, TRL's GRPOConfig keys)", "recipes/grpo-demo.yaml",
       train::GrpoOptions::help(),
       [](const Recipe& recipe) { return to_yaml(train::GrpoOptions::from_recipe(recipe).to_json()); },
       [](const Recipe& recipe, const std::atomic<bool>* stop) {
         return train::grpo(train::GrpoOptions::from_recipe(recipe), stop);
       },
       "On-policy check: every step logs logprob_max_abs_diff = max |log pi_theta - log pi_sampling| over the\n"
       "sampled tokens. fp32 on a CPU with AVX-512 it is 0 by construction (training and sampling run the same\n"
       "kernels, whatever BLAS is loaded); with bf16 (autocast or a bf16 model), on CUDA or without AVX-512 the\n"
       "two sides round differently and the logged value is the measured difference.\n"});
}

}  // namespace r1::cli
