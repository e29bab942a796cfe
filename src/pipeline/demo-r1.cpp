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

namespace {

// Creates the run's directory; its stage log's file.
fs::path stage_log_in(const fs::path& out) {
  fs::create_directories(out);
  return out / "stage-seconds.json";
}

// One run of the recipe: the stages in order, each model evaluated as it is made.
class R1Run {
 public:
  R1Run(const R1DemoOptions& o, const std::atomic<bool>* stop)
      : o_(o),
        z_(o.zero),
        stop_(stop),
        out_(o.zero.out_dir),
        task_dir_(out_ / "task"),
        train_rows_(task_dir_ / "train.jsonl"),
        log_(stage_log_in(out_)),
        task_(prepare_task_data(z_, log_)) {}  // the task data, tokenizer and token shards stages

  bool teacher();  // base, R1-Zero and R1's four stages; false when a training stage was interrupted
  bool student();  // the student's base, distillation and RL
  R1DemoResult finish(bool complete);

 private:
  // Runs a training stage unless `done`; false when it was interrupted.
  bool train(const std::string& stage, bool done, const std::function<bool()>& interrupted) {
    bool stopped = false;
    log_.run(stage, done, [&] { stopped = interrupted(); });
    return !stopped;
  }
  bool grpo_stage(const std::string& stage, const fs::path& from, const fs::path& dataset, const fs::path& dir,
                  int64_t steps, double learning_rate, double language_weight);
  // Evaluates the model in `dir` (once) as the table's row `name`, made by the stages `made_by`.
  void evaluate(const std::string& name, const fs::path& dir, const std::vector<std::string>& made_by);
  void sample(const std::string& stage, const fs::path& model, size_t first, int64_t count, const std::string& prompts,
              const fs::path& output, const fs::path& pass_rate_output, uint64_t seed) {
    log_.run(stage, fs::exists(output) && (pass_rate_output.empty() || fs::exists(pass_rate_output)), [&] {
      write_prompt_slice(task_, first, count, task_dir_ / prompts);
      rejection_sample_stage(o_, model, task_dir_ / prompts, output, pass_rate_output, seed);
    });
  }

  const R1DemoOptions& o_;
  const DemoOptions& z_;
  const std::atomic<bool>* stop_;
  const fs::path out_, task_dir_, train_rows_;
  StageLog log_;
  const data::TaskSplits task_;
  R1DemoResult result_;
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> rl_metrics_;
};

bool R1Run::grpo_stage(const std::string& stage, const fs::path& from, const fs::path& dataset, const fs::path& dir,
                       int64_t steps, double learning_rate, double language_weight) {
  const bool complete = train(stage, has_model(dir), [&] {
    train::GrpoOptions g = demo_grpo_options(z_, from, dataset, dir);
    g.training.max_steps = steps;
    g.training.learning_rate = learning_rate;
    g.reward_funcs = {"accuracy", "format", "language_consistency"};
    g.reward_weights = {1.0, 1.0, language_weight};
    g.reward_kwargs = {{"accuracy", accuracy_params()}};
    return train::grpo(g, stop_).interrupted;
  });
  rl_metrics_.emplace_back(stage, grpo_metrics(dir));
  return complete;
}

void R1Run::evaluate(const std::string& name, const fs::path& dir, const std::vector<std::string>& made_by) {
  const fs::path file = out_ / ("eval-" + dir.filename().string() + ".json");
  log_.run("evaluate " + name, fs::exists(file), [&] {
    EvalSummary e = evaluate_pass_at_1(dir, task_.test, z_.system_prompt, z_.eval_samples, z_.eval_temperature,
                                       z_.max_completion_length, z_.seed);
    write_file_atomic(file, e.to_json().dump(2));
  });
  R1StageSummary s{name, EvalSummary::from_json(parse_json(read_file(file), file.string())), 0};
  for (const std::string& stage : made_by) s.seconds += log_.seconds(stage);
  fmt::print("{}: pass@1 {:.3f}, format {:.3f}, language consistency {:.3f}, {:.1f} tokens\n", name, s.eval.pass_at_1,
             s.eval.format_rate, s.eval.language_consistency, s.eval.mean_length);
  result_.stages.push_back(std::move(s));
}

bool R1Run::teacher() {
  // ---- DeepSeek-R1-Zero: the base model and pure RL ----
  const fs::path base = out_ / "base", zero = out_ / "r1-zero";
  if (!train("pretraining", has_model(base),
             [&] { return pretrain_demo_model(pretrain_settings(z_), out_, base, stop_); }))
    return false;
  evaluate("base", base, {"task data", "tokenizer", "token shards", "pretraining"});
  if (!grpo_stage("R1-Zero RL", base, train_rows_, zero, z_.grpo_steps, z_.grpo_learning_rate, 0.0)) return false;
  evaluate("R1-Zero", zero, {"R1-Zero RL"});

  // ---- Stage 1: cold start ----
  const fs::path cold_data = out_ / "cold-start.jsonl", cold_sft = out_ / "cold-start-sft";
  sample("cold-start data", zero, 0, o_.cold_start_prompts, "cold-start-prompts.jsonl", cold_data, {}, z_.seed + 101);
  if (!train("cold-start SFT", has_model(cold_sft), [&] { return sft_stage(o_, base, cold_data, cold_sft, stop_); }))
    return false;
  evaluate("cold-start SFT", cold_sft, {"cold-start data", "cold-start SFT"});

  // ---- Stage 2: reasoning-oriented RL with the language consistency reward ----
  const fs::path reasoning = out_ / "reasoning-rl";
  if (!grpo_stage("reasoning RL", cold_sft, train_rows_, reasoning, o_.rl_steps, o_.rl_learning_rate, 1.0))
    return false;
  evaluate("reasoning RL", reasoning, {"reasoning RL"});

  // ---- Stage 3: rejection sampling and SFT of the base ----
  const fs::path rs_data = out_ / "rejection-sampling.jsonl", rs_sft = out_ / "rs-sft",
                 hard_prompts = out_ / "final-rl-prompts.jsonl";
  sample("rejection sampling", reasoning, size_t(o_.cold_start_prompts), o_.rejection_prompts,
         "rejection-prompts.jsonl", rs_data, hard_prompts, z_.seed + 202);
  if (!train("rejection-sampling SFT", has_model(rs_sft), [&] { return sft_stage(o_, base, rs_data, rs_sft, stop_); }))
    return false;
  evaluate("rejection-sampling SFT", rs_sft, {"rejection sampling", "rejection-sampling SFT"});

  // ---- Stage 4: the final RL stage, on the prompts not yet always solved ----
  // Fewer than four steps' worth of them (a model that already solves nearly everything) would repeat a handful of
  // prompts in every step: then it trains on the whole training split.
  const fs::path final_rl = out_ / "final-rl";
  const size_t per_step = size_t(std::max<int64_t>(1, z_.grpo_batch * z_.grpo_accumulation / z_.num_generations));
  const fs::path final_prompts = read_jsonl(hard_prompts).size() >= 4 * per_step ? hard_prompts : train_rows_;
  if (!grpo_stage("final RL", rs_sft, final_prompts, final_rl, o_.rl_steps, o_.rl_learning_rate, 1.0)) return false;
  evaluate("final RL", final_rl, {"final RL"});
  return true;
}

bool R1Run::student() {
  const fs::path student = out_ / "student-base", distill_data = out_ / "distill.jsonl",
                 distilled = out_ / "student-distilled", student_rl = out_ / "student-rl";
  PretrainSettings small = pretrain_settings(z_);
  small.model_config = o_.student_config;
  small.steps = o_.student_pretrain_steps;
  if (!train("student pretraining", has_model(student),
             [&] { return pretrain_demo_model(small, out_, student, stop_); }))
    return false;
  evaluate("student base", student, {"student pretraining"});
  sample("distillation data", out_ / "final-rl", size_t(o_.cold_start_prompts + o_.rejection_prompts),
         o_.distill_prompts, "distill-prompts.jsonl", distill_data, {}, z_.seed + 303);
  if (!train("student distillation", has_model(distilled),
             [&] { return sft_stage(o_, student, distill_data, distilled, stop_); }))
    return false;
  evaluate("student distilled", distilled, {"distillation data", "student distillation"});
  if (!grpo_stage("student RL", student, train_rows_, student_rl, o_.student_rl_steps, z_.grpo_learning_rate, 1.0))
    return false;
  evaluate("student RL", student_rl, {"student RL"});
  return true;
}

R1DemoResult R1Run::finish(bool complete) {
  result_.work = log_.times();
  if (!complete) {
    result_.interrupted = true;
    return result_;
  }
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const R1StageSummary& s : result_.stages) {
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
  const R1StageSummary& d = result_.stages[result_.stages.size() - 2];
  const R1StageSummary& r = result_.stages.back();
  result_.summary = {{"held_out",
                      {{"problems", z_.test_problems},
                       {"samples_per_problem", z_.eval_samples},
                       {"temperature", z_.eval_temperature}}},
                     {"seed", z_.seed},
                     {"stages", rows},
                     {"student_distilled_pass@1", d.eval.pass_at_1},
                     {"student_rl_pass@1", r.eval.pass_at_1},
                     {"student_distilled_seconds", d.seconds},
                     {"student_rl_seconds", r.seconds}};
  write_file_atomic(out_ / "summary.json", result_.summary.dump(2) + "\n");
  result_.report = out_ / "report.html";
  write_file_atomic(result_.report, r1_demo_report_html(result_, rl_metrics_, o_));
  return result_;
}

}  // namespace

R1DemoResult run_r1_demo(const R1DemoOptions& o, const std::atomic<bool>* stop) {
  R1Run run(o, stop);
  const bool complete = run.teacher() && run.student();
  return run.finish(complete);
}

}  // namespace r1::demo
