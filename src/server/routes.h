// The OpenAI-compatible endpoints on an httplib::Server: GET /health, GET /v1/models, POST /v1/completions,
// POST /v1/chat/completions (JSON or SSE streaming). Each generation request is parsed (protocol.h),
// tokenized (text/text-engine.h), submitted to the engine thread (engine-thread.h) and answered from its
// events, as vLLM's OpenAI server does. Not here: authentication, size limits and error pages (http.cpp).
#pragma once

#include <atomic>
#include <string>

#include "server/engine-thread.h"
#include "server/protocol.h"
#include "text/text-engine.h"

namespace httplib {
class Server;
}

namespace r1::server {

struct RouteState {
  text::TextEngine* text_engine = nullptr;
  EngineThread* engine_thread = nullptr;
  std::string served_model_name;
  bool reasoning_default = false;  // --reasoning-parser deepseek-r1
  Limits limits;
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> running{0};  // generation requests being answered (GET /health reports it)
};

void register_routes(httplib::Server& http, RouteState& routes);

}  // namespace r1::server
