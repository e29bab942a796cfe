// TrainSchedule (see schedule.h): the run's length and the log / evaluate / save rules of transformers' Trainer.
#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "r1/error.h"

namespace r1::train::detail {
namespace {
int64_t resolve_total_steps(const TrainingArguments& args, const Objective& objective, int world_size) {
  if (args.max_steps > 0) return args.max_steps;
  const int64_t per_epoch = objective.steps_per_epoch(args.gradient_accumulation_steps * world_size);
  if (per_epoch <= 0) fail_usage("max_steps is required: the length of an epoch of this data is not known");
  return std::max<int64_t>(1, int64_t(std::ceil(args.num_train_epochs * double(per_epoch))));
}
}  // namespace

TrainSchedule::TrainSchedule(const TrainingArguments& args, const Objective& objective, int world_size)
    : args_(args),
      total_steps_(resolve_total_steps(args, objective, world_size)),
      warmup_steps_(resolve_warmup_steps(args, total_steps_)),
      eval_every_(args.eval_steps.value_or(args.logging_steps)) {}

double TrainSchedule::learning_rate(int64_t step) const {
  return args_.learning_rate *
         lr_multiplier(args_.lr_scheduler_type, step, warmup_steps_, total_steps_, args_.min_lr_rate);
}

bool TrainSchedule::log(int64_t step) const {
  return step % args_.logging_steps == 0 || (step == 1 && args_.logging_first_step) || step == total_steps_;
}

bool TrainSchedule::evaluate(int64_t step) const {
  return args_.eval_strategy == "steps" && (step % eval_every_ == 0 || step == total_steps_);
}

bool TrainSchedule::save(int64_t step) const {
  return args_.save_strategy == "steps" && args_.save_steps > 0 && step % args_.save_steps == 0 && step < total_steps_;
}

bool TrainSchedule::save_at_end(int64_t step, int64_t last_saved, bool stopped_early) const {
  return args_.save_strategy == "steps" && (step != last_saved || stopped_early);
}

}  // namespace r1::train::detail
