// Reward-model training (`r1 reward`) and scoring (`r1 eval reward`): the public API of src/train/reward.cpp, part
// of the train layer beside r1/train.h (whose TrainingArguments, FinetuneArguments and TrainResult it uses).
// Reference behaviour: TRL's RewardTrainer / RewardConfig (Bradley-Terry loss, Ouyang et al. 2022 eq. 1).
//
// Usage:
//   r1::train::RewardOptions options =
//   r1::train::RewardOptions::from_recipe(r1::Recipe::load("recipes/reward-tiny.yaml")); r1::train::TrainResult result
//   = r1::train::reward(options); r1::train::PreferenceScores s = r1::train::score_preferences("runs/rm",
//   "prefs.jsonl", 1024, 8);
#pragma once

#include <ATen/core/Tensor.h>

#include "r1/train.h"

namespace r1::train {

// `r1 reward`: a Bradley-Terry reward model (TRL's RewardTrainer / RewardConfig keys) on prompt/chosen/rejected
// rows (strings, or message lists through the chat template; rows without "prompt" score chosen/rejected as
// whole texts), with an optional numeric "margin" column. The model is model_name_or_path loaded as a sequence
// classifier with one label (a causal LM's trunk gets a fresh score head, as AutoModelForSequenceClassification
// with num_labels=1), config.pad_token_id set to the tokenizer's padding id so each row is scored at its last
// non-pad token; the output directory is a LlamaForSequenceClassification / Qwen2ForSequenceClassification.
//   max_length (1024: pairs whose chosen or rejected sequence is longer are dropped, as TRL; 0: no limit),
//   center_rewards_coefficient (unset: off; TRL recommends 0.01), learning_rate default 1e-4 (RewardConfig).
// Loss per pair: -log s(r_c - r_r - margin) + coef (r_c + r_r)^2, averaged over the step's pairs (reward_loss).
// Logged (means over the step's pairs): loss, accuracy (r_c > r_r strictly), margin (r_c - r_r), rewards/chosen,
// rewards/rejected; evaluated: the same with an eval_ prefix.
// use_peft (lora_r, lora_alpha, lora_dropout, lora_target_modules as `r1 sft`): LoRA adapters on the trunk and the
// score head trained in full, saved as a PEFT adapter directory with task_type SEQ_CLS and modules_to_save
// ["classifier", "score"] (the head as base_model.model.score.weight). Such a directory loads wherever a model
// directory does (merged on load); `r1 model merge-lora` writes the full *ForSequenceClassification directory.
struct RewardOptions {
  TrainingArguments training;  // learning_rate defaults to 1e-4 (TRL's RewardConfig)
  FinetuneArguments finetune;
  int64_t max_length = 1024;
  std::optional<double> center_rewards_coefficient;

  static RewardOptions from_recipe(const Recipe& recipe);  // reads, validates, rejects unknown keys
  nlohmann::ordered_json to_json() const;
  static std::vector<std::pair<std::string, std::string>> help();
};
TrainResult reward(const RewardOptions& options, const std::atomic<bool>* stop_requested = nullptr);

// TRL's RewardTrainer.compute_loss per pair, all (P): losses -log s(chosen - rejected - margin)
// + coef (chosen + rejected)^2 (coef unset: no centring term; margin undefined: 0). The mean of `losses` is TRL's loss.
struct RewardLoss {
  at::Tensor losses;  // (P)
};
RewardLoss reward_loss(const at::Tensor& chosen, const at::Tensor& rejected, const at::Tensor& margin,
                       std::optional<double> center_rewards_coefficient);

// `r1 eval reward`: the rewards a sequence classifier (num_labels 1) gives the chosen and rejected sequences of
// every preference row of `data` (tokenized as `r1 reward` trains), in batches of batch_size pairs. Pairs longer
// than max_length (0: no limit) are skipped and counted, as the trainer drops them.
struct PreferenceScores {
  std::vector<double> chosen, rejected;  // per kept pair
  size_t skipped = 0;                    // pairs over max_length
};
PreferenceScores score_preferences(const std::filesystem::path& model_dir, const std::filesystem::path& data,
                                   int64_t max_length, int64_t batch_size);

}  // namespace r1::train
