// PpoOptions: TRL's PPOConfig keys (with GRPO's prompt and reward keys) read from a recipe, validated, dumped and
// documented from one field list.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "r1/distributed.h"
#include "r1/error.h"
#include "r1/recipe.h"
#include "r1/train.h"
#include "train/ppo-math.h"
#include "train/reward-funcs.h"

namespace r1::train {
namespace {

template <class Options, class Visitor>
void visit(Options& o, Visitor& v) {
  v("model_name_or_path", o.model_name_or_path, "HF model directory of the policy (and of the reference model)");
  v("tokenizer_name_or_path", o.tokenizer_name_or_path, "directory with tokenizer.json (default: model_name_or_path)");
  v("dataset_name", o.dataset_name, "prompts: a JSONL file or a directory with train.jsonl (columns as r1 grpo)");
  v("dataset_prompt_column", o.dataset_prompt_column, "string column used as the user turn (then prompt, problem)");
  v("max_samples", o.max_samples, "use only the first N rows (0: all)");
  v("chat_template", o.chat_template, "auto (tokenizer's, else r1-zero) | none | a built-in name | Jinja text");
  v("system_prompt", o.system_prompt, "system message before each string prompt (open-r1)");
  v("max_prompt_length", o.max_prompt_length, "prompt tokens kept (the last ones)");
  v("response_length", o.response_length, "tokens generated per completion (TRL's PPOConfig name)");
  v("temperature", o.temperature, "sampling temperature; log-probs are log_softmax(logits / temperature)");
  v("missing_eos_penalty", o.missing_eos_penalty,
    "subtracted from the score of a completion without EOS (unset: none)");
  v("num_ppo_epochs", o.num_ppo_epochs, "passes over each rollout");
  v("num_mini_batches", o.num_mini_batches, "optimizer steps per pass (the rollout is shuffled into them)");
  v("total_episodes", o.total_episodes,
    "completions to train on in all (TRL); sets max_steps to ceil(total_episodes / rollout) * num_ppo_epochs * "
    "num_mini_batches");
  v("kl_coef", o.kl_coef, "coefficient of the per-token KL penalty in the reward; 0: no reference model");
  v("kl_estimator", o.kl_estimator, "k1 (log pi_old / pi_ref) | k3 (pi_ref/pi_old - 1 - log(pi_ref/pi_old))");
  v("cliprange", o.cliprange, "policy ratio clipped to [1 - cliprange, 1 + cliprange]");
  v("cliprange_value", o.cliprange_value, "value clipped to old value +- cliprange_value");
  v("vf_coef", o.vf_coef, "weight of the value loss");
  v("gamma", o.gamma, "discount of GAE");
  v("lam", o.lam, "lambda of GAE");
  v("whiten_rewards", o.whiten_rewards, "whiten the per-token rewards over the batch (mean kept) before GAE");
  v("reward_model_path", o.reward_model_path,
    "a reward model directory (a sequence classifier, as r1 reward writes); or use reward_funcs");
  v("reward_funcs", o.reward_funcs,
    "as r1 grpo: reward names (accuracy, format, ...: r1 verify --help) or reward model directories");
  v("reward_weights", o.reward_weights, "one weight per reward_funcs entry (default: all 1)");
  v("reward_kwargs", o.reward_kwargs, "{reward: {parameter: value}}: parameters of the reward functions");
  v("value_model_path", o.value_model_path,
    "r1: the value model's start (a sequence classifier or a causal LM, whose trunk gets a fresh head); default "
    "reward_model_path (TRL's example script), else model_name_or_path");
  v("log_completions", o.log_completions, "write every completion with its rewards to output_dir/completions.jsonl");
  v("generation_max_batch", o.generation_max_batch, "sequences the rollout engine decodes together");
}

}  // namespace

PpoOptions PpoOptions::from_recipe(const Recipe& recipe) {
  PpoOptions o;
  o.training.learning_rate = 3e-6;  // TRL's PPOConfig default
  o.training.read(recipe);
  RecipeReader reader{recipe, TrainingArguments::keys()};
  visit(o, reader);
  recipe.reject_unused(reader.keys);
  if (o.tokenizer_name_or_path.empty()) o.tokenizer_name_or_path = o.model_name_or_path;
  if (o.total_episodes) {
    if (*o.total_episodes < 1) fail_usage("total_episodes must be >= 1, got {}", *o.total_episodes);
    const int64_t rollouts = (*o.total_episodes + o.rollout_size() - 1) / std::max<int64_t>(1, o.rollout_size());
    const int64_t steps = rollouts * o.steps_per_rollout();
    if (o.training.max_steps > 0 && o.training.max_steps != steps)  // a dumped recipe holds both, in agreement
      fail_usage("total_episodes {} means max_steps {}, but max_steps is {}: set one of them", *o.total_episodes, steps,
                 o.training.max_steps);
    o.training.max_steps = steps;
  }
  o.validate();
  return o;
}

int64_t PpoOptions::rollout_size() const {
  return training.per_device_train_batch_size * training.gradient_accumulation_steps * num_mini_batches *
         dist::read_launch_env().world_size;
}

std::vector<std::string> PpoOptions::rewards() const {
  return reward_model_path.empty() ? reward_funcs : std::vector<std::string>{reward_model_path};
}

void PpoOptions::validate() const {
  training.validate();
  if (model_name_or_path.empty()) fail_usage("model_name_or_path is required (the policy to train)");
  if (dataset_name.empty()) fail_usage("dataset_name is required (a JSONL file of prompts)");
  if (max_prompt_length < 1 || response_length < 1) fail_usage("max_prompt_length and response_length must be >= 1");
  if (!(temperature > 0)) fail_usage("temperature must be > 0 (log-probs are scaled by it), got {}", temperature);
  if (num_ppo_epochs < 1) fail_usage("num_ppo_epochs must be >= 1, got {}", num_ppo_epochs);
  if (num_mini_batches < 1) fail_usage("num_mini_batches must be >= 1, got {}", num_mini_batches);
  if (!(kl_coef >= 0)) fail_usage("kl_coef must be >= 0, got {}", kl_coef);
  rl::parse_kl_estimator(kl_estimator);
  if (!(cliprange >= 0) || !(cliprange_value >= 0))
    fail_usage("cliprange and cliprange_value must be >= 0, got {} and {}", cliprange, cliprange_value);
  if (!(vf_coef >= 0)) fail_usage("vf_coef must be >= 0, got {}", vf_coef);
  if (!(gamma >= 0 && gamma <= 1) || !(lam >= 0 && lam <= 1))
    fail_usage("gamma and lam must be in [0, 1], got {} and {}", gamma, lam);
  if (missing_eos_penalty && !std::isfinite(*missing_eos_penalty))
    fail_usage("missing_eos_penalty must be a finite number");
  if (!reward_model_path.empty() && !reward_funcs.empty())
    fail_usage(
        "set reward_model_path or reward_funcs, not both (to combine a reward model with rule rewards, list its "
        "directory in reward_funcs)");
  if (rewards().empty()) fail_usage("a reward is required: reward_model_path (a reward model) or reward_funcs");
  check_reward_keys(rewards(), reward_weights, reward_kwargs);
  if (generation_max_batch < 1) fail_usage("generation_max_batch must be >= 1");
}

nlohmann::ordered_json PpoOptions::to_json() const {
  RecipeWriter writer;
  PpoOptions copy = *this;
  visit(copy, writer);
  const nlohmann::ordered_json training_keys = training.to_json();
  for (const auto& [k, v] : training_keys.items()) writer.out[k] = v;
  return writer.out;
}

std::vector<std::pair<std::string, std::string>> PpoOptions::help() {
  RecipeHelp h;
  PpoOptions o;
  visit(o, h);
  auto training = TrainingArguments::help();
  h.lines.insert(h.lines.end(), training.begin(), training.end());
  return h.lines;
}

}  // namespace r1::train
