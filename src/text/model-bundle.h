// A model bundle: what generating text from a Hugging Face model directory needs besides the engine — the
// weights, the tokenizer beside them, the chat template and the ids that end a sequence — each chosen by one
// rule here, so `serve`, `chat`, `generate`, `eval gen` and `grpo` stop on the same tokens and render the same
// prompts for the same model. The engine below knows token ids only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "r1/chat-template.h"
#include "r1/model.h"
#include "r1/tokenizer.h"

namespace r1::text {

// The ids that end a sequence: the union of config.json's eos_token_id, generation_config.json's (read from
// `model_dir` when present) and the tokenizer's eos token, sorted and unique — transformers' generate stops on
// generation_config's list, and chat models often end a turn with a token only listed there. r1::Error naming
// generation_config.json if it is malformed.
std::vector<int32_t> stop_token_ids(const std::filesystem::path& model_dir, const model::ModelConfig& config,
                                    const tokenizer::Tokenizer& tokenizer);

struct ModelBundle {
  model::Transformer model{nullptr};
  tokenizer::Tokenizer tokenizer{nullptr};
  std::shared_ptr<const tokenizer::ChatTemplate> chat_template;  // null: prompts are raw text
  std::vector<int32_t> stop_ids;                                 // stop_token_ids()
};

// Loads `dir` (weights via model::load_pretrained, tokenizer.json + tokenizer_config.json from the same
// directory) with the chat template chosen by tokenizer::chat_template_source(chat_template, ..., option).
// r1::Error naming the directory when the tokenizer is missing or has more ids than the model has rows.
ModelBundle load_model_bundle(const std::filesystem::path& dir, const model::LoadOptions& load,
                              const std::string& chat_template, const std::string& option = "--chat-template");

}  // namespace r1::text
