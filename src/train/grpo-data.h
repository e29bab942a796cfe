// GRPO's prompt dataset: JSONL rows -> prompt token ids (rendered through a chat template, left-truncated to
// max_prompt_length as TRL) with the row kept for the reward functions. Column rules as TRL / open-r1: a
// conversational `prompt` or `messages` column is rendered as is (trailing assistant turns dropped); otherwise
// the string column dataset_prompt_column (falling back to `prompt`, then `problem`) becomes the user turn,
// after system_prompt when one is set.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "r1/text.h"
#include "r1/tokenizer.h"
#include "r1/train.h"

namespace r1::train::rl {

// The prompt keys GRPO and PPO share (GrpoOptions and PpoOptions convert implicitly).
struct PromptOptions {
  std::string model_name_or_path, tokenizer_name_or_path, dataset_name, dataset_prompt_column, chat_template,
      system_prompt;
  int64_t max_samples = 0, max_prompt_length = 512;

  template <class Options>
  PromptOptions(const Options& o)  // NOLINT(google-explicit-constructor): GrpoOptions / PpoOptions
      : model_name_or_path(o.model_name_or_path),
        tokenizer_name_or_path(o.tokenizer_name_or_path),
        dataset_name(o.dataset_name),
        dataset_prompt_column(o.dataset_prompt_column),
        chat_template(o.chat_template),
        system_prompt(o.system_prompt),
        max_samples(o.max_samples),
        max_prompt_length(o.max_prompt_length) {}
};

class PromptDataset {
 public:
  // Reads options.dataset_name (a .jsonl file, or a directory holding train.jsonl) and renders each prompt with
  // `chat_template` (the model bundle's; null: raw text). r1::Error naming file:line for a row without a usable
  // prompt; UsageError for an empty dataset.
  static PromptDataset load(const PromptOptions& options, const tokenizer::Tokenizer& tokenizer,
                            const tokenizer::ChatTemplate* chat_template);
  // The same from rows in memory (`source` names them in errors, with lines[i] or else i + 1 as the line).
  static PromptDataset from_rows(std::vector<nlohmann::json> rows, const PromptOptions& options,
                                 const tokenizer::Tokenizer& tokenizer, const tokenizer::ChatTemplate* chat_template,
                                 const std::string& source, std::vector<size_t> lines = {});

  size_t size() const { return rows_.size(); }
  const nlohmann::json& row(size_t i) const { return rows_[i]; }
  const std::vector<int32_t>& prompt_ids(size_t i) const { return ids_[i]; }
  const std::string& prompt_text(size_t i) const { return texts_[i]; }
  // The prompt as the reward functions see it (TRL's `prompts`): the conversation (list of messages) when a chat
  // template renders it, else the text.
  const nlohmann::json& prompt(size_t i) const { return prompts_[i]; }
  std::string where(size_t i) const;  // "<file>:<line>" of row i, for errors
  // Every row checked against what each reward needs (rewards::check_reward_example): r1::Error naming
  // file:line before a model is loaded, instead of a failed reward after the first generation. With a reward
  // model among the names (a mixed dataset), such a row is counted and left to the rewards that can score it.
  void check_rewards(const std::vector<std::string>& reward_names) const;

 private:
  std::vector<nlohmann::json> rows_;
  std::string source_;
  std::vector<size_t> lines_;
  std::vector<std::string> texts_;
  std::vector<nlohmann::json> prompts_;
  std::vector<std::vector<int32_t>> ids_;
};

// The file of split `split` of dataset_name, as `r1 sft`'s splits: <dir>/<split>.jsonl for a directory, else
// <stem>.<split>.jsonl beside the file (data.jsonl -> data.test.jsonl).
std::filesystem::path split_path(const std::string& dataset_name, const std::string& split);

// The model bundle's source for the RL policy (GRPO, PPO): the tokenizer of tokenizer_name_or_path, and under
// chat_template "auto" the tokenizer's template or, when it has none, the R1-Zero prompt (a base model has none).
text::BundleSource policy_source(const PromptOptions& options);

// One row's prompt: its conversation (a string prompt becomes the user turn after system_prompt) when a chat
// template is in use, else the prompt text. r1::Error saying what the row lacks.
nlohmann::json prompt_of(const nlohmann::json& row, const PromptOptions& options, bool has_chat_template);

// Renders one row's prompt as text (the chat template applied with add_generation_prompt).
std::string render_prompt(const nlohmann::json& row, const PromptOptions& options,
                          const tokenizer::Tokenizer& tokenizer, const tokenizer::ChatTemplate* chat_template);

}  // namespace r1::train::rl
