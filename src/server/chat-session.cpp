// ChatSession (see chat-session.h): render the history with the chat template, submit it to the engine,
// step the engine on this thread and stream the text through SampleText (stop strings, <think> split).
#include "server/chat-session.h"

#include "r1/error.h"

namespace r1::server {

ChatSession::ChatSession(ServerContext& context, engine::SamplingParams params)
    : context_(context), params_(std::move(params)) {
  if (!context_.has_chat_template())
    fail("the tokenizer has no chat_template; choose one with --chat-template NAME|FILE");
}

void ChatSession::reset() { history_ = nlohmann::ordered_json::array(); }

void ChatSession::set_system(const std::string& text) { system_ = text; }

ChatReply ChatSession::send(const std::string& user, const std::function<void(const text::TextDelta&)>& on_delta) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!system_.empty()) messages.push_back({{"role", "system"}, {"content", system_}});
  for (const auto& m : history_) messages.push_back(m);
  messages.push_back({{"role", "user"}, {"content", user}});
  ChatPrompt prompt = context_.render_chat(messages, nlohmann::ordered_json::object(), true);
  int64_t room = context_.context_length() - int64_t(prompt.ids.size());
  if (room <= 0)
    fail("the conversation ({} tokens) fills the model's context of {} tokens; /reset to start over", prompt.ids.size(),
         context_.context_length());

  engine::Request request;
  request.prompt = prompt.ids;
  request.params = params_;
  request.params.max_new_tokens = std::min(params_.max_new_tokens, room);
  text::SampleText text(
      context_.text_policy(), params_.stop,
      text::prompt_opens_reasoning(prompt.text) ? text::ReasoningStart::kInReasoning : text::ReasoningStart::kDetect,
      params_.stop_token_ids);
  ChatReply reply;
  bool done = false;
  engine::Engine& engine = context_.engine();
  engine.submit(std::move(request), [&](const engine::Event& e) {
    if (e.kind == engine::Event::Kind::kToken) {
      text::TextDelta d = text.push(e.token);
      if (!d.empty()) on_delta(d);
    } else if (e.kind == engine::Event::Kind::kFinished) {
      text::TextDelta d = text.finish(e.finish_reason);
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
  history_.push_back({{"role", "user"}, {"content", user}});
  history_.push_back({{"role", "assistant"}, {"content", reply.content}});
  return reply;
}

}  // namespace r1::server
