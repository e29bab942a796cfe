// The shared training loop (Marian's shape, src/training/training.h: a short loop over objects). The schedule
// (train/schedule.h) says when to log, evaluate and save; the counters are a TrainState (train/state.h); the
// optimizer, RNG, counters and objective are Stateful parts that checkpoint.h saves and resumes in one call.
// One optimizer step = prepare_step (the objective fetches or generates its micro-batches and returns the loss
// normaliser N) -> for each micro-batch: forward under autocast, backward(loss_sum / N) -> global grad norm
// (clipped as torch.nn.utils.clip_grad_norm_) -> AdamW at lr(step) -> end_step -> log / evaluate / checkpoint.
// Departures from transformers' Trainer:
//   1. A step whose loss or gradient norm is not finite is skipped (no update, gradients dropped) but counted
//      as a step (its data is consumed; the LR schedule keeps its pace); max_nonfinite_steps in a row stop the
//      run with a checkpoint.
//   2. On resume, metrics.jsonl lines logged after the checkpoint's step (lost work) are dropped, so the log
//      reads as one uninterrupted run. With report_to: tensorboard the same rows go to a new event file in
//      logging_dir (train/tensorboard.h), which marks the restart so that TensorBoard drops the lost steps too.
// Data parallel (WORLD_SIZE > 1, r1/distributed.h): the objective trains its DataShard; the step's normaliser is
// summed over the ranks before the backward passes; the last micro-batch's backward all-reduces the gradients in
// buckets as they become ready (dist/gradient-sync.h), so every rank holds the global gradient, clips by the same
// global norm and takes the same AdamW step. Rank 0 alone logs, evaluates and writes checkpoints (the others wait
// at a barrier); every rank resumes from the checkpoint rank 0 chose.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/progress.h"
#include "dist/gradient-sync.h"
#include "r1/distributed.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/train.h"
#include "train/autocast.h"
#include "train/checkpoint.h"
#include "train/schedule.h"
#include "train/state.h"
#include "train/tensorboard.h"

namespace r1::train {
namespace fs = std::filesystem;
namespace {
constexpr const char* kMetrics = "metrics.jsonl";

// The global L2 norm of all gradients, as clip_grad_norm_ computes it (norm of the per-tensor norms).
double global_grad_norm(const std::vector<AdamW::Param>& params) {
  std::vector<at::Tensor> norms;
  for (const auto& p : params)
    if (p.tensor.grad().defined()) norms.push_back(p.tensor.grad().detach().norm(2).to(at::kFloat));
  if (norms.empty()) return 0.0;
  return at::stack(norms).norm(2).item<double>();
}

void scale_grads(const std::vector<AdamW::Param>& params, double factor) {
  torch::NoGradGuard no_grad;
  for (const auto& p : params)
    if (p.tensor.grad().defined()) p.tensor.mutable_grad().mul_(factor);
}

// Whether `path` is `dir` or lies under it (after resolving both).
bool is_inside(const fs::path& path, const fs::path& dir) {
  std::error_code ec;
  const fs::path relative = fs::weakly_canonical(path, ec).lexically_relative(fs::weakly_canonical(dir, ec));
  return !ec && !relative.empty() && *relative.begin() != "..";
}

bool directory_is_empty(const fs::path& dir) {
  std::error_code ec;
  return !fs::exists(dir, ec) || fs::is_empty(dir, ec);
}

std::string format_metric(const std::string& key, double v) {
  if (key == "learning_rate") return fmt::format("{} {:.3g}", key, v);
  if (key.find("tokens") != std::string::npos) return fmt::format("{} {:.0f}", key, v);
  return fmt::format("{} {:.4f}", key, v);
}

// logging_dir, or its default output_dir/runs (see train/tensorboard.h).
fs::path resolve_logging_dir(const TrainingArguments& args) {
  return args.logging_dir ? fs::path(*args.logging_dir) : fs::path(args.output_dir) / "runs";
}

// metrics.jsonl (appended, flushed per line), the same rows as TensorBoard events with report_to: tensorboard
// (a new event file from `first_step` on, flushed per row), and the console line of each logged step.
class MetricsLog {
 public:
  MetricsLog(const TrainingArguments& args, int64_t first_step, int64_t total_steps)
      : out_(fs::path(args.output_dir) / kMetrics, std::ios::app), total_steps_(total_steps) {
    if (!out_) fail("cannot write '{}'", (fs::path(args.output_dir) / kMetrics).string());
    for (const std::string& name : detail::unsupported_integrations(args.report_to))
      fmt::print("note: report_to: r1 does not report to {}; it is ignored (metrics.jsonl holds every metric)\n", name);
    if (detail::wants_tensorboard(args.report_to)) {
      tensorboard_.emplace(resolve_logging_dir(args), first_step);
      fmt::print("TensorBoard: {} (tensorboard --logdir {})\n", tensorboard_->path().string(),
                 resolve_logging_dir(args).string());
    }
  }
  void write(const nlohmann::ordered_json& line) {
    out_ << line.dump() << "\n";
    out_.flush();
    if (tensorboard_) tensorboard_->write(line);
    std::string text = fmt::format("step {}/{}", line["step"].get<int64_t>(), total_steps_);
    for (const auto& [k, v] : line.items())
      if (k != "step" && v.is_number()) text += " | " + format_metric(k, v.get<double>());
    fmt::print("{}\n", text);
    std::fflush(stdout);
  }

 private:
  std::ofstream out_;
  int64_t total_steps_;
  std::optional<detail::TensorBoardWriter> tensorboard_;
};

// The taken steps since the last metrics line: the line holds their mean loss and metrics, the learning rate
// and gradient norm of the last, and the throughput since the previous line (evaluations not counted).
class MetricsInterval {
 public:
  explicit MetricsInterval(double now) : start_(now) {}
  // `per_normaliser` is divided by the step's loss normaliser (micro-batch sums), `as_is` is not (end_step).
  void add(double loss, int64_t tokens, const std::map<std::string, double>& per_normaliser, double normaliser,
           const std::map<std::string, double>& as_is) {
    loss_ += loss;
    tokens_ += double(tokens);
    ++steps_;
    for (const auto& [k, v] : per_normaliser) metrics_[k] += v / normaliser;
    for (const auto& [k, v] : as_is) metrics_[k] += v;
  }
  // The line for `step`, then empty again; `steps_per_epoch` 0 leaves out "epoch".
  nlohmann::ordered_json take_line(int64_t step, double learning_rate, double grad_norm, int64_t steps_per_epoch,
                                   double now) {
    nlohmann::ordered_json line = {
        {"step", step}, {"loss", loss_ / double(steps_)}, {"learning_rate", learning_rate}, {"grad_norm", grad_norm}};
    if (steps_per_epoch > 0) line["epoch"] = double(step) / double(steps_per_epoch);
    for (const auto& [k, v] : metrics_) line[k] = v / double(steps_);
    line["tokens_per_second"] = tokens_ / std::max(1e-9, now - start_);
    line["elapsed"] = now;
    loss_ = tokens_ = 0;
    steps_ = 0;
    metrics_.clear();
    return line;
  }
  void restart_clock(double now) { start_ = now; }

 private:
  double loss_ = 0, tokens_ = 0, start_;
  int64_t steps_ = 0;
  std::map<std::string, double> metrics_;
};

// The forward and backward passes of one optimizer step: the objective's micro-batches, each loss_sum / N
// backpropagated (N the step's normaliser), under autocast when bf16; then the global gradient norm.
struct StepOutcome {
  double normaliser = 1, loss = 0, grad_norm = 0;
  double allreduce_wait = 0;  // data parallel: seconds waiting for the gradients' all-reduce after the backward
  int64_t tokens = 0;
  std::map<std::string, double> metrics;  // summed over the micro-batches
  bool finite() const { return std::isfinite(loss) && std::isfinite(grad_norm); }
};

// A number that went through JSON, where NaN and infinities are written as null.
double json_number(const nlohmann::json& v) { return v.is_number() ? v.get<double>() : std::nan(""); }

// Sums the step's loss, tokens and micro-batch metrics over the ranks (one gather; the keys may differ). A
// non-finite loss stays non-finite, so every rank skips the step.
void sum_over_ranks(const dist::World& world, double& loss_sum, StepOutcome& s) {
  nlohmann::json mine = {{"loss_sum", loss_sum}, {"tokens", s.tokens}, {"metrics", s.metrics}};
  loss_sum = 0;
  s.tokens = 0;
  s.metrics.clear();
  for (const std::string& bytes : world.all_gather(mine.dump())) {
    const nlohmann::json rank = nlohmann::json::parse(bytes);
    loss_sum += json_number(rank["loss_sum"]);
    s.tokens += rank["tokens"].get<int64_t>();
    for (const auto& [k, v] : rank["metrics"].items()) s.metrics[k] += json_number(v);
  }
}

// The mean over the ranks of each end_step metric (a metric some rank lacks is averaged over those that have it).
std::map<std::string, double> mean_over_ranks(const dist::World& world, const std::map<std::string, double>& mine) {
  std::map<std::string, double> sum;
  std::map<std::string, int> count;
  for (const std::string& bytes : world.all_gather(nlohmann::json(mine).dump())) {
    const nlohmann::json rank = nlohmann::json::parse(bytes);
    for (const auto& [k, v] : rank.items()) {
      sum[k] += json_number(v);
      ++count[k];
    }
  }
  for (auto& [k, v] : sum) v /= double(count[k]);
  return sum;
}

StepOutcome forward_backward(Objective& objective, const std::vector<AdamW::Param>& params, int64_t micro_batches,
                             bool bf16, at::Device device, const dist::World& world, dist::GradientSync* sync) {
  StepOutcome s;
  s.normaliser = objective.prepare_step(micro_batches);
  if (world.distributed()) {  // the global batch's normaliser
    std::vector<double> n = {s.normaliser};
    world.all_reduce(n, dist::ReduceOp::kSum);
    s.normaliser = n[0];
  }
  if (!(s.normaliser > 0)) fail("the objective returned a loss normaliser of {} (empty batch?)", s.normaliser);
  double loss_sum = 0;
  for (int64_t i = 0; i < micro_batches; ++i) {
    MicroBatchLoss out;
    {
      AutocastScope autocast(bf16, device);
      out = objective.micro_batch(i);
    }
    if (sync != nullptr && i == micro_batches - 1) sync->arm();  // the earlier backwards accumulate (no_sync)
    (out.loss_sum / s.normaliser).backward();
    loss_sum += out.loss_sum.item<double>();
    s.tokens += out.tokens;
    for (const auto& [k, v] : out.metrics) s.metrics[k] += v;
  }
  if (sync != nullptr) {
    s.allreduce_wait = sync->finish();
    sum_over_ranks(world, loss_sum, s);
  }
  s.loss = loss_sum / s.normaliser;
  s.grad_norm = global_grad_norm(params);
  return s;
}

// Clips the gradients to max_grad_norm (as clip_grad_norm_; <= 0: not clipped), steps AdamW at lr and drops them.
void apply_update(AdamW& optimizer, double grad_norm, double max_grad_norm, double lr) {
  if (max_grad_norm > 0) {
    const double coefficient = max_grad_norm / (grad_norm + 1e-6);
    if (coefficient < 1.0) scale_grads(optimizer.params(), coefficient);
  }
  optimizer.step(lr);
  optimizer.zero_grad();
}

// The objective's evaluation in eval mode, without gradients, under autocast when bf16.
std::map<std::string, double> evaluate(model::TransformerImpl& model, Objective& objective, bool bf16,
                                       at::Device device) {
  torch::NoGradGuard no_grad;
  model.eval();
  AutocastScope autocast(bf16, device);
  std::map<std::string, double> eval = objective.evaluate();
  model.train();
  return eval;
}

// Resumes from resume_from_checkpoint (one call restores the model and every part; metrics.jsonl is cut back
// to the checkpoint's step), or starts afresh in output_dir where that overwrites nothing the user did not
// allow. Returns the checkpoint resumed from (empty when none).
fs::path open_run(const TrainingArguments& args, model::TransformerImpl& model, const std::vector<Stateful*>& parts,
                  const detail::TrainState& state) {
  const fs::path output_dir = args.output_dir, metrics_path = output_dir / kMetrics;
  detail::remove_stale_checkpoint_temps(output_dir);
  if (auto resume = resolve_resume_checkpoint(args)) {
    detail::load_checkpoint(*resume, model, parts);
    detail::truncate_step_log(metrics_path, state.global_step);
    fmt::print("resumed from {} at step {}\n", resume->string(), state.global_step);
    return *resume;
  }
  if (!directory_is_empty(output_dir) && !args.overwrite_output_dir)
    fail_usage(
        "output_dir '{}' is not empty: set resume_from_checkpoint: true to continue the run in it, or "
        "overwrite_output_dir: true to start over there",
        output_dir.string());
  fs::create_directories(output_dir);
  if (fs::exists(metrics_path)) fs::remove(metrics_path);
  // an earlier run's event files go with its metrics.jsonl where they lie inside output_dir (the default
  // logging_dir); a logging_dir elsewhere is not output_dir's to clean (the START mark covers it for TensorBoard)
  if (is_inside(resolve_logging_dir(args), output_dir))
    if (int n = detail::remove_event_files(resolve_logging_dir(args)); n > 0)
      fmt::print("removed {} event file(s) of an earlier run from {}\n", n, resolve_logging_dir(args).string());
  // overwrite_output_dir: an earlier run's checkpoints would be taken for this run's on a later resume
  detail::rotate_checkpoints(output_dir, 0, {});
  return {};
}

// open_run on rank 0, then every other rank restores the checkpoint rank 0 chose (the output_dir is shared, as
// transformers' Trainer assumes). Returns the checkpoint resumed from (empty when none).
fs::path open_run_on_ranks(const dist::World& world, const TrainingArguments& args, model::TransformerImpl& model,
                           const std::vector<Stateful*>& parts, const detail::TrainState& state) {
  fs::path resumed;
  if (world.is_main()) resumed = open_run(args, model, parts, state);
  if (!world.distributed()) return resumed;
  resumed = world.all_gather(resumed.string())[0];  // also the barrier: rank 0 has cleaned or cut back its files
  if (!world.is_main() && !resumed.empty()) detail::load_checkpoint(resumed, model, parts);
  return resumed;
}

// Data parallel: rank 0's trainable weights on every rank (as DDP's constructor), then the gradient buckets.
std::unique_ptr<dist::GradientSync> start_data_parallel(const dist::World& world, const AdamW& optimizer,
                                                        double bucket_cap_mb) {
  std::vector<at::Tensor> tensors;
  for (const AdamW::Param& p : optimizer.params()) tensors.push_back(p.tensor);
  std::vector<at::Tensor> data;
  for (const at::Tensor& t : tensors) data.push_back(t.detach());
  world.broadcast(data, 0);
  auto sync = std::make_unique<dist::GradientSync>(world, tensors, int64_t(bucket_cap_mb * 1024 * 1024));
  fmt::print("data parallel: {} ranks ({}), {} gradient buckets\n", world.size(), world.backend(), sync->num_buckets());
  std::fflush(stdout);  // a launcher's log file sees the start at once
  return sync;
}

// The start-up lines: the objective's description and what is trained for how long.
void print_plan(const Objective& objective, const AdamW& optimizer, const model::TransformerImpl& model,
                int64_t extra_parameters, const TrainingArguments& args, const detail::TrainSchedule& schedule,
                int world_size) {
  const int64_t accumulation = args.gradient_accumulation_steps;
  if (std::string d = objective.describe(schedule.total_steps(), accumulation); !d.empty()) fmt::print("{}", d);
  int64_t trainable = 0;  // what the optimizer updates (LoRA: the adapters only); tied weights once
  for (const AdamW::Param& p : optimizer.params()) trainable += p.tensor.numel();
  const int64_t total = model.num_parameters() + extra_parameters;  // + the objective's own (PPO's value model)
  const std::string of_total = trainable == total ? "" : fmt::format(" of {}", total);
  const std::string ranks = world_size > 1 ? fmt::format(" on each of {} ranks", world_size) : "";
  fmt::print("training {}{} parameters for {} steps ({} warm-up, {} schedule, {} micro-batches of {} per step{}{}{})\n",
             trainable, of_total, schedule.total_steps(), schedule.warmup_steps(), args.lr_scheduler_type, accumulation,
             args.per_device_train_batch_size, ranks, args.bf16 ? ", bf16 autocast" : "",
             args.gradient_checkpointing ? ", gradient checkpointing" : "");
}

void save_final_model(model::TransformerImpl& model, const fs::path& output_dir, const TrainerHooks& hooks) {
  model::SaveOptions options;
  options.overwrite = true;
  model::save_pretrained(model, output_dir, options);
  if (hooks.save_extra) hooks.save_extra(output_dir);
  fmt::print("saved the model to {}\n", output_dir.string());
}

}  // namespace

Trainer::Trainer(model::Transformer model, TrainingArguments args, Objective& objective, TrainerHooks hooks)
    : model_(std::move(model)), args_(std::move(args)), objective_(objective), hooks_(std::move(hooks)) {}

TrainResult Trainer::train() {
  args_.validate();
  const dist::World& world = dist::init_from_environment({args_.ddp_backend, args_.ddp_timeout});
  if (world.distributed()) objective_.set_data_shard({world.rank(), world.size()});
  const detail::TrainSchedule schedule(args_, objective_, world.size());
  const int64_t accumulation = args_.gradient_accumulation_steps;
  const int64_t global_micro_batches = accumulation * world.size();  // per optimizer step, over the ranks
  model_->train();
  model_->set_gradient_checkpointing(args_.gradient_checkpointing);
  const at::Device device = model_->parameters().front().device();
  std::vector<AdamW::Param> params = optimizer_params(*model_, args_.no_weight_decay);
  int64_t extra_parameters = 0;
  for (AdamW::Param& p : objective_.extra_params()) {
    extra_parameters += p.tensor.numel();
    params.push_back(std::move(p));
  }
  AdamW optimizer(std::move(params), args_.weight_decay, args_.adam_beta1, args_.adam_beta2, args_.adam_epsilon);
  detail::TrainState state(schedule, args_);
  detail::CpuRngState rng;
  const std::vector<Stateful*> parts = {&optimizer, &rng, &state, &objective_};  // what a checkpoint holds
  TrainResult result;
  result.last_checkpoint = open_run_on_ranks(world, args_, *model_, parts, state);
  std::unique_ptr<dist::GradientSync> sync =
      world.distributed() ? start_data_parallel(world, optimizer, args_.ddp_bucket_cap_mb) : nullptr;
  std::optional<MetricsLog> log;  // rank 0's
  if (world.is_main()) {
    print_plan(objective_, optimizer, *model_, extra_parameters, args_, schedule, world.size());
    log.emplace(args_, state.global_step + 1, schedule.total_steps());
  }
  auto save = [&] {
    if (world.is_main()) {
      result.last_checkpoint = detail::save_checkpoint(args_.output_dir, state.global_step, *model_, parts, hooks_);
      if (args_.save_total_limit)
        detail::rotate_checkpoints(args_.output_dir, *args_.save_total_limit, result.last_checkpoint);
    }
    world.barrier();  // the others wait until the checkpoint is complete on disk
  };

  state.start_clock();
  Progress progress("train", uint64_t(schedule.total_steps()), hooks_.progress_bar && world.is_main());
  progress.set(uint64_t(state.global_step));
  MetricsInterval interval(state.elapsed());
  int64_t last_saved = state.global_step;
  while (!schedule.done(state.global_step)) {
    bool stop = hooks_.stop_requested && hooks_.stop_requested->load();
    if (world.distributed()) {  // a signal to any rank stops every rank at the same step
      std::vector<double> flag = {stop ? 1.0 : 0.0};
      world.all_reduce(flag, dist::ReduceOp::kMax);
      stop = flag[0] > 0;
    }
    if (stop) {
      fmt::print("stop requested: saving a checkpoint at step {}\n", state.global_step);
      result.interrupted = true;
      break;
    }
    const double lr = schedule.learning_rate(state.global_step);
    const StepOutcome s =
        forward_backward(objective_, optimizer.params(), accumulation, args_.bf16, device, world, sync.get());
    const int64_t step = ++state.global_step;
    if (!s.finite()) {  // skipped: no update, the data consumed, the schedule's pace kept
      optimizer.zero_grad();
      ++state.skipped_steps;
      ++state.consecutive_nonfinite;
      if (log) log->write({{"step", step}, {"skipped_nonfinite", true}, {"loss", s.loss}, {"grad_norm", s.grad_norm}});
      if (state.consecutive_nonfinite >= args_.max_nonfinite_steps) {
        fmt::print("stopping: {} non-finite steps in a row (lower learning_rate, check the data)\n",
                   state.consecutive_nonfinite);
        result.stopped_nonfinite = true;
        break;
      }
      progress.set(uint64_t(step));
      continue;
    }
    state.consecutive_nonfinite = 0;
    apply_update(optimizer, s.grad_norm, args_.max_grad_norm, lr);
    result.last_loss = s.loss;
    progress.set(uint64_t(step));
    std::map<std::string, double> step_metrics = objective_.end_step();
    if (world.distributed()) {
      step_metrics["time/allreduce_wait"] = s.allreduce_wait;
      step_metrics = mean_over_ranks(world, step_metrics);
    }
    interval.add(s.loss, s.tokens, s.metrics, s.normaliser, step_metrics);
    if (schedule.log(step)) {
      nlohmann::ordered_json line =
          interval.take_line(step, lr, s.grad_norm, objective_.steps_per_epoch(global_micro_batches), state.elapsed());
      if (log) log->write(line);
      interval.restart_clock(state.elapsed());
    }
    if (schedule.evaluate(step)) {  // on rank 0; the others wait
      if (world.is_main())
        if (std::map<std::string, double> eval = evaluate(*model_, objective_, args_.bf16, device); !eval.empty()) {
          nlohmann::ordered_json line = {{"step", step}};
          for (const auto& [k, v] : eval) line[k] = v;
          log->write(line);
          result.last_eval = eval;
        }
      world.barrier();
      interval.restart_clock(state.elapsed());
    }
    if (schedule.save(step)) {
      save();
      last_saved = step;
    }
  }
  progress.finish();
  if (schedule.save_at_end(state.global_step, last_saved, result.interrupted || result.stopped_nonfinite)) save();
  if (args_.save_final_model && state.global_step == schedule.total_steps() && !result.stopped_nonfinite) {
    if (world.is_main()) save_final_model(*model_, args_.output_dir, hooks_);
    world.barrier();
  }
  result.global_step = state.global_step;
  result.skipped_steps = state.skipped_steps;
  return result;
}

}  // namespace r1::train
