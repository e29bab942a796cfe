// TrainingArguments: the recipe keys (transformers' names) bound to fields, their help, and validation.
#include <filesystem>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "r1/error.h"
#include "r1/recipe.h"
#include "r1/train.h"
#include "train/tensorboard.h"

namespace r1::train {
namespace {
template <class Args, class V>
void visit(Args& a, V& v) {
  v("output_dir", a.output_dir, "where checkpoints, metrics and the final model go");
  v("overwrite_output_dir", a.overwrite_output_dir, "allow a non-empty output_dir without resuming");
  v("learning_rate", a.learning_rate, "peak AdamW learning rate");
  v("per_device_train_batch_size", a.per_device_train_batch_size, "sequences per micro-batch");
  v("per_device_eval_batch_size", a.per_device_eval_batch_size, "sequences per evaluation batch");
  v("gradient_accumulation_steps", a.gradient_accumulation_steps, "micro-batches per optimizer step");
  v("max_steps", a.max_steps, "optimizer steps (> 0 overrides num_train_epochs)");
  v("num_train_epochs", a.num_train_epochs, "epochs over the training data when max_steps <= 0");
  v("warmup_ratio", a.warmup_ratio, "linear warm-up as a fraction of the steps");
  v("warmup_steps", a.warmup_steps, "linear warm-up steps (overrides warmup_ratio)");
  v("lr_scheduler_type", a.lr_scheduler_type, "constant | constant_with_warmup | linear | cosine | cosine_with_min_lr");
  v("min_lr_rate", a.min_lr_rate, "cosine_with_min_lr: final LR as a fraction of learning_rate");
  v("weight_decay", a.weight_decay, "AdamW decoupled weight decay");
  v("no_weight_decay", a.no_weight_decay, "parameter-name fragments exempt from weight decay");
  v("adam_beta1", a.adam_beta1, "AdamW beta1");
  v("adam_beta2", a.adam_beta2, "AdamW beta2");
  v("adam_epsilon", a.adam_epsilon, "AdamW epsilon");
  v("max_grad_norm", a.max_grad_norm, "clip the global gradient norm to this (<= 0: no clipping)");
  v("bf16", a.bf16, "bf16 autocast for the matmuls (fp32 master weights)");
  v("gradient_checkpointing", a.gradient_checkpointing, "recompute layer activations in backward");
  v("logging_steps", a.logging_steps, "log metrics every N steps");
  v("logging_first_step", a.logging_first_step, "also log step 1");
  v("save_steps", a.save_steps, "checkpoint every N steps");
  v("save_strategy", a.save_strategy, "steps | no");
  v("save_total_limit", a.save_total_limit, "keep at most N checkpoints (oldest removed)");
  v("eval_strategy", a.eval_strategy, "steps | no (default no; setting eval_steps implies steps)");
  v("eval_steps", a.eval_steps, "evaluate every N steps (default: logging_steps)");
  v("max_eval_samples", a.max_eval_samples, "evaluation sequences (0: all)");
  v("seed", a.seed, "seed for initialisation and data order");
  v("resume_from_checkpoint", a.resume_from_checkpoint, "true/latest (newest in output_dir) or a checkpoint path");
  v("max_nonfinite_steps", a.max_nonfinite_steps, "stop after N non-finite steps in a row");
  v("save_final_model", a.save_final_model, "write the final model into output_dir");
  v("report_to", a.report_to,
    "none (default) | tensorboard | all (= tensorboard): TensorBoard event files of every logged metric besides "
    "metrics.jsonl; other transformers integrations (wandb, mlflow, ...) are not in r1 and are ignored with a note");
  v("logging_dir", a.logging_dir,
    "where report_to: tensorboard writes (default output_dir/runs); view with tensorboard --logdir <it>");
  v("ddp_backend", a.ddp_backend,
    "data parallel (under torchrun, srun or r1 launch): auto | gloo | nccl (auto: gloo; r1 trains on the CPU)");
  v("ddp_timeout", a.ddp_timeout,
    "data parallel: seconds a rendezvous or collective may wait for the other ranks (alias --dist-timeout; "
    "--dist-backend for ddp_backend)");
  v("ddp_bucket_cap_mb", a.ddp_bucket_cap_mb,
    "data parallel: MB of gradients per all-reduce bucket (DDP's bucket_cap_mb); buckets start during the backward");
}
struct Keys {
  std::vector<std::string> keys;
  template <class T>
  void operator()(const std::string& key, T&, const char*) {
    keys.push_back(key);
  }
};
}  // namespace

void TrainingArguments::read(const Recipe& recipe) {
  RecipeReader reader{recipe, {}};
  visit(*this, reader);
  if (recipe.find("evaluation_strategy")) recipe.read("evaluation_strategy", eval_strategy);
  // torch.distributed's spellings (--dist-backend, --dist-timeout) of transformers' ddp_backend and ddp_timeout
  if (recipe.find("dist_backend")) recipe.read("dist_backend", ddp_backend);
  if (recipe.find("dist_timeout")) recipe.read("dist_timeout", ddp_timeout);
  // r1: giving eval_steps asks for evaluation (transformers would also need eval_strategy: steps)
  if (recipe.find("eval_steps") && !recipe.find("eval_strategy") && !recipe.find("evaluation_strategy"))
    eval_strategy = "steps";
}

nlohmann::ordered_json TrainingArguments::to_json() const {
  RecipeWriter writer;
  TrainingArguments copy = *this;
  visit(copy, writer);
  return writer.out;
}

std::vector<std::string> TrainingArguments::keys() {
  TrainingArguments a;
  Keys k;
  visit(a, k);
  k.keys.emplace_back(std::string_view("evaluation_strategy"));  // transformers' older name of eval_strategy
  k.keys.emplace_back(std::string_view("dist_backend"));         // aliases of ddp_backend and ddp_timeout
  k.keys.emplace_back(std::string_view("dist_timeout"));
  return k.keys;
}

std::vector<std::pair<std::string, std::string>> TrainingArguments::help() {
  TrainingArguments a;
  RecipeHelp h;
  visit(a, h);
  return h.lines;
}

void TrainingArguments::validate() const {
  auto positive = [](const char* key, double v) {  // and finite: an infinite rate trains a NaN model
    if (!(v > 0) || !std::isfinite(v)) fail_usage("{} must be a finite number > 0, got {}", key, v);
  };
  if (output_dir.empty()) fail_usage("output_dir is required");
  {  // a run writes config.json, weights and checkpoint-N/ into it: never the file system's root
    std::error_code ec;
    const std::filesystem::path where = std::filesystem::weakly_canonical(output_dir, ec);
    if (!ec && where == where.root_path())
      fail_usage("output_dir '{}' is the file system's root; give a directory for this run", output_dir);
  }
  positive("learning_rate", learning_rate);
  positive("per_device_train_batch_size", double(per_device_train_batch_size));
  positive("per_device_eval_batch_size", double(per_device_eval_batch_size));
  positive("gradient_accumulation_steps", double(gradient_accumulation_steps));
  positive("logging_steps", double(logging_steps));
  if (max_steps <= 0 && !(num_train_epochs > 0)) fail_usage("set max_steps > 0 or num_train_epochs > 0");
  if (warmup_ratio < 0 || warmup_ratio >= 1) fail_usage("warmup_ratio must be in [0, 1), got {}", warmup_ratio);
  if (warmup_steps < 0) fail_usage("warmup_steps must be >= 0, got {}", warmup_steps);
  static const std::vector<std::string> schedulers = {"constant", "constant_with_warmup", "linear", "cosine",
                                                      "cosine_with_min_lr"};
  if (std::find(schedulers.begin(), schedulers.end(), lr_scheduler_type) == schedulers.end())
    fail_usage(
        "lr_scheduler_type '{}' is not one of constant, constant_with_warmup, linear, cosine, "
        "cosine_with_min_lr",
        lr_scheduler_type);
  if (min_lr_rate < 0 || min_lr_rate > 1) fail_usage("min_lr_rate must be in [0, 1], got {}", min_lr_rate);
  if (weight_decay < 0) fail_usage("weight_decay must be >= 0, got {}", weight_decay);
  if (adam_beta1 < 0 || adam_beta1 >= 1) fail_usage("adam_beta1 must be in [0, 1), got {}", adam_beta1);
  if (adam_beta2 < 0 || adam_beta2 >= 1) fail_usage("adam_beta2 must be in [0, 1), got {}", adam_beta2);
  positive("adam_epsilon", adam_epsilon);
  if (save_strategy != "steps" && save_strategy != "no")
    fail_usage("save_strategy must be steps or no, got '{}'", save_strategy);
  if (eval_strategy != "steps" && eval_strategy != "no")
    fail_usage("eval_strategy must be steps or no, got '{}'", eval_strategy);
  if (save_steps < 0) fail_usage("save_steps must be >= 0 (0: a checkpoint only at the end), got {}", save_steps);
  if (save_total_limit && *save_total_limit < 1) fail_usage("save_total_limit must be >= 1");
  if (eval_steps && *eval_steps < 1) fail_usage("eval_steps must be >= 1");
  if (max_eval_samples < 0) fail_usage("max_eval_samples must be >= 0");
  positive("max_nonfinite_steps", double(max_nonfinite_steps));
  detail::check_report_to(report_to);
  if (logging_dir && logging_dir->empty()) fail_usage("logging_dir must not be empty (unset: output_dir/runs)");
  if (ddp_backend != "auto" && ddp_backend != "gloo" && ddp_backend != "nccl")
    fail_usage("ddp_backend must be auto, gloo or nccl, got '{}'", ddp_backend);
  positive("ddp_timeout", ddp_timeout);
  positive("ddp_bucket_cap_mb", ddp_bucket_cap_mb);
}

}  // namespace r1::train
