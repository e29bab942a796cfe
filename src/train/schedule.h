// The trainer's schedule (Marian's Scheduler, src/training/scheduler.h): from TrainingArguments and the step it
// answers how long the run is, the learning rate of a step, and whether a step is logged, evaluated or
// checkpointed, with transformers' Trainer rules (the last step always logged, evaluated and saved). The
// counters live in train/state.h; the loop that asks both is src/train/trainer.cpp. Internal to src/train.
#pragma once

#include <cstdint>

#include "r1/train.h"

namespace r1::train::detail {

class TrainSchedule {
 public:
  // max_steps, else num_train_epochs x the objective's steps per epoch (UsageError when it knows none), an
  // epoch counted in steps of gradient_accumulation_steps x world_size micro-batches (data parallel: DataShard).
  TrainSchedule(const TrainingArguments& args, const Objective& objective, int world_size = 1);

  int64_t total_steps() const { return total_steps_; }
  int64_t warmup_steps() const { return warmup_steps_; }
  bool done(int64_t step) const { return step >= total_steps_; }
  // The learning rate of the optimizer step taken from `step` completed steps (HF's get_scheduler).
  double learning_rate(int64_t step) const;
  // After completed step `step` (1-based): a metrics line? an evaluation? a periodic checkpoint (never at the
  // last step: the final save covers it)?
  bool log(int64_t step) const;
  bool evaluate(int64_t step) const;
  bool save(int64_t step) const;
  // After the loop: a checkpoint unless the last step's is on disk (an interrupted or stopped run always).
  bool save_at_end(int64_t step, int64_t last_saved, bool stopped_early) const;

 private:
  const TrainingArguments& args_;
  int64_t total_steps_, warmup_steps_, eval_every_;
};

}  // namespace r1::train::detail
