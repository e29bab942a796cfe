// TextEngine: a model bundle (text/model-bundle.h: weights, tokenizer, chat template as vLLM's --chat-template,
// stop ids as transformers' generate) loaded into one generation engine, with its text policy (text-output.h).
// What `r1 serve` (from its HTTP threads, through server/engine-thread.h) and `r1 chat` (ChatSession, on the
// calling thread) generate from. Options: TextEngineOptions in r1/text.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "r1/chat-template.h"
#include "r1/engine.h"
#include "r1/model.h"
#include "r1/text.h"
#include "r1/tokenizer.h"
#include "text/text-output.h"

namespace r1::text {

struct ChatPrompt {
  std::string text;  // the rendered prompt
  std::vector<int32_t> ids;
};

class TextEngine {
 public:
  explicit TextEngine(const TextEngineOptions& options);  // throws r1::Error naming what failed to load

  engine::Engine& engine() { return *engine_; }
  const tokenizer::Tokenizer& tokenizer() const { return tokenizer_; }
  const TextPolicy& text_policy() const { return *policy_; }
  const model::ModelConfig& model_config() const { return config_; }
  bool has_chat_template() const { return chat_template_ != nullptr; }
  int64_t context_length() const { return context_length_; }
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }

  // Renders messages (with template kwargs merged into the context, as apply_chat_template(**kwargs)) and
  // tokenizes the text without adding special tokens (the template writes them). r1::Error if no template.
  ChatPrompt render_chat(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& kwargs,
                         bool add_generation_prompt) const;
  std::vector<int32_t> encode(const std::string& text) const;  // a completions prompt: special tokens added

 private:
  model::ModelConfig config_;
  tokenizer::Tokenizer tokenizer_;
  std::shared_ptr<const tokenizer::ChatTemplate> chat_template_;
  std::vector<int32_t> eos_ids_;
  std::unique_ptr<TextPolicy> policy_;
  std::unique_ptr<engine::Engine> engine_;
  int64_t context_length_ = 0;
};

}  // namespace r1::text
