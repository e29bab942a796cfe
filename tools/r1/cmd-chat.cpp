// `r1 chat --model DIR`: an interactive terminal chat with a local model (r1::text::ChatSession). Reads
// stdin line by line (so it also runs through a pipe), streams each reply as it is generated, shows the
// <think> part dim on a terminal and between plain <think> / </think> markers otherwise. Commands: /reset,
// /system TEXT, /help, /exit (as llama.cpp's llama-cli / ollama run conversations).
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "commands.h"
#include "r1/text.h"

namespace r1::cli {
namespace {

struct ChatOptions {
  text::TextEngineOptions context;
  engine::SamplingParams params;
  std::string system;
};

int run_chat(const Invocation& ctx, ChatOptions& o) {
  o.context.device = ctx.runtime.device;
  if (ctx.runtime.seed >= 0) o.context.seed = uint64_t(ctx.runtime.seed);
  text::ChatSession session(o.context, o.params);
  session.set_system(o.system);
  const bool tty_out = isatty(STDOUT_FILENO), tty_in = isatty(STDIN_FILENO);
  const char* dim = tty_out ? "\033[2m" : "<think>\n";
  const char* undim = tty_out ? "\033[0m\n" : "\n</think>\n";
  if (tty_in) fmt::print("r1 chat: {} — /reset, /system TEXT, /help, /exit\n", o.context.model.string());
  for (;;) {
    if (tty_in) fmt::print(">>> ");
    std::fflush(stdout);
    std::string line;
    if (!std::getline(std::cin, line)) break;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/help") {
      fmt::print(
          "/reset          forget the conversation\n/system TEXT    set the system message (and reset)\n"
          "/exit           leave\n");
      continue;
    }
    if (line == "/reset") {
      session.reset();
      fmt::print("(conversation reset)\n");
      continue;
    }
    if (line == "/system" || line.rfind("/system ", 0) == 0) {
      session.set_system(line.size() > 8 ? line.substr(8) : "");
      session.reset();
      fmt::print("(system message {}; conversation reset)\n", line.size() > 8 ? "set" : "removed");
      continue;
    }
    if (line[0] == '/') {
      fmt::print("unknown command {} (try /help)\n", line);
      continue;
    }
    bool thinking = false;
    text::ChatReply reply = session.send(line, [&](const text::TextDelta& d) {
      if (!d.reasoning.empty()) {
        if (!thinking) fmt::print("{}", dim);
        thinking = true;
        fmt::print("{}", d.reasoning);
      }
      if (!d.content.empty()) {
        if (thinking) fmt::print("{}", undim);
        thinking = false;
        fmt::print("{}", d.content);
      }
      std::fflush(stdout);
    });
    if (thinking) fmt::print("{}", undim);
    if (reply.finish_reason == engine::FinishReason::kLength) fmt::print(" [length limit]");
    fmt::print("\n");
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

void add_chat_command(CLI::App& app, Invocation& ctx) {
  auto o = std::make_shared<ChatOptions>();
  o->params.temperature = 0.7;
  o->params.max_new_tokens = 512;
  CLI::App* cmd = app.add_subcommand("chat", "interactive chat with a model in the terminal (stdin lines)");
  cmd->add_option("--model", o->context.model, "Hugging Face model directory (tokenizer.json beside the weights)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--chat-template", o->context.chat_template,
                  "auto (the tokenizer's, the default), none, a built-in name, a Jinja file or Jinja text");
  cmd->add_option("--system", o->system, "system message");
  cmd->add_option("--temperature", o->params.temperature, "0: greedy")->capture_default_str()->check(kNonNegative);
  cmd->add_option("--top-p", o->params.top_p, "nucleus sampling")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--top-k", o->params.top_k, "0: off")->capture_default_str();
  cmd->add_option("--min-p", o->params.min_p, "0: off")->capture_default_str();
  cmd->add_option("--repetition-penalty", o->params.repetition_penalty, "1: off")->capture_default_str();
  cmd->add_option("--max-tokens", o->params.max_new_tokens, "longest reply")->capture_default_str()->check(kPositive);
  cmd->add_option("--dtype", o->context.dtype, "load and compute in this dtype (bf16, fp16; default float32)");
  cmd->add_option("--max-seq-len", o->context.max_seq_len, "context length (0: the model's)")->capture_default_str();
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_chat(ctx, *o); }; });
}

}  // namespace r1::cli
