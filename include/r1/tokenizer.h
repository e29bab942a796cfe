// Tokenizers in Hugging Face's tokenizer.json format: byte-level BPE (GPT-2, Llama-3, Qwen2/2.5,
// DeepSeek-R1-distill) and WordPiece (BERT), with added/special tokens, normalizers, pre-tokenizers,
// post-processors and decoders as tokenizer.json describes them. Ids equal HF tokenizers' for the same file
// and text. Unsupported components are errors that name them. A Tokenizer is immutable and thread-safe.
// Departure from HF: decode() returns the exact bytes (HF repairs invalid UTF-8 with U+FFFD), so
// decode(encode(x)) == x holds for any bytes with a byte-level tokenizer; StreamDecoder emits only
// complete UTF-8 characters.
//
// Usage:
//   r1::tokenizer::Tokenizer tokenizer = r1::tokenizer::Tokenizer::load("models/qwen2.5");  // or a tokenizer.json
//   std::vector<int32_t> ids = tokenizer.encode("What is 2+3?");
//   std::string text = tokenizer.decode(ids, /*skip_special_tokens=*/true);
//   r1::tokenizer::StreamDecoder stream(tokenizer);
//   for (int32_t id : ids) std::cout << stream.push(id);  // complete UTF-8 characters only
//
//   r1::tokenizer::Tokenizer trained = r1::tokenizer::train_tokenizer({"corpus.txt"}, {.vocab_size = 8000});
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace r1::tokenizer {

// ---- Loading, encoding and decoding ---------------------------------------------------------------------------------

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = true;       // skipped by decode(skip_special_tokens)
  bool single_word = false;  // match only as a whole word
  bool lstrip = false;       // swallow whitespace on the left
  bool rstrip = false;       // swallow whitespace on the right
  bool normalized = false;   // matched on normalized text (false: on the raw input)
};

// A token with the byte span [begin, end) of the input it came from. Spans are per pre-tokenized piece
// (every token of a piece carries the piece's span); special tokens added by the post-processor are empty.
struct TokenSpan {
  int32_t id = 0;
  size_t begin = 0, end = 0;
};

// tokenizer_config.json: the special tokens by role and the chat template.
struct TokenizerConfig {
  std::optional<std::string> bos_token, eos_token, pad_token, unk_token;
  std::string chat_template;  // empty if none
  bool add_bos_token = false, add_eos_token = false;
};

class Tokenizer {
 public:
  // tokenizer.json text; `source` names it in errors.
  static Tokenizer from_json(const std::string& text, const std::string& source);
  // A tokenizer.json file, or a directory with tokenizer.json (+ tokenizer_config.json if present).
  static Tokenizer load(const std::filesystem::path& path);
  // Writes tokenizer.json and tokenizer_config.json into dir (atomically, each). Refuses to replace an
  // existing tokenizer.json unless overwrite.
  void save(const std::filesystem::path& dir, bool overwrite = false) const;
  std::string to_json() const;  // tokenizer.json text

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  std::vector<TokenSpan> encode_with_spans(std::string_view text, bool add_special_tokens = true) const;
  // Encodes texts in parallel over `threads` threads (0: one per usable physical core); the first exception
  // encode() throws is rethrown once every thread has stopped.
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens = true,
                                                 int threads = 0) const;
  // Ids the vocabulary lacks (a model's padded embedding rows) decode to nothing, as in HF tokenizers;
  // r1::Error for a negative id.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;  // added tokens first, then the model
  std::optional<std::string> id_to_token(int32_t id) const;
  size_t vocab_size() const;  // largest id + 1 over the model and the added tokens
  // The one check that a model can embed every id of this tokenizer (rows: the model's vocab_size; more rows
  // than ids, a padded embedding, is fine): r1::UsageError "<where>: the tokenizer has N tokens but the model
  // has only M embedding rows" otherwise (an index error inside the model).
  void require_fits(int64_t rows, const std::string& where) const;
  const std::vector<AddedToken>& added_tokens() const;
  bool is_special(int32_t id) const;
  std::string model_type() const;  // "BPE" | "WordPiece"

  const TokenizerConfig& config() const;
  void set_config(const TokenizerConfig& config);  // replaces what tokenizer_config.json holds
  // Ids of the configured special tokens (nullopt if unset or not in the vocabulary).
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  std::optional<int32_t> pad_id() const;
  int32_t padding_id() const;  // what batches are padded with: pad, else eos, else 0 (TRL's default)

  struct Impl;
  explicit Tokenizer(std::shared_ptr<Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

// ---- Training and extending a tokenizer (r1 tokenizer train / extend) -----------------------------------------------
// Training a tokenizer from text files (one sequence per line, line ends kept, as HF's train_from_files) or
// JSONL files (.jsonl/.json: one sequence per row, from `text_field`).
struct TrainOptions {
  std::string model = "bpe";             // "bpe" (byte-level) | "wordpiece" (BERT)
  std::string pre_tokenizer = "llama3";  // bpe: "gpt2" | "llama3" | "qwen2" (qwen2 adds NFC); wordpiece: "bert"
  size_t vocab_size = 32000;
  uint64_t min_frequency = 0;
  std::vector<std::string> special_tokens;  // ids 0..n-1, never split
  bool byte_alphabet = true;                // bpe: start from all 256 byte-level characters
  std::optional<size_t> limit_alphabet;
  std::optional<size_t> max_token_length;
  bool lowercase = true;  // wordpiece
  std::string text_field = "text";
  int threads = 0;  // word counting; 0 = one per usable physical core
  bool show_progress = true;
};
Tokenizer train_tokenizer(const std::vector<std::filesystem::path>& inputs, const TrainOptions& options);

// Vocabulary extension (e.g. a new language or domain, as Chinese-LLaMA): continues BPE training of `base`
// on the new corpus — the corpus is segmented by the base model and `add` new merges are learned on top —
// so every existing token keeps its id and every existing merge its rank; new tokens take the ids after the
// largest existing one (model and added tokens). Byte-level BPE tokenizers only.
struct ExtendOptions {
  size_t add = 1000;
  uint64_t min_frequency = 2;
  std::string text_field = "text";
  int threads = 0;
  bool show_progress = true;
};
struct ExtendReport {
  size_t added = 0;
  uint64_t characters = 0;                       // code points in the corpus
  uint64_t tokens_before = 0, tokens_after = 0;  // encoding the corpus (no special tokens)
  double tokens_per_char_before() const { return characters ? double(tokens_before) / double(characters) : 0; }
  double tokens_per_char_after() const { return characters ? double(tokens_after) / double(characters) : 0; }
};
Tokenizer extend_tokenizer(const Tokenizer& base, const std::vector<std::filesystem::path>& inputs,
                           const ExtendOptions& options, ExtendReport* report = nullptr);
// For every id of `extended` at or above base.vocab_size(): the base ids of its text (what
// resize-embeddings averages to initialise the new row).
std::vector<std::vector<int32_t>> decompose_new_tokens(const Tokenizer& base, const Tokenizer& extended);

// ---- Conversations through a chat template (r1/chat-template.h) -----------------------------------------------------

class ChatTemplate;

// A conversation rendered through a chat template and tokenized (as transformers' apply_chat_template with
// tokenize=True, return_assistant_tokens_mask=True): assistant_mask[t] is 1 for tokens of assistant turns.
// The assistant spans come from the template's {% generation %} blocks when it has them; otherwise each
// assistant turn i is located by rendering messages[:i] with the generation prompt and messages[:i+1]
// without it (its end-of-turn tokens included). A template that rewrites earlier turns (e.g. DeepSeek-R1's
// dropping of past <think> blocks) cannot be located that way: that is an r1::Error asking for
// {% generation %} markers, never a silently wrong mask.
struct ChatEncoding {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<uint8_t> assistant_mask;
};
// `context` is an ordered JSON object text with at least "messages" (plus tools, documents, ...);
// bos_token / eos_token are filled from the tokenizer's config when absent.
ChatEncoding encode_chat(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const std::string& context_json,
                         bool add_generation_prompt);

// ---- Streaming detokenization (serve, chat) -------------------------------------------------------------------------
// Incremental detokenization for streaming generation: push ids one at a time and get back the text that
// became complete; a multi-byte character split across tokens is held back until its last byte arrives.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false);
  std::string push(int32_t id);
  std::string finish();  // whatever is held back (possibly an incomplete character), then resets

 private:
  Tokenizer tokenizer_;  // a cheap shared handle: the decoder may outlive the caller's object
  bool skip_special_;
  std::vector<int32_t> window_;  // ids whose text is not fully emitted, plus one token of context
  std::string emitted_;          // decode(window_) bytes already returned or owned by the context token
};

}  // namespace r1::tokenizer
