// r1::server::Server (include/r1/server.h): cpp-httplib around the routes — Bearer API key on /v1/* (as vLLM's
// --api-key, compared over the header's exact bytes; /health stays open), the request-size limit (413),
// OpenAI-style JSON for every error page (401, 404, 408, 413, 500, and the 503 past the connection limit),
// connection limits and read deadlines (connections.h), the request log, and run_server's clean
// shutdown on SIGINT / SIGTERM (stop-signals.h: a watcher thread calls stop(); a second signal exits at once).
// Workaround: cpp-httplib 0.11.4 listens with a backlog of 5; with a few dozen clients connecting at once its
// own client saw connections closed unanswered (1 to 14 of 32), so the socket is re-listened with SOMAXCONN.
#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "r1/error.h"
#include "r1/server.h"
#include "server/connections.h"
#include "server/routes.h"
#include "server/stop-signals.h"

namespace r1::server {
using json = nlohmann::json;

namespace {
// Constant time in the content: every byte of `a` is compared, whatever differs first.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= uint8_t(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

// Compares the Authorization header's exact bytes as received (connections.h): Request::get_header_value
// goes through a C string, so "Bearer <key>\0<anything>" read as the key, and httplib percent-decodes header
// values, so "Bearer <key>%00" did too. A repeated Authorization header is refused.
bool authorized(const std::string& expected) {
  std::vector<std::string> values = current_raw_header("Authorization");
  return values.size() == 1 && same_secret(values[0], expected);
}

void check_connection_options(const ServerOptions& o) {
  if (o.http_threads < 1) fail_usage("--http-threads must be at least 1, got {}", o.http_threads);
  if (o.limit_concurrency < o.http_threads)
    fail_usage("--limit-concurrency ({}) must be at least --http-threads ({})", o.limit_concurrency, o.http_threads);
  if (!(o.request_read_timeout > 0))
    fail_usage("--request-read-timeout must be positive, got {}", o.request_read_timeout);
  if (o.timeout_keep_alive < 1) fail_usage("--timeout-keep-alive must be at least 1, got {}", o.timeout_keep_alive);
  if (o.keep_alive_max_requests < 1)
    fail_usage("--keep-alive-max-requests must be at least 1, got {}", o.keep_alive_max_requests);
}

ConnectionLimits connection_limits(const ServerOptions& o) {
  ConnectionLimits l;
  l.pool_threads = o.http_threads;
  l.max_connections = o.limit_concurrency;
  l.request_read_timeout =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.request_read_timeout));
  l.keep_alive_timeout = std::chrono::seconds(o.timeout_keep_alive);
  l.keep_alive_max_requests = o.keep_alive_max_requests;
  l.max_request_bytes = size_t(o.max_request_bytes);
  return l;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void json_error(httplib::Response& res, int status, const std::string& message, const std::string& type,
                const std::string& code = "") {
  res.status = status;
  res.set_content(dump(error_body(ApiError(status, message, type, "", code))), "application/json");
}
}  // namespace

struct Server::Impl {
  ServerOptions options;
  std::unique_ptr<text::TextEngine> text_engine;
  std::unique_ptr<EngineThread> engine_thread;
  RouteState routes;
  HttpServer http;
  std::thread listener;
  int port = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool started = false, stopped = false, finished = false;  // finished: stop() has joined everything
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.options = std::move(options);
  const ServerOptions& o = s.options;
  if (o.reasoning_parser != "" && o.reasoning_parser != "deepseek-r1")
    fail_usage("--reasoning-parser: expected deepseek-r1, got '{}'", o.reasoning_parser);
  if (o.max_batch < 1) fail_usage("--max-batch must be at least 1, got {}", o.max_batch);
  if (o.max_tokens_limit < 1) fail_usage("--max-tokens-limit must be at least 1, got {}", o.max_tokens_limit);
  if (o.max_request_bytes < 64) fail_usage("--max-request-bytes must be at least 64, got {}", o.max_request_bytes);
  if (o.port < 0 || o.port > 65535) fail_usage("--port must be in 0..65535, got {}", o.port);
  check_connection_options(o);

  text::TextEngineOptions co;
  co.model = o.model;
  co.dtype = o.dtype;
  co.device = o.device;
  co.chat_template = o.chat_template;
  co.max_batch = o.max_batch;
  co.max_seq_len = o.max_seq_len;
  co.seed = o.seed;
  s.text_engine = std::make_unique<text::TextEngine>(co);
  s.engine_thread = std::make_unique<EngineThread>(s.text_engine->engine());

  s.routes.text_engine = s.text_engine.get();
  s.routes.engine_thread = s.engine_thread.get();
  std::string name = o.served_model_name;
  if (name.empty()) name = std::filesystem::weakly_canonical(o.model).filename().string();
  s.routes.served_model_name = name;
  s.routes.reasoning_default = o.reasoning_parser == "deepseek-r1";
  s.routes.limits.max_tokens_limit = o.max_tokens_limit;
  s.routes.limits.max_n = std::max<int64_t>(16, o.max_batch);
  s.routes.limits.vocab_size = int32_t(s.text_engine->model_config().vocab_size);

  HttpServer& http = s.http;
  http.set_limits(connection_limits(o));
  // serve_connection applies these; httplib only writes them into the Keep-Alive response header.
  http.set_keep_alive_timeout(o.timeout_keep_alive);
  http.set_keep_alive_max_count(size_t(o.keep_alive_max_requests));
  http.set_payload_max_length(o.max_request_bytes);
  std::string api_key = o.api_key;
  http.set_pre_routing_handler([api_key](const httplib::Request& req, httplib::Response& res) {
    if (api_key.empty() || req.path.rfind("/v1/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
    if (authorized("Bearer " + api_key)) return httplib::Server::HandlerResponse::Unhandled;
    json_error(res, 401, "Incorrect or missing API key: send the header 'Authorization: Bearer <key>'.",
               "invalid_request_error", "invalid_api_key");
    return httplib::Server::HandlerResponse::Handled;
  });
  size_t limit = o.max_request_bytes;
  Clock::duration timeout = http.limits().request_read_timeout;
  http.set_error_handler([limit, timeout](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (current_request_timed_out())
      json_error(res, 408,
                 fmt::format("The request was not read within this server's limit of {} s "
                             "(--request-read-timeout).",
                             seconds(timeout)),
                 "invalid_request_error", "request_timeout");
    else if (res.status == 413 || current_request_too_large())
      json_error(res, 413,
                 fmt::format("The request body is larger than this server's limit of {} bytes "
                             "(--max-request-bytes; a chunked body counts its framing too).",
                             limit),
                 "invalid_request_error", "request_too_large");
    else if (res.status == 404)
      json_error(res, 404, fmt::format("Not found: {} {}", req.method, req.path), "invalid_request_error");
    else if (res.status == 405)
      json_error(res, 405, fmt::format("Method not allowed: {} {}", req.method, req.path), "invalid_request_error");
    else if (res.status == 400)  // httplib could not parse the request itself (its handlers never saw it)
      json_error(res, 400,
                 "The request is not valid HTTP/1.1: a malformed request line or header, or a body whose "
                 "Content-Length / chunked framing is invalid.",
                 "invalid_request_error", "malformed_http");
    else
      json_error(res, res.status, fmt::format("HTTP error {}", res.status),
                 res.status >= 500 ? "server_error" : "invalid_request_error");
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    json_error(res, 500, "internal server error: " + what, "server_error");
  });
  if (o.log_requests)
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      fmt::print(stderr, "r1 serve: {} {} {} {}\n", req.remote_addr, req.method, req.path, res.status);
    });
  register_routes(http, s.routes);
}

Server::~Server() { stop(); }

void Server::start() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.started) fail("the server is already started");
    s.started = true;
  }
  const ServerOptions& o = s.options;
  if (o.port == 0) {
    s.port = s.http.bind_to_any_port(o.host);
    if (s.port <= 0) fail("cannot listen on {} (any port)", o.host);
  } else {
    if (!s.http.bind_to_port(o.host, o.port))
      fail("cannot listen on {}:{} (address in use, or not an address of this machine)", o.host, o.port);
    s.port = o.port;
  }
  if (::listen(s.http.listening_socket(), SOMAXCONN) != 0) fail("cannot listen on {}:{}", o.host, s.port);
  s.listener = std::thread([&s] { s.http.listen_after_bind(); });
}

int Server::port() const { return impl_->port; }
const std::string& Server::model_name() const { return impl_->routes.served_model_name; }

void Server::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stopped) return;
    s.stopped = true;
  }
  s.routes.stopping = true;
  s.engine_thread->stop();  // in-flight requests are cancelled; their handlers write the end of their responses
  s.http.stop();
  if (s.listener.joinable()) s.listener.join();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.finished = true;
  }
  s.cv.notify_all();
}

void Server::wait() {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.mu);
  s.cv.wait(lock, [&] { return s.finished; });
}

int run_server(const ServerOptions& options) {
  Server server(options);
  {
    StopOnSignals signals([&server] { server.stop(); });
    server.start();
    fmt::print(stderr, "r1 serve: model '{}' on http://{}:{} (OpenAI API under /v1; Ctrl-C to stop)\n",
               server.model_name(), options.host, server.port());
    server.wait();
  }
  fmt::print(stderr, "r1 serve: stopped\n");
  return 0;
}

}  // namespace r1::server
