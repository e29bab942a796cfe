// What serving a model needs besides HTTP: the model bundle (text/model-bundle.h: tokenizer, chat template
// as vLLM's --chat-template, stop ids as transformers' generate) loaded into a generation engine, and the
// text policy. Shared by `r1 serve` and `r1 chat`.
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
#include "r1/tokenizer.h"
#include "text/text-output.h"

namespace r1::server {

struct ContextOptions {
  std::filesystem::path model;  // Hugging Face model directory with the tokenizer beside the weights
  std::string dtype;            // "": the checkpoint is loaded in float32; "bf16" etc.: load and compute in it
  std::string device = "cpu";
  std::string chat_template;  // tokenizer::chat_template_source: "" the tokenizer's, none, a name, a file
  int64_t max_batch = 16;
  int64_t max_seq_len = 0;  // 0: max_position_embeddings
  uint64_t seed = 42;
};

struct ChatPrompt {
  std::string text;  // the rendered prompt
  std::vector<int32_t> ids;
};

class ServerContext {
 public:
  explicit ServerContext(const ContextOptions& options);  // throws r1::Error naming what failed to load

  engine::Engine& engine() { return *engine_; }
  const tokenizer::Tokenizer& tokenizer() const { return tokenizer_; }
  const text::TextPolicy& text_policy() const { return *policy_; }
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
  std::unique_ptr<text::TextPolicy> policy_;
  std::unique_ptr<engine::Engine> engine_;
  int64_t context_length_ = 0;
};

}  // namespace r1::server
