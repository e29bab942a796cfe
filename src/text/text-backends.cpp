// LocalTextBackend and RemoteTextBackend (text-backends.h), moved here from dataset-generate.cpp so that the
// evaluation suite and the LLM judge share them. Local: the model bundle (model-bundle.h: chat template, stop
// ids) -> token ids -> engine (all prompts submitted at once, continuously batched) -> decoded text cut at the stop
// string. Remote: one OpenAI request per prompt with `n` choices; connection errors, 429 and 5xx are retried
// with exponential back-off (250 ms x 2^attempt, capped), other statuses fail at once naming the endpoint.
#include "text/text-backends.h"

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "r1/chat-template.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/text.h"

namespace r1::text {
using Json = nlohmann::ordered_json;

LocalTextBackend::LocalTextBackend(const DatasetGenerateOptions& o) : options_(o), tokenizer_(nullptr) {
  ModelBundle bundle = load_model_bundle({.model_dir = o.model_dir, .chat_template = o.chat_template},
                                         {.dtype = o.engine.dtype, .device = at::Device(o.device)});
  if (!o.messages_column.empty() && !bundle.chat_template)
    fail_usage("--messages-column needs a chat template: {} has none; choose one with --chat-template",
               o.model_dir.string());
  tokenizer_ = bundle.tokenizer;
  template_ = bundle.chat_template;
  model_ = bundle.model;
  engine::EngineOptions e = o.engine;
  e.decode = [this](const std::vector<int32_t>& ids) { return decode(ids, false); };
  if (e.eos_token_ids.empty()) e.eos_token_ids = bundle.stop_ids;
  engine_options_ = std::move(e);
}

LocalTextBackend::~LocalTextBackend() = default;

std::vector<int32_t> LocalTextBackend::encode(const TextPrompt& p, const std::string& where) const {
  std::vector<int32_t> ids;
  if (!template_) {
    ids = tokenizer_.encode(p.text, true);
  } else {
    const auto& c = tokenizer_.config();
    nlohmann::json context = {{"messages", nlohmann::json::parse(p.messages.dump())},
                              {"add_generation_prompt", true},
                              {"bos_token", c.bos_token.value_or("")},
                              {"eos_token", c.eos_token.value_or("")}};
    std::string text;
    try {
      text = template_->render(context).text;
    } catch (const Error& e) {
      fail("{}: {}", where, e.what());
    }
    ids = tokenizer_.encode(text, false);
  }
  if (ids.empty()) fail("{}: the prompt renders to no tokens", where);
  const int64_t context =
      options_.engine.max_seq_len > 0 ? options_.engine.max_seq_len : model_->config().max_position_embeddings;
  if (int64_t(ids.size()) >= context)
    fail("{}: the prompt has {} tokens; the context holds {} (prompt + at least one new token{})", where, ids.size(),
         context, options_.engine.max_seq_len > 0 ? ", --max-seq-len" : ": the model's max_position_embeddings");
  return ids;
}

void LocalTextBackend::run(const std::vector<std::vector<int32_t>>& prompts, const std::vector<uint64_t>& seeds,
                           const std::function<void(size_t, TextCompletion)>& on_done) {
  // Unless told otherwise, size the KV cache for the longest prompt + max_new_tokens rather than the
  // model's whole context (32k positions x batch would take gigabytes for a Hub model). Fitted anew on every run
  // (self-instruct runs one batch of prompts after another).
  if (options_.engine.max_seq_len <= 0) {
    size_t longest = 1;
    for (const auto& p : prompts) longest = std::max(longest, p.size());
    engine_options_.max_seq_len = std::min<int64_t>(model_->config().max_position_embeddings,
                                                    int64_t(longest) + options_.sampling.max_new_tokens);
  }
  engine_ = std::make_unique<engine::Engine>(model_, engine_options_);
  for (size_t i = 0; i < prompts.size(); ++i) {
    engine::Request r;
    r.prompt = prompts[i];
    r.params = options_.sampling;
    if (!r.params.seed) r.params.seed = seeds[i];
    r.n = options_.num_generations;
    engine_->submit(std::move(r), [this, i, &on_done](const engine::Event& e) {
      if (e.kind != engine::Event::Kind::kDone) return;
      TextCompletion c;
      for (const engine::Sample& s : e.result->samples) {
        std::string text = decode(s.tokens, true);
        if (s.finish_reason == engine::FinishReason::kStopString) {  // the first match is the one that stopped it
          const size_t cut = text.find(s.stop_string);
          if (cut != std::string::npos) text.resize(cut);
        }
        c.texts.push_back(std::move(text));
        c.reasons.push_back(s.finish_reason == engine::FinishReason::kLength ? "length" : "stop");
        c.tokens += int64_t(s.tokens.size());
      }
      on_done(i, std::move(c));
    });
  }
  while (engine_->has_work()) engine_->step();
}

// Ids the tokenizer does not know (a model vocabulary padded past the tokenizer's) are dropped from the
// text, as HF's decode skips them, instead of failing a long run.
std::string LocalTextBackend::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const int32_t known = int32_t(tokenizer_.vocab_size());
  std::vector<int32_t> kept;
  for (int32_t id : ids)
    if (id < known) kept.push_back(id);
  return tokenizer_.decode(kept, skip_special);
}

RemoteTextBackend::RemoteTextBackend(const DatasetGenerateOptions& o) : options_(o) {
  std::string url = o.server_url;
  size_t scheme = url.find("://");
  size_t path_at = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  origin_ = path_at == std::string::npos ? url : url.substr(0, path_at);
  std::string base = path_at == std::string::npos ? "" : url.substr(path_at);
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.size() < 3 || base.substr(base.size() - 3) != "/v1") base += "/v1";
  base_path_ = base;
  if (scheme == std::string::npos || url.substr(0, scheme) != "http")
    fail_usage("--server: expected http://host:port[/v1], got '{}'", url);
}

TextCompletion RemoteTextBackend::complete(const TextPrompt& p, uint64_t seed) const {
  const engine::SamplingParams& s = options_.sampling;
  Json body = {{"model", options_.server_model},
               {"n", options_.num_generations},
               {"max_tokens", s.max_new_tokens},
               {"temperature", std::max(0.0, s.temperature)},
               {"top_p", s.top_p},
               {"seed", s.seed.value_or(seed)}};
  if (s.top_k > 0) body["top_k"] = s.top_k;
  if (s.min_p > 0) body["min_p"] = s.min_p;
  if (s.repetition_penalty != 1.0) body["repetition_penalty"] = s.repetition_penalty;
  if (s.presence_penalty != 0.0) body["presence_penalty"] = s.presence_penalty;
  if (s.frequency_penalty != 0.0) body["frequency_penalty"] = s.frequency_penalty;
  if (!s.stop.empty()) body["stop"] = s.stop;
  const bool is_chat = chat();
  if (is_chat)
    body["messages"] = p.messages;
  else
    body["prompt"] = p.text;
  const std::string path = base_path_ + (is_chat ? "/chat/completions" : "/completions");
  std::string last_error;
  for (int32_t attempt = 0; attempt <= options_.retries; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(250 << std::min(attempt, 6)));
    httplib::Client client(origin_);
    const auto seconds = std::chrono::duration<double>(options_.timeout_seconds);
    client.set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(seconds));
    client.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(seconds));
    client.set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(seconds));
    if (!options_.api_key.empty()) client.set_bearer_token_auth(options_.api_key);
    auto res = client.Post(path, body.dump(), "application/json");
    if (!res) {
      last_error = httplib::to_string(res.error());
      continue;
    }
    if (res->status == 429 || res->status >= 500) {
      last_error = fmt::format("HTTP {}: {}", res->status, res->body.substr(0, 200));
      continue;
    }
    if (res->status != 200) fail("{}{}: HTTP {}: {}", origin_, path, res->status, res->body.substr(0, 300));
    Json reply;
    if (!parse_json_bounded(res->body, reply, nullptr) || !reply.is_object() || !reply.contains("choices") ||
        !reply["choices"].is_array())
      fail("{}{}: the reply is not an OpenAI completion: {}", origin_, path, res->body.substr(0, 300));
    TextCompletion c;
    for (const auto& choice : reply["choices"]) {
      auto member = [](const Json& object, const char* key) -> const Json* {
        if (!object.is_object()) return nullptr;
        auto it = object.find(key);
        return it == object.end() ? nullptr : &*it;
      };
      const Json* message = is_chat ? member(choice, "message") : nullptr;
      const Json* text = is_chat ? (message ? member(*message, "content") : nullptr) : member(choice, "text");
      // A reasoning server (DeepSeek's API, vLLM with a reasoning parser) returns the chain of thought apart,
      // as reasoning_content (or reasoning); it goes back inside think tags, as the model wrote it, so the
      // row holds the whole completion (what rejection sampling and SFT data need). content may then be null.
      const Json* reasoning = nullptr;
      for (const char* key : {"reasoning_content", "reasoning"})
        if (const Json* r = message ? member(*message, key) : nullptr;
            reasoning == nullptr && r != nullptr && r->is_string() && !r->get_ref<const std::string&>().empty())
          reasoning = r;
      std::string content;
      if (text != nullptr && text->is_string())
        content = text->get<std::string>();
      else if (reasoning == nullptr || text == nullptr || !text->is_null())
        fail("{}{}: a choice without {}", origin_, path, is_chat ? "message.content" : "text");
      c.texts.push_back(
          reasoning == nullptr ? content : "<think>\n" + reasoning->get<std::string>() + "\n</think>\n\n" + content);
      c.reasons.push_back(choice.value("finish_reason", std::string("stop")));
    }
    if (int32_t(c.texts.size()) != options_.num_generations)
      fail("{}{}: asked for n = {} choices, got {}", origin_, path, options_.num_generations, c.texts.size());
    return c;
  }
  fail("{}{}: failed after {} attempts: {}", origin_, path, options_.retries + 1, last_error);
}

}  // namespace r1::text
