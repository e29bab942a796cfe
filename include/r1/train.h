// The shared training loop every trainer (pretrain, SFT, DPO, GKD, GRPO) runs on: transformers'
// TrainingArguments (same key names and defaults), AdamW with parameter groups, HF's LR schedules, gradient
// accumulation with the loss normalised over the whole accumulated batch (TRL), max-grad-norm clipping, bf16
// autocast with fp32 master weights, non-finite step skipping, JSONL metrics, periodic evaluation, and
// checkpoints (HF model dir + optimizer + schedule + RNG + data position + manifest with checksums) that
// resume bit-exactly. What is trained on what data is an Objective; the loop does not know.
//
// Usage:
//   r1::Recipe recipe = r1::Recipe::load("recipes/sft.yaml");  // r1/recipe.h; apply_overrides() for the command line
//   r1::train::SftOptions options = r1::train::SftOptions::from_recipe(recipe);
//   r1::train::TrainResult result = r1::train::sft(options, &stop_requested);  // pretrain, grpo, dpo: alike
//
//   MyObjective objective;  // a new trainer: an r1::train::Objective (yours) run by the shared loop
//   r1::train::TrainResult r = r1::train::Trainer(model, args, objective).train();
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "r1/model.h"

namespace r1 {
class Recipe;
}

namespace r1::train {

// ---- Shared by every trainer: TrainingArguments and the learning-rate schedule --------------------------------------
// transformers.TrainingArguments, the subset r1 implements, with its names and defaults.
struct TrainingArguments {
  std::string output_dir;
  bool overwrite_output_dir = false;
  double learning_rate = 5e-5;
  int64_t per_device_train_batch_size = 8;
  int64_t per_device_eval_batch_size = 8;
  int64_t gradient_accumulation_steps = 1;
  int64_t max_steps = -1;         // > 0 overrides num_train_epochs
  double num_train_epochs = 3.0;  // used when max_steps <= 0 and the objective knows its epoch size
  double warmup_ratio = 0.0;
  int64_t warmup_steps = 0;                  // > 0 overrides warmup_ratio
  std::string lr_scheduler_type = "linear";  // constant | constant_with_warmup | linear | cosine | cosine_with_min_lr
  double min_lr_rate = 0.0;                  // cosine_with_min_lr: floor as a fraction of learning_rate
  double weight_decay = 0.0;
  std::vector<std::string> no_weight_decay = {"bias", "norm", "embed_tokens"};  // name fragments exempt from decay
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;  // <= 0: no clipping (the norm is still logged)
  bool bf16 = false;           // autocast matmuls to bf16 (fp32 master weights and optimizer)
  bool gradient_checkpointing = false;
  int64_t logging_steps = 500;  // the last step is always logged
  bool logging_first_step = false;
  int64_t save_steps = 500;             // 0: a checkpoint only at the end (save_strategy "no" disables that too)
  std::string save_strategy = "steps";  // steps | no
  std::optional<int64_t> save_total_limit;
  std::string eval_strategy = "no";   // steps | no; a recipe that sets eval_steps gets steps
  std::optional<int64_t> eval_steps;  // unset: logging_steps (as transformers)
  int64_t max_eval_samples = 0;       // 0: the whole evaluation set
  int64_t seed = 42;
  std::optional<std::string> resume_from_checkpoint;  // "true"/"latest": newest in output_dir, or a path
  int64_t max_nonfinite_steps = 5;  // r1: stop (with a checkpoint) after this many non-finite steps in a row
  bool save_final_model = true;     // r1: write the trained model into output_dir at the end
  std::vector<std::string> report_to = {"none"};  // none | all | tensorboard (metrics.jsonl is always written)
  std::optional<std::string> logging_dir;         // TensorBoard event files; unset: output_dir/runs
  std::string ddp_backend = "auto";               // data parallel (r1/distributed.h): auto | gloo | nccl
  double ddp_timeout = 1800;                      // seconds, as transformers' ddp_timeout
  double ddp_bucket_cap_mb = 25;  // gradient all-reduce buckets (transformers' ddp_bucket_cap_mb; DDP: 25)

  void read(const Recipe& recipe);  // reads the keys present; does not reject unknown ones
  void validate() const;            // UsageError naming the key
  nlohmann::ordered_json to_json() const;
  static std::vector<std::string> keys();
  static std::vector<std::pair<std::string, std::string>> help();  // key, description
};

// Multiplier of the base learning rate at optimizer step `step` (0-based), as transformers' get_scheduler.
double lr_multiplier(const std::string& type, int64_t step, int64_t warmup_steps, int64_t total_steps,
                     double min_lr_rate = 0.0);
int64_t resolve_warmup_steps(const TrainingArguments& args, int64_t total_steps);

// ---- Shared by every trainer: checkpointed state and the optimizer --------------------------------------------------

// Every part of a run that a checkpoint holds besides the model (optimizer, RNG, the trainer's counters, the
// objective's data position and own state) saves and restores itself through this one interface, so the
// trainer saves with one call and resumes with one call (src/train/checkpoint.h). The files are fixed:
// tensors go to optimizer.safetensors (its metadata beside them), JSON fields to trainer_state.json, and a part
// may add its own files to the checkpoint directory (flat: the manifest lists regular files).
struct CheckpointWriter {
  std::filesystem::path dir;                                // the checkpoint being written
  nlohmann::json state = nlohmann::json::object();          // -> trainer_state.json
  std::vector<std::pair<std::string, at::Tensor>> tensors;  // -> optimizer.safetensors, in this order
  std::map<std::string, std::string> metadata;              // -> its metadata (besides "format": "pt")
};
struct CheckpointReader {
  std::filesystem::path dir;                  // the verified checkpoint being restored
  std::string state_path, tensors_path;       // trainer_state.json and optimizer.safetensors, for messages
  nlohmann::json state;                       // trainer_state.json
  std::map<std::string, at::Tensor> tensors;  // optimizer.safetensors: each part takes its own
  std::map<std::string, std::string> metadata;
  // Removes and returns tensor `name`; undefined if the file lacks it (the part says what that means).
  at::Tensor take(const std::string& name);
};
class Stateful {
 public:
  virtual ~Stateful() = default;
  virtual void save_state(CheckpointWriter& out) const = 0;
  // r1::Error naming the checkpoint's file and key when the saved state does not fit.
  virtual void load_state(CheckpointReader& in) = 0;
};

// torch.optim.AdamW (decoupled weight decay, bias-corrected moments), element for element the same
// arithmetic as PyTorch's single-tensor implementation.
class AdamW : public Stateful {
 public:
  struct Param {
    std::string name;
    at::Tensor tensor;
    bool decay = true;
  };
  AdamW(std::vector<Param> params, double weight_decay, double beta1, double beta2, double eps);
  void step(double lr);  // skips parameters without a gradient
  void zero_grad();
  int64_t steps() const { return steps_; }
  const std::vector<Param>& params() const { return params_; }
  // "<param>.exp_avg" / "<param>.exp_avg_sq" tensors and the step count ("steps" metadata); load checks
  // names and shapes.
  void save_state(CheckpointWriter& out) const override;
  void load_state(CheckpointReader& in) override;

 private:
  std::vector<Param> params_;
  std::vector<at::Tensor> exp_avg_, exp_avg_sq_;
  double weight_decay_, beta1_, beta2_, eps_;
  int64_t steps_ = 0;
};

// (name, parameter, decay?) for every trainable parameter of the model, tied weights once.
std::vector<AdamW::Param> optimizer_params(model::TransformerImpl& model, const std::vector<std::string>& no_decay);

// ---- Shared by every trainer: the loop (an Objective run by the Trainer) --------------------------------------------
// One micro-batch's contribution. loss_sum is summed over the objective's units (e.g. target tokens);
// the trainer divides by the step's normaliser before backward.
struct MicroBatchLoss {
  at::Tensor loss_sum;                    // scalar, with a graph
  int64_t tokens = 0;                     // tokens processed (throughput)
  std::map<std::string, double> metrics;  // summed over the micro-batch; divided by the normaliser when logged
};

// Data parallel (include/r1/distributed.h): which share of each step this process trains. With W ranks an
// optimizer step covers W x gradient_accumulation_steps micro-batches, the ones one process would take with
// gradient_accumulation_steps x W, and rank r trains global micro-batches r, r + W, r + 2W, ... The data
// position stays global (every rank's equals one process's), so a checkpoint resumes with any world size.
struct DataShard {
  int rank = 0;
  int world_size = 1;
};

// What is trained, on which data: implemented by pretraining, SFT, DPO, GRPO.
class Objective : public Stateful {
 public:
  // Fetches (and for RL, generates) the data of one optimizer step of `micro_batches` micro-batches (this
  // rank's) and returns the loss normaliser over them (e.g. target tokens); the trainer sums it over the ranks,
  // so accumulation and data parallelism equal one big batch. Every micro_batch's loss_sum is divided by that sum.
  virtual double prepare_step(int64_t micro_batches) = 0;
  // Called once before the first step when the run has more than one rank. The default refuses: an objective
  // trains data-parallel only once it shards its data (every r1 trainer does: pretrain, SFT, DPO, reward, GKD, GRPO,
  // PPO).
  virtual void set_data_shard(const DataShard& shard);
  virtual MicroBatchLoss micro_batch(int64_t index) = 0;
  // Optimizer steps in one epoch of the data, when known (for num_train_epochs); 0 if not.
  virtual int64_t steps_per_epoch(int64_t micro_batches_per_step) const { return 0; }
  // The data position, saved in checkpoints and restored on resume.
  virtual nlohmann::json data_state() const = 0;
  virtual void load_data_state(const nlohmann::json& state) = 0;
  // What the objective checkpoints: by default data_state() as trainer_state.json's "data_state" (errors
  // from load_data_state are reported with that file and key). An objective with more state (GRPO's synced
  // reference model) extends these.
  void save_state(CheckpointWriter& out) const override;
  void load_state(CheckpointReader& in) override;
  // Parameters the objective trains besides the model's (PPO's value model), named apart from them: the optimizer
  // updates them with the model's and their gradients count in the clipped norm; the objective checkpoints their
  // values itself (save_state / load_state).
  virtual std::vector<AdamW::Param> extra_params() { return {}; }
  // Evaluation metrics ("eval_loss", ...); empty if the objective has no evaluation set.
  virtual std::map<std::string, double> evaluate() { return {}; }
  // Printed once at the start (e.g. the data mixture).
  virtual std::string describe(int64_t total_steps, int64_t micro_batches_per_step) const { return {}; }
  // Called after each optimizer step that was taken; the metrics join that step's log line as they are (not
  // divided by the normaliser): step-level numbers (GRPO's rewards, token means) and timers that must cover
  // the backward and the optimizer step. With several ranks the trainer logs their mean over the ranks (an
  // objective whose metrics need other reductions makes them global itself, as GRPO does).
  virtual std::map<std::string, double> end_step() { return {}; }
};

struct TrainResult {
  int64_t global_step = 0;
  int64_t skipped_steps = 0;
  double last_loss = 0;
  std::map<std::string, double> last_eval;
  bool stopped_nonfinite = false;
  bool interrupted = false;  // stop_requested was set; a checkpoint holds the position
  std::filesystem::path last_checkpoint;
};

struct TrainerHooks {
  // Called with a directory that receives a model (checkpoint or final): copy the tokenizer etc. there.
  std::function<void(const std::filesystem::path&)> save_extra;
  // Written next to each checkpoint as run_config.yaml (the effective recipe); optional.
  std::string run_config_yaml;
  bool progress_bar = true;  // drawn only on a terminal anyway
  // Checked before each step; when set the trainer saves a checkpoint and returns (SIGINT/SIGTERM handlers).
  const std::atomic<bool>* stop_requested = nullptr;
};

class Trainer {
 public:
  Trainer(model::Transformer model, TrainingArguments args, Objective& objective, TrainerHooks hooks = {});
  // Runs to max_steps (or num_train_epochs), resuming from args.resume_from_checkpoint if set.
  TrainResult train();

 private:
  model::Transformer model_;
  TrainingArguments args_;
  Objective& objective_;
  TrainerHooks hooks_;
};

// ---- Shared by every trainer: checkpoint directories ----------------------------------------------------------------

// output_dir/checkpoint-<step> directories; "latest" = the highest step with a manifest.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& output_dir);
// Resolves resume_from_checkpoint ("true"/"latest" or a path) to a verified checkpoint directory, or nullopt.
std::optional<std::filesystem::path> resolve_resume_checkpoint(const TrainingArguments& args);
// Checks the manifest (format, version 1, a step matching the directory's name) and every file it lists
// (present, size, checksum; no unlisted file); r1::Error naming the file otherwise. Returns the step.
int64_t verify_checkpoint(const std::filesystem::path& checkpoint_dir);

// The LM-head losses (causal_lm_loss_sum, token_logprobs, generalized_jsd_sum) live in r1/model.h; the trainers name
// them here too.
using model::causal_lm_loss_sum;
using model::generalized_jsd_sum;
using model::token_logprobs;
using model::TokenLogprobs;

}  // namespace r1::train

namespace r1::train {

// ---- pretrain (r1 pretrain) -----------------------------------------------------------------------------------------
// `r1 pretrain`: causal-LM pretraining from token shards (r1 data prepare) with a weighted mixture.
// Recipe keys: TrainingArguments', plus
//   model_name_or_path  HF model directory to continue from, or
//   model_config        config.json path or an inline mapping of its keys (a new model, initialised with `seed`)
//   tokenizer_name_or_path  directory with tokenizer.json (default: model_name_or_path); saved with the model
//   dataset_name        a prepared directory (one source), or
//   dataset_mixture     {datasets: [{id: DIR, weight: W}, ...]} (open-r1's layout)
//   max_length          tokens per training sequence (alias block_size)
struct PretrainOptions {
  TrainingArguments training;
  std::string model_name_or_path, tokenizer_name_or_path, dataset_name;
  nlohmann::json model_config;     // string path or mapping; null if unused
  nlohmann::json dataset_mixture;  // null if unused
  int64_t max_length = 1024;

  // Reads and validates the recipe (unknown keys rejected).
  static PretrainOptions from_recipe(const Recipe& recipe);
  nlohmann::ordered_json to_json() const;
  static std::vector<std::pair<std::string, std::string>> help();
};

TrainResult pretrain(const PretrainOptions& options, const std::atomic<bool>* stop_requested = nullptr);

}  // namespace r1::train

namespace r1::train {

// ---- GRPO (r1 grpo) -------------------------------------------------------------------------------------------------
// `r1 grpo`: Group Relative Policy Optimization (DeepSeekMath; DeepSeek-R1-Zero's RL) with TRL's GRPOConfig
// names and semantics. Each generation the engine samples num_generations completions per prompt from the live
// weights (temperature-scaled log-probs kept), the reward functions score them, advantages are group-relative,
// (or leave-one-out, or REINFORCE++'s: advantage_estimator), and the clipped surrogate (+ beta * k3 KL to a frozen
// reference, or the KL in the reward: use_kl_in_reward) is optimised for num_iterations optimizer
// steps over that generation batch. per_device_train_batch_size counts completions (as TRL): one generation
// holds per_device_train_batch_size * gradient_accumulation_steps completions, i.e. that / num_generations
// prompts. Log-probs in the loss are log_softmax(logits / temperature), as TRL computes them.
// Dataset: a JSONL file (or a directory with train.jsonl); the prompt is the `prompt` or `messages` column when
// it is a conversation, else the string column dataset_prompt_column (then `prompt`, `problem`) as the user
// turn after system_prompt, rendered with chat_template (tokenizer::chat_template_source: "auto" the
// tokenizer's, else r1-zero; a built-in name; a file; Jinja text; "none": the raw string). The row's other columns
// (solution, answer, ...) go to the rewards.
struct GrpoOptions {
  TrainingArguments training;  // learning_rate defaults to 1e-6 (TRL)
  std::string model_name_or_path, tokenizer_name_or_path, dataset_name;
  std::string dataset_prompt_column = "problem";
  std::string chat_template = "auto";
  std::string system_prompt;
  int64_t max_samples = 0;  // use the first N rows only (0: all)
  int64_t num_generations = 8;
  int64_t max_prompt_length = 512;  // longer prompts keep their last tokens (TRL truncates on the left)
  int64_t max_completion_length = 256;
  double temperature = 1.0, top_p = 1.0, min_p = 0.0, repetition_penalty = 1.0;
  int64_t top_k = 0;
  double beta = 0.04;  // 0: no reference model is kept
  double epsilon = 0.2;
  double epsilon_high = -1;  // < 0: equal to epsilon
  int64_t num_iterations = 1;
  std::string loss_type = "grpo";       // grpo | bnpo | dr_grpo | dapo | cispo | sapo | luspo | vespo
  std::string scale_rewards = "group";  // group | batch | none (advantage_estimator grpo only)
  // verl's algorithm.adv_estimator: grpo | rloo (TRL RLOOTrainer) | reinforce_plus_plus_baseline; formulas in
  // src/train/grpo-advantages.h.
  std::string advantage_estimator = "grpo";
  // verl's algorithm.use_kl_in_reward (TRL RLOOTrainer with beta > 0): reward -= beta * sum_t (log pi_old - log
  // pi_ref) before the advantages, and no KL term in the loss. Needs beta > 0.
  bool use_kl_in_reward = false;
  bool mask_truncated_completions = false;
  // Loss variants (formulas in src/train/grpo-loss.h; TRL GRPOConfig's keys, verl's clip_ratio_c):
  std::string importance_sampling_level = "token";  // token | sequence (GSPO)
  std::optional<double> delta;                      // INTELLECT-2: caps the unclipped ratio (> 1 + epsilon_high)
  std::optional<double> clip_ratio_c;               // verl's dual-clip: for A < 0 the loss is at most -A * c (> 1)
  double sapo_temperature_pos = 1.0, sapo_temperature_neg = 1.05;  // loss_type sapo: gate temperature by sign of A
  double vespo_k_pos = 2.0, vespo_lambda_pos = 3.0;                // loss_type vespo: phi's k and lambda for A >= 0
  double vespo_k_neg = 3.0, vespo_lambda_neg = 2.0;                // and for A < 0
  double top_entropy_quantile = 1.0;  // train on the top-rho entropy tokens of each micro-batch (1: all)
  double entropy_coef = 0.0;          // loss -= entropy_coef * mean token entropy (TRL's bonus)
  std::string multi_objective_aggregation = "sum_then_normalize";  // | normalize_then_sum (GDPO)
  // Registry reward names, or reward model directories (sequence classifiers; src/train/reward-funcs.h).
  std::vector<std::string> reward_funcs = {"accuracy", "format"};
  std::vector<double> reward_weights;  // empty: all 1
  nlohmann::json reward_kwargs;        // r1: {reward_funcs entry: {parameter: value}}
  bool sync_ref_model = false;
  double ref_model_mixup_alpha = 0.6;
  int64_t ref_model_sync_steps = 512;
  bool log_completions = false;        // output_dir/completions.jsonl: every completion with its rewards
  int64_t generation_max_batch = 256;  // r1: KV-cache slots of the rollout engine
  // DAPO's dynamic sampling (verl's algorithm.filter_groups): groups whose dynamic_sampling_metric has zero variance
  // are dropped and more generation batches sampled until the batch holds enough informative groups; more than
  // max_num_gen_batches rounds in one step is an r1::Error, as verl (0: no cap).
  bool dynamic_sampling = false;                   // verl's filter_groups.enable
  std::string dynamic_sampling_metric = "reward";  // verl's filter_groups.metric: reward | a reward_funcs entry
  int64_t max_num_gen_batches = 10;                // verl's filter_groups.max_num_gen_batches (0: no cap)
  // Evaluation during training (eval_strategy steps): num_generations_eval samples of each prompt of the
  // dataset_test_split split (a directory's <split>.jsonl; a file's <stem>.<split>.jsonl), scored by the rewards.
  std::optional<int64_t> num_generations_eval;  // TRL's; unset: num_generations
  std::string dataset_test_split = "test";      // TRL's ScriptArguments
  // TRL's batch decoupling: a generation batch of per_device_train_batch_size * steps_per_generation completions
  // (or generation_batch_size) serves steps_per_generation / gradient_accumulation_steps optimizer steps, each
  // num_iterations times; the steps after the first train off-policy on the generation's old log-probs.
  std::optional<int64_t> steps_per_generation;   // unset: gradient_accumulation_steps
  std::optional<int64_t> generation_batch_size;  // unset: per_device_train_batch_size * steps_per_generation
  // Off-policy correction between the sampler (the engine: its sampling distribution after temperature, top-k,
  // top-p, min-p and penalties, bf16 with bf16) and the learner (TRL's vllm_importance_sampling_* keys; formulas
  // in src/train/grpo-loss.h), and DeepSeek-V3.2's off-policy sequence mask.
  bool vllm_importance_sampling_correction = false;
  std::string vllm_importance_sampling_mode = "sequence_mask";  // token|sequence _ truncate|mask
  std::optional<double> vllm_importance_sampling_clip_max = 3.0;
  std::optional<double> vllm_importance_sampling_clip_min;
  std::optional<double> off_policy_mask_threshold;
  // Skywork-OR1's adaptive entropy control (TRL's keys): entropy_coef moves by entropy_coef_delta each step
  // toward keeping the entropy above entropy_target, and applies only while the entropy is at or below it.
  bool use_adaptive_entropy = false;
  double entropy_coef_min = 0.0, entropy_coef_max = 1.0, entropy_coef_delta = 0.005, entropy_target = 0.2;
  // r1: the learning phase's forwards pack each micro-batch's prompt + completion sequences into rows no longer
  // than its longest (attention kept inside each sequence), so their cost follows real tokens, not the longest.
  bool packing = false;

  static GrpoOptions from_recipe(const Recipe& recipe);  // reads, validates, rejects unknown keys
  void validate() const;
  nlohmann::ordered_json to_json() const;
  static std::vector<std::pair<std::string, std::string>> help();
  // Micro-batches per generation batch: steps_per_generation, generation_batch_size / per_device_train_batch_size,
  // else gradient_accumulation_steps.
  int64_t resolved_steps_per_generation() const;
};

TrainResult grpo(const GrpoOptions& options, const std::atomic<bool>* stop_requested = nullptr);

// ---- PPO (r1 ppo) ---------------------------------------------------------------------------------------------------
// `r1 ppo`: PPO with a value model and GAE (Schulman et al. 2017; InstructGPT's RLHF), TRL's PPOConfig / PPOTrainer
// names and semantics. Each rollout the engine samples one completion for each of per_device_train_batch_size *
// gradient_accumulation_steps * num_mini_batches prompts (TRL's local_batch_size) at `temperature`; the rewards
// (reward_model_path, or reward_funcs as GRPO's) score each completion; missing_eos_penalty is subtracted from
// completions that did not end with EOS. Per token: the reward is -kl_coef * KL(pi_old || pi_ref) (kl_estimator k1
// log(pi_old/pi_ref) or k3), plus the score on the completion's last token; the value model (a sequence classifier
// on its own trunk: value_model_path, else reward_model_path, else the policy's trunk with a fresh head) gives
// V(s_t); GAE(gamma, lam) gives the advantages (whitened over the batch's tokens) and returns = A + V. Then
// num_ppo_epochs passes over the rollout, each in num_mini_batches shuffled mini-batches, one optimizer step each
// (policy and value model together, one AdamW, one clipped gradient norm) on
//   pg_loss + vf_coef * vf_loss, pg_loss = mean_t max(-A r_t, -A clip(r_t, 1 - cliprange, 1 + cliprange)),
//   vf_loss = 0.5 mean_t max((V - R)^2, (V_old + clip(V - V_old, -cliprange_value, cliprange_value) - R)^2),
// token means per micro-batch, averaged over the mini-batch's micro-batches (TRL). max_steps counts optimizer steps;
// total_episodes (TRL), when set, gives max_steps = ceil(total_episodes / rollout size) * num_ppo_epochs *
// num_mini_batches. The formulas are in src/train/ppo-math.h; departures from TRL in src/train/ppo.cpp. The value
// model is saved to output_dir/value_model (a transformers sequence-classification directory).
struct PpoOptions {
  TrainingArguments training;  // learning_rate defaults to 3e-6 (TRL's PPOConfig)
  std::string model_name_or_path, tokenizer_name_or_path, dataset_name;
  std::string dataset_prompt_column = "problem";
  std::string chat_template = "auto";
  std::string system_prompt;
  int64_t max_samples = 0;
  int64_t max_prompt_length = 512;
  int64_t response_length = 53;  // TRL's name for the completion tokens
  double temperature = 0.7;
  std::optional<double> missing_eos_penalty;
  int64_t num_ppo_epochs = 4;
  int64_t num_mini_batches = 1;
  std::optional<int64_t> total_episodes;
  double kl_coef = 0.05;
  std::string kl_estimator = "k1";  // k1 | k3
  double cliprange = 0.2, cliprange_value = 0.2, vf_coef = 0.1;
  double gamma = 1.0, lam = 0.95;
  bool whiten_rewards = false;
  std::string reward_model_path;          // a sequence classifier (as r1 reward writes); or
  std::vector<std::string> reward_funcs;  // GRPO's reward names / reward model directories
  std::vector<double> reward_weights;
  nlohmann::json reward_kwargs;
  std::string value_model_path;  // r1: default reward_model_path, else the policy's trunk with a fresh head
  bool log_completions = false;
  int64_t generation_max_batch = 256;

  static PpoOptions from_recipe(const Recipe& recipe);  // reads, validates, rejects unknown keys
  void validate() const;
  nlohmann::ordered_json to_json() const;
  static std::vector<std::pair<std::string, std::string>> help();
  // Prompts per rollout over every rank (TRL's batch_size: local_batch_size x the ranks of a data-parallel launch)
  // and optimizer steps per rollout.
  int64_t rollout_size() const;
  int64_t steps_per_rollout() const { return num_ppo_epochs * num_mini_batches; }
  // The reward entries: reward_funcs, or [reward_model_path].
  std::vector<std::string> rewards() const;
};

TrainResult ppo(const PpoOptions& options, const std::atomic<bool>* stop_requested = nullptr);

// ---- SFT / DPO / GKD (r1 sft, r1 dpo, r1 distill; TRL's SFTTrainer / DPOTrainer / GKDTrainer keys) ------------------

// TRL's ModelConfig LoRA keys (open-r1 passes them to get_peft_config), with its defaults.
struct PeftArguments {
  bool use_peft = false;
  int64_t lora_r = 16;
  double lora_alpha = 32;
  double lora_dropout = 0.05;
  std::vector<std::string> lora_target_modules = {"q_proj", "v_proj"};  // PEFT's Llama/Qwen2 default; or all-linear
};

// Keys every fine-tuning recipe shares: the model, tokenizer, chat template, dataset and LoRA.
//   model_name_or_path      HF model directory (required)
//   tokenizer_name_or_path  directory with tokenizer.json (default: model_name_or_path)
//   chat_template           a built-in name (chatml, qwen2.5, ...), a file, or a Jinja string; default: the
//                           tokenizer's; saved into the output's tokenizer_config.json
//   dataset_name            a .jsonl file, or a directory with <split>.jsonl files
//   dataset_train_split     "train"; dataset_test_split "test" (evaluated when eval_strategy is steps)
struct FinetuneArguments {
  std::string model_name_or_path, tokenizer_name_or_path, chat_template, dataset_name;
  std::string dataset_train_split = "train", dataset_test_split = "test";
  PeftArguments peft;
};

// `r1 sft`: supervised fine-tuning (r1/data.h sft_example for the dataset formats and masks).
//   max_length (1024), completion_only_loss (unset: on), assistant_only_loss (false),
//   packing (false: best-fit-decreasing bins of max_length tokens, attention kept within each example),
//   padding_free (false: each micro-batch one row of its examples end to end, no padding).
// The loss is the cross-entropy summed over target tokens and divided by the target tokens of the whole
// accumulated step (TRL). Logged: loss, mean_token_accuracy; evaluated: eval_loss, eval_mean_token_accuracy.
struct SftOptions {
  TrainingArguments training;
  FinetuneArguments finetune;
  int64_t max_length = 1024;
  std::optional<bool> completion_only_loss;
  bool assistant_only_loss = false;
  bool packing = false;
  bool padding_free = false;

  static SftOptions from_recipe(const Recipe& recipe);
  nlohmann::ordered_json to_json() const;
  static std::vector<std::pair<std::string, std::string>> help();
};
TrainResult sft(const SftOptions& options, const std::atomic<bool>* stop_requested = nullptr);

// `r1 dpo`: direct preference optimisation (Rafailov et al. 2023) on prompt/chosen/rejected rows.
//   beta (0.1), loss_type (sigmoid | ipo | hinge | robust), label_smoothing (0: cDPO / robust DPO's epsilon),
//   max_prompt_length (512), max_length (1024), ref_model_name_or_path (default: a frozen copy of the
//   initial policy; with LoRA the policy with adapters disabled), precompute_ref_log_probs (false).
// Logged per step (means over the step's pairs): loss, rewards/chosen, rewards/rejected, rewards/accuracies,
// rewards/margins, logps/chosen, logps/rejected; evaluated: the same with an eval_ prefix.
struct DpoOptions {
  TrainingArguments training;
  FinetuneArguments finetune;
  double beta = 0.1;
  std::string loss_type = "sigmoid";
  double label_smoothing = 0.0;
  int64_t max_prompt_length = 512;
  int64_t max_length = 1024;
  std::string ref_model_name_or_path;
  bool precompute_ref_log_probs = false;

  static DpoOptions from_recipe(const Recipe& recipe);
  nlohmann::ordered_json to_json() const;
  static std::vector<std::pair<std::string, std::string>> help();
};
TrainResult dpo(const DpoOptions& options, const std::atomic<bool>* stop_requested = nullptr);

// `r1 distill`: on-policy logit distillation (GKD, Agarwal et al. 2024; TRL's GKDTrainer / GKDConfig keys). The
// student (model_name_or_path) learns the teacher's full next-token distributions over completion tokens by
// generalized_jsd_sum (r1/model.h: beta 0 forward KL(teacher || student), 1 reverse KL, between: the generalized
// JSD). Per micro-batch, as TRL's training_step: with probability lmbda the completions are the student's own
// samples from the prompts (on-policy), else with seq_kd the teacher's, else the dataset's; sampled at
// `temperature` (top_k 0, top_p 1) for up to max_new_tokens, stopping on the model's stop ids. The loss is at
// temperature 1 (as TRL) and divided by the completion tokens of the whole accumulated step.
//   teacher_model_name_or_path (required: the same tokenizer vocabulary as the student), lmbda (0.5), beta (0.5),
//   temperature (0.9), max_new_tokens (128), seq_kd (false), max_length (1024: dataset rows keep their last
//   max_length tokens), disable_dropout (true: no LoRA dropout), generation_max_batch (256, r1).
// Dataset rows: prompt/completion, messages (the last, an assistant's, is the completion) or Alpaca.
// Logged: loss, on_policy and seq_kd (fractions of the step's micro-batches trained on student / teacher samples),
// completions/mean_length, time/generation; evaluated: eval_loss on the dataset completions.
struct GkdOptions {
  TrainingArguments training;  // learning_rate defaults to 2e-5 (TRL's SFTConfig, which GKDConfig extends)
  FinetuneArguments finetune;  // model_name_or_path: the student
  std::string teacher_model_name_or_path;
  double lmbda = 0.5;
  double beta = 0.5;
  double temperature = 0.9;
  int64_t max_new_tokens = 128;
  bool seq_kd = false;
  int64_t max_length = 1024;
  bool disable_dropout = true;
  int64_t generation_max_batch = 256;  // r1: KV-cache slots of each generation engine

  static GkdOptions from_recipe(const Recipe& recipe);  // reads, validates, rejects unknown keys
  void validate() const;
  nlohmann::ordered_json to_json() const;
  static std::vector<std::pair<std::string, std::string>> help();
};
TrainResult gkd(const GkdOptions& options, const std::atomic<bool>* stop_requested = nullptr);

// TRL's dpo_loss on per-pair summed (IPO: length-averaged) log-probs, all (P): with
// z = (pc - pr) - (rc - rr), beta b and label smoothing e:
//   sigmoid: -log s(b z)(1 - e) - log s(-b z) e          robust: (-log s(b z)(1 - e) + log s(-b z) e) / (1 - 2e)
//   hinge:   relu(1 - b z)                               ipo:    (z - 1/(2b))^2
// rewards: chosen b (pc - rc), rejected b (pr - rr), detached.
struct DpoLoss {
  at::Tensor losses, chosen_rewards, rejected_rewards;  // (P)
};
DpoLoss dpo_loss(const at::Tensor& policy_chosen, const at::Tensor& policy_rejected, const at::Tensor& ref_chosen,
                 const at::Tensor& ref_rejected, const std::string& loss_type, double beta, double label_smoothing);

}  // namespace r1::train
