// OpenAI request parsing and response building (see protocol.h). Validation follows the OpenAI API
// reference (null means absent; n >= 1; temperature >= 0; 0 < top_p <= 1; penalties in [-2, 2];
// stream_options only with stream; top_logprobs only with logprobs) and vLLM's extra sampling fields; every
// field's type and range is checked, max_tokens and max_completion_tokens both when both are sent (the latter
// wins, as in vLLM's ChatCompletionRequest).
// Departures, each answered with a 400 that names the field rather than silently ignored:
//   1. echo, suffix, best_of != n, logit_bias, tools / functions and response_format other than "text"
//      are not supported.
//   2. Chat message content given as parts keeps only "text" parts, joined with "\n" (as vLLM).
#include "server/protocol.h"

#include "r1/chat-template.h"
#include "r1/io.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace r1::server {
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

ApiError bad_request(const std::string& message, const std::string& param) {
  return ApiError(400, message, "invalid_request_error", param);
}

json error_body(const ApiError& error) {
  json e = {{"message", error.what()}, {"type", error.type}, {"param", nullptr}, {"code", nullptr}};
  if (!error.param.empty()) e["param"] = error.param;
  if (!error.code.empty()) e["code"] = error.code;
  return json{{"error", e}};
}

namespace {

// Stop strings are held back from a stream until they cannot match, so their length bounds that delay.
constexpr size_t kMaxStopStrings = 16, kMaxStopBytes = 1024, kMaxStopTokenIds = 256;

// Field readers: absent or null -> nullopt; a value of the wrong type or range -> 400 naming the field.
const ordered_json* field(const ordered_json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> number(const ordered_json& body, const char* name, double lo, double hi) {
  const ordered_json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw bad_request(fmt::format("'{}' must be a number", name), name);
  double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw bad_request(fmt::format("'{}' must be between {} and {}, got {}", name, lo, hi, x), name);
  return x;
}

std::optional<int64_t> integer(const ordered_json& body, const char* name, int64_t lo, int64_t hi) {
  const ordered_json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) throw bad_request(fmt::format("'{}' must be an integer", name), name);
  if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    throw bad_request(fmt::format("'{}' is out of range", name), name);
  int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) throw bad_request(fmt::format("'{}' must be between {} and {}, got {}", name, lo, hi, x), name);
  return x;
}

std::optional<bool> boolean(const ordered_json& body, const char* name) {
  const ordered_json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw bad_request(fmt::format("'{}' must be a boolean", name), name);
  return v->get<bool>();
}

std::optional<std::string> string(const ordered_json& body, const char* name) {
  const ordered_json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw bad_request(fmt::format("'{}' must be a string", name), name);
  return v->get<std::string>();
}

// max_tokens / max_completion_tokens: a positive integer within --max-tokens-limit.
std::optional<int64_t> max_tokens_field(const ordered_json& body, const char* name, const Limits& limits) {
  std::optional<int64_t> v = integer(body, name, 1, std::numeric_limits<int64_t>::max());
  if (v && *v > limits.max_tokens_limit)
    throw bad_request(fmt::format("'{}' is {}, above this server's limit of {} (--max-tokens-limit)", name, *v,
                                  limits.max_tokens_limit),
                      name);
  return v;
}

std::vector<int32_t> token_ids(const ordered_json& list, const std::string& param, const Limits& limits) {
  std::vector<int32_t> ids;
  for (const auto& v : list) {
    if (!v.is_number_integer()) throw bad_request(fmt::format("'{}' must hold token ids (integers)", param), param);
    int64_t id = v.get<int64_t>();
    if (id < 0 || id > std::numeric_limits<int32_t>::max() || (limits.vocab_size > 0 && id >= limits.vocab_size))
      throw bad_request(
          fmt::format("'{}': token id {} is outside the vocabulary (size {})", param, id, limits.vocab_size), param);
    ids.push_back(int32_t(id));
  }
  return ids;
}

void parse_prompts(const ordered_json& body, GenerationRequest& r, const Limits& limits) {
  const ordered_json* p = field(body, "prompt");
  if (!p) throw bad_request("'prompt' is required", "prompt");
  auto empty_error = [] { return bad_request("'prompt' must not be empty", "prompt"); };
  if (p->is_string()) {
    r.prompts.push_back({p->get<std::string>(), {}, false});
  } else if (p->is_array()) {
    if (p->empty()) throw empty_error();
    if ((*p)[0].is_number()) {
      r.prompts.push_back({"", token_ids(*p, "prompt", limits), true});
    } else {
      for (const auto& item : *p) {
        if (item.is_string()) {
          r.prompts.push_back({item.get<std::string>(), {}, false});
        } else if (item.is_array()) {
          if (item.empty()) throw empty_error();
          r.prompts.push_back({"", token_ids(item, "prompt", limits), true});
        } else {
          throw bad_request("'prompt' must be a string, a list of strings, or token ids", "prompt");
        }
      }
    }
  } else {
    throw bad_request("'prompt' must be a string, a list of strings, or token ids", "prompt");
  }
  if (r.prompts.size() > size_t(limits.max_n) * 16)
    throw bad_request(fmt::format("at most {} prompts per request", limits.max_n * 16), "prompt");
}

void parse_messages(const ordered_json& body, GenerationRequest& r) {
  const ordered_json* m = field(body, "messages");
  if (!m) throw bad_request("'messages' is required", "messages");
  if (!m->is_array() || m->empty()) throw bad_request("'messages' must be a non-empty list", "messages");
  r.messages = ordered_json::array();
  for (size_t i = 0; i < m->size(); ++i) {
    const ordered_json& msg = (*m)[i];
    std::string where = fmt::format("messages[{}]", i);
    if (!msg.is_object()) throw bad_request(where + " must be an object", where);
    if (!msg.contains("role") || !msg["role"].is_string())
      throw bad_request(where + ".role must be a string", where + ".role");
    if (msg.contains("name") && !msg["name"].is_string() && !msg["name"].is_null())
      throw bad_request(where + ".name must be a string", where + ".name");
    ordered_json out = msg;
    auto content = msg.find("content");
    if (content != msg.end() && content->is_array()) {
      std::optional<std::string> text = tokenizer::join_text_parts(*content);
      if (!text) throw bad_request(where + ".content: only parts of type \"text\" are supported", where + ".content");
      out["content"] = std::move(*text);
    } else if (content != msg.end() && !content->is_string() && !content->is_null()) {
      throw bad_request(where + ".content must be a string or a list of parts", where + ".content");
    }
    r.messages.push_back(std::move(out));
  }
  if (const ordered_json* k = field(body, "chat_template_kwargs")) {
    if (!k->is_object()) throw bad_request("'chat_template_kwargs' must be an object", "chat_template_kwargs");
    r.template_kwargs = *k;
  }
  if (auto agp = boolean(body, "add_generation_prompt")) r.add_generation_prompt = *agp;
}

void reject_unsupported(const ordered_json& body, Endpoint endpoint) {
  auto unsupported = [](const char* name, const std::string& why) {
    return bad_request(fmt::format("'{}' is not supported by this server{}", name, why), name);
  };
  if (endpoint == Endpoint::kCompletions) {
    if (boolean(body, "echo").value_or(false)) throw unsupported("echo", "");
    if (field(body, "suffix")) throw unsupported("suffix", "");
  }
  if (const ordered_json* lb = field(body, "logit_bias"); lb && !(lb->is_object() && lb->empty()))
    throw unsupported("logit_bias", "");
  for (const char* name : {"tools", "functions"})
    if (const ordered_json* t = field(body, name); t && !(t->is_array() && t->empty()))
      throw unsupported(name, " (no tool calling)");
  if (const ordered_json* rf = field(body, "response_format");
      rf && !(rf->is_object() && rf->value("type", "") == "text"))
    throw unsupported("response_format", " (only {\"type\": \"text\"})");
}

}  // namespace

GenerationRequest parse_request(Endpoint endpoint, const std::string& body_text, const Limits& limits) {
  // Bounded: a body nested deeper than kMaxJsonDepth is refused while parsing, before the message copies
  // and the template walk below recurse on it (a 1 MiB body nested 400,000 deep overflowed the stack).
  ordered_json body;
  std::string error;
  if (!parse_json_bounded(body_text, body, &error))
    throw bad_request(
        fmt::format("We could not parse the JSON body of your request: {} (JSON nesting is limited "
                    "to {} levels).",
                    error, kMaxJsonDepth));
  if (!body.is_object()) throw bad_request("The request body must be a JSON object.");
  reject_unsupported(body, endpoint);

  GenerationRequest r;
  r.endpoint = endpoint;
  r.model = string(body, "model").value_or("");
  string(body, "user");  // only checked: a string (OpenAI's end-user id)
  if (endpoint == Endpoint::kCompletions)
    parse_prompts(body, r, limits);
  else
    parse_messages(body, r);

  engine::SamplingParams& p = r.params;
  r.n = int32_t(integer(body, "n", 1, limits.max_n).value_or(1));
  if (auto best_of = integer(body, "best_of", 1, limits.max_n); best_of && *best_of != r.n)
    throw bad_request("'best_of' is not supported by this server (it must equal n)", "best_of");
  p.temperature = number(body, "temperature", 0, 100).value_or(1.0);
  p.top_p = number(body, "top_p", 0, 1).value_or(1.0);
  if (p.top_p <= 0) throw bad_request("'top_p' must be in (0, 1]", "top_p");
  p.top_k = integer(body, "top_k", -1, std::numeric_limits<int32_t>::max()).value_or(0);
  if (p.top_k < 0) p.top_k = 0;  // vLLM: -1 disables
  p.min_p = number(body, "min_p", 0, 1).value_or(0.0);
  p.presence_penalty = number(body, "presence_penalty", -2, 2).value_or(0.0);
  p.frequency_penalty = number(body, "frequency_penalty", -2, 2).value_or(0.0);
  p.repetition_penalty = number(body, "repetition_penalty", 0, 100).value_or(1.0);
  if (p.repetition_penalty <= 0) throw bad_request("'repetition_penalty' must be > 0", "repetition_penalty");
  if (const ordered_json* s = field(body, "seed")) {
    if (!s->is_number_integer()) throw bad_request("'seed' must be an integer", "seed");
    p.seed = s->is_number_unsigned() ? s->get<uint64_t>() : uint64_t(s->get<int64_t>());
  }
  p.ignore_eos = boolean(body, "ignore_eos").value_or(false);

  // Both fields are checked when both are sent; max_completion_tokens (OpenAI's current name) wins, as in vLLM.
  r.max_tokens = max_tokens_field(body, "max_tokens", limits);
  if (endpoint == Endpoint::kChat)
    if (auto m = max_tokens_field(body, "max_completion_tokens", limits)) r.max_tokens = m;

  if (const ordered_json* stop = field(body, "stop")) {
    if (stop->is_string()) {
      p.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (const auto& s : *stop) {
        if (!s.is_string()) throw bad_request("'stop' must be a string or a list of strings", "stop");
        p.stop.push_back(s.get<std::string>());
      }
    } else {
      throw bad_request("'stop' must be a string or a list of strings", "stop");
    }
    if (p.stop.size() > kMaxStopStrings)
      throw bad_request(fmt::format("'stop' may hold at most {} strings", kMaxStopStrings), "stop");
    for (const auto& s : p.stop) {
      if (s.empty()) throw bad_request("'stop' strings must not be empty", "stop");
      if (s.size() > kMaxStopBytes)
        throw bad_request(fmt::format("'stop' strings may be at most {} bytes long, got {}", kMaxStopBytes, s.size()),
                          "stop");
    }
  }
  if (const ordered_json* ids = field(body, "stop_token_ids")) {
    if (!ids->is_array()) throw bad_request("'stop_token_ids' must be a list of token ids", "stop_token_ids");
    if (ids->size() > kMaxStopTokenIds)
      throw bad_request(fmt::format("'stop_token_ids' may hold at most {} ids", kMaxStopTokenIds), "stop_token_ids");
    p.stop_token_ids = token_ids(*ids, "stop_token_ids", limits);
  }

  r.stream = boolean(body, "stream").value_or(false);
  if (const ordered_json* so = field(body, "stream_options")) {
    if (!r.stream) throw bad_request("'stream_options' is only allowed when 'stream' is true", "stream_options");
    if (!so->is_object()) throw bad_request("'stream_options' must be an object", "stream_options");
    if (const ordered_json* usage = field(*so, "include_usage")) {
      if (!usage->is_boolean())
        throw bad_request("'stream_options.include_usage' must be a boolean", "stream_options.include_usage");
      r.include_usage = usage->get<bool>();
    }
  }

  if (endpoint == Endpoint::kCompletions) {
    if (auto lp = integer(body, "logprobs", 0, limits.max_top_logprobs)) {
      r.logprobs = true;
      r.top_logprobs = int32_t(*lp);
    }
  } else {
    r.logprobs = boolean(body, "logprobs").value_or(false);
    if (auto top = integer(body, "top_logprobs", 0, limits.max_top_logprobs)) {
      if (!r.logprobs) throw bad_request("'top_logprobs' requires 'logprobs' to be true", "top_logprobs");
      r.top_logprobs = int32_t(*top);
    }
  }
  p.top_logprobs = r.top_logprobs;

  if (auto rf = string(body, "reasoning_format")) {
    if (*rf == "none")
      r.reasoning = false;
    else if (*rf == "deepseek" || *rf == "deepseek-r1")
      r.reasoning = true;
    else
      throw bad_request(fmt::format("'reasoning_format' must be \"none\" or \"deepseek\", got \"{}\"", *rf),
                        "reasoning_format");
  }
  return r;
}

int64_t resolve_max_tokens(const GenerationRequest& request, int64_t prompt_tokens, int64_t context_length,
                           const Limits& limits) {
  if (prompt_tokens >= context_length)
    throw bad_request(fmt::format("This model's maximum context length is {} tokens. However, your prompt has {} "
                                  "tokens, leaving no room for a completion.",
                                  context_length, prompt_tokens),
                      request.endpoint == Endpoint::kChat ? "messages" : "prompt");
  int64_t room = context_length - prompt_tokens;
  if (request.max_tokens) {
    if (*request.max_tokens > room)
      throw bad_request(
          fmt::format("This model's maximum context length is {} tokens. However, you requested {} "
                      "tokens ({} in the prompt, {} for the completion).",
                      context_length, prompt_tokens + *request.max_tokens, prompt_tokens, *request.max_tokens),
          "max_tokens");
    return *request.max_tokens;
  }
  int64_t fallback = request.endpoint == Endpoint::kCompletions ? 16 : limits.max_tokens_limit;
  return std::min({fallback, room, limits.max_tokens_limit});
}

const char* finish_reason_text(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::kEos:
    case engine::FinishReason::kStopToken:
    case engine::FinishReason::kStopString:
      return "stop";
    case engine::FinishReason::kLength:
      return "length";
    case engine::FinishReason::kCancelled:
      return "abort";
  }
  return "stop";
}

namespace {
json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}
json finish_json(const std::string& reason) { return reason.empty() ? json(nullptr) : json(reason); }
}  // namespace

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

json chat_logprobs_json(const std::vector<TokenInfo>& tokens) {
  json content = json::array();
  for (const TokenInfo& t : tokens) {
    json top = json::array();
    for (const auto& [text, lp] : t.top) top.push_back({{"token", text}, {"logprob", lp}, {"bytes", bytes_of(text)}});
    content.push_back({{"token", t.text}, {"logprob", t.logprob}, {"bytes", bytes_of(t.text)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

json completion_logprobs_json(const std::vector<TokenInfo>& tokens, size_t offset) {
  json toks = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  for (const TokenInfo& t : tokens) {
    toks.push_back(t.text);
    lps.push_back(t.logprob);
    json top = json::object();
    for (const auto& [text, lp] : t.top)
      if (!top.contains(text)) top[text] = lp;
    tops.push_back(top);
    offsets.push_back(offset);
    offset += t.text.size();
  }
  return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

json completion_response(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices, const Usage& usage,
                         bool logprobs) {
  json out = json::array();
  for (const ChoiceOutput& c : choices)
    out.push_back({{"index", c.index},
                   {"text", c.content},
                   {"logprobs", logprobs ? completion_logprobs_json(c.tokens, 0) : json(nullptr)},
                   {"finish_reason", finish_json(c.finish_reason)}});
  return {{"id", meta.id},  {"object", "text_completion"}, {"created", meta.created}, {"model", meta.model},
          {"choices", out}, {"usage", usage_json(usage)}};
}

json chat_response(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices, const Usage& usage,
                   bool logprobs) {
  json out = json::array();
  for (const ChoiceOutput& c : choices) {
    json message = {{"role", "assistant"}, {"content", c.content}};
    if (c.reasoning) message["reasoning_content"] = *c.reasoning;
    out.push_back({{"index", c.index},
                   {"message", message},
                   {"logprobs", logprobs ? chat_logprobs_json(c.tokens) : json(nullptr)},
                   {"finish_reason", finish_json(c.finish_reason)}});
  }
  return {{"id", meta.id},  {"object", "chat.completion"}, {"created", meta.created}, {"model", meta.model},
          {"choices", out}, {"usage", usage_json(usage)}};
}

json completion_chunk(const ResponseMeta& meta, int32_t index, const ChunkDelta& d, bool logprobs, size_t text_offset,
                      bool include_usage) {
  json choice = {{"index", index},
                 {"text", d.content},
                 {"logprobs", logprobs ? completion_logprobs_json(d.tokens, text_offset) : json(nullptr)},
                 {"finish_reason", finish_json(d.finish_reason)}};
  json out = {{"id", meta.id},
              {"object", "text_completion"},
              {"created", meta.created},
              {"model", meta.model},
              {"choices", json::array({choice})}};
  if (include_usage) out["usage"] = nullptr;
  return out;
}

json chat_chunk(const ResponseMeta& meta, int32_t index, const ChunkDelta& d, bool logprobs, bool include_usage) {
  json delta = json::object();
  if (d.role) delta["role"] = "assistant";
  if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
  if (!d.content.empty() || d.role) delta["content"] = d.content;
  json choice = {{"index", index},
                 {"delta", delta},
                 {"logprobs", logprobs && !d.tokens.empty() ? chat_logprobs_json(d.tokens) : json(nullptr)},
                 {"finish_reason", finish_json(d.finish_reason)}};
  json out = {{"id", meta.id},
              {"object", "chat.completion.chunk"},
              {"created", meta.created},
              {"model", meta.model},
              {"choices", json::array({choice})}};
  if (include_usage) out["usage"] = nullptr;
  return out;
}

json usage_chunk(const ResponseMeta& meta, Endpoint endpoint, const Usage& usage) {
  return {{"id", meta.id},
          {"object", endpoint == Endpoint::kChat ? "chat.completion.chunk" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", json::array()},
          {"usage", usage_json(usage)}};
}

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_event(const json& value) { return "data: " + dump(value) + "\n\n"; }

}  // namespace r1::server
