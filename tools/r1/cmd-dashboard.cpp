// `r1 dashboard [RUNS_DIR...]`: live training curves and logged completions in the browser (r1/dashboard.h),
// TensorBoard's defaults (port 6006, localhost only, runs found recursively). This file parses options and runs
// the dashboard until SIGINT / SIGTERM; the work is in src/server/dashboard*.cpp and the page in web/.
#include "commands.h"
#include "r1/dashboard.h"

namespace r1::cli {

void add_dashboard_command(CLI::App& app, Invocation& ctx) {
  auto o = std::make_shared<server::DashboardOptions>();
  auto dirs = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand(
      "dashboard", "live training curves of every run under the directories, and their completions, in the browser");
  cmd->footer(
      "A run is a directory with metrics.jsonl (every trainer writes one in its output_dir), found recursively.\n"
      "Every numeric key of its rows is charted; runs are overlaid, one colour each; curves grow while runs\n"
      "train. GRPO / PPO runs with log_completions: true also show their completions by step and reward.\n"
      "Example: r1 grpo --config recipes/grpo-demo.yaml &  r1 dashboard runs   then open http://127.0.0.1:6006/");
  cmd->add_option("RUNS_DIR", *dirs, "directories searched for runs (default: runs)");
  cmd->add_option("--host", o->host, "address to bind (0.0.0.0 exposes the dashboard to the network)")
      ->capture_default_str();
  cmd->add_option("--port", o->port, "TCP port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--reload-interval", o->reload_interval, "seconds between the page's polls for new rows")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 3600.0));
  cmd->add_flag("--log-requests", o->log_requests, "one line per HTTP request on stderr");
  cmd->callback([&ctx, o, dirs] {
    ctx.run = [o, dirs] {
      o->run_dirs.assign(dirs->begin(), dirs->end());
      return server::run_dashboard(*o);
    };
  });
}

}  // namespace r1::cli
