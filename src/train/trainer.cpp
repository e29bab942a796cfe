// The shared training loop (Marian's shape: a short loop; scheduling, checkpointing, logging are objects
// or helpers). One optimizer step = prepare_step (the objective fetches or generates its micro-batches and
// returns the loss normaliser N) -> for each micro-batch: forward under autocast, backward(loss_sum / N)
// -> global grad norm (clipped as torch.nn.utils.clip_grad_norm_) -> AdamW at lr(step) -> log / evaluate /
// checkpoint. Departures from transformers' Trainer:
//   1. A step whose loss or gradient norm is not finite is skipped (no update, gradients dropped) but counted
//      as a step (its data is consumed; the LR schedule keeps its pace); max_nonfinite_steps in a row stop the
//      run with a checkpoint.
//   2. On resume, metrics.jsonl lines logged after the checkpoint's step (lost work) are dropped, so the log
//      reads as one uninterrupted run.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include "common/progress.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/train.h"
#include "train/checkpoint.h"

namespace r1::train {
namespace fs = std::filesystem;
namespace {

// Autocast for the forward passes (bf16 matmuls, fp32 elsewhere); restores the previous state on exit.
class AutocastScope {
 public:
  AutocastScope(bool enabled, at::Device device) : enabled_(enabled), cuda_(device.is_cuda()) {
    if (!enabled_) return;
    if (cuda_) {
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    } else {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
  }
  ~AutocastScope() {
    if (!enabled_) return;
    if (cuda_)
      at::autocast::set_enabled(false);
    else
      at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }

 private:
  bool enabled_, cuda_;
};

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

bool directory_is_empty(const fs::path& dir) {
  std::error_code ec;
  return !fs::exists(dir, ec) || fs::is_empty(dir, ec);
}

// Keeps the lines of metrics.jsonl whose step is <= `step` (the resumed checkpoint's).
void truncate_metrics(const fs::path& path, int64_t step) {
  if (!fs::exists(path)) return;
  std::istringstream in(read_file(path));
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json row;
    if (!parse_json_bounded(line, row, nullptr) || !row.is_object()) continue;  // a line cut by the kill
    const auto it = row.find("step");
    if (it != row.end() && it->is_number() && it->get<double>() > double(step)) continue;
    kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

std::string format_metric(const std::string& key, double v) {
  if (key == "learning_rate") return fmt::format("{} {:.3g}", key, v);
  if (key.find("tokens") != std::string::npos) return fmt::format("{} {:.0f}", key, v);
  return fmt::format("{} {:.4f}", key, v);
}

}  // namespace

Trainer::Trainer(model::Transformer model, TrainingArguments args, Objective& objective, TrainerHooks hooks)
    : model_(std::move(model)), args_(std::move(args)), objective_(objective), hooks_(std::move(hooks)) {}

TrainResult Trainer::train() {
  args_.validate();
  const fs::path output_dir = args_.output_dir;
  const int64_t accumulation = args_.gradient_accumulation_steps;
  int64_t total_steps = args_.max_steps;
  if (total_steps <= 0) {
    const int64_t per_epoch = objective_.steps_per_epoch(accumulation);
    if (per_epoch <= 0) fail_usage("max_steps is required: the length of an epoch of this data is not known");
    total_steps = std::max<int64_t>(1, int64_t(std::ceil(args_.num_train_epochs * double(per_epoch))));
  }
  const int64_t warmup = resolve_warmup_steps(args_, total_steps);
  const int64_t eval_every = args_.eval_steps.value_or(args_.logging_steps);

  model_->train();
  model_->set_gradient_checkpointing(args_.gradient_checkpointing);
  const at::Device device = model_->parameters().front().device();
  AdamW optimizer(optimizer_params(*model_, args_.no_weight_decay), args_.weight_decay, args_.adam_beta1,
                  args_.adam_beta2, args_.adam_epsilon);

  TrainResult result;
  int64_t step = 0, consecutive_nonfinite = 0;
  double elapsed_before = 0;
  const fs::path metrics_path = output_dir / "metrics.jsonl";
  detail::remove_stale_checkpoint_temps(output_dir);
  if (auto resume = resolve_resume_checkpoint(args_)) {
    nlohmann::json state = detail::load_checkpoint(*resume, *model_, optimizer);
    const std::string where = (*resume / "trainer_state.json").string();
    // Every field read with its type and range checked, naming the file and key.
    auto integer = [&](const char* key, std::optional<int64_t> fallback, int64_t low, int64_t high) -> int64_t {
      if (fallback && !(state.is_object() && state.contains(key))) return *fallback;
      return json_integer(state, key, low, high, where);
    };
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    step = integer("global_step", std::nullopt, 0, total_steps);
    const int64_t written_for = integer("max_steps", total_steps, 1, kMax);
    if (written_for != total_steps)
      fmt::print("note: the checkpoint was written by a run of {} steps; continuing to {}\n", written_for, total_steps);
    result.skipped_steps = integer("skipped_steps", 0, 0, kMax);
    consecutive_nonfinite = integer("consecutive_nonfinite", 0, 0, kMax);
    if (state.contains("elapsed") && !state["elapsed"].is_number())
      fail("{}: \"elapsed\" must be a number, found {}", where, state["elapsed"].dump());
    elapsed_before = state.value("elapsed", 0.0);
    if (!state.contains("data_state")) fail("{}: no \"data_state\"", where);
    try {  // each objective checks its own fields; the file is named here
      objective_.load_data_state(state.at("data_state"));
    } catch (const nlohmann::json::exception& e) {
      fail("{}: \"data_state\": {}", where, json_error_text(e));
    } catch (const Error& e) {
      fail("{}: \"data_state\": {}", where, e.what());
    }
    truncate_metrics(metrics_path, step);
    result.last_checkpoint = *resume;
    fmt::print("resumed from {} at step {}\n", resume->string(), step);
  } else if (!directory_is_empty(output_dir) && !args_.overwrite_output_dir) {
    fail_usage(
        "output_dir '{}' is not empty: set resume_from_checkpoint: true to continue the run in it, or "
        "overwrite_output_dir: true to start over there",
        output_dir.string());
  } else {
    fs::create_directories(output_dir);
    if (fs::exists(metrics_path)) fs::remove(metrics_path);
    // overwrite_output_dir: an earlier run's checkpoints would be taken for this run's on a later resume
    detail::rotate_checkpoints(output_dir, 0, {});
  }
  if (std::string d = objective_.describe(total_steps, accumulation); !d.empty()) fmt::print("{}", d);
  int64_t trainable = 0;  // what the optimizer updates (LoRA: the adapters only); tied weights once
  for (const AdamW::Param& p : optimizer.params()) trainable += p.tensor.numel();
  const int64_t total = model_->num_parameters();
  const std::string of_total = trainable == total ? "" : fmt::format(" of {}", total);
  fmt::print("training {}{} parameters for {} steps ({} warm-up, {} schedule, {} micro-batches of {} per step{}{})\n",
             trainable, of_total, total_steps, warmup, args_.lr_scheduler_type, accumulation,
             args_.per_device_train_batch_size, args_.bf16 ? ", bf16 autocast" : "",
             args_.gradient_checkpointing ? ", gradient checkpointing" : "");

  std::ofstream metrics(metrics_path, std::ios::app);
  if (!metrics) fail("cannot write '{}'", metrics_path.string());
  auto log = [&](nlohmann::ordered_json line) {
    metrics << line.dump() << "\n";
    metrics.flush();
    std::string text = fmt::format("step {}/{}", step, total_steps);
    for (const auto& [k, v] : line.items())
      if (k != "step" && v.is_number()) text += " | " + format_metric(k, v.get<double>());
    fmt::print("{}\n", text);
    std::fflush(stdout);
  };
  auto trainer_state = [&](double elapsed) {
    return nlohmann::json{{"global_step", step},
                          {"max_steps", total_steps},
                          {"skipped_steps", result.skipped_steps},
                          {"consecutive_nonfinite", consecutive_nonfinite},
                          {"elapsed", elapsed},
                          {"learning_rate", args_.learning_rate},
                          {"lr_scheduler_type", args_.lr_scheduler_type},
                          {"warmup_steps", warmup},
                          {"data_state", objective_.data_state()}};
  };
  auto save = [&](double elapsed) {
    result.last_checkpoint =
        detail::save_checkpoint(output_dir, step, *model_, optimizer, trainer_state(elapsed), hooks_);
    if (args_.save_total_limit) detail::rotate_checkpoints(output_dir, *args_.save_total_limit, result.last_checkpoint);
  };

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return elapsed_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  Progress progress("train", uint64_t(total_steps), hooks_.progress_bar);
  progress.set(uint64_t(step));
  double interval_loss = 0, interval_tokens = 0, interval_start = elapsed();
  int64_t interval_steps = 0;
  std::map<std::string, double> interval_metrics;
  int64_t last_saved = step;

  while (step < total_steps) {
    if (hooks_.stop_requested && hooks_.stop_requested->load()) {
      fmt::print("stop requested: saving a checkpoint at step {}\n", step);
      result.interrupted = true;
      break;
    }
    const double lr =
        args_.learning_rate * lr_multiplier(args_.lr_scheduler_type, step, warmup, total_steps, args_.min_lr_rate);
    const double normaliser = objective_.prepare_step(accumulation);
    if (!(normaliser > 0)) fail("the objective returned a loss normaliser of {} (empty batch?)", normaliser);
    double loss_sum = 0;
    int64_t tokens = 0;
    std::map<std::string, double> step_metrics;
    for (int64_t i = 0; i < accumulation; ++i) {
      MicroBatchLoss out;
      {
        AutocastScope autocast(args_.bf16, device);
        out = objective_.micro_batch(i);
      }
      (out.loss_sum / normaliser).backward();
      loss_sum += out.loss_sum.item<double>();
      tokens += out.tokens;
      for (const auto& [k, v] : out.metrics) step_metrics[k] += v;
    }
    const double loss = loss_sum / normaliser;
    const double grad_norm = global_grad_norm(optimizer.params());
    ++step;
    if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
      optimizer.zero_grad();
      ++result.skipped_steps;
      ++consecutive_nonfinite;
      log({{"step", step}, {"skipped_nonfinite", true}, {"loss", loss}, {"grad_norm", grad_norm}});
      if (consecutive_nonfinite >= args_.max_nonfinite_steps) {
        fmt::print("stopping: {} non-finite steps in a row (lower learning_rate, check the data)\n",
                   consecutive_nonfinite);
        result.stopped_nonfinite = true;
        break;
      }
      progress.set(uint64_t(step));
      continue;
    }
    consecutive_nonfinite = 0;
    if (args_.max_grad_norm > 0) {
      const double coefficient = args_.max_grad_norm / (grad_norm + 1e-6);
      if (coefficient < 1.0) scale_grads(optimizer.params(), coefficient);
    }
    optimizer.step(lr);
    optimizer.zero_grad();
    result.last_loss = loss;
    progress.set(uint64_t(step));

    interval_loss += loss;
    interval_tokens += double(tokens);
    ++interval_steps;
    for (const auto& [k, v] : step_metrics) interval_metrics[k] += v / normaliser;
    for (const auto& [k, v] : objective_.end_step()) interval_metrics[k] += v;
    if (step % args_.logging_steps == 0 || (step == 1 && args_.logging_first_step) || step == total_steps) {
      const double now = elapsed();
      nlohmann::ordered_json line = {{"step", step},
                                     {"loss", interval_loss / double(interval_steps)},
                                     {"learning_rate", lr},
                                     {"grad_norm", grad_norm}};
      if (int64_t per_epoch = objective_.steps_per_epoch(accumulation); per_epoch > 0)
        line["epoch"] = double(step) / double(per_epoch);
      for (const auto& [k, v] : interval_metrics) line[k] = v / double(interval_steps);
      line["tokens_per_second"] = interval_tokens / std::max(1e-9, now - interval_start);
      line["elapsed"] = now;
      log(line);
      interval_loss = interval_tokens = 0;
      interval_steps = 0;
      interval_metrics.clear();
      interval_start = elapsed();
    }
    if (args_.eval_strategy == "steps" && (step % eval_every == 0 || step == total_steps)) {
      std::map<std::string, double> eval;
      {
        torch::NoGradGuard no_grad;
        model_->eval();
        AutocastScope autocast(args_.bf16, device);
        eval = objective_.evaluate();
        model_->train();
      }
      if (!eval.empty()) {
        nlohmann::ordered_json line = {{"step", step}};
        for (const auto& [k, v] : eval) line[k] = v;
        log(line);
        result.last_eval = eval;
      }
      interval_start = elapsed();
    }
    if (args_.save_strategy == "steps" && args_.save_steps > 0 && step % args_.save_steps == 0 && step < total_steps) {
      save(elapsed());
      last_saved = step;
    }
  }
  progress.finish();
  if (args_.save_strategy == "steps" && (step != last_saved || result.interrupted || result.stopped_nonfinite))
    save(elapsed());
  if (args_.save_final_model && step == total_steps && !result.stopped_nonfinite) {
    model::SaveOptions options;
    options.overwrite = true;
    model::save_pretrained(*model_, output_dir, options);
    if (hooks_.save_extra) hooks_.save_extra(output_dir);
    fmt::print("saved the model to {}\n", output_dir.string());
  }
  result.global_step = step;
  return result;
}

}  // namespace r1::train
