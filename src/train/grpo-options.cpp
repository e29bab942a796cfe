// GrpoOptions: TRL's GRPOConfig keys (and open-r1's GRPOScriptArguments: dataset_prompt_column, system_prompt,
// reward_funcs, chat_template) read from a recipe, validated, dumped and documented from one field list.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "r1/distributed.h"
#include "r1/error.h"
#include "r1/recipe.h"
#include "r1/rewards.h"
#include "r1/train.h"
#include "train/grpo-advantages.h"
#include "train/grpo-loss.h"
#include "train/reward-funcs.h"

namespace r1::train {
namespace {

template <class Options, class Visitor>
void visit(Options& o, Visitor& v) {
  v("model_name_or_path", o.model_name_or_path, "HF model directory of the policy (and of the reference model)");
  v("tokenizer_name_or_path", o.tokenizer_name_or_path, "directory with tokenizer.json (default: model_name_or_path)");
  v("dataset_name", o.dataset_name, "prompts: a JSONL file or a directory with train.jsonl");
  v("dataset_prompt_column", o.dataset_prompt_column, "string column used as the user turn (then prompt, problem)");
  v("max_samples", o.max_samples, "use only the first N rows (0: all)");
  v("chat_template", o.chat_template, "auto (tokenizer's, else r1-zero) | none | a built-in name | Jinja text");
  v("system_prompt", o.system_prompt, "system message before each string prompt (open-r1)");
  v("num_generations", o.num_generations, "G: completions sampled per prompt");
  v("max_prompt_length", o.max_prompt_length, "prompt tokens kept (the last ones)");
  v("max_completion_length", o.max_completion_length, "tokens generated per completion");
  v("temperature", o.temperature, "sampling temperature; the loss uses log_softmax(logits / temperature)");
  v("top_p", o.top_p, "nucleus sampling (1: off)");
  v("top_k", o.top_k, "top-k sampling (0: off)");
  v("min_p", o.min_p, "min-p sampling (0: off)");
  v("repetition_penalty", o.repetition_penalty, "HF repetition penalty while sampling (1: off)");
  v("beta", o.beta, "KL coefficient (k3 estimator against the frozen initial model); 0: no reference model");
  v("epsilon", o.epsilon, "clip range: ratio clipped to [1 - epsilon, 1 + epsilon_high]");
  v("epsilon_high", o.epsilon_high, "upper clip (DAPO's clip-higher); < 0: equal to epsilon");
  v("num_iterations", o.num_iterations, "mu: optimizer steps per generation batch (old log-probs from sampling)");
  v("loss_type", o.loss_type,
    "grpo (per-sequence mean) | bnpo | dr_grpo (/ max_completion_length) | dapo (token-level) | cispo (MiniMax-M1: "
    "-sg(min(ratio, epsilon_high)) A log pi, token-level; epsilon_high an absolute cap, TRL recommends 5.0) | sapo "
    "(soft gate -sigmoid(tau (ratio - 1)) 4 / tau A, per-sequence mean) | luspo (GSPO loss times the completion "
    "length; with importance_sampling_level sequence) | vespo (-sg(phi(W)) A log pi, phi(W) = exp(lambda + k log W - "
    "lambda W) of the sequence ratio W, token-level), as TRL's loss_type");
  v("scale_rewards", o.scale_rewards,
    "grpo's advantage scaling: group | batch | none (std unbiased, + 1e-4); only with advantage_estimator grpo");
  v("advantage_estimator", o.advantage_estimator,
    "verl's algorithm.adv_estimator: grpo (TRL GRPOTrainer, verl grpo: (r - group mean) / std) | rloo (TRL "
    "RLOOTrainer, verl rloo: r - mean of the other G-1) | reinforce_plus_plus_baseline (verl "
    "reinforce_plus_plus_baseline: r - group mean, whitened over the batch's tokens)");
  v("use_kl_in_reward", o.use_kl_in_reward,
    "verl's algorithm.use_kl_in_reward (kl_penalty: kl), TRL RLOOTrainer's KL: reward -= beta * sum_t (log pi_old - "
    "log pi_ref), no KL term in the loss; needs beta > 0");
  v("mask_truncated_completions", o.mask_truncated_completions, "truncated completions get no loss");
  v("importance_sampling_level", o.importance_sampling_level,
    "TRL's importance_sampling_level: token (one ratio per token) | sequence (GSPO: one length-normalised ratio "
    "exp(mean_t log(pi/pi_old)) per sequence; GSPO uses epsilon 3e-4, epsilon_high 4e-4)");
  v("delta", o.delta,
    "TRL's delta (INTELLECT-2): the unclipped ratio is capped at delta in the clipped losses (null: off; use > 1 + "
    "epsilon_high)");
  v("clip_ratio_c", o.clip_ratio_c,
    "verl's actor clip_ratio_c (dual-clip PPO): in the clipped losses, for A < 0 the loss is at most -A * "
    "clip_ratio_c (null: off; verl uses 3.0; must be > 1)");
  v("sapo_temperature_pos", o.sapo_temperature_pos, "TRL's sapo_temperature_pos: loss_type sapo's gate for A > 0");
  v("sapo_temperature_neg", o.sapo_temperature_neg, "TRL's sapo_temperature_neg: loss_type sapo's gate for A <= 0");
  v("vespo_k_pos", o.vespo_k_pos, "TRL's vespo_k_pos: loss_type vespo's power k for A >= 0");
  v("vespo_lambda_pos", o.vespo_lambda_pos, "TRL's vespo_lambda_pos: loss_type vespo's decay lambda for A >= 0");
  v("vespo_k_neg", o.vespo_k_neg, "TRL's vespo_k_neg: loss_type vespo's power k for A < 0");
  v("vespo_lambda_neg", o.vespo_lambda_neg, "TRL's vespo_lambda_neg: loss_type vespo's decay lambda for A < 0");
  v("top_entropy_quantile", o.top_entropy_quantile,
    "TRL's top_entropy_quantile (rho, Beyond the 80/20 Rule: 0.2): the policy loss keeps only the tokens whose "
    "entropy is in the top rho of the micro-batch's (1: all; the KL term keeps every token); logs "
    "entropy_mask_fraction");
  v("entropy_coef", o.entropy_coef,
    "TRL's entropy_coef (verl's entropy_coeff): loss -= entropy_coef * mean token entropy (over the tokens the "
    "policy loss keeps), the same for every loss_type, with its gradient; 0: off");
  v("multi_objective_aggregation", o.multi_objective_aggregation,
    "TRL's multi_objective_aggregation: sum_then_normalize (weighted sum of the rewards, then the advantage) | "
    "normalize_then_sum (GDPO: each reward normalised within its group, (r - mean) / (std + 1e-4), weighted sum, "
    "then (x - batch mean) / (batch std + 1e-4)); normalize_then_sum needs advantage_estimator grpo");
  v("reward_funcs", o.reward_funcs,
    "reward names (accuracy, format, tag_count, ...: r1 verify --help lists them) or reward model directories (a "
    "sequence classifier, as r1 reward writes: scores prompt + completion rendered with its own tokenizer and chat "
    "template, logits[:, 0], as TRL; reward_kwargs {DIR: {score: all | answer (only the text after </think>), "
    "batch_size: 16}}; logged as rewards/<directory name>/mean)");
  v("reward_weights", o.reward_weights, "one weight per reward (default: all 1)");
  v("reward_kwargs", o.reward_kwargs, "{reward: {parameter: value}}: parameters of the reward functions");
  v("sync_ref_model", o.sync_ref_model, "every ref_model_sync_steps: ref = alpha * policy + (1 - alpha) * ref");
  v("ref_model_mixup_alpha", o.ref_model_mixup_alpha, "alpha of sync_ref_model");
  v("ref_model_sync_steps", o.ref_model_sync_steps, "steps between reference syncs");
  v("log_completions", o.log_completions, "write every completion with its rewards to output_dir/completions.jsonl");
  v("generation_max_batch", o.generation_max_batch, "sequences the rollout engine decodes together");
  v("dynamic_sampling", o.dynamic_sampling,
    "DAPO's dynamic sampling, verl's algorithm.filter_groups.enable: drop the groups whose dynamic_sampling_metric "
    "has zero variance (no learning signal) and sample further generation batches until the batch is full of "
    "informative groups; logs dynamic_sampling/dropped_groups, /generation_rounds, /surplus_groups");
  v("dynamic_sampling_metric", o.dynamic_sampling_metric,
    "verl's filter_groups.metric: reward (the weighted sum of reward_funcs, before use_kl_in_reward; verl's score / "
    "seq_reward) or a reward_funcs entry (accuracy: verl's acc); missing scores are left out of the variance");
  v("max_num_gen_batches", o.max_num_gen_batches,
    "verl's filter_groups.max_num_gen_batches: generation rounds allowed per optimizer step with dynamic_sampling; "
    "more is an error (as verl: the data is too easy or too hard; resume with a higher cap); 0: no cap");
  v("num_generations_eval", o.num_generations_eval,
    "completions per evaluation prompt with eval_strategy steps (default: num_generations); eval/pass@1 is the mean "
    "accuracy reward over them");
  v("dataset_test_split", o.dataset_test_split,
    "evaluation prompts with eval_strategy steps: <dataset_name>/<split>.jsonl, or <stem>.<split>.jsonl beside a "
    "file; max_eval_samples limits them");
  v("steps_per_generation", o.steps_per_generation,
    "TRL's: micro-batches per generation batch (default gradient_accumulation_steps); a multiple k of "
    "gradient_accumulation_steps gives k optimizer steps per generation, the later ones off-policy");
  v("generation_batch_size", o.generation_batch_size,
    "TRL's: completions per generation batch, instead of steps_per_generation (= generation_batch_size / "
    "per_device_train_batch_size)");
  v("vllm_importance_sampling_correction", o.vllm_importance_sampling_correction,
    "TRL's: weight the loss by the importance ratio pi_learner / pi_sampler, with pi_sampler the engine's sampling "
    "distribution (after temperature, top-k, top-p, min-p, penalties; bf16 when bf16), to correct for sampling off "
    "the learner's distribution; logs sampling/importance_sampling_ratio/{min,mean,max}, "
    "sampling/sampling_logp_difference/{mean,max}, sampling/is_masked_fraction");
  v("vllm_importance_sampling_mode", o.vllm_importance_sampling_mode,
    "TRL's: token_truncate (per-token ratio clipped to [clip_min, clip_max]) | token_mask (per-token ratio, 0 "
    "outside) | sequence_truncate (one ratio per sequence, exp of the summed log-ratio, clipped) | sequence_mask "
    "(that ratio, sequence masked outside); with top-p/top-k sampling the sequence ratio multiplies every "
    "truncated token's kept mass, so long completions favour the token modes");
  v("vllm_importance_sampling_clip_max", o.vllm_importance_sampling_clip_max,
    "TRL's C_max of vllm_importance_sampling_mode (null: no upper bound)");
  v("vllm_importance_sampling_clip_min", o.vllm_importance_sampling_clip_min,
    "TRL's C_min of vllm_importance_sampling_mode (null: none)");
  v("off_policy_mask_threshold", o.off_policy_mask_threshold,
    "TRL's (DeepSeek-V3.2's off-policy sequence mask, delta): a completion with A < 0 whose mean per-token "
    "log(pi_sampler / pi_theta) exceeds it gets no policy loss (null: off; e.g. 0.5); pi_sampler is the engine's "
    "sampling distribution with vllm_importance_sampling_correction, else the old policy; logs "
    "off_policy_mask/masked_fraction");
  v("use_adaptive_entropy", o.use_adaptive_entropy,
    "TRL's (Skywork-OR1): entropy_coef starts at entropy_coef and after each step moves up by entropy_coef_delta "
    "when the step's entropy (over the policy loss's tokens) is <= entropy_target, down otherwise, within "
    "[entropy_coef_min, entropy_coef_max]; the bonus applies only while the last entropy is <= entropy_target; "
    "logs entropy_coef");
  v("entropy_coef_min", o.entropy_coef_min, "TRL's: lower bound of the adaptive entropy_coef");
  v("entropy_coef_max", o.entropy_coef_max, "TRL's: upper bound of the adaptive entropy_coef");
  v("entropy_coef_delta", o.entropy_coef_delta, "TRL's: step of the adaptive entropy_coef");
  v("entropy_target", o.entropy_target, "TRL's: target mean token entropy (nats) of adaptive entropy control");
  v("packing", o.packing,
    "r1: the learning phase's forwards (policy and reference) pack each micro-batch's prompt + completion sequences "
    "best-fit decreasing into rows no longer than its longest, attention kept inside each sequence (as r1 sft's "
    "packing): fewer rows, the same log-probs and gradients");
}

}  // namespace

GrpoOptions GrpoOptions::from_recipe(const Recipe& recipe) {
  GrpoOptions o;
  o.training.learning_rate = 1e-6;  // TRL's GRPOConfig default
  o.training.read(recipe);
  RecipeReader reader{recipe, TrainingArguments::keys()};
  visit(o, reader);
  recipe.reject_unused(reader.keys);
  if (o.tokenizer_name_or_path.empty()) o.tokenizer_name_or_path = o.model_name_or_path;
  o.validate();
  return o;
}

void GrpoOptions::validate() const {
  training.validate();
  if (model_name_or_path.empty()) fail_usage("model_name_or_path is required (the policy to train)");
  if (dataset_name.empty()) fail_usage("dataset_name is required (a JSONL file of prompts)");
  if (num_generations < 2)
    fail_usage("num_generations must be >= 2 (advantages are relative to the group), got {}", num_generations);
  if (steps_per_generation && generation_batch_size)
    fail_usage("steps_per_generation and generation_batch_size are mutually exclusive (TRL): set one");
  if (steps_per_generation && *steps_per_generation < 1)
    fail_usage("steps_per_generation must be >= 1, got {}", *steps_per_generation);
  const int64_t ranks = dist::read_launch_env().world_size;  // TRL: generation_batch_size counts every rank's
  if (generation_batch_size &&
      (*generation_batch_size < 1 || *generation_batch_size % (training.per_device_train_batch_size * ranks) != 0))
    fail_usage(
        "generation_batch_size ({}) must be a positive multiple of per_device_train_batch_size ({}) x the number of "
        "ranks ({})",
        *generation_batch_size, training.per_device_train_batch_size, ranks);
  const int64_t steps = resolved_steps_per_generation();
  if (steps % training.gradient_accumulation_steps != 0)
    fail_usage(
        "steps_per_generation ({}) must be a multiple of gradient_accumulation_steps ({}): r1 generates at optimizer "
        "step boundaries",
        steps, training.gradient_accumulation_steps);
  const int64_t per_generation = training.per_device_train_batch_size * steps * ranks;
  if (per_generation % num_generations != 0)
    fail_usage(
        "the generation batch, per_device_train_batch_size * steps_per_generation * ranks ({}), must be divisible "
        "by num_generations ({})",
        per_generation, num_generations);
  if (max_prompt_length < 1 || max_completion_length < 1)
    fail_usage("max_prompt_length and max_completion_length must be >= 1");
  if (!(temperature > 0)) fail_usage("temperature must be > 0 (log-probs are scaled by it), got {}", temperature);
  if (!(epsilon >= 0)) fail_usage("epsilon must be >= 0, got {}", epsilon);
  if (num_iterations < 1) fail_usage("num_iterations must be >= 1, got {}", num_iterations);
  if (beta < 0) fail_usage("beta must be >= 0, got {}", beta);
  const rl::LossType loss = rl::parse_loss_type(loss_type);
  rl::parse_importance_sampling_level(importance_sampling_level);
  if (delta && !(*delta > 1))
    fail_usage("delta must be > 1 (it caps the unclipped ratio; INTELLECT-2 uses 4), got {}", *delta);
  if (clip_ratio_c && !(*clip_ratio_c > 1))
    fail_usage("clip_ratio_c must be > 1 (dual-clip bound, verl's default 3.0), got {}", *clip_ratio_c);
  if ((delta || clip_ratio_c) && !rl::is_clipped_loss(loss))
    fail_usage("delta and clip_ratio_c apply to the clipped losses (grpo, bnpo, dr_grpo, dapo, luspo), not {}",
               loss_type);
  if (loss == rl::LossType::kCispo && !((epsilon_high < 0 ? epsilon : epsilon_high) > 0))
    fail_usage("loss_type cispo needs epsilon_high > 0: the absolute cap of the ratio (TRL recommends 5.0), got {}",
               epsilon_high < 0 ? epsilon : epsilon_high);
  if (!(sapo_temperature_pos > 0) || !(sapo_temperature_neg > 0))
    fail_usage("sapo_temperature_pos and sapo_temperature_neg must be > 0, got {} and {}", sapo_temperature_pos,
               sapo_temperature_neg);
  if (!std::isfinite(vespo_k_pos) || !std::isfinite(vespo_k_neg) || !std::isfinite(vespo_lambda_pos) ||
      !std::isfinite(vespo_lambda_neg))
    fail_usage("vespo_k_pos, vespo_lambda_pos, vespo_k_neg and vespo_lambda_neg must be finite");
  if (!(top_entropy_quantile >= 0 && top_entropy_quantile <= 1))
    fail_usage("top_entropy_quantile must be in [0, 1], got {}", top_entropy_quantile);
  if (!std::isfinite(entropy_coef)) fail_usage("entropy_coef must be finite, got {}", entropy_coef);
  const rl::MultiObjectiveAggregation aggregation = rl::parse_multi_objective_aggregation(multi_objective_aggregation);
  const rl::ScaleRewards scale = rl::parse_scale_rewards(scale_rewards);
  if (rl::parse_advantage_estimator(advantage_estimator) != rl::AdvantageEstimator::kGrpo &&
      scale != rl::ScaleRewards::kGroup)
    fail_usage(
        "scale_rewards: '{}' applies to advantage_estimator grpo only, not {} (rloo divides by no std, as TRL "
        "RLOOTrainer and verl; reinforce_plus_plus_baseline whitens over the batch)",
        scale_rewards, advantage_estimator);
  if (aggregation == rl::MultiObjectiveAggregation::kNormalizeThenSum &&
      (rl::parse_advantage_estimator(advantage_estimator) != rl::AdvantageEstimator::kGrpo ||
       scale != rl::ScaleRewards::kGroup || use_kl_in_reward))
    fail_usage(
        "multi_objective_aggregation: normalize_then_sum normalises each reward in its group and the sum over the "
        "batch (TRL): it needs advantage_estimator grpo, scale_rewards group and no use_kl_in_reward");
  if (use_kl_in_reward && !(beta > 0))
    fail_usage("use_kl_in_reward needs beta > 0 (the coefficient of the KL in the reward), got beta {}", beta);
  check_reward_keys(reward_funcs, reward_weights, reward_kwargs);
  if (sync_ref_model && (ref_model_sync_steps < 1 || !(ref_model_mixup_alpha >= 0 && ref_model_mixup_alpha <= 1)))
    fail_usage("sync_ref_model needs ref_model_sync_steps >= 1 and ref_model_mixup_alpha in [0, 1]");
  if (generation_max_batch < 1) fail_usage("generation_max_batch must be >= 1");
  if (dynamic_sampling_metric != "reward" &&
      std::find(reward_funcs.begin(), reward_funcs.end(), dynamic_sampling_metric) == reward_funcs.end())
    fail_usage("dynamic_sampling_metric must be reward or one of reward_funcs ({}), got '{}'",
               fmt::join(reward_funcs, ", "), dynamic_sampling_metric);
  if (max_num_gen_batches < 0) fail_usage("max_num_gen_batches must be >= 0 (0: no cap), got {}", max_num_gen_batches);
  if (num_generations_eval && *num_generations_eval < 1)
    fail_usage("num_generations_eval must be >= 1, got {}", *num_generations_eval);
  if (dataset_test_split.empty()) fail_usage("dataset_test_split must not be empty");
  const rl::SamplingCorrection correction = rl::parse_sampling_correction(vllm_importance_sampling_mode);
  for (const auto& [key, bound] : {std::pair{"vllm_importance_sampling_clip_max", vllm_importance_sampling_clip_max},
                                   std::pair{"vllm_importance_sampling_clip_min", vllm_importance_sampling_clip_min}})
    if (bound && !(*bound >= 0 && std::isfinite(*bound))) fail_usage("{} must be finite and >= 0, got {}", key, *bound);
  if (vllm_importance_sampling_clip_min && vllm_importance_sampling_clip_max &&
      *vllm_importance_sampling_clip_min > *vllm_importance_sampling_clip_max)
    fail_usage("vllm_importance_sampling_clip_min ({}) must be <= vllm_importance_sampling_clip_max ({})",
               *vllm_importance_sampling_clip_min, *vllm_importance_sampling_clip_max);
  if (vllm_importance_sampling_correction && loss == rl::LossType::kVespo &&
      (correction == rl::SamplingCorrection::kSequenceTruncate || correction == rl::SamplingCorrection::kSequenceMask))
    fail_usage("loss_type vespo needs vllm_importance_sampling_mode token_truncate or token_mask (TRL), got {}",
               vllm_importance_sampling_mode);
  if (off_policy_mask_threshold && !(*off_policy_mask_threshold >= 0))
    fail_usage("off_policy_mask_threshold must be >= 0 (null: off), got {}", *off_policy_mask_threshold);
  if (use_adaptive_entropy &&
      !(entropy_coef_min >= 0 && entropy_coef_min <= entropy_coef_max && std::isfinite(entropy_coef_max) &&
        entropy_coef_delta >= 0 && std::isfinite(entropy_coef_delta) && std::isfinite(entropy_target)))
    fail_usage(
        "use_adaptive_entropy needs 0 <= entropy_coef_min <= entropy_coef_max, entropy_coef_delta >= 0 and a finite "
        "entropy_target (got {}, {}, {}, {})",
        entropy_coef_min, entropy_coef_max, entropy_coef_delta, entropy_target);
}

int64_t GrpoOptions::resolved_steps_per_generation() const {
  if (steps_per_generation) return *steps_per_generation;
  if (generation_batch_size)
    return *generation_batch_size / (training.per_device_train_batch_size * dist::read_launch_env().world_size);
  return training.gradient_accumulation_steps;
}

nlohmann::ordered_json GrpoOptions::to_json() const {
  RecipeWriter writer;
  GrpoOptions copy = *this;
  visit(copy, writer);
  const nlohmann::ordered_json training_keys = training.to_json();
  for (const auto& [k, v] : training_keys.items()) writer.out[k] = v;
  return writer.out;
}

std::vector<std::pair<std::string, std::string>> GrpoOptions::help() {
  RecipeHelp h;
  GrpoOptions o;
  visit(o, h);
  auto training = TrainingArguments::help();
  h.lines.insert(h.lines.end(), training.begin(), training.end());
  return h.lines;
}

}  // namespace r1::train
