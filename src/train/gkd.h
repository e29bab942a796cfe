// The pieces of `r1 distill` (src/train/gkd.cpp) below gkd(), apart so that the tests reach them: the dataset's
// prompt/completion examples, the shared-vocabulary check, and the objective, whose micro-batches say which
// sequences (dataset, student or teacher completions) each step trained on.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "r1/engine.h"
#include "r1/text.h"
#include "r1/tokenizer.h"
#include "r1/train.h"
#include "train/finetune.h"

namespace r1::train::detail {

// One dataset row as GKD uses it (TRL's DataCollatorForChatML): the prompt a model continues and the dataset's
// completion, the loss's targets unless generated ones replace it.
struct GkdExample {
  std::vector<int32_t> prompt, completion;
};
struct GkdData {
  std::vector<GkdExample> examples;
  size_t truncated = 0;       // rows longer than max_length (their first tokens dropped)
  int64_t targets = 0;        // dataset completion tokens
  size_t longest_prompt = 0;  // tokens
};

// Rows in TRL's formats, tokenized by data::sft_example: prompt/completion (strings or message lists), Alpaca
// instruction/input/output, or messages (the last message, an assistant's, is the completion; the ones before
// it the prompt, rendered with the generation prompt, as TRL's collator renders messages[:-1]). A row longer than
// max_length keeps its last max_length tokens (TRL's collator); r1::Error naming the row when no prompt token is
// left, when it has no completion token, or for a text-only row (nothing to generate from).
GkdData gkd_data(const std::vector<std::pair<nlohmann::json, std::string>>& rows, const tokenizer::Tokenizer& tokenizer,
                 const tokenizer::ChatTemplate* chat_template, int64_t max_length);

// r1::UsageError naming both tokenizer directories unless the student's and the teacher's tokenizers map the same
// tokens to the same ids (the loss compares the two distributions id by id).
void require_shared_vocabulary(const tokenizer::Tokenizer& student, const std::string& student_dir,
                               const tokenizer::Tokenizer& teacher, const std::string& teacher_dir);

// Where a micro-batch's completions come from (TRL's training_step: the student's samples with probability
// lmbda, else the teacher's with seq_kd, else the dataset's).
enum class GkdSource { kDataset, kStudent, kTeacher };

struct GkdSequence {
  size_t example = 0;            // index into the GkdData
  std::vector<int32_t> ids;      // prompt + completion
  std::vector<uint8_t> targets;  // 1 for the completion's tokens
  size_t prompt_tokens = 0;
};
struct GkdMicroBatch {
  GkdSource source = GkdSource::kDataset;
  std::vector<GkdSequence> sequences;
  LmBatch batch;  // the sequences, right-padded; labels on the completion tokens
};

// GKD as an Objective: prepare_step draws each micro-batch's source (a counter-based stream of `seed`, so the
// position alone resumes it), generates the completions it needs with the student's engine (the live weights)
// and the teacher's, and returns the step's completion tokens as the normaliser; micro_batch is the summed
// generalized JSD (model::generalized_jsd_sum) over the completion tokens.
class GkdObjective : public Objective {
 public:
  // The teacher is moved to the student's device and frozen (eval, no gradients).
  GkdObjective(const GkdOptions& options, text::ModelBundle student, text::ModelBundle teacher, GkdData train,
               std::optional<GkdData> eval);
  ~GkdObjective() override;

  double prepare_step(int64_t micro_batches) override;
  MicroBatchLoss micro_batch(int64_t index) override;
  std::map<std::string, double> end_step() override;     // on_policy, seq_kd, completions/mean_length, time/generation
  void set_data_shard(const DataShard& shard) override;  // every rank draws the global step, keeps its micro-batches
  int64_t steps_per_epoch(int64_t micro_batches_per_step) const override;
  nlohmann::json data_state() const override;
  void load_data_state(const nlohmann::json& state) override;
  std::map<std::string, double> evaluate() override;  // eval_loss on the dataset completions
  std::string describe(int64_t total_steps, int64_t micro_batches_per_step) const override;

  const std::vector<GkdMicroBatch>& micro_batches() const { return batches_; }  // the current step's

 private:
  at::Device device() const;
  engine::Engine& engine(GkdSource source);   // the student's or the teacher's, made on first use
  at::Tensor loss_sum(const LmBatch& batch);  // the generalized JSD summed over the batch's completion tokens

  GkdOptions o_;
  text::ModelBundle student_, teacher_;
  GkdData train_;
  std::optional<GkdData> eval_;
  EpochOrder order_;
  int64_t batch_;
  int32_t pad_;
  std::unique_ptr<engine::Engine> student_engine_, teacher_engine_;  // made on first use

  uint64_t draws_ = 0;  // micro-batches drawn so far (saved)
  std::vector<GkdMicroBatch> batches_;
  std::map<std::string, double> step_metrics_;
  DataShard shard_;
};

}  // namespace r1::train::detail
