// The R1 demo (r1/demo.h, `r1 demo --recipe r1`): DeepSeek-R1's four stages and its distillation experiment on the
// bilingual addition task, every step a stage of the demo's StageLog (skipped when its output exists, training
// resumed from its checkpoint). The models, under out_dir:
//   base/               pretrained on the corpus (careful or guessed solutions; Chinese problems think in either
//                       language)
//   r1-zero/            GRPO from base, accuracy + format (language consistency logged with weight 0)
//   cold-start-sft/     SFT of base on cold-start.jsonl: R1-Zero's correct, well-formed responses whose chain of
//   thought
//                       is in the problem's language (§2.3.1's readable cold-start data)
//   reasoning-rl/       GRPO from cold-start-sft, accuracy + format + language consistency (§2.3.2)
//   rs-sft/             SFT of base for two epochs on rejection-sampling.jsonl: reasoning-rl's correct, readable
//                       responses (§2.3.3)
//   final-rl/           GRPO from rs-sft on the prompts rejection sampling did not always solve (open-r1's pass-rate
//                       filter), same rewards: §2.3.4's RL for all scenarios, reasoning part (no reward model yet)
//   student-base/       a smaller model pretrained on the same corpus
//   student-distilled/  SFT of student-base on distill.jsonl: final-rl's correct, readable responses (§2.4)
//   student-rl/         GRPO from student-base, the reasoning-rl rewards (§4.1's comparison)
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "pipeline/demo-stages.h"
#include "r1/demo.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/rejection-sample.h"
#include "r1/train.h"

namespace r1::demo {
namespace fs = std::filesystem;
using namespace detail;

namespace {

// The rows [first, first + count) of the training split (fewer when it ends), as prompts for rejection sampling.
void write_prompt_slice(const data::TaskSplits& task, size_t first, int64_t count, const fs::path& path) {
  std::vector<nlohmann::json> rows;
  for (size_t i = first; i < task.train.size() && int64_t(rows.size()) < count; ++i)
    rows.push_back(problem_row(task.train[i]));
  if (rows.empty()) fail_usage("demo: the training split has no problems left for {}", path.filename().string());
  write_jsonl(path, rows);
}

// Samples responses from `model` and keeps the correct, well-formed ones whose chain of thought is in the prompt's
// language (R1's readability filter), one per prompt after duplicates are removed; SFT-ready prompt/completion
// rows. `pass_rate_output` (optional): the prompts solved less than always.
void rejection_sample_stage(const R1DemoOptions& o, const fs::path& model, const fs::path& prompts,
                            const fs::path& output, const fs::path& pass_rate_output, uint64_t seed) {
  pipeline::RejectionSampleOptions r;
  text::DatasetGenerateOptions& g = r.generation;
  g.input = prompts;
  g.prompt_column = "problem";
  g.system_prompt = o.zero.system_prompt;
  g.chat_template = "auto";
  g.num_generations = int32_t(o.samples_per_prompt);
  g.sampling.temperature = o.zero.eval_temperature;
  g.sampling.max_new_tokens = o.zero.max_completion_length;
  g.seed = seed;
  g.resume = true;  // an interrupted run continues its samples file
  g.model_dir = model;
  g.engine.max_batch = 256;
  r.output = output;
  r.reward_funcs = {"accuracy", "format"};
  r.reward_kwargs = {{"accuracy", accuracy_params()}};
  r.filters.language = "row";
  r.filters.no_code_blocks = true;
  r.format = "prompt-completion";
  r.max_per_prompt = 1;
  if (!pass_rate_output.empty()) {
    r.pass_rate_output = pass_rate_output;
    r.pass_rate_min = 0;
    r.pass_rate_max = o.final_pass_rate_max;
  }
  pipeline::RejectionSampleReport report = pipeline::rejection_sample(r);
  fmt::print("{}\n", report.summary());
  if (report.kept == 0)
    fail("demo: rejection sampling of {} kept no response; nothing to fine-tune on", model.string());
}

// Supervised fine-tuning of `model` on prompt/completion rows, `epochs` passes, resuming a checkpoint in `out`.
bool sft_stage(const R1DemoOptions& o, const fs::path& model, const fs::path& data, const fs::path& out,
               const std::atomic<bool>* stop) {
  train::SftOptions s;
  s.finetune.model_name_or_path = model.string();
  s.finetune.dataset_name = data.string();
  s.max_length = 256;
  train::TrainingArguments& a = s.training;
  a.output_dir = out.string();
  a.num_train_epochs = double(o.sft_epochs);
  a.per_device_train_batch_size = o.sft_batch;
  a.learning_rate = o.sft_learning_rate;
  a.lr_scheduler_type = "linear";
  a.warmup_ratio = 0.05;
  a.logging_steps = 10;
  a.save_steps = 50;
  a.save_total_limit = 1;
  a.seed = int64_t(o.zero.seed);
  resume_or_restart(a);
  return train::sft(s, stop).interrupted;
}

}  // namespace

std::string R1DemoResult::table() const {
  std::string t = fmt::format("{:<26} {:>7} {:>7} {:>9} {:>9} {:>7} {:>8}\n", "stage", "pass@1", "format", "language",
                              "(zh)", "length", "seconds");
  for (const R1StageSummary& s : stages) {
    const EvalSummary& e = s.eval;
    t += fmt::format("{:<26} {:7.3f} {:7.3f} {:9.3f} {:>9} {:7.1f} {:8.1f}\n", s.name, e.pass_at_1, e.format_rate,
                     e.language_consistency,
                     e.language_consistency_zh ? fmt::format("{:.3f}", *e.language_consistency_zh) : "-", e.mean_length,
                     s.seconds);
  }
  if (summary.contains("student_distilled_pass@1"))
    t += fmt::format(
        "student: distilled from the final model {:.3f} ({:.0f} s) vs RL on the student {:.3f} ({:.0f} s)\n",
        summary["student_distilled_pass@1"].get<double>(), summary["student_distilled_seconds"].get<double>(),
        summary["student_rl_pass@1"].get<double>(), summary["student_rl_seconds"].get<double>());
  return t;
}

R1DemoResult run_r1_demo(const R1DemoOptions& o, const std::atomic<bool>* stop) {
  const DemoOptions& z = o.zero;
  R1DemoResult result;
  const fs::path out = z.out_dir, task_dir = out / "task";
  fs::create_directories(out);
  StageLog log(out / "stage-seconds.json");
  const data::TaskSplits task = prepare_task_data(z, log);  // the task data, tokenizer and token shards stages
  const fs::path train_rows = task_dir / "train.jsonl";
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> rl_metrics;

  // Each evaluated model: its directory, the stages that made it.
  auto evaluate = [&](const std::string& name, const fs::path& dir, std::vector<std::string> made_by) {
    const fs::path file = out / ("eval-" + dir.filename().string() + ".json");
    log.run("evaluate " + name, fs::exists(file), [&] {
      EvalSummary e = evaluate_pass_at_1(dir, task.test, z.system_prompt, z.eval_samples, z.eval_temperature,
                                         z.max_completion_length, z.seed);
      write_file_atomic(file, e.to_json().dump(2));
    });
    R1StageSummary s{name, EvalSummary::from_json(parse_json(read_file(file), file.string())), 0};
    for (const std::string& stage : made_by) s.seconds += log.seconds(stage);
    fmt::print("{}: pass@1 {:.3f}, format {:.3f}, language consistency {:.3f}, {:.1f} tokens\n", name, s.eval.pass_at_1,
               s.eval.format_rate, s.eval.language_consistency, s.eval.mean_length);
    result.stages.push_back(std::move(s));
  };
  auto grpo_stage = [&](const std::string& stage, const fs::path& from, const fs::path& dataset, const fs::path& dir,
                        int64_t steps, double learning_rate, double language_weight) {
    log.run(stage, has_model(dir), [&] {
      train::GrpoOptions g = demo_grpo_options(z, from, dataset, dir);
      g.training.max_steps = steps;
      g.training.learning_rate = learning_rate;
      g.reward_funcs = {"accuracy", "format", "language_consistency"};
      g.reward_weights = {1.0, 1.0, language_weight};
      g.reward_kwargs = {{"accuracy", accuracy_params()}};
      result.interrupted = train::grpo(g, stop).interrupted;
    });
    rl_metrics.emplace_back(stage, grpo_metrics(dir));
    return !result.interrupted;
  };
  auto finish = [&] {
    result.work = log.times();
    return result;
  };

  // ---- DeepSeek-R1-Zero: the base model and pure RL ----
  const fs::path base = out / "base";
  const PretrainSettings teacher = pretrain_settings(z);
  log.run("pretraining", has_model(base), [&] { result.interrupted = pretrain_demo_model(teacher, out, base, stop); });
  if (result.interrupted) return finish();
  evaluate("base", base, {"task data", "tokenizer", "token shards", "pretraining"});

  const fs::path zero = out / "r1-zero";
  if (!grpo_stage("R1-Zero RL", base, train_rows, zero, z.grpo_steps, z.grpo_learning_rate, 0.0)) return finish();
  evaluate("R1-Zero", zero, {"R1-Zero RL"});

  // ---- Stage 1: cold start ----
  const size_t cold_first = 0, rs_first = size_t(o.cold_start_prompts),
               distill_first = rs_first + size_t(o.rejection_prompts);
  const fs::path cold_data = out / "cold-start.jsonl", cold_sft = out / "cold-start-sft";
  log.run("cold-start data", fs::exists(cold_data), [&] {
    write_prompt_slice(task, cold_first, o.cold_start_prompts, task_dir / "cold-start-prompts.jsonl");
    rejection_sample_stage(o, zero, task_dir / "cold-start-prompts.jsonl", cold_data, {}, z.seed + 101);
  });
  log.run("cold-start SFT", has_model(cold_sft),
          [&] { result.interrupted = sft_stage(o, base, cold_data, cold_sft, stop); });
  if (result.interrupted) return finish();
  evaluate("cold-start SFT", cold_sft, {"cold-start data", "cold-start SFT"});

  // ---- Stage 2: reasoning-oriented RL with the language consistency reward ----
  const fs::path reasoning = out / "reasoning-rl";
  if (!grpo_stage("reasoning RL", cold_sft, train_rows, reasoning, o.rl_steps, o.rl_learning_rate, 1.0))
    return finish();
  evaluate("reasoning RL", reasoning, {"reasoning RL"});

  // ---- Stage 3: rejection sampling and SFT of the base ----
  const fs::path rs_data = out / "rejection-sampling.jsonl", rs_sft = out / "rs-sft",
                 hard_prompts = out / "final-rl-prompts.jsonl";
  log.run("rejection sampling", fs::exists(rs_data) && fs::exists(hard_prompts), [&] {
    write_prompt_slice(task, rs_first, o.rejection_prompts, task_dir / "rejection-prompts.jsonl");
    rejection_sample_stage(o, reasoning, task_dir / "rejection-prompts.jsonl", rs_data, hard_prompts, z.seed + 202);
  });
  log.run("rejection-sampling SFT", has_model(rs_sft),
          [&] { result.interrupted = sft_stage(o, base, rs_data, rs_sft, stop); });
  if (result.interrupted) return finish();
  evaluate("rejection-sampling SFT", rs_sft, {"rejection sampling", "rejection-sampling SFT"});

  // ---- Stage 4: the final RL stage, on the prompts not yet always solved ----
  // Fewer than four steps' worth of them (a model that already solves nearly everything) would repeat a handful of
  // prompts in every step: then it trains on the whole training split.
  const fs::path final_rl = out / "final-rl";
  const size_t prompts_per_step = size_t(std::max<int64_t>(1, z.grpo_batch * z.grpo_accumulation / z.num_generations));
  const fs::path final_prompts = read_jsonl(hard_prompts).size() >= 4 * prompts_per_step ? hard_prompts : train_rows;
  if (!grpo_stage("final RL", rs_sft, final_prompts, final_rl, o.rl_steps, o.rl_learning_rate, 1.0)) return finish();
  evaluate("final RL", final_rl, {"final RL"});

  // ---- Distillation vs RL on a smaller student ----
  const fs::path student = out / "student-base", distill_data = out / "distill.jsonl",
                 distilled = out / "student-distilled", student_rl = out / "student-rl";
  PretrainSettings small = teacher;
  small.model_config = o.student_config;
  small.steps = o.student_pretrain_steps;
  log.run("student pretraining", has_model(student),
          [&] { result.interrupted = pretrain_demo_model(small, out, student, stop); });
  if (result.interrupted) return finish();
  evaluate("student base", student, {"student pretraining"});
  log.run("distillation data", fs::exists(distill_data), [&] {
    write_prompt_slice(task, distill_first, o.distill_prompts, task_dir / "distill-prompts.jsonl");
    rejection_sample_stage(o, final_rl, task_dir / "distill-prompts.jsonl", distill_data, {}, z.seed + 303);
  });
  log.run("student distillation", has_model(distilled),
          [&] { result.interrupted = sft_stage(o, student, distill_data, distilled, stop); });
  if (result.interrupted) return finish();
  evaluate("student distilled", distilled, {"distillation data", "student distillation"});
  if (!grpo_stage("student RL", student, train_rows, student_rl, o.student_rl_steps, z.grpo_learning_rate, 1.0))
    return finish();
  evaluate("student RL", student_rl, {"student RL"});

  // ---- summary.json, the report ----
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const R1StageSummary& s : result.stages) {
    const EvalSummary& e = s.eval;
    rows.push_back(
        {{"name", s.name},
         {"pass@1", e.pass_at_1},
         {"format_rate", e.format_rate},
         {"language_consistency", e.language_consistency},
         {"language_consistency_zh", e.language_consistency_zh ? nlohmann::ordered_json(*e.language_consistency_zh)
                                                               : nlohmann::ordered_json(nullptr)},
         {"mean_length", e.mean_length},
         {"seconds", s.seconds}});
  }
  const R1StageSummary& d = result.stages[result.stages.size() - 2];
  const R1StageSummary& r = result.stages.back();
  result.summary = {
      {"held_out",
       {{"problems", z.test_problems}, {"samples_per_problem", z.eval_samples}, {"temperature", z.eval_temperature}}},
      {"seed", z.seed},
      {"stages", rows},
      {"student_distilled_pass@1", d.eval.pass_at_1},
      {"student_rl_pass@1", r.eval.pass_at_1},
      {"student_distilled_seconds", d.seconds},
      {"student_rl_seconds", r.seconds}};
  write_file_atomic(out / "summary.json", result.summary.dump(2) + "\n");
  result.work = log.times();
  result.report = out / "report.html";
  write_file_atomic(result.report, r1_demo_report_html(result, rl_metrics, o));
  return result;
}

}  // namespace r1::demo
