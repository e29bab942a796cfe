// `r1 serve`: an OpenAI-compatible HTTP server (GET /health, GET /v1/models, POST /v1/completions,
// POST /v1/chat/completions, SSE streaming) over the generation engine, for curl, the openai clients,
// LLM-as-judge and `r1 eval`. Concurrent requests are batched by one engine thread. Behaviour follows the
// OpenAI API and vLLM's server (its extra sampling fields and --reasoning-parser deepseek-r1, which returns
// `<think>…</think>` as `reasoning_content`); llama-server's per-request `reasoning_format` also works.
// Safe defaults: binds 127.0.0.1, optional Bearer API key, request-size and max_tokens limits, JSON errors.
//
// Usage:
//   r1::server::ServerOptions options{.model = "runs/sft", .port = 0};  // 0: any free port
//   r1::server::Server server(options);  // loads the model
//   server.start();                      // serves on background threads
//   int port = server.port();            // POST http://127.0.0.1:<port>/v1/chat/completions
//   server.stop();                       // or r1::server::run_server(options): until SIGINT / SIGTERM
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace r1::server {

// ---- Options --------------------------------------------------------------------------------------------------------

struct ServerOptions {
  std::filesystem::path model;  // Hugging Face model directory, tokenizer beside the weights
  std::string host = "127.0.0.1";
  int port = 8000;                     // 0: any free port (Server::port() tells which)
  std::string api_key;                 // non-empty: /v1/* require "Authorization: Bearer <key>"
  std::string served_model_name;       // empty: the model directory's name
  int64_t max_batch = 16;              // sequences decoded together
  int64_t max_seq_len = 0;             // prompt + completion per sequence; 0: max_position_embeddings
  int64_t max_tokens_limit = 4096;     // largest max_tokens a request may ask for
  size_t max_request_bytes = 1 << 20;  // larger bodies are answered 413
  std::string dtype;                   // "": float32; "bf16" / "fp16": load and compute in that dtype
  std::string device = "cpu";
  std::string chat_template;          // "": the tokenizer's chat_template; else a built-in name or a file
  std::string reasoning_parser;       // "" | "deepseek-r1": split <think>…</think> into reasoning_content
  int http_threads = 64;              // warm threads serving connections
  int limit_concurrency = 256;        // connections served at once (beyond http_threads: one request each
                                      // on a short-lived thread); more get an immediate 503
  double request_read_timeout = 30;   // seconds to read a whole request (line, headers, body); else 408 / close
  int timeout_keep_alive = 5;         // seconds an idle keep-alive connection is kept
  int keep_alive_max_requests = 100;  // requests on one connection before the server closes it
  uint64_t seed = 42;                 // sampling seed for requests without their own
  bool log_requests = true;           // one line per request on stderr
};

// ---- The server -----------------------------------------------------------------------------------------------------

class Server {
 public:
  explicit Server(ServerOptions options);  // loads the model; r1::Error / r1::UsageError on bad options
  ~Server();                               // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();      // binds (r1::Error if it cannot) and serves on background threads
  int port() const;  // the bound port (after start)
  const std::string& model_name() const;
  // Stops accepting, cancels in-flight requests (they finish with finish_reason "abort"), joins every
  // thread. Idempotent; safe from any thread but a request handler.
  void stop();
  void wait();  // blocks until the server has stopped

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Starts a Server, prints where it listens, serves until SIGINT or SIGTERM, then stops it cleanly.
int run_server(const ServerOptions& options);

}  // namespace r1::server
