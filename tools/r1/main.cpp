// r1: one binary, one subcommand per pipeline stage. Parses the common options, configures the runtime
// and runs the chosen subcommand. Exit status: 0 success, 1 runtime error, 2 usage error; errors are one
// line on stderr ("r1: error: ..."), never a stack trace.
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.h"
#include "r1/distributed.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/runtime.h"
#include "r1/version.h"

namespace {
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// One line on stderr; with several ranks it names this one and is recorded so that the others name it too.
int report(const char* kind, const std::string& message, int status) {
  const r1::dist::World& world = r1::dist::world();
  if (world.distributed()) {
    r1::dist::record_failure(first_line(message));
    fmt::print(stderr, "r1: {} (rank {}): {}\n", kind, world.rank(), first_line(message));
  } else {
    fmt::print(stderr, "r1: {}: {}\n", kind, first_line(message));
  }
  return status;
}
// No --threads: the physical cores divided among this machine's ranks (r1 launch / torchrun / srun). A launch
// environment that does not parse leaves all the cores: init_from_environment reports it where it matters.
int default_threads_for_launch() {
  try {
    return r1::dist::default_threads(r1::physical_core_count(), r1::dist::read_launch_env());
  } catch (const r1::UsageError&) {
    return r1::physical_core_count();
  }
}
}  // namespace

int main(int argc, char** argv) {
  r1::bootstrap_process(argc, argv);
  at::set_num_threads(r1::physical_core_count());

  r1::cli::Invocation ctx;
  CLI::App app{
      "r1 trains reasoning language models end to end: tokenizer, pretraining, SFT, DPO, GRPO,\n"
      "rejection sampling, distillation, evaluation and serving, in one binary.",
      "r1"};
  app.set_version_flag("--version", [] { return fmt::format("r1 {}\n{}", R1_VERSION, r1::runtime_summary()); });
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--threads", ctx.runtime.threads, "intra-op CPU threads (0 = one per physical core)")
      ->check(CLI::Range(0, 1 << 16));
  app.add_option("--device", ctx.runtime.device, "cpu, cuda or cuda:N")->default_val("cpu");
  app.add_option("--seed", ctx.runtime.seed, "random seed for weights, sampling and data order")->default_val(42);
  r1::cli::add_model_command(app, ctx);
  r1::cli::add_tokenizer_command(app, ctx);
  r1::cli::add_data_command(app, ctx);
  r1::cli::add_verify_command(app, ctx);
  r1::cli::add_pretrain_command(app, ctx);
  r1::cli::add_sft_command(app, ctx);
  r1::cli::add_dpo_command(app, ctx);
  r1::cli::add_reward_command(app, ctx);
  r1::cli::add_distill_command(app, ctx);
  r1::cli::add_eval_command(app, ctx);
  r1::cli::add_generate_command(app, ctx);
  r1::cli::add_rejection_sample_command(app, ctx);
  r1::cli::add_pipeline_command(app, ctx);
  r1::cli::add_serve_command(app, ctx);
  r1::cli::add_dashboard_command(app, ctx);
  r1::cli::add_chat_command(app, ctx);
  r1::cli::add_grpo_command(app, ctx);
  r1::cli::add_ppo_command(app, ctx);
  r1::cli::add_demo_command(app, ctx);
  r1::cli::add_launch_command(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::vector<std::string> rest = app.remaining();
    if (app.get_subcommands().empty() && !rest.empty() && rest.front().rfind('-', 0) != 0) {
      fmt::print(stderr, "r1: usage error: unknown command '{}' (see 'r1 --help')\n", rest.front());
      return 2;
    }
    std::string where = "r1";
    for (const CLI::App* sub = &app; !sub->get_subcommands().empty();) {
      sub = sub->get_subcommands().front();
      where += " " + sub->get_name();
    }
    fmt::print(stderr, "r1: usage error: {} (see '{} --help')\n", first_line(e.what()), where);
    return 2;
  }
  try {
    if (ctx.runtime.threads == 0) ctx.runtime.threads = default_threads_for_launch();
    r1::configure_runtime(ctx.runtime);
    if (!ctx.run) {
      fmt::print(stderr, "r1: usage error: choose a subcommand (see 'r1 --help')\n");
      return 2;
    }
    return ctx.run();
  } catch (const r1::UsageError& e) {
    return report("usage error", e.what(), 2);
  } catch (const r1::Error& e) {
    return report("error", e.what(), 1);
  } catch (const c10::Error& e) {
    return report("error", e.what_without_backtrace(), 1);
  } catch (const nlohmann::json::exception& e) {  // a place that reads a JSON value without checking its type
    return report("error", "a JSON input holds a value of the wrong type or shape: " + r1::json_error_text(e), 1);
  } catch (const std::invalid_argument& e) {  // std::stoll & co. on text that is not a number
    return report("error", fmt::format("an input holds text that is not a number ({})", e.what()), 1);
  } catch (const std::out_of_range& e) {
    return report("error", fmt::format("an input holds a number out of range ({})", e.what()), 1);
  } catch (const std::filesystem::filesystem_error& e) {  // a path the library did not check first
    std::string where = e.path1().string();
    if (!e.path2().empty()) where += ", " + e.path2().string();
    return report("error", fmt::format("{}: {}", where, e.code().message()), 1);
  } catch (const std::exception& e) {
    return report("error", e.what(), 1);
  }
}
