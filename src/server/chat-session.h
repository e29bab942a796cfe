// A multi-turn conversation with a local model for `r1 chat`: the history (optional system message, then
// user / assistant turns), rendered through the chat template each turn and generated on the calling
// thread with streaming callbacks. The reply's <think> part comes back apart from the answer, as the
// server's reasoning_content; only the answer goes into the history (as DeepSeek-R1's template drops past
// reasoning). Not here: terminal I/O and colours (tools/r1/cmd-chat.cpp).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "r1/engine.h"
#include "server/server-context.h"
#include "text/text-output.h"

namespace r1::server {

struct ChatReply {
  std::string content, reasoning;
  engine::FinishReason finish_reason = engine::FinishReason::kLength;
  int64_t prompt_tokens = 0, completion_tokens = 0;
};

class ChatSession {
 public:
  ChatSession(ServerContext& context, engine::SamplingParams params);
  void reset();                              // forget the conversation (the system message stays)
  void set_system(const std::string& text);  // "" removes it
  size_t turns() const { return history_.size(); }
  // Adds the user turn, generates the reply (on_delta gets each piece of text as it becomes final), adds
  // the reply's answer to the history. max_new_tokens is capped to the room left in the context.
  ChatReply send(const std::string& user, const std::function<void(const text::TextDelta&)>& on_delta);

 private:
  ServerContext& context_;
  engine::SamplingParams params_;
  std::string system_;
  nlohmann::ordered_json history_ = nlohmann::ordered_json::array();
};

}  // namespace r1::server
