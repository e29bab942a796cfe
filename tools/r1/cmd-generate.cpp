// `r1 generate`: a JSONL dataset -> completions, N per prompt (distilabel's TextGeneration in the open-r1
// pipeline, native): with a local model through the engine, or with --server through any OpenAI-compatible
// server. Option names follow TRL/vLLM (num_generations, temperature, top_p, max_new_tokens ...). The work is
// in src/text/dataset-generate.cpp; this file parses options (the sampling ones shared with rejection-sample,
// generation-options.h) and prints a summary.
#include <fmt/format.h>

#include <cstdlib>

#include "generation-options.h"
#include "r1/error.h"
#include "r1/model.h"
#include "r1/text.h"

namespace r1::cli {

namespace {

struct GenerateCommandOptions {
  GenerationCommandOptions generation;
  std::string output;
  bool quiet = false;
};

int run_generate(const Invocation& ctx, GenerateCommandOptions& o) {
  apply_generation_options(ctx, o.generation);
  text::DatasetGenerateOptions& job = o.generation.job;
  job.output = o.output;
  auto report = text::generate_dataset(job, [&](int64_t done, int64_t total) {
    if (!o.quiet) fmt::print(stderr, "\rrows {}/{}", done, total);
  });
  if (!o.quiet && report.generated > 0) fmt::print(stderr, "\n");
  fmt::print("{} rows ({} already done, {} generated), {} completions", report.rows, report.skipped, report.generated,
             report.completions);
  if (report.completion_tokens > 0)
    fmt::print(", {} tokens, generation {:.3f} s, {:.1f} tokens/s", report.completion_tokens, report.generation_seconds,
               report.completion_tokens / report.generation_seconds);
  fmt::print(" in {:.2f} s -> {}\n", report.seconds, o.output);
  return 0;
}

}  // namespace

void add_generate_command(CLI::App& app, Invocation& ctx) {
  auto o = std::make_shared<GenerateCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "generate", "JSONL prompts -> N completions each, with a local model or an OpenAI-compatible server");
  cmd->footer(
      "\nThe prompt of a row is --prompt-column (default 'prompt'), --template rendered with the row's columns\n"
      "('Solve: {{ problem }}'), or the conversation in --messages-column; the chat template is applied unless\n"
      "--chat-template none. Output rows are the input row plus 'generation' and 'finish_reason' (one row per\n"
      "completion), or 'generations' and 'finish_reasons' lists with --group-generations. Rows are written\n"
      "in input order as they finish. An existing --output is an error unless --resume (keep its complete\n"
      "rows, generate the rest; each row's seed derives from --seed and its index, so a resumed file equals an\n"
      "uninterrupted one) or --overwrite (start over). A reasoning server's reasoning_content is kept inside\n"
      "<think></think> before the answer.");
  cmd->add_option("--output", o->output, "JSONL output")->required();
  add_generation_options(cmd, o->generation);
  text::DatasetGenerateOptions& j = o->generation.job;
  cmd->add_flag("--group-generations", j.group_generations, "one output row per prompt with lists");
  cmd->add_option("--output-column", j.output_column, "name of the generation column")->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "no progress line");
  cmd->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_generate(ctx, *o); }; });
}

void add_generation_options(CLI::App* cmd, GenerationCommandOptions& o, const std::string& samples_name) {
  text::DatasetGenerateOptions& j = o.job;
  cmd->add_option("--input", o.input, "JSONL dataset")->required()->check(CLI::ExistingFile);
  cmd->add_option("--model", o.model, "local model directory (config.json, weights, tokenizer.json)");
  cmd->add_option("--prompt-column", j.prompt_column, "column holding the prompt text")->capture_default_str();
  cmd->add_option("--messages-column", j.messages_column, "column holding a list of {role, content} messages");
  cmd->add_option("--template", j.prompt_template, "prompt template with {{ column }} placeholders (Jinja)");
  cmd->add_option("--system-prompt", j.system_prompt, "system message put before each prompt");
  cmd->add_option("--chat-template", j.chat_template,
                  "auto (the tokenizer's, if any), none (raw text), a built-in name (chatml, qwen2.5, llama3, ...), a "
                  "file or Jinja text")
      ->capture_default_str();
  cmd->add_option(samples_name.empty() ? "--num-generations" : "--num-generations," + samples_name, j.num_generations,
                  "completions per prompt")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--limit", j.limit, "only the first N rows (0: all)")->check(kNonNegative);
  cmd->add_flag("--resume", j.resume, "continue an existing --output: rows already in it are skipped");
  cmd->add_flag("--overwrite", j.overwrite, "replace an existing --output");
  engine::SamplingParams& s = j.sampling;
  cmd->add_option("--max-new-tokens,--max-tokens", s.max_new_tokens, "completion length limit")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--temperature", s.temperature, "0: greedy")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "0: off")->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "nucleus mass (1: off)")->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "keep tokens with p >= min_p * max p (0: off)")->capture_default_str();
  cmd->add_option("--repetition-penalty", s.repetition_penalty, "HF/CTRL repetition penalty")->capture_default_str();
  cmd->add_option("--presence-penalty", s.presence_penalty, "OpenAI presence penalty")->capture_default_str();
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "OpenAI frequency penalty")->capture_default_str();
  cmd->add_option("--stop", o.stop, "stop string (repeatable); the completion is cut before it");
  cmd->add_flag("--ignore-eos", s.ignore_eos, "do not stop at eos (fixed-length completions, benchmarks)");
  cmd->add_option("--stop-token-id", o.stop_token_ids, "stop token id (repeatable), besides the eos ids");
  cmd->add_option("--batch-size", j.engine.max_batch, "local: sequences decoded together (KV-cache slots)")
      ->capture_default_str()
      ->check(kPositive);
  cmd->add_option("--max-seq-len", j.engine.max_seq_len,
                  "local: prompt + completion per slot (0: the longest prompt + --max-new-tokens, "
                  "at most the model's context)");
  cmd->add_option("--dtype", o.dtype, "local: compute dtype (float32, bfloat16); default: the checkpoint's load dtype");
  cmd->add_option("--server", j.server_url, "OpenAI-compatible server, http://host:port[/v1], instead of --model");
  cmd->add_option("--server-model", j.server_model, "the 'model' sent to the server")->capture_default_str();
  cmd->add_option("--api-key", j.api_key, "server bearer token (default: $OPENAI_API_KEY)");
  cmd->add_option("--concurrency", j.concurrency, "server: requests in flight")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--timeout", j.timeout_seconds, "server: seconds per request")->capture_default_str();
  cmd->add_option("--retries", j.retries, "server: retries on connection errors, 429 and 5xx")
      ->capture_default_str()
      ->check(kNonNegative);
}

void apply_generation_options(const Invocation& ctx, GenerationCommandOptions& o) {
  text::DatasetGenerateOptions& job = o.job;
  job.input = o.input;
  job.model_dir = o.model;
  job.device = ctx.runtime.device;
  job.seed = uint64_t(ctx.runtime.seed < 0 ? 42 : ctx.runtime.seed);
  job.sampling.stop = o.stop;
  job.sampling.stop_token_ids = o.stop_token_ids;
  if (!o.dtype.empty()) job.engine.dtype = model::parse_dtype(o.dtype);
  if (job.resume && job.overwrite) fail_usage("--resume and --overwrite exclude each other");
  if (job.server_url.empty() == o.model.empty()) fail_usage("give exactly one of --model DIR or --server URL");
  if (!job.server_url.empty() && job.api_key.empty())
    if (const char* key = std::getenv("OPENAI_API_KEY")) job.api_key = key;
}

}  // namespace r1::cli
