// What a checkpoint holds of the trainer itself (Marian's TrainingState, src/training/training_state.h): the
// counters of trainer_state.json (step, skipped steps, non-finite streak, elapsed time, with a description of
// the schedule) and the CPU RNG stream, each a Stateful part that checkpoint.h saves and restores with the
// optimizer and the objective. Internal to src/train.
#pragma once

#include <chrono>
#include <cstdint>

#include "r1/train.h"
#include "train/schedule.h"

namespace r1::train::detail {

// trainer_state.json's counters and its description of the schedule.
class TrainState : public Stateful {
 public:
  explicit TrainState(const TrainSchedule& schedule, const TrainingArguments& args)
      : schedule_(schedule), args_(args) {}

  int64_t global_step = 0;            // optimizer steps completed (skipped non-finite steps included)
  int64_t skipped_steps = 0;          // non-finite steps, in all
  int64_t consecutive_nonfinite = 0;  // the current streak

  // Seconds of training, earlier processes of this run included (from the clock's start).
  void start_clock() { start_ = std::chrono::steady_clock::now(); }
  double elapsed() const;

  void save_state(CheckpointWriter& out) const override;
  void load_state(CheckpointReader& in) override;  // global_step in [0, total_steps]; a note if max_steps changed

 private:
  const TrainSchedule& schedule_;
  const TrainingArguments& args_;
  double elapsed_before_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// The default CPU generator (torch.manual_seed's; dropout, initialisation), as optimizer.safetensors' "rng.cpu".
class CpuRngState : public Stateful {
 public:
  void save_state(CheckpointWriter& out) const override;
  void load_state(CheckpointReader& in) override;
};

}  // namespace r1::train::detail
