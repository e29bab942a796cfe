// `r1 distill --config recipe.yaml [--key value ...] [--dump-config]`: on-policy logit distillation from a teacher
// model (GKD) with TRL's GKDConfig keys (r1/train.h GkdOptions) on the shared trainer; LoRA with use_peft.
#include "commands.h"
#include "training-command.h"

namespace r1::cli {

void add_distill_command(CLI::App& app, Invocation& ctx) {
  add_training_command(
      app, ctx,
      {"distill", "on-policy distillation of a teacher's token distributions (GKD, TRL's GKDConfig keys)",
       "recipes/gkd-tiny.yaml", train::GkdOptions::help(),
       [](const Recipe& recipe) { return to_yaml(train::GkdOptions::from_recipe(recipe).to_json()); },
       [](const Recipe& recipe, const std::atomic<bool>* stop) {
         return train::gkd(train::GkdOptions::from_recipe(recipe), stop);
       },
       "Per micro-batch: with probability lmbda the completions are the student's own samples (on-policy), else\n"
       "with seq_kd the teacher's, else the dataset's. The loss is the generalized JSD of the student's next-token\n"
       "distribution from the teacher's over every completion token (beta 0: forward KL, 1: reverse KL), at\n"
       "temperature 1; `temperature` is the sampling temperature. Teacher and student need the same tokenizer.\n"});
}

}  // namespace r1::cli
