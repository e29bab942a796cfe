// reward_funcs entries resolved to functions, for GRPO and `r1 rejection-sample`, as TRL's GRPOTrainer resolves
// its reward_funcs: an entry is a registry reward name (r1/rewards.h) or a directory holding a sequence-
// classification model (a reward model, as `r1 reward` writes one; TRL loads a model id with
// AutoModelForSequenceClassification, num_labels=1). The reward model scores prompt + completion rendered with its
// own tokenizer and chat template (a conversational prompt: the messages plus the completion as the assistant turn;
// a text prompt: the two strings concatenated), tokenized without special tokens, reward = logits[:, 0].
// Its parameters (reward_kwargs[<entry>]):
//   score       "all" (default, TRL): the whole completion; "answer": only the text after `</think>` (DeepSeek-R1's
//               helpfulness reward, which sees the final summary only; a completion without `</think>` is scored whole)
//   batch_size  sequences per forward (default 16); scores do not depend on it
// Mixed datasets (R1's reasoning + general data): when the entries include a reward model, a row that fails a
// registry reward's row check (r1::rewards::check_reward_example, e.g. `accuracy` on a row without a gold answer)
// is not given to that reward: its score there is "not applicable" (nullopt, TRL's NaN), so combine_rewards
// leaves the reward model's score alone. Without a reward model such a row stays an error.
// Departures from TRL:
//   1. Each row is pooled at its own last token (its length) instead of transformers' "last token that is not the
//      pad id"; the two differ only when the scored text itself ends with the pad token.
//   2. A text longer than the model's max_position_embeddings keeps its last tokens (TRL fails in the model).
#pragma once

#include <c10/core/Device.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "r1/rewards.h"
#include "r1/text.h"

namespace r1::train {

// ---- The reward model -----------------------------------------------------------------------------------------------

enum class ScoredText { kAll, kAnswer };

struct RewardModelOptions {
  ScoredText score = ScoredText::kAll;
  int64_t batch_size = 16;
  static RewardModelOptions parse(const nlohmann::json& params, const std::string& entry);  // UsageError naming keys
};

// True if `entry` is a directory whose config.json describes a sequence classifier, or a PEFT adapter directory
// with task_type SEQ_CLS (loaded with its base model and merged).
bool is_reward_model_dir(const std::string& entry);
// True if a reward_funcs entry names a reward model: not a registry name, and a reward model directory.
bool is_reward_model_entry(const std::string& entry);

class RewardModel {
 public:
  // Loads the classifier with its tokenizer and chat template onto `device`, in eval mode, without gradients.
  RewardModel(const std::filesystem::path& dir, const RewardModelOptions& options, at::Device device);
  // prompts[i]: the prompt completion i answers — a list of messages (conversational) or a string.
  std::vector<double> score(const std::vector<nlohmann::json>& prompts,
                            const std::vector<std::string>& completions) const;
  // The text scored for one completion (before tokenization).
  std::string render(const nlohmann::json& prompt, const std::string& completion) const;

 private:
  text::ModelBundle bundle_;
  std::filesystem::path dir_;
  RewardModelOptions options_;
};

// The part of a completion after its reasoning: the text after the first `</think>` (whole text without one).
std::string answer_part(const std::string& completion);

// ---- reward_funcs entries -------------------------------------------------------------------------------------------

class RewardFunc {
 public:
  // The metric name: the registry name, or the reward model directory's last component (TRL's reward_func_names).
  const std::string& name() const { return name_; }
  bool is_model() const { return model_ != nullptr; }
  // One score per completion; prompts and examples are per completion as well.
  std::vector<rewards::Score> operator()(const std::vector<nlohmann::json>& prompts,
                                         const std::vector<std::string>& completions,
                                         const std::vector<nlohmann::json>& examples) const;

 private:
  friend std::vector<RewardFunc> make_reward_funcs(const std::vector<std::string>&, const nlohmann::json&, at::Device);
  std::string entry_, name_;
  rewards::RewardFn fn_;                      // a registry reward
  std::shared_ptr<const RewardModel> model_;  // a reward model
  bool skip_rows_it_cannot_score_ = false;    // mixed datasets: rows failing the reward's row check get nullopt
};

// The parameters of `entry` in reward_kwargs ({} if none).
nlohmann::json reward_params(const nlohmann::json& reward_kwargs, const std::string& entry);

// Checks every entry and its parameters without loading any weights: UsageError naming an entry that is neither a
// registry reward nor a directory holding a sequence classifier, or a bad parameter.
void check_reward_funcs(const std::vector<std::string>& entries, const nlohmann::json& reward_kwargs);

// A recipe's reward keys against each other (GRPO, PPO), before any file is read: at least one reward,
// reward_weights empty or one per reward, reward_kwargs a mapping whose keys are rewards. UsageError naming the key.
void check_reward_keys(const std::vector<std::string>& rewards, const std::vector<double>& reward_weights,
                       const nlohmann::json& reward_kwargs);

// Appends one line per completion to a JSONL log (GRPO's completions.jsonl and eval_completions.jsonl, PPO's
// completions.jsonl): step, prompt, completion, each reward's score under its name (null: not applicable), then the
// fields `extra` adds for completion i (reward, advantage, ...). Invalid UTF-8 is replaced. r1::Error if the file
// cannot be written.
void append_scored_completions(const std::filesystem::path& file, int64_t step, const std::vector<std::string>& prompts,
                               const std::vector<std::string>& completions, const std::vector<RewardFunc>& rewards,
                               const std::vector<std::vector<rewards::Score>>& per_reward,
                               const std::function<void(size_t i, nlohmann::ordered_json& line)>& extra);

// Resolves every entry (reward models loaded onto `device`).
std::vector<RewardFunc> make_reward_funcs(const std::vector<std::string>& entries, const nlohmann::json& reward_kwargs,
                                          at::Device device);

// Whether the entries include a reward model (rows failing a registry reward's check are then not applicable).
bool has_reward_model(const std::vector<std::string>& entries);

}  // namespace r1::train
