// The OpenAI API's JSON on one side, r1's native request and result types on the other: request parsing
// and validation (/v1/completions and /v1/chat/completions bodies -> GenerationRequest), response and
// stream-chunk building, SSE framing and OpenAI-style error objects. No HTTP and no engine calls here, so
// all of it is unit-tested without a socket. Field names and defaults follow the OpenAI API reference and
// vLLM's extensions (top_k, min_p, repetition_penalty, stop_token_ids, ignore_eos, chat_template_kwargs,
// add_generation_prompt); `reasoning_format` ("none" | "deepseek") is llama-server's request field.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "r1/engine.h"
#include "r1/error.h"

namespace r1::server {

// An error answered to the client as {"error": {"message", "type", "param", "code"}} with an HTTP status.
class ApiError : public Error {
 public:
  ApiError(int status, const std::string& message, std::string type, std::string param = "", std::string code = "")
      : Error(message), status(status), type(std::move(type)), param(std::move(param)), code(std::move(code)) {}
  int status;
  std::string type, param, code;  // empty param / code are written as null
};
ApiError bad_request(const std::string& message, const std::string& param = "");  // 400 invalid_request_error
nlohmann::json error_body(const ApiError& error);

enum class Endpoint { kCompletions, kChat };

struct Prompt {
  std::string text;          // a string prompt
  std::vector<int32_t> ids;  // a prompt given as token ids (when is_ids)
  bool is_ids = false;
};

struct GenerationRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;                // as requested; empty if absent
  std::vector<Prompt> prompts;      // completions: one or more (a batch)
  nlohmann::ordered_json messages;  // chat: the messages list, key order kept for the template
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();  // chat_template_kwargs
  bool add_generation_prompt = true;                                          // chat
  engine::SamplingParams params;      // max_new_tokens is resolved later from max_tokens
  std::optional<int64_t> max_tokens;  // max_tokens / max_completion_tokens, if given
  int32_t n = 1;
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage
  bool logprobs = false;          // chat: logprobs; completions: logprobs given (an int)
  int32_t top_logprobs = 0;       // chat: top_logprobs; completions: the logprobs int
  std::optional<bool> reasoning;  // reasoning_format: "deepseek" -> true, "none" -> false; unset: server's
};

struct Limits {
  int64_t max_tokens_limit = 4096;  // largest max_tokens a request may ask for
  int64_t max_n = 16;               // largest n
  int32_t max_top_logprobs = 20;
  int32_t vocab_size = 0;  // for prompts given as ids and stop_token_ids (0: unchecked)
};

// Parses and validates a request body. Throws ApiError (400) naming the offending field.
GenerationRequest parse_request(Endpoint endpoint, const std::string& body, const Limits& limits);

// max_new_tokens for a prompt of `prompt_tokens` in a context of `context_length`: the request's
// max_tokens (400 if prompt + max_tokens exceeds the context, as vLLM), else completions 16 (OpenAI's
// default) and chat the rest of the context, capped by limits.max_tokens_limit.
int64_t resolve_max_tokens(const GenerationRequest& request, int64_t prompt_tokens, int64_t context_length,
                           const Limits& limits);

// "stop" for eos / stop token / stop string, "length", "abort" for a cancelled sample (vLLM's name).
const char* finish_reason_text(engine::FinishReason reason);

// One generated token for the logprobs fields.
struct TokenInfo {
  std::string text;  // the token's own bytes (may be part of a UTF-8 character)
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;  // most likely alternatives, best first
};

struct ChoiceOutput {
  int32_t index = 0;
  std::string content;
  std::optional<std::string> reasoning;  // set when reasoning parsing is on (even if empty)
  std::string finish_reason;
  std::vector<TokenInfo> tokens;  // with logprobs
};

struct Usage {
  int64_t prompt_tokens = 0, completion_tokens = 0;
};

struct ResponseMeta {
  std::string id;       // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
};

nlohmann::json usage_json(const Usage& usage);
// Chat format: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
nlohmann::json chat_logprobs_json(const std::vector<TokenInfo>& tokens);
// Legacy completions format: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"};
// text_offset counts bytes from `offset` (the text already returned before these tokens).
nlohmann::json completion_logprobs_json(const std::vector<TokenInfo>& tokens, size_t offset);

nlohmann::json completion_response(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices,
                                   const Usage& usage, bool logprobs);
nlohmann::json chat_response(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices, const Usage& usage,
                             bool logprobs);

// Streaming chunks. A delta's empty strings are left out of the chunk; finish_reason empty -> null.
struct ChunkDelta {
  bool role = false;  // chat: the first chunk of a choice carries role "assistant"
  std::string content, reasoning;
  std::vector<TokenInfo> tokens;
  std::string finish_reason;
};
nlohmann::json completion_chunk(const ResponseMeta& meta, int32_t index, const ChunkDelta& delta, bool logprobs,
                                size_t text_offset, bool include_usage);
nlohmann::json chat_chunk(const ResponseMeta& meta, int32_t index, const ChunkDelta& delta, bool logprobs,
                          bool include_usage);
// The final usage chunk of stream_options.include_usage: "choices": [] and the usage.
nlohmann::json usage_chunk(const ResponseMeta& meta, Endpoint endpoint, const Usage& usage);

// JSON text for the wire: invalid UTF-8 (a token's partial character) becomes U+FFFD instead of throwing.
std::string dump(const nlohmann::json& value);
// Server-sent events framing: "data: <json>\n\n", and the terminating "data: [DONE]\n\n".
std::string sse_event(const nlohmann::json& value);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

}  // namespace r1::server
