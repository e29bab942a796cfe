// The OpenAI-compatible endpoints on an httplib::Server: GET /health, GET /v1/models, POST /v1/completions,
// POST /v1/chat/completions (JSON or SSE streaming). Each generation request is parsed (protocol.h),
// tokenized (server-context.h), submitted to the scheduler thread (scheduler.h) and answered from its
// events, as vLLM's OpenAI server does. Not here: authentication, size limits and error pages (http.cpp).
#pragma once

#include <atomic>
#include <string>

#include "server/protocol.h"
#include "server/scheduler.h"
#include "server/server-context.h"

namespace httplib {
class Server;
}

namespace r1::server {

struct RouteContext {
  ServerContext* context = nullptr;
  Scheduler* scheduler = nullptr;
  std::string served_model_name;
  bool reasoning_default = false;  // --reasoning-parser deepseek-r1
  Limits limits;
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> running{0};  // generation requests being answered (GET /health reports it)
};

void register_routes(httplib::Server& http, RouteContext& routes);

}  // namespace r1::server
