// The endpoints (see routes.h). A generation request becomes one engine request per prompt (its n samples
// share the prefill); choice index = prompt * n + sample, as vLLM numbers batched completions. Every
// response body is sent through a chunked content provider, so a client that disconnects is noticed by a
// failed write and its request is cancelled: streams write a chunk per token; a non-streaming request that
// is still generating after a second writes a single space (JSON allows leading whitespace) about every
// second to probe the connection.
#include "server/routes.h"

#include <httplib.h>

#include <chrono>
#include <ctime>
#include <random>

namespace r1::server {
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), uint32_t(rng()));
}

const char* chat_param(Endpoint endpoint) { return endpoint == Endpoint::kChat ? "messages" : "prompt"; }

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(dump(error_body(e)), "application/json");
}

std::string token_text(const tokenizer::Tokenizer& tok, int32_t id) {
  if (id < 0 || size_t(id) >= tok.vocab_size()) return "";
  try {
    std::vector<int32_t> one = {id};
    return tok.decode(one);
  } catch (const Error&) {
    return "";  // an id in a hole of the vocabulary has no text
  }
}

// One HTTP request's generation, shared by the handler, the content provider and its releaser.
struct Generation {
  RouteState* rc = nullptr;
  GenerationRequest req;
  ResponseMeta meta;
  std::shared_ptr<EventChannel> channel = std::make_shared<EventChannel>();
  std::vector<uint64_t> engine_ids;
  std::vector<text::SampleText> texts;  // per choice
  std::vector<ChoiceOutput> choices;    // per choice
  std::vector<size_t> streamed_bytes;   // completions stream: text_offset of the next chunk
  size_t prompts_done = 0;
  Usage usage;
  bool finished = false;      // every prompt's kDone (or an error) has arrived
  bool started = false;       // stream: the opening chunks are written
  bool write_failed = false;  // the client is gone
  std::string error;
  Clock::time_point last_write = Clock::now();

  bool chat() const { return req.endpoint == Endpoint::kChat; }

  void cancel() {
    for (uint64_t id : engine_ids) rc->engine_thread->cancel(id);
  }

  TokenInfo token_info(const ChannelEvent& e) const {
    const auto& tok = rc->text_engine->tokenizer();
    TokenInfo t{token_text(tok, e.token), e.logprob, {}};
    for (const auto& alt : e.top_logprobs) t.top.emplace_back(token_text(tok, alt.token), alt.logprob);
    return t;
  }

  bool write(httplib::DataSink& sink, const std::string& data) {
    last_write = Clock::now();
    if (!sink.write(data.data(), data.size())) write_failed = true;
    return !write_failed;
  }

  void write_chunk(httplib::DataSink& sink, size_t c, ChunkDelta& delta) {
    if (chat()) {
      write(sink, sse_event(chat_chunk(meta, int32_t(c), delta, req.logprobs, req.include_usage)));
    } else {
      write(sink,
            sse_event(completion_chunk(meta, int32_t(c), delta, req.logprobs, streamed_bytes[c], req.include_usage)));
      for (const auto& t : delta.tokens) streamed_bytes[c] += t.text.size();
    }
  }

  // Applies one event; while streaming, writes the chunks it produces.
  void apply(const ChannelEvent& e, httplib::DataSink* sink) {
    size_t c = size_t(e.prompt) * size_t(req.n) + size_t(e.sample);
    switch (e.kind) {
      case ChannelEvent::Kind::kToken: {
        if (c >= texts.size()) return;
        text::TextDelta d = texts[c].push(e.token);
        ChunkDelta chunk{false, std::move(d.content), std::move(d.reasoning), {}, ""};
        if (req.logprobs) chunk.tokens.push_back(token_info(e));
        if (!sink) {
          for (auto& t : chunk.tokens) choices[c].tokens.push_back(std::move(t));
        } else if (!chunk.content.empty() || !chunk.reasoning.empty() || !chunk.tokens.empty()) {
          write_chunk(*sink, c, chunk);
        }
        break;
      }
      case ChannelEvent::Kind::kFinished: {
        if (c >= texts.size()) return;
        text::TextDelta d = texts[c].finish(e.finish_reason);
        choices[c].finish_reason = finish_reason_text(e.finish_reason);
        if (sink) {
          ChunkDelta chunk{false, std::move(d.content), std::move(d.reasoning), {}, choices[c].finish_reason};
          write_chunk(*sink, c, chunk);
        }
        break;
      }
      case ChannelEvent::Kind::kDone:
        if (e.result) {
          usage.prompt_tokens += e.result->prompt_tokens;
          for (const auto& s : e.result->samples) usage.completion_tokens += int64_t(s.tokens.size());
        }
        if (++prompts_done == engine_ids.size()) finished = true;
        break;
      case ChannelEvent::Kind::kError:
        error = e.error;
        finished = true;
        break;
    }
  }

  // Content provider body: waits for events (about 100 ms at a time) and writes what they produce.
  bool provide(httplib::DataSink& sink) {
    if (req.stream && !started) {
      started = true;
      if (chat())
        for (size_t c = 0; c < choices.size(); ++c) {
          ChunkDelta role{true, "", "", {}, ""};
          write_chunk(sink, c, role);
        }
    }
    ChannelEvent e;
    auto until = Clock::now() + std::chrono::milliseconds(100);
    while (!finished && !write_failed && Clock::now() < until && channel->pop(e, std::chrono::milliseconds(20)))
      apply(e, req.stream ? &sink : nullptr);
    if (write_failed) return false;  // cpp-httplib then releases the provider, which cancels the request
    if (!finished) {
      if (!req.stream && Clock::now() - last_write > std::chrono::seconds(1)) write(sink, " ");
      return true;
    }
    if (!error.empty()) {
      ApiError failure(500, error, "server_error");
      write(sink, req.stream ? sse_event(error_body(failure)) + kSseDone : dump(error_body(failure)));
    } else if (req.stream) {
      if (req.include_usage) write(sink, sse_event(usage_chunk(meta, req.endpoint, usage)));
      write(sink, kSseDone);
    } else {
      for (size_t c = 0; c < choices.size(); ++c) {
        choices[c].content = texts[c].content();
        if (texts[c].reasoning_enabled()) choices[c].reasoning = texts[c].reasoning();
      }
      json body = chat() ? chat_response(meta, choices, usage, req.logprobs)
                         : completion_response(meta, choices, usage, req.logprobs);
      write(sink, dump(body));
    }
    sink.done();
    return true;
  }
};

void handle_generation(RouteState& rc, Endpoint endpoint, const httplib::Request& http, httplib::Response& res) {
  auto gen = std::make_shared<Generation>();
  gen->rc = &rc;
  try {
    if (rc.stopping) throw ApiError(503, "the server is shutting down", "server_error");
    gen->req = parse_request(endpoint, http.body, rc.limits);
    GenerationRequest& req = gen->req;
    if (!req.model.empty() && req.model != rc.served_model_name)
      throw ApiError(404, fmt::format("The model `{}` does not exist.", req.model), "invalid_request_error", "model",
                     "model_not_found");
    text::TextEngine& ctx = *rc.text_engine;

    std::vector<std::vector<int32_t>> prompts;
    text::ReasoningStart reasoning = text::ReasoningStart::kOff;
    if (endpoint == Endpoint::kChat) {
      if (!ctx.has_chat_template())
        throw bad_request("this model has no chat template; start the server with --chat-template NAME|FILE");
      text::ChatPrompt p;
      try {
        p = ctx.render_chat(req.messages, req.template_kwargs, req.add_generation_prompt);
      } catch (const Error& e) {
        throw bad_request(fmt::format("the chat template failed on these messages: {}", e.what()), "messages");
      }
      if (req.reasoning.value_or(rc.reasoning_default))
        reasoning =
            text::prompt_opens_reasoning(p.text) ? text::ReasoningStart::kInReasoning : text::ReasoningStart::kDetect;
      prompts.push_back(std::move(p.ids));
    } else {
      for (const Prompt& p : req.prompts) prompts.push_back(p.is_ids ? p.ids : ctx.encode(p.text));
    }

    std::vector<engine::Request> requests;
    for (auto& ids : prompts) {
      if (ids.empty()) throw bad_request("the prompt is empty (no tokens)", chat_param(endpoint));
      engine::Request er;
      er.params = req.params;
      er.params.max_new_tokens = resolve_max_tokens(req, int64_t(ids.size()), ctx.context_length(), rc.limits);
      er.prompt = std::move(ids);
      er.n = req.n;
      requests.push_back(std::move(er));
    }

    gen->meta = {random_id(endpoint == Endpoint::kChat ? "chatcmpl-" : "cmpl-"), int64_t(std::time(nullptr)),
                 rc.served_model_name};
    size_t n_choices = requests.size() * size_t(req.n);
    for (size_t c = 0; c < n_choices; ++c) {
      gen->texts.emplace_back(ctx.text_policy(), req.params.stop, reasoning, req.params.stop_token_ids);
      gen->choices.push_back(ChoiceOutput{int32_t(c), "", std::nullopt, "", {}});
    }
    gen->streamed_bytes.assign(n_choices, 0);
    try {
      for (size_t i = 0; i < requests.size(); ++i)
        gen->engine_ids.push_back(rc.engine_thread->submit(std::move(requests[i]), gen->channel, int32_t(i)));
    } catch (const Error& e) {
      gen->cancel();
      if (rc.stopping) throw ApiError(503, "the server is shutting down", "server_error");
      throw bad_request(e.what());
    }
  } catch (const ApiError& e) {
    send_error(res, e);
    return;
  }
  res.status = 200;
  if (gen->req.stream) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
  }
  ++rc.running;
  res.set_chunked_content_provider(
      gen->req.stream ? "text/event-stream" : "application/json",
      [gen](size_t, httplib::DataSink& sink) { return gen->provide(sink); },
      [gen](bool) {
        if (!gen->finished) gen->cancel();  // the client left, or the server is stopping
        --gen->rc->running;
      });
}

}  // namespace

void register_routes(httplib::Server& http, RouteState& rc) {
  http.Get("/health", [&rc](const httplib::Request&, httplib::Response& res) {
    if (rc.stopping) {
      res.status = 503;
      res.set_content(dump(json{{"status", "shutting down"}}), "application/json");
      return;
    }
    res.set_content(dump(json{{"status", "ok"},
                              {"requests_running", rc.running.load()},
                              {"engine_requests", rc.engine_thread->live_requests()},
                              {"samples_cancelled", rc.engine_thread->cancelled_samples()}}),
                    "application/json");
  });
  http.Get("/v1/models", [&rc](const httplib::Request&, httplib::Response& res) {
    json model = {{"id", rc.served_model_name},
                  {"object", "model"},
                  {"created", int64_t(std::time(nullptr))},
                  {"owned_by", "r1"},
                  {"max_model_len", rc.text_engine->context_length()}};
    res.set_content(dump(json{{"object", "list"}, {"data", json::array({model})}}), "application/json");
  });
  http.Post("/v1/completions", [&rc](const httplib::Request& req, httplib::Response& res) {
    handle_generation(rc, Endpoint::kCompletions, req, res);
  });
  http.Post("/v1/chat/completions", [&rc](const httplib::Request& req, httplib::Response& res) {
    handle_generation(rc, Endpoint::kChat, req, res);
  });
}

}  // namespace r1::server
