// The two text generation back-ends shared by `r1 generate` (dataset-generate.cpp), `r1 eval gen` and the
// LLM judge (src/eval/): prompts (chat messages or raw text) in, N completions each out, either from a local
// model through the engine (tokenizer + chat template at this edge) or from any OpenAI-compatible server
// (/v1/chat/completions or /v1/completions through a cpp-httplib client, with retries and back-off).
// Not here: reading/writing dataset rows (dataset-generate.cpp) and scoring (src/eval/).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "r1/engine.h"
#include "r1/text.h"
#include "r1/tokenizer.h"

namespace r1::tokenizer {
class ChatTemplate;
}

namespace r1::text {

// A prompt as chat messages (when the back-end applies a chat template / talks to a chat endpoint) or text.
struct TextPrompt {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  std::string text;
};

struct TextCompletion {
  std::vector<std::string> texts;    // num_generations of them, in sample order
  std::vector<std::string> reasons;  // OpenAI finish reasons: "stop" | "length" (or what the server said)
  int64_t tokens = 0;                // generated tokens (local only)
};

// Local generation with the options' model_dir, device, engine, chat_template, sampling and num_generations
// (the options object must outlive the back-end). Completions are decoded without special tokens and cut at
// a matched stop string.
class LocalTextBackend {
 public:
  explicit LocalTextBackend(const DatasetGenerateOptions& options);
  ~LocalTextBackend();
  bool chat() const { return template_ != nullptr; }  // a chat template is applied to prompts
  // The prompt's ids; r1::Error "<where>: ..." (the row's file:line) when it renders to no tokens or leaves no
  // room for a new token in the context (--max-seq-len, else the model's max_position_embeddings).
  std::vector<int32_t> encode(const TextPrompt& prompt, const std::string& where) const;
  // Submits every prompt; `on_done(index, completion)` is called (on this thread) as each finishes.
  void run(const std::vector<std::vector<int32_t>>& prompts, const std::vector<uint64_t>& seeds,
           const std::function<void(size_t, TextCompletion)>& on_done);

 private:
  std::string decode(const std::vector<int32_t>& ids, bool skip_special) const;
  const DatasetGenerateOptions& options_;
  tokenizer::Tokenizer tokenizer_;
  std::shared_ptr<const tokenizer::ChatTemplate> template_;
  model::Transformer model_{nullptr};
  engine::EngineOptions engine_options_;
  std::unique_ptr<engine::Engine> engine_;
};

// Remote generation with the options' server_url, server_model, api_key, timeout_seconds, retries, sampling
// and num_generations. complete() is thread-safe (one HTTP client per call).
class RemoteTextBackend {
 public:
  explicit RemoteTextBackend(const DatasetGenerateOptions& options);  // r1::UsageError for a bad URL
  bool chat() const { return options_.chat_template != "none" || !options_.messages_column.empty(); }
  // r1::Error naming the endpoint for a non-retryable HTTP status, a malformed reply, or after the retries.
  TextCompletion complete(const TextPrompt& prompt, uint64_t seed) const;

 private:
  const DatasetGenerateOptions& options_;
  std::string origin_, base_path_;
};

}  // namespace r1::text
