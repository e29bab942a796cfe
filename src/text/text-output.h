// From generated token ids to the text a client sees, incrementally: detokenization (whole UTF-8
// characters only), hiding of control tokens, stop strings (text that could still become a stop string is
// held back while streaming, and the text is cut where the stop string begins, as OpenAI / vLLM do), and
// the reasoning split: `<think>…</think>` returned apart from the answer (vLLM's `deepseek_r1` reasoning
// parser, llama-server's `reasoning_format: deepseek`). Used by the server routes and by `r1 chat`.
// Departure from vLLM: special tokens other than the tokenizer's bos/eos/pad/unk and the sequence-ending ids
// stay in the text (r1-trained tokenizers mark <think>/<answer> as special; skipping every special token, as
// vLLM's skip_special_tokens does, would erase the reasoning structure).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "r1/engine.h"
#include "r1/text.h"
#include "r1/tokenizer.h"

namespace r1::text {

// Which generated ids produce text. Immutable and thread-safe once built.
class TextPolicy {
 public:
  TextPolicy(const tokenizer::Tokenizer& tokenizer, std::vector<int32_t> eos_ids);
  bool visible(int32_t id) const;
  // Text of the visible ids (what stop strings are matched against; EngineOptions::decode).
  std::string decode(const std::vector<int32_t>& ids) const;
  const tokenizer::Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  tokenizer::Tokenizer tokenizer_;
  std::vector<int32_t> hidden_;  // sorted
  int64_t vocab_size_ = 0;       // ids at or above are hidden (a model may have padded embedding rows)
};

enum class ReasoningStart {
  kOff,          // no parsing: everything is content, tags included
  kDetect,       // reasoning iff the output opens with <think> (after optional whitespace)
  kInReasoning,  // the prompt already opened <think> (e.g. the DeepSeek-R1 template): reasoning from the start
};

// Splits text into reasoning and content at `<think>` / `</think>`, holding back a possible partial tag.
class ReasoningSplitter {
 public:
  explicit ReasoningSplitter(ReasoningStart start);
  void push(std::string_view text, TextDelta& out);
  void finish(TextDelta& out);  // releases anything held back
  bool enabled() const { return state_ != State::kOff; }

 private:
  enum class State { kOff, kDetect, kReasoning, kContent };
  State state_;
  std::string held_;
};

// Whether a rendered chat prompt leaves a <think> block open (the model's output starts inside it).
bool prompt_opens_reasoning(std::string_view prompt_text);

// One sample's text, token by token.
class SampleText {
 public:
  // `extra_hidden`: ids that end this request (its stop_token_ids), whose text is never shown.
  SampleText(const TextPolicy& policy, const std::vector<std::string>& stop, ReasoningStart reasoning,
             std::vector<int32_t> extra_hidden = {});
  TextDelta push(int32_t id);  // text that became final with this token (possibly none)
  // End of the sample: the rest of the text, cut where the stop string begins when finished by one
  // (`stop_string` empty: at the earliest occurrence of any of the stop strings).
  TextDelta finish(engine::FinishReason reason, const std::string& stop_string = "");

  const std::string& content() const { return content_; }
  const std::string& reasoning() const { return reasoning_; }
  bool reasoning_enabled() const { return splitter_.enabled(); }

 private:
  TextDelta release(size_t end);

  const TextPolicy* policy_;
  tokenizer::StreamDecoder decoder_;
  std::vector<int32_t> extra_hidden_;
  std::vector<std::string> stop_;
  size_t holdback_ = 0;  // longest stop string - 1, in bytes
  std::string text_;     // all visible text decoded so far
  size_t released_ = 0;  // bytes of text_ passed on (never part of a stop string)
  ReasoningSplitter splitter_;
  std::string content_, reasoning_;  // everything released, split
  bool finished_ = false;
};

}  // namespace r1::text
