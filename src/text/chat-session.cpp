// ChatSession (see r1/text.h): render the history with the chat template, submit it to the engine,
// step the engine on this thread and stream the text through SampleText (stop strings, <think> split).
#include <nlohmann/json.hpp>

#include "r1/text.h"
#include "text/text-engine.h"
#include "text/text-output.h"

#include "r1/error.h"

namespace r1::text {

struct ChatSession::Impl {
  Impl(const TextEngineOptions& model, engine::SamplingParams params) : context(model), params(std::move(params)) {}
  TextEngine context;
  engine::SamplingParams params;
  std::string system;
  nlohmann::ordered_json history = nlohmann::ordered_json::array();
};

namespace {
TextEngineOptions one_sequence(TextEngineOptions o) {
  o.max_batch = 1;
  return o;
}
}  // namespace

ChatSession::ChatSession(const TextEngineOptions& model, engine::SamplingParams params)
    : impl_(std::make_unique<Impl>(one_sequence(model), std::move(params))) {
  if (!impl_->context.has_chat_template())
    fail("the tokenizer has no chat_template; choose one with --chat-template NAME|FILE");
}

ChatSession::~ChatSession() = default;

void ChatSession::reset() { impl_->history = nlohmann::ordered_json::array(); }

void ChatSession::set_system(const std::string& text) { impl_->system = text; }

size_t ChatSession::turns() const { return impl_->history.size(); }

ChatReply ChatSession::send(const std::string& user, const std::function<void(const TextDelta&)>& on_delta) {
  TextEngine& context = impl_->context;
  const engine::SamplingParams& params = impl_->params;
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!impl_->system.empty()) messages.push_back({{"role", "system"}, {"content", impl_->system}});
  for (const auto& m : impl_->history) messages.push_back(m);
  messages.push_back({{"role", "user"}, {"content", user}});
  ChatPrompt prompt = context.render_chat(messages, nlohmann::ordered_json::object(), true);
  int64_t room = context.context_length() - int64_t(prompt.ids.size());
  if (room <= 0)
    fail("the conversation ({} tokens) fills the model's context of {} tokens; /reset to start over", prompt.ids.size(),
         context.context_length());

  engine::Request request;
  request.prompt = prompt.ids;
  request.params = params;
  request.params.max_new_tokens = std::min(params.max_new_tokens, room);
  SampleText text(context.text_policy(), params.stop,
                  prompt_opens_reasoning(prompt.text) ? ReasoningStart::kInReasoning : ReasoningStart::kDetect,
                  params.stop_token_ids);
  ChatReply reply;
  bool done = false;
  engine::Engine& engine = context.engine();
  engine.submit(std::move(request), [&](const engine::Event& e) {
    if (e.kind == engine::Event::Kind::kToken) {
      TextDelta d = text.push(e.token);
      if (!d.empty()) on_delta(d);
    } else if (e.kind == engine::Event::Kind::kFinished) {
      TextDelta d = text.finish(e.finish_reason);
      reply.finish_reason = e.finish_reason;
      if (!d.empty()) on_delta(d);
    } else if (e.result) {
      reply.prompt_tokens = e.result->prompt_tokens;
      for (const auto& s : e.result->samples) reply.completion_tokens += int64_t(s.tokens.size());
      done = true;
    }
  });
  while (!done && engine.step()) {
  }
  if (!done) fail("the engine stopped before finishing the reply");
  reply.content = text.content();
  reply.reasoning = text.reasoning();
  impl_->history.push_back({{"role", "user"}, {"content", user}});
  impl_->history.push_back({{"role", "assistant"}, {"content", reply.content}});
  return reply;
}

}  // namespace r1::text
