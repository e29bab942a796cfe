// `r1 data self-instruct`: seed tasks -> new instruction / input / output triples from a model (Stanford Alpaca's
// generate_instruction.py, BELLE's Chinese version), with a local model or an OpenAI-compatible server. Option names
// follow Alpaca's arguments (num_instructions_to_generate -> --num-instructions, num_prompt_instructions,
// request_batch_size) and r1 generate's model and sampling options. The work is in the library
// (r1/self-instruct.h); this file parses options and prints the summary.
#include <fmt/format.h>

#include <cstdlib>

#include "commands.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/model.h"
#include "r1/self-instruct.h"

namespace r1::cli {

namespace {

struct SelfInstructCommandOptions {
  pipeline::SelfInstructOptions run;
  std::string model, dtype, prompt_file;
  bool quiet = false;
};

int run_self_instruct(const Invocation& ctx, SelfInstructCommandOptions& o) {
  pipeline::SelfInstructOptions& r = o.run;
  text::DatasetGenerateOptions& g = r.generation;
  g.model_dir = o.model;
  g.device = ctx.runtime.device;
  if (!o.dtype.empty()) g.engine.dtype = model::parse_dtype(o.dtype);
  if (!g.server_url.empty() && g.api_key.empty())
    if (const char* key = std::getenv("OPENAI_API_KEY")) g.api_key = key;
  r.seed = uint64_t(ctx.runtime.seed < 0 ? 42 : ctx.runtime.seed);
  if (!o.prompt_file.empty()) r.prompt_header = read_file(o.prompt_file);
  pipeline::SelfInstructReport report = pipeline::self_instruct(r, [&](const pipeline::SelfInstructReport& p) {
    if (!o.quiet) fmt::print(stderr, "\rinstructions {}/{}, requests {}", p.kept, r.num_instructions, p.requests);
  });
  if (!o.quiet && report.requests > 0) fmt::print(stderr, "\n");
  fmt::print("{}wrote {}{}\n", report.format(), r.output.string(),
             r.rejected.empty() ? "" : ", rejected " + r.rejected.string());
  return 0;
}

}  // namespace

void add_data_self_instruct_command(CLI::App& data, Invocation& ctx) {
  auto o = std::make_shared<SelfInstructCommandOptions>();
  pipeline::SelfInstructOptions& r = o->run;
  text::DatasetGenerateOptions& g = r.generation;
  g.chat_template = "none";  // Alpaca's completion prompt
  g.sampling.temperature = 1.0;
  g.sampling.top_p = 1.0;
  g.sampling.max_new_tokens = 1024;
  CLI::App* cmd = data.add_subcommand(
      "self-instruct",
      "make instruction data (instruction, input, output) from seed tasks with a model, as Stanford Alpaca and BELLE "
      "did (self-instruct)");
  cmd->footer(
      "\nEach request shows --num-prompt-instructions seed tasks drawn at random (by --seed and the request number)\n"
      "as a numbered list ('1. Instruction: ... 1. Input: ... 1. Output: ...', '###' between tasks; Chinese:\n"
      "指令 / 输入 / 输出) and asks the model to continue it to --num-tasks. Replies are cut into tasks and dropped\n"
      "when truncated or malformed, when the instruction's length is out of bounds (words for en, characters for\n"
      "zh), holds a blocked keyword, starts with 'Write a program', with punctuation or (en) a non-ASCII character,\n"
      "when the output is not text, or when its ROUGE-L F with an instruction of the pool (the seeds and every kept\n"
      "instruction) exceeds --rouge-threshold. Kept tasks are appended to --output in Alpaca's columns (what `r1 sft`\n"
      "reads); after each round OUTPUT.state.json records the requests made, so --resume continues a stopped run.\n"
      "Seed tasks: Alpaca's seed_tasks.jsonl rows, or flat instruction/input/output rows; a 'language' column (en,\n"
      "zh) limits a seed to prompts in that language. recipes/self-instruct/seed_tasks.jsonl holds 20 + 20.");
  cmd->add_option("--seed-tasks", r.seed_tasks, "seed tasks (JSONL)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--output", r.output, "JSONL output (instruction, input, output)")->required();
  cmd->add_option("--rejected", r.rejected, "also write every dropped task with its reason (JSONL)");
  cmd->add_option("--language", r.filters.language, "en (Alpaca's prompt and rules) or zh (BELLE's)")
      ->capture_default_str();
  cmd->add_option("--num-instructions", r.num_instructions, "instructions the output should hold")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--num-prompt-instructions", r.num_prompt_instructions, "seed tasks shown per request")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--request-batch-size", r.request_batch_size, "requests per round")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--num-tasks", r.num_tasks, "the list length the prompt asks for (generation stops there)")
      ->capture_default_str();
  cmd->add_option("--rouge-threshold", r.rouge_threshold, "drop a task whose ROUGE-L F with the pool exceeds this")
      ->capture_default_str();
  cmd->add_option("--min-instruction-length", r.filters.min_instruction_length,
                  "fewest words (en) or characters (zh) an instruction may have")
      ->capture_default_str();
  cmd->add_option("--max-instruction-length", r.filters.max_instruction_length, "most words / characters")
      ->capture_default_str();
  cmd->add_option("--blocked-keywords", r.filters.blocked_keywords,
                  "instructions holding one are dropped (ASCII: whole words, any case; others: anywhere)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--prompt-file", o->prompt_file,
                  "a file replacing the prompt's instructions ({num_tasks} is replaced); the examples follow")
      ->check(CLI::ExistingFile);
  cmd->add_option("--max-requests", r.max_requests, "stop after this many requests in all (0: no limit)")
      ->capture_default_str()
      ->check(kNonNegative);
  cmd->add_flag("--resume", r.resume, "continue an existing --output: its rows count and join the pool");
  cmd->add_flag("--overwrite", r.overwrite, "replace an existing --output (and --rejected)");
  cmd->add_flag("--quiet", o->quiet, "no progress line");

  cmd->add_option("--model", o->model, "local model directory (config.json, weights, tokenizer.json)");
  cmd->add_option("--server", g.server_url, "OpenAI-compatible server, http://host:port[/v1], instead of --model");
  cmd->add_option("--server-model", g.server_model, "the 'model' sent to the server")->capture_default_str();
  cmd->add_option("--api-key", g.api_key, "server bearer token (default: $OPENAI_API_KEY)");
  cmd->add_option("--chat-template", g.chat_template,
                  "none: the prompt as text (/v1/completions, as Alpaca); auto, a built-in name, a file or Jinja: as a "
                  "user message (/v1/chat/completions, or the local model's template)")
      ->capture_default_str();
  cmd->add_option("--temperature", g.sampling.temperature, "sampling temperature")->capture_default_str();
  cmd->add_option("--top-p", g.sampling.top_p, "nucleus mass")->capture_default_str();
  cmd->add_option("--max-new-tokens,--max-tokens", g.sampling.max_new_tokens, "reply length limit")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--concurrency", g.concurrency, "server: requests in flight")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--timeout", g.timeout_seconds, "server: seconds per request")->capture_default_str();
  cmd->add_option("--retries", g.retries, "server: retries on connection errors, 429 and 5xx")
      ->capture_default_str()
      ->check(kNonNegative);
  cmd->add_option("--batch-size", g.engine.max_batch, "local: sequences decoded together")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--max-seq-len", g.engine.max_seq_len, "local: prompt + reply per slot (0: fitted)");
  cmd->add_option("--dtype", o->dtype, "local: compute dtype (float32, bfloat16)");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_self_instruct(ctx, *o); }; });
}

}  // namespace r1::cli
