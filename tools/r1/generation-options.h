// The options of commands that sample from a model, local or remote (`r1 generate`, `r1 rejection-sample`): input
// columns, chat template, sampling (TRL / vLLM / OpenAI names), engine and server settings — declared once here so
// the commands read the same flags the same way.
#pragma once

#include <string>
#include <vector>

#include "commands.h"
#include "r1/text.h"

namespace r1::cli {

struct GenerationCommandOptions {
  text::DatasetGenerateOptions job;
  std::string input, model, dtype;
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
};

// Adds --input, --model, the prompt and chat-template options, --num-generations (with `samples_name` as an
// alias, e.g. "-n,--num-samples"), sampling, --limit, --resume/--overwrite, engine and server options.
void add_generation_options(CLI::App* cmd, GenerationCommandOptions& o, const std::string& samples_name = "");

// Fills `o.job` from the parsed options and the global ones (--device, --seed); r1::UsageError for options that
// exclude each other (--model and --server, --resume and --overwrite).
void apply_generation_options(const Invocation& ctx, GenerationCommandOptions& o);

}  // namespace r1::cli
