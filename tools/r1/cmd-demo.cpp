// `r1 demo [--recipe r1-zero|r1] [--out DIR] [--seed 0] [--grpo-steps N] ...`: the whole R1-Zero pipeline, or
// DeepSeek-R1's whole recipe with the student comparison, on the built-in addition task (r1/demo.h), printing each
// stage's time and a results table and the path of the HTML report. Re-running skips the stages whose outputs
// exist; Ctrl-C stops a training stage with a checkpoint.
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <functional>

#include "commands.h"
#include "r1/demo.h"

namespace r1::cli {
namespace {

std::atomic<bool> g_demo_stop{false};

void on_demo_stop(int signal) {
  g_demo_stop.store(true);
  std::signal(signal, SIG_DFL);
}

using Apply = std::function<void(demo::DemoOptions&)>;

void print_stage_times(const std::vector<demo::StageTime>& stages) {
  double total = 0;
  fmt::print("\n{:<26} {:>8}\n", "stage", "seconds");
  for (const auto& s : stages) {
    total += s.seconds;
    fmt::print("{:<26} {:>8}\n", s.stage, s.skipped ? "skipped" : fmt::format("{:.1f}", s.seconds));
  }
  fmt::print("{:<26} {:>8.1f}\n\n", "total", total);
}

int run_r1_zero(const demo::DemoOptions& o) {
  demo::DemoResult r = demo::run_demo(o, &g_demo_stop);
  if (r.interrupted) {
    fmt::print("interrupted; run r1 demo again to continue where it stopped\n");
    return 130;
  }
  print_stage_times(r.stages);
  fmt::print("held-out ({} problems x {} samples)  pass@1  format  length\n", r.before.problems, o.eval_samples);
  fmt::print("  base model                        {:6.3f}  {:6.3f}  {:6.1f}\n", r.before.pass_at_1,
             r.before.format_rate, r.before.mean_length);
  fmt::print("  after GRPO                        {:6.3f}  {:6.3f}  {:6.1f}\n", r.after.pass_at_1, r.after.format_rate,
             r.after.mean_length);
  fmt::print("  GRPO lift in pass@1: {:+.1f} points\nreport: {}\n", 100 * (r.after.pass_at_1 - r.before.pass_at_1),
             r.report.string());
  return 0;
}

int run_r1(const demo::R1DemoOptions& o) {
  demo::R1DemoResult r = demo::run_r1_demo(o, &g_demo_stop);
  if (r.interrupted) {
    fmt::print("interrupted; run r1 demo --recipe r1 again to continue where it stopped\n");
    return 130;
  }
  print_stage_times(r.work);
  fmt::print("held-out: {} problems x {} samples\n{}summary: {}\nreport: {}\n", o.zero.test_problems,
             o.zero.eval_samples, r.table(), (o.zero.out_dir / "summary.json").string(), r.report.string());
  return 0;
}

}  // namespace

void add_demo_command(CLI::App& app, Invocation& ctx) {
  // Options bind to the R1-Zero defaults; with --recipe r1 those given on the command line replace the R1 demo's.
  auto zero = std::make_shared<demo::DemoOptions>();
  auto r1_options = std::make_shared<demo::R1DemoOptions>();
  auto recipe = std::make_shared<std::string>("r1-zero");
  auto out_dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "R1-Zero end to end on a built-in task (pretrain, GRPO, held-out pass@1 before/after); --recipe r1: "
      "DeepSeek-R1's stages and distillation vs RL on a smaller student");
  cmd->add_option("--recipe", *recipe,
                  "r1-zero: pretraining + GRPO; r1: R1-Zero, cold-start SFT, reasoning RL with language consistency, "
                  "rejection sampling + SFT, final RL, then a student distilled vs trained by RL")
      ->check(CLI::IsMember({"r1-zero", "r1"}))
      ->capture_default_str();
  cmd->add_option("--out", *out_dir,
                  "directory of every stage's output (re-running skips finished stages); default runs/demo, "
                  "runs/demo-r1 with --recipe r1");
  auto given = std::make_shared<std::vector<std::pair<CLI::Option*, Apply>>>();
  auto zero_option = [&](const std::string& name, auto demo::DemoOptions::*member, const std::string& help) {
    CLI::Option* opt = cmd->add_option(name, (*zero).*member, help)->capture_default_str();
    given->emplace_back(opt, [zero, member](demo::DemoOptions& into) { into.*member = (*zero).*member; });
  };
  zero_option("--seed", &demo::DemoOptions::seed, "seed of the task, the corpus, the models and every sampler");
  zero_option("--pretrain-steps", &demo::DemoOptions::pretrain_steps,
              "optimizer steps of pretraining (the teacher with --recipe r1)");
  zero_option("--grpo-steps", &demo::DemoOptions::grpo_steps,
              "optimizer steps of GRPO (R1-Zero's; --recipe r1 default: 50)");
  zero_option("--careful-fraction", &demo::DemoOptions::careful_fraction,
              "share of careful worked solutions in the pretraining corpus");
  zero_option("--max-operand", &demo::DemoOptions::max_operand,
              "largest operand: problems add every pair of numbers from 10 (a harder task: 999)");
  zero_option("--eval-samples", &demo::DemoOptions::eval_samples, "samples per held-out problem for pass@1");
  zero_option("--beta", &demo::DemoOptions::beta, "GRPO KL coefficient");
  zero_option("--chinese-fraction", &demo::DemoOptions::chinese_fraction,
              "share of problems posed in Chinese (--recipe r1 default: 0.3)");
  cmd->add_option("--student-pretrain-steps", r1_options->student_pretrain_steps,
                  "--recipe r1: optimizer steps of the student's pretraining")
      ->capture_default_str();
  cmd->add_option("--rl-steps", r1_options->rl_steps,
                  "--recipe r1: optimizer steps of the RL stages that follow an SFT (reasoning RL, final RL)")
      ->capture_default_str();
  cmd->add_option("--student-rl-steps", r1_options->student_rl_steps,
                  "--recipe r1: optimizer steps of the student's GRPO")
      ->capture_default_str();
  cmd->add_option("--threads", ctx.runtime.threads, "intra-op CPU threads (0 = one per physical core)");
  cmd->callback([zero, r1_options, recipe, out_dir, given, &ctx] {
    ctx.run = [zero, r1_options, recipe, out_dir, given] {
      std::signal(SIGINT, on_demo_stop);
      std::signal(SIGTERM, on_demo_stop);
      if (*recipe == "r1-zero") {
        if (!out_dir->empty()) zero->out_dir = *out_dir;
        return run_r1_zero(*zero);
      }
      for (const auto& [opt, apply] : *given)
        if (opt->count() > 0) apply(r1_options->zero);
      if (!out_dir->empty()) r1_options->zero.out_dir = *out_dir;
      return run_r1(*r1_options);
    };
  });
}

}  // namespace r1::cli
