// `r1 demo [--out runs/demo] [--seed 0] [--grpo-steps N] ...`: the whole R1-Zero pipeline on the built-in addition
// task (r1/demo.h), printing each stage's time, a before/after table and the path of the HTML report. Re-running
// skips the stages whose outputs exist; Ctrl-C stops pretraining or GRPO with a checkpoint.
#include <fmt/format.h>

#include <atomic>
#include <csignal>

#include "commands.h"
#include "r1/demo.h"

namespace r1::cli {
namespace {

std::atomic<bool> g_demo_stop{false};

void on_demo_stop(int signal) {
  g_demo_stop.store(true);
  std::signal(signal, SIG_DFL);
}

}  // namespace

void add_demo_command(CLI::App& app, Invocation& ctx) {
  auto o = std::make_shared<demo::DemoOptions>();
  CLI::App* cmd =
      app.add_subcommand("demo", "R1-Zero end to end on a built-in task: pretrain, GRPO, held-out pass@1 before/after");
  std::string out = o->out_dir.string();
  auto out_dir = std::make_shared<std::string>(out);
  cmd->add_option("--out", *out_dir, "directory of every stage's output (re-running skips finished stages)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the task, the corpus, the model and every sampler")
      ->capture_default_str();
  cmd->add_option("--pretrain-steps", o->pretrain_steps, "optimizer steps of pretraining")->capture_default_str();
  cmd->add_option("--grpo-steps", o->grpo_steps, "optimizer steps of GRPO")->capture_default_str();
  cmd->add_option("--careful-fraction", o->careful_fraction,
                  "share of careful worked solutions in the pretraining corpus")
      ->capture_default_str();
  cmd->add_option("--eval-samples", o->eval_samples, "samples per held-out problem for pass@1")->capture_default_str();
  cmd->add_option("--beta", o->beta, "GRPO KL coefficient")->capture_default_str();
  cmd->add_option("--threads", ctx.runtime.threads, "intra-op CPU threads (0 = one per physical core)");
  cmd->callback([o, out_dir, &ctx] {
    ctx.run = [o, out_dir] {
      o->out_dir = *out_dir;
      std::signal(SIGINT, on_demo_stop);
      std::signal(SIGTERM, on_demo_stop);
      demo::DemoResult r = demo::run_demo(*o, &g_demo_stop);
      if (r.interrupted) {
        fmt::print("interrupted; run r1 demo again to continue where it stopped\n");
        return 130;
      }
      double total = 0;
      fmt::print("\n{:<22} {:>8}\n", "stage", "seconds");
      for (const auto& s : r.stages) {
        total += s.seconds;
        fmt::print("{:<22} {:>8}\n", s.stage, s.skipped ? "skipped" : fmt::format("{:.1f}", s.seconds));
      }
      fmt::print("{:<22} {:>8.1f}\n\n", "total", total);
      fmt::print("held-out ({} problems x {} samples)  pass@1  format  length\n", r.before.problems, o->eval_samples);
      fmt::print("  base model                        {:6.3f}  {:6.3f}  {:6.1f}\n", r.before.pass_at_1,
                 r.before.format_rate, r.before.mean_length);
      fmt::print("  after GRPO                        {:6.3f}  {:6.3f}  {:6.1f}\n", r.after.pass_at_1,
                 r.after.format_rate, r.after.mean_length);
      fmt::print("  GRPO lift in pass@1: {:+.1f} points\nreport: {}\n", 100 * (r.after.pass_at_1 - r.before.pass_at_1),
                 r.report.string());
      return 0;
    };
  });
}

}  // namespace r1::cli
