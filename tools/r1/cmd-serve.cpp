// `r1 serve --model DIR`: the OpenAI-compatible HTTP server (r1/server.h). Option names follow vLLM's
// `vllm serve` (--host, --port, --api-key, --served-model-name, --chat-template, --reasoning-parser,
// --dtype); the work is in src/server/. This file parses options and runs the server until SIGINT/SIGTERM.
#include "commands.h"
#include "r1/server.h"

namespace r1::cli {

void add_serve_command(CLI::App& app, Invocation& ctx) {
  auto o = std::make_shared<server::ServerOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server (/v1/completions, /v1/chat/completions)");
  cmd->add_option("--model", o->model, "Hugging Face model directory (tokenizer.json beside the weights)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--host", o->host, "address to bind (0.0.0.0 exposes the server to the network)")
      ->capture_default_str();
  cmd->add_option("--port", o->port, "TCP port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o->api_key, "require 'Authorization: Bearer KEY' on /v1/* (default: R1_API_KEY)")
      ->envname("R1_API_KEY");
  cmd->add_option("--served-model-name", o->served_model_name, "model id in the API (default: directory name)");
  cmd->add_option("--max-batch", o->max_batch, "sequences decoded together")->capture_default_str()->check(kPositive);
  cmd->add_option("--max-seq-len", o->max_seq_len, "prompt + completion tokens per sequence (0: the model's)")
      ->capture_default_str();
  cmd->add_option("--max-tokens-limit", o->max_tokens_limit, "largest max_tokens a request may ask for")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--max-request-bytes", o->max_request_bytes, "largest request body (larger: 413)")
      ->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "load and compute in this dtype (bf16, fp16; default float32)");
  cmd->add_option("--chat-template", o->chat_template,
                  "auto (the tokenizer's chat_template, the default), none, a built-in name (chatml, qwen2.5, llama3, "
                  "deepseek-r1-distill, r1-zero, open-r1), a Jinja file or Jinja text");
  cmd->add_option("--reasoning-parser", o->reasoning_parser,
                  "deepseek-r1: return <think>...</think> as reasoning_content (requests may override with "
                  "\"reasoning_format\": \"deepseek\" | \"none\")")
      ->check(CLI::IsMember({"deepseek-r1"}));
  cmd->add_option("--http-threads", o->http_threads, "warm threads serving connections")->capture_default_str();
  cmd->add_option("--limit-concurrency", o->limit_concurrency,
                  "connections served at once (past --http-threads: one request each); more get 503 (as uvicorn)")
      ->capture_default_str();
  cmd->add_option("--request-read-timeout", o->request_read_timeout,
                  "seconds to read a whole request (line, headers, body); slower clients get 408 or are closed")
      ->capture_default_str();
  cmd->add_option("--timeout-keep-alive", o->timeout_keep_alive,
                  "seconds an idle keep-alive connection is kept (as uvicorn / vLLM)")
      ->capture_default_str();
  cmd->add_option("--keep-alive-max-requests", o->keep_alive_max_requests,
                  "requests on one connection before the server closes it")
      ->capture_default_str();
  cmd->add_flag(
      "--quiet", [o](int64_t) { o->log_requests = false; }, "no request log on stderr");
  cmd->callback([&ctx, o] {
    ctx.run = [&ctx, o] {
      o->device = ctx.runtime.device;
      if (ctx.runtime.seed >= 0) o->seed = uint64_t(ctx.runtime.seed);
      return server::run_server(*o);
    };
  });
}

}  // namespace r1::cli
