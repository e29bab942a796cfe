// `r1 reward --config recipe.yaml [--key value ...]`: a Bradley-Terry reward model with TRL's RewardTrainer keys
// (r1/reward-trainer.h RewardOptions) on the shared trainer, and `r1 eval reward --model RM --data prefs.jsonl`:
// the pairwise accuracy (chosen scored strictly above rejected; a tie counts as wrong, as TRL's accuracy metric
// `rewards_chosen > rewards_rejected`) with its standard error and bootstrap interval over pairs.
#include <fmt/format.h>

#include <cmath>

#include "eval-output.h"
#include "r1/reward-trainer.h"
#include "training-command.h"

namespace r1::cli {
namespace {

struct RewardEvalOptions {
  std::string model, data;
  int64_t max_length = 0, batch_size = 8;
  EvalOutputOptions out;
};

int run_reward_eval(const Invocation& ctx, const RewardEvalOptions& o) {
  check_eval_output(o.out);
  train::PreferenceScores s = train::score_preferences(o.model, o.data, o.max_length, o.batch_size);
  if (s.chosen.empty()) fail("{}: no preference pair to score ({} over --max-length)", o.data, s.skipped);
  std::vector<double> correct, margin;
  int64_t ties = 0;
  for (size_t i = 0; i < s.chosen.size(); ++i) {
    correct.push_back(s.chosen[i] > s.rejected[i] ? 1.0 : 0.0);
    margin.push_back(s.chosen[i] - s.rejected[i]);
    ties += s.chosen[i] == s.rejected[i] ? 1 : 0;
  }
  eval::Results r;
  r.kind = "reward_model";
  r.task = o.data;
  r.model = o.model;
  r.config = {{"max_length", std::to_string(o.max_length)}, {"batch_size", std::to_string(o.batch_size)}};
  r.counts = {{"pairs", int64_t(s.chosen.size())}, {"ties", ties}, {"skipped", int64_t(s.skipped)}};
  r.bootstrap = o.out.bootstrap(ctx);
  r.metrics = {{"accuracy", eval::estimate_mean(correct, r.bootstrap)},
               {"margin", eval::estimate_mean(margin, r.bootstrap)}};
  std::vector<std::string> records;
  for (size_t i = 0; i < s.chosen.size(); ++i)
    records.push_back(fmt::format(R"({{"pair": {}, "chosen": {}, "rejected": {}}})", i, s.chosen[i], s.rejected[i]));
  return finish_eval(r, records, "rewards.jsonl", o.out);
}

}  // namespace

void add_reward_command(CLI::App& app, Invocation& ctx) {
  add_training_command(
      app, ctx,
      {"reward",
       "reward model (Bradley-Terry) on prompt/chosen/rejected JSONL (TRL RewardTrainer keys); use_peft: LoRA on the "
       "trunk, score head trained in full (PEFT SEQ_CLS)",
       "recipes/reward-tiny.yaml", train::RewardOptions::help(),
       [](const Recipe& recipe) { return to_yaml(train::RewardOptions::from_recipe(recipe).to_json()); },
       [](const Recipe& recipe, const std::atomic<bool>* stop) {
         return train::reward(train::RewardOptions::from_recipe(recipe), stop);
       }});
}

void add_eval_reward_command(CLI::App& eval, Invocation& ctx) {
  auto o = std::make_shared<RewardEvalOptions>();
  CLI::App* cmd = eval.add_subcommand("reward", "reward model: accuracy of chosen over rejected, with its stderr");
  cmd->add_option("--model", o->model, "reward model directory (a sequence classifier, num_labels 1)")->required();
  cmd->add_option("--data", o->data, "prompt/chosen/rejected JSONL")->required()->check(CLI::ExistingFile);
  cmd->add_option("--max-length", o->max_length, "skip pairs longer than this many tokens (0: no limit)")
      ->capture_default_str()
      ->check(kNonNegative);
  cmd->add_option("--batch-size", o->batch_size, "pairs per forward")->capture_default_str()->check(kPositive);
  add_eval_output_options(cmd, o->out);
  cmd->callback([o, &ctx] { ctx.run = [o, &ctx] { return run_reward_eval(ctx, *o); }; });
}

}  // namespace r1::cli
