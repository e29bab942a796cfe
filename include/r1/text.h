// The text layer over the engine: what turns a Hugging Face model directory into text — dataset generation
// (`r1 generate`: rows in, N completions each out, from a local model or an OpenAI-compatible server) and a
// multi-turn chat session (`r1 chat`). Below it, the engine (r1/engine.h) knows token ids only; the rules this
// layer applies (stop ids, chat template choice, stop strings, the <think> split) each have one home in
// src/text/ and are shared with `r1 serve`, `r1 eval gen` and the trainers.
//
// Usage:
//   r1::text::ModelBundle b = r1::text::load_model_bundle({.model_dir = "runs/sft", .chat_template = "auto"});
//   // b.model, b.tokenizer, b.chat_template (null: raw text), b.stop_ids (what the engine stops on)
//
//   r1::text::DatasetGenerateOptions g;                       // dataset generation
//   g.input = "prompts.jsonl"; g.output = "out.jsonl"; g.model_dir = "runs/sft"; g.num_generations = 4;
//   r1::text::DatasetGenerateReport report = r1::text::generate_dataset(g);
//
//   r1::text::ChatSession chat({.model = "runs/sft"}, sampling);  // a conversation
//   r1::text::ChatReply reply = chat.send("What is 2+3?", [](const r1::text::TextDelta& d) { show(d); });
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "r1/chat-template.h"
#include "r1/engine.h"
#include "r1/model.h"
#include "r1/tokenizer.h"

namespace r1::text {

// ---- Loading a model with its tokenizer (every command: serve, chat, generate, eval, the trainers, the demo) ------
// A model bundle: what running a Hugging Face model directory on text needs besides the engine — the weights,
// the tokenizer, the chat template and the ids that end a sequence — each chosen by one rule here, so every
// command stops on the same tokens and renders the same prompts for the same model. Trainers load in two stages
// (open_tokenizer, then attach_model), so that their data is read and checked before the weights are paid for.

// The ids that end a sequence: the union of config.json's eos_token_id, generation_config.json's (read from
// `model_dir` when present) and the tokenizer's eos token, sorted and unique — transformers' generate stops on
// generation_config's list, and chat models often end a turn with a token only listed there. r1::Error naming
// generation_config.json if it is malformed. An empty model_dir (a model made in memory) reads no file.
std::vector<int32_t> stop_token_ids(const std::filesystem::path& model_dir, const model::ModelConfig& config,
                                    const tokenizer::Tokenizer& tokenizer);

// Where a bundle comes from.
struct BundleSource {
  std::filesystem::path model_dir;         // HF model directory; empty for a model made in memory (pretraining)
  std::filesystem::path tokenizer_dir;     // tokenizer.json (+ tokenizer_config.json), TRL's tokenizer_name_or_path;
                                           // empty: the one beside the weights in model_dir
  std::string chat_template;               // the option's value, under tokenizer::chat_template_source's rule
  std::string option = "--chat-template";  // the option's name, for errors ("chat_template" in recipes)
  std::string fallback_template;           // a built-in name used under "" / "auto" when the tokenizer has none (GRPO:
                                           // "r1-zero", so a base model gets the R1-Zero prompt)
};

struct ModelBundle {
  model::Transformer model{nullptr};
  tokenizer::Tokenizer tokenizer{nullptr};
  std::shared_ptr<const tokenizer::ChatTemplate> chat_template;  // null: prompts are raw text
  std::vector<int32_t> stop_ids;                                 // stop_token_ids()
};

// Stage 1: the tokenizer and the chat template; model null, stop_ids empty. r1::Error naming the directory when
// the model directory has no tokenizer beside the weights (and no tokenizer_dir is given).
ModelBundle open_tokenizer(const BundleSource& source);

// Stage 2: `model` (loaded from source.model_dir, or made in memory) joins the bundle: checked to have a row for
// every tokenizer id (r1::UsageError naming the model, else the tokenizer), and the stop ids set.
void attach_model(ModelBundle& bundle, const BundleSource& source, model::Transformer model);

// Both stages, the weights loaded from source.model_dir (model::load_pretrained).
ModelBundle load_model_bundle(const BundleSource& source, const model::LoadOptions& load = {});

// ---- Dataset generation (r1 generate, eval gen) ---------------------------------------------------------------------
// Dataset generation (what `r1 generate` runs): JSONL rows -> prompts -> N completions each -> JSONL rows,
// as distilabel's TextGeneration step in the open-r1 pipeline. This is the text/JSON edge over the engine:
// prompts come from a column, a `messages` column through the chat template, or a Jinja prompt template
// over the row's columns; completions come from a local model (r1::engine::Engine) or any OpenAI-compatible
// server. Output rows are the input row plus the generation column(s), written in input order as soon as
// each is complete, so a killed run resumes by skipping the rows already in the file.
// Runs the whole job. `on_row(done, total)` is called after each row is written. Throws r1::UsageError for
// bad options, r1::Error naming file:line for bad rows, and for a server that keeps failing.

struct DatasetGenerateOptions {
  std::filesystem::path input, output;
  std::string prompt_column = "prompt";
  std::string messages_column;  // non-empty: the conversation in this column (trailing assistant turns dropped)
  std::string prompt_template;  // non-empty: Jinja text rendered with the row, e.g. "Solve: {{ problem }}"
  std::string system_prompt;    // prepended as a system message when a chat template is applied
  std::string chat_template =
      "auto";  // tokenizer::chat_template_source: auto | none | a built-in name | a file | Jinja
  int32_t num_generations = 1;
  bool group_generations = false;            // one row per prompt with lists, instead of one row per completion
  std::string output_column = "generation";  // grouped: "<column>s" and "finish_reasons"
  std::string prompt_output_column;          // non-empty: each output row also holds its prompt as sent, in this column
                                             // (the list of messages when a chat template applies, else the text)
  engine::SamplingParams sampling;  // seed: per row, derived from `seed` and the row index unless sampling.seed is set
  uint64_t seed = 42;
  bool resume = false;     // continue an existing output file (rows already in it are skipped)
  bool overwrite = false;  // replace an existing output file
  int64_t limit = 0;       // generate for the first `limit` rows only (0: all)

  // Local generation.
  std::filesystem::path model_dir;  // model + tokenizer
  std::string device = "cpu";       // "cpu" | "cuda" | "cuda:N"
  engine::EngineOptions engine;

  // Remote generation (OpenAI-compatible server) when server_url is set.
  std::string server_url;    // http://host:port[/v1]
  std::string server_model;  // the "model" field sent
  std::string api_key;       // Authorization: Bearer, if non-empty
  int32_t concurrency = 4;   // requests in flight
  double timeout_seconds = 600;
  int32_t retries = 3;  // per request, on connection errors, 429 and 5xx (exponential back-off)
};

struct DatasetGenerateReport {
  int64_t rows = 0;       // rows in the input (after limit)
  int64_t skipped = 0;    // already in the output (resume)
  int64_t generated = 0;  // rows generated by this run
  int64_t completions = 0;
  int64_t completion_tokens = 0;  // local runs only
  double seconds = 0;             // the whole job
  double generation_seconds = 0;  // from the first request to the last completion
};

// Runs the whole job. `on_row(done, total)` is called after each row is written. Throws r1::UsageError for
// bad options, r1::Error naming file:line for bad rows, and for a server that keeps failing.
DatasetGenerateReport generate_dataset(const DatasetGenerateOptions& options,
                                       const std::function<void(int64_t, int64_t)>& on_row = {});

// ---- A model in an engine, and a conversation with it (r1 chat; r1 serve uses the same loading) ---------------------

// What loading a model for generation takes (text/text-engine.h loads it: the model bundle into one engine).
struct TextEngineOptions {
  std::filesystem::path model;  // Hugging Face model directory with the tokenizer beside the weights
  std::string dtype;            // "": the checkpoint is loaded in float32; "bf16" etc.: load and compute in it
  std::string device = "cpu";
  std::string chat_template;  // tokenizer::chat_template_source: "" the tokenizer's, none, a name, a file
  int64_t max_batch = 16;
  int64_t max_seq_len = 0;  // 0: max_position_embeddings
  uint64_t seed = 42;
};

// A piece of streamed text that has become final: answer text and <think> text, either possibly empty.
struct TextDelta {
  std::string content, reasoning;
  bool empty() const { return content.empty() && reasoning.empty(); }
};

struct ChatReply {
  std::string content, reasoning;
  engine::FinishReason finish_reason = engine::FinishReason::kLength;
  int64_t prompt_tokens = 0, completion_tokens = 0;
};

// A multi-turn conversation with a local model: the history (optional system message, then user / assistant
// turns), rendered through the chat template each turn and generated on the calling thread with streaming
// callbacks. The reply's <think> part comes back apart from the answer, as the server's reasoning_content;
// only the answer goes into the history (as DeepSeek-R1's template drops past reasoning).
class ChatSession {
 public:
  // Loads the model (max_batch is 1). r1::Error naming what failed to load; r1::Error if there is no chat
  // template (the message names --chat-template).
  ChatSession(const TextEngineOptions& model, engine::SamplingParams params);
  ~ChatSession();
  ChatSession(const ChatSession&) = delete;
  ChatSession& operator=(const ChatSession&) = delete;

  void reset();                              // forget the conversation (the system message stays)
  void set_system(const std::string& text);  // "" removes it
  size_t turns() const;
  // Adds the user turn, generates the reply (on_delta gets each piece of text as it becomes final), adds the
  // reply's answer to the history. max_new_tokens is capped to the room left in the context; r1::Error when
  // the conversation already fills it.
  ChatReply send(const std::string& user, const std::function<void(const TextDelta&)>& on_delta);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace r1::text
