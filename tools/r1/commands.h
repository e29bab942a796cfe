// The CLI's command registry: each tools/r1/cmd-<verb>.cpp adds its subcommand to the CLI11 app and, when
// it is the one parsed, stores what to run in Invocation::run. main() runs it after applying --threads,
// --device and --seed, so commands see a configured runtime.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "r1/runtime.h"

namespace r1::cli {

// Number checks whose messages say the bound plainly (CLI11's PositiveNumber / NonNegativeNumber print
// DBL_MAX as the upper end of their range): "--limit: must be >= 0, got -1".
inline CLI::Validator at_least(double low, bool inclusive) {
  return CLI::Validator(
      [low, inclusive](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value)) return "expected a number, got '" + text + "'";
        if (inclusive ? value >= low : value > low) return {};
        return std::string("must be ") + (inclusive ? ">= " : "> ") + CLI::detail::to_string(low) + ", got " + text;
      },
      inclusive ? "NUMBER >= " + CLI::detail::to_string(low) : "NUMBER > " + CLI::detail::to_string(low));
}
inline const CLI::Validator kPositive = at_least(0, /*inclusive=*/false);
inline const CLI::Validator kNonNegative = at_least(0, /*inclusive=*/true);

// This run of the CLI: the global options and what the parsed subcommand will do.
struct Invocation {
  RuntimeOptions runtime;
  std::function<int()> run;  // set by the parsed subcommand; returns the exit status
};

void add_model_command(CLI::App& app, Invocation& ctx);
void add_data_command(CLI::App& app, Invocation& ctx);
void add_data_dedup_command(CLI::App& data, Invocation& ctx);          // cmd-data-dedup.cpp: `data dedup`
void add_data_decontaminate_command(CLI::App& data, Invocation& ctx);  // cmd-data-decontaminate.cpp
void add_tokenizer_command(CLI::App& app, Invocation& ctx);
void add_verify_command(CLI::App& app, Invocation& ctx);
void add_pretrain_command(CLI::App& app, Invocation& ctx);
void add_eval_command(CLI::App& app, Invocation& ctx);
void add_eval_gen_commands(CLI::App& eval, Invocation& ctx);    // cmd-eval-gen.cpp: `eval gen`, `eval judge`
void add_eval_reward_command(CLI::App& eval, Invocation& ctx);  // cmd-reward.cpp: `eval reward`
void add_generate_command(CLI::App& app, Invocation& ctx);
void add_rejection_sample_command(CLI::App& app, Invocation& ctx);
void add_pipeline_command(CLI::App& app, Invocation& ctx);
void add_serve_command(CLI::App& app, Invocation& ctx);
void add_dashboard_command(CLI::App& app, Invocation& ctx);
void add_chat_command(CLI::App& app, Invocation& ctx);
void add_grpo_command(CLI::App& app, Invocation& ctx);
void add_ppo_command(CLI::App& app, Invocation& ctx);
void add_demo_command(CLI::App& app, Invocation& ctx);
void add_launch_command(CLI::App& app, Invocation& ctx);  // cmd-launch.cpp: `launch` (torchrun without Python)
void add_sft_command(CLI::App& app, Invocation& ctx);
void add_dpo_command(CLI::App& app, Invocation& ctx);
void add_reward_command(CLI::App& app, Invocation& ctx);
void add_distill_command(CLI::App& app, Invocation& ctx);
void add_merge_lora_subcommand(CLI::App& model, Invocation& ctx);  // `r1 model merge-lora`

// `r1 data` subcommands in files of their own, registered by add_data_command.
void add_data_filter_command(CLI::App& data, Invocation& ctx);         // cmd-data-filter.cpp
void add_data_self_instruct_command(CLI::App& data, Invocation& ctx);  // cmd-data-self-instruct.cpp

}  // namespace r1::cli
