// GRPO (DeepSeekMath §4, DeepSeek-R1-Zero) on the shared trainer, as TRL's GRPOTrainer: the objective generates
// one batch of rollouts with the engine on the live weights, scores them with the named rewards, computes
// reference log-probs when beta > 0 and advantages (advantage_estimator; with use_kl_in_reward the k1 KL enters the
// reward instead of the loss), then serves steps_per_generation / gradient_accumulation_steps optimizer steps of
// micro-batches from it (its slices in order), num_iterations times over. The advantage formulas are in
// src/train/grpo-advantages.h, the loss formulas (with the sampler correction and the off-policy mask) in
// src/train/grpo-loss.h. Departures from TRL:
//   1. When one generation serves several steps the old log-probs are the engine's (log_softmax(logits /
//      temperature) at sampling time) instead of a second forward, unless vllm_importance_sampling_correction asks
//      for the learner's (then a forward at generation time, as TRL); with one step they are the detached current
//      ones, as TRL. Every step logs logprob_max_abs_diff = max |log pi_theta - engine's| over sampled tokens (0 in
//      fp32 on AVX-512 CPUs: both sides run the same kernels, model/exact-ops.h). The sampler's log-probs for the
//      correction are those of its sampling distribution (after top-k/top-p/min-p and penalties), where TRL takes
//      vLLM's unprocessed ones (TRL issue #6789).
//   2. The generation batch is not shuffled across micro-batches (completions of a prompt stay together), and
//      steps_per_generation must be a multiple of gradient_accumulation_steps (generation at step boundaries).
//   3. The step's metrics reach the trainer's log through end_step: the generation's (rewards, lengths, timings),
//      token means over the whole step (kl, entropy, clip ratios) and time/learning, which covers the reference
//      forward, every micro-batch's forward and backward, clipping and the optimizer step.
// Dynamic sampling (DAPO §3.2; verl's algorithm.filter_groups): generate() drops the groups whose
// dynamic_sampling_metric has zero variance and samples further generation batches (the next prompts, new seeds)
// until per_generation completions of informative groups are in hand; informative groups beyond that are discarded
// (surplus), and more than max_num_gen_batches rounds is an r1::Error, as verl's ValueError. Off, one round as before.
// Evaluation (eval_strategy steps): evaluate() samples num_generations_eval completions of every prompt of the eval
// split with fixed seeds (the same at every evaluation), scores them with the rewards and logs eval/pass@1 (mean
// accuracy reward), eval_reward and eval_rewards/<name>/mean.
// Checkpointed state (Objective::save_state): the data position and the generation's unused rollouts in
// trainer_state.json's "data_state", and with sync_ref_model the reference model as ref_model.safetensors.
// Data parallel (set_data_shard, TRL's layout): the generation batch counts every rank's completions; each rank
// samples a contiguous share of its (prompt, sample) pairs (engine requests from first_sample on, so the tokens are
// those one process would sample) and scores them, and the shares are gathered, so group statistics, dynamic
// sampling and the logged metrics are over the global batch; reference and old log-probs are computed for the own
// share and gathered too. Every rank then holds the whole generation batch and trains its global micro-batches.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <random>

#include "r1/chat-template.h"
#include "r1/distributed.h"
#include "r1/engine.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/recipe.h"
#include "r1/rewards.h"
#include "r1/safetensors.h"
#include "r1/text.h"
#include "r1/tokenizer.h"
#include "r1/train.h"
#include "train/autocast.h"
#include "train/checkpoint.h"
#include "train/grpo-advantages.h"
#include "train/grpo-data.h"
#include "train/grpo-loss.h"
#include "train/grpo-rollouts.h"
#include "train/reward-funcs.h"
#include "train/rollout.h"

namespace r1::train {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kRefModelFile = "ref_model.safetensors";

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

using rl::gather_generated;
using rl::Generated;
using rl::Rollout;
using rl::rollout_from_json;
using rl::rollout_to_json;
using rl::share_of;

double mean_of(const std::vector<rewards::Score>& v) {
  double s = 0, n = 0;
  for (const auto& x : v)
    if (x) s += *x, ++n;
  return n > 0 ? s / n : std::nan("");
}

class GrpoObjective : public Objective {
 public:
  GrpoObjective(const GrpoOptions& o, const text::ModelBundle& policy, rl::PromptDataset data,
                std::optional<rl::PromptDataset> eval)
      : o_(o),
        model_(policy.model),
        tok_(policy.tokenizer),
        data_(std::move(data)),
        eval_(std::move(eval)),
        loss_type_(rl::parse_loss_type(o.loss_type)),
        scale_(rl::parse_scale_rewards(o.scale_rewards)),
        estimator_(rl::parse_advantage_estimator(o.advantage_estimator)),
        loss_beta_(o.use_kl_in_reward ? 0.0 : o.beta),
        epsilon_high_(o.epsilon_high < 0 ? o.epsilon : o.epsilon_high),
        aggregation_(rl::parse_multi_objective_aggregation(o.multi_objective_aggregation)),
        batch_(o.training.per_device_train_batch_size),
        per_step_(o.training.per_device_train_batch_size * o.training.gradient_accumulation_steps),
        per_generation_(o.training.per_device_train_batch_size * o.resolved_steps_per_generation()),
        prompts_per_generation_(per_generation_ / o.num_generations),
        slices_(per_generation_ / per_step_),
        cycle_(slices_ * o.num_iterations),
        entropy_coef_(o.entropy_coef) {
    rewards_ = make_reward_funcs(o.reward_funcs, o.reward_kwargs, model_->parameters().front().device());
    engine::EngineOptions eo;
    eo.max_batch = std::min<int64_t>(per_generation_, o.generation_max_batch);
    eo.max_seq_len = o.max_prompt_length + o.max_completion_length;
    if (o.training.bf16) eo.dtype = at::kBFloat16;
    eo.eos_token_ids = policy.stop_ids;  // as serve and eval
    eo.seed = uint64_t(o.training.seed);
    engine_ = std::make_unique<engine::Engine>(model_, eo);
    pad_id_ = tok_.padding_id();
    if (o.beta != 0.0) {
      ref_ = model::load_pretrained(o.model_name_or_path);
      ref_->to(model_->parameters().front().device());
      ref_->eval();
      for (auto& p : ref_->parameters()) p.set_requires_grad(false);
    }
    if (o.log_completions) completions_log_ = fs::path(o.training.output_dir) / "completions.jsonl";
    if (o.log_completions && eval_) eval_log_ = fs::path(o.training.output_dir) / "eval_completions.jsonl";
    if (o.dynamic_sampling)
      for (size_t f = 0; f < o.reward_funcs.size(); ++f)
        if (o.reward_funcs[f] == o.dynamic_sampling_metric) metric_reward_ = int64_t(f);
    loss_.type = loss_type_;
    loss_.level = rl::parse_importance_sampling_level(o.importance_sampling_level);
    loss_.epsilon_low = o.epsilon;
    loss_.epsilon_high = epsilon_high_;
    loss_.beta = loss_beta_;
    loss_.delta = o.delta;
    loss_.clip_ratio_c = o.clip_ratio_c;
    loss_.sapo_temperature_pos = o.sapo_temperature_pos;
    loss_.sapo_temperature_neg = o.sapo_temperature_neg;
    loss_.vespo_k_pos = o.vespo_k_pos;
    loss_.vespo_lambda_pos = o.vespo_lambda_pos;
    loss_.vespo_k_neg = o.vespo_k_neg;
    loss_.vespo_lambda_neg = o.vespo_lambda_neg;
    correction_ = rl::parse_sampling_correction(o.vllm_importance_sampling_mode);
  }

  // The generation batch and the step count every rank's completions; rank 0 alone logs completions.
  void set_data_shard(const DataShard& shard) override {
    shard_ = shard;
    per_step_ *= shard.world_size;
    per_generation_ *= shard.world_size;
    prompts_per_generation_ = per_generation_ / o_.num_generations;
    if (shard.rank != 0) completions_log_.clear(), eval_log_.clear();
  }

  double prepare_step(int64_t micro_batches) override {
    if (o_.beta != 0.0 && o_.sync_ref_model && step_ > 0 && step_ % o_.ref_model_sync_steps == 0) sync_reference();
    step_metrics_.clear();
    token_sums_.clear();
    if (iteration_ == 0)
      generate();  // sets learning_start_ before the reference forward
    else
      learning_start_ = Clock::now();
    slice_ = iteration_ % slices_;  // the generation batch's slice this step trains on
    iteration_ = (iteration_ + 1) % cycle_;
    ++step_;
    step_tokens_ = 0;  // the global step's
    int64_t own_tokens = 0;
    for (int64_t i = slice_ * per_step_; i < (slice_ + 1) * per_step_; ++i)
      step_tokens_ += int64_t(rollouts_[size_t(i)].completion.size());
    for (int64_t m = 0; m < micro_batches; ++m)
      for (int64_t i = first_rollout(m); i < first_rollout(m) + batch_; ++i)
        own_tokens += int64_t(rollouts_[size_t(i)].completion.size());
    max_logprob_diff_ = 0;
    step_min_.clear();
    step_max_.clear();
    // this rank's share of the normaliser (the trainer sums it over the ranks)
    const double normaliser = rl::loss_normaliser(loss_type_, micro_batches * batch_, micro_batches, own_tokens);
    // TRL's entropy bonus is the step's mean token entropy whatever the loss's normaliser: token sums where it
    // counts tokens, else each micro-batch's token mean times (normaliser / micro-batches).
    entropy_scale_ = rl::normalises_by_tokens(loss_type_) ? 1.0 : normaliser / double(micro_batches);
    return normaliser;
  }

  MicroBatchLoss micro_batch(int64_t index) override {
    std::vector<const std::vector<int32_t>*> prompts, completions;
    std::vector<const std::vector<float>*> old, ref;
    std::vector<float> advantages, keep;
    std::vector<const std::vector<float>*> sampling;
    const int64_t first = first_rollout(index);
    for (int64_t i = first; i < first + batch_; ++i) {
      const Rollout& r = rollouts_[size_t(i)];
      prompts.push_back(&data_.prompt_ids(r.row));
      completions.push_back(&r.completion);
      old.push_back(&r.old_logp);
      ref.push_back(&r.ref_logp);
      sampling.push_back(&r.sampling_logp);
      advantages.push_back(float(r.advantage));
      keep.push_back(o_.mask_truncated_completions && r.truncated ? 0.f : 1.f);
    }
    rl::Scored s = rl::score_completions(*model_, prompts, completions, o_.temperature, pad_id_, /*with_entropy=*/true,
                                         /*entropy_grad=*/entropy_bonus(), o_.packing);
    const int64_t L = s.logp.size(1);
    const at::Device device = s.logp.device();
    at::Tensor engine_logp = rl::floats_to_tensor(old, L).to(device);        // (B, L)
    at::Tensor adv = torch::tensor(advantages).to(device);                   // (B)
    at::Tensor mask = s.mask * torch::tensor(keep).to(device).unsqueeze(1);  // (B, L)
    at::Tensor ref_logp = o_.beta != 0.0 ? rl::floats_to_tensor(ref, L).to(device) : at::Tensor();
    max_logprob_diff_ =
        std::max(max_logprob_diff_, ((s.logp.detach() - engine_logp).abs() * s.mask).max().item<double>());
    // On-policy (one step per generation): the learner's own log-probs, detached; else those at generation time.
    at::Tensor old_logp = cycle_ == 1 ? s.logp.detach() : engine_logp;
    const at::Tensor entropy_mask =
        o_.top_entropy_quantile < 1.0 ? rl::high_entropy_mask(s.entropy, mask, o_.top_entropy_quantile) : at::Tensor();
    at::Tensor sampling_logp, sampling_ratio, off_policy_mask;
    if (o_.vllm_importance_sampling_correction) {
      sampling_logp = rl::floats_to_tensor(sampling, L).to(device);
      sampling_ratio =
          rl::sampling_importance_ratio(old_logp, sampling_logp, mask, correction_,
                                        o_.vllm_importance_sampling_clip_min, o_.vllm_importance_sampling_clip_max);
      record_sampling_metrics(old_logp, sampling_logp, sampling_ratio, mask);
    }
    if (o_.off_policy_mask_threshold) {  // TRL: the sampler's log-probs with the correction, else the old ones
      off_policy_mask = rl::off_policy_sequence_mask(adv, s.logp, sampling_logp.defined() ? sampling_logp : old_logp,
                                                     mask, *o_.off_policy_mask_threshold);
      token_sums_["off_policy_mask/masked_fraction"] += ((1 - off_policy_mask) * mask).sum().item<double>();
    }
    at::Tensor per_token = rl::per_token_loss(loss_, s.logp, old_logp, ref_logp, adv, mask, entropy_mask,
                                              sampling_ratio, off_policy_mask);  // (B, L)
    MicroBatchLoss out;
    out.loss_sum = rl::aggregate_loss(per_token, mask, loss_type_, o_.max_completion_length);
    out.tokens = s.tokens;
    const at::Tensor kept = entropy_mask.defined() ? mask * entropy_mask : mask;  // the policy loss's tokens
    if (entropy_bonus()) {  // TRL's entropy bonus, with its gradient
      at::Tensor bonus = (s.entropy * kept).sum();
      if (!rl::normalises_by_tokens(loss_type_)) bonus = bonus / kept.sum().clamp_min(1.0);
      // adaptive: the coefficient and its gate as of the previous step's end, the same for every micro-batch
      const double coef = o_.use_adaptive_entropy && !(last_entropy_ <= o_.entropy_target) ? 0.0 : entropy_coef_;
      out.loss_sum = out.loss_sum - coef * entropy_scale_ * bonus;
    }
    {  // summed over the step's completion tokens; end_step divides by them
      torch::NoGradGuard no_grad;
      if (o_.beta != 0.0)
        token_sums_["kl"] += (rl::per_token_kl(s.logp.detach(), ref_logp) * s.mask).sum().item<double>();
      token_sums_["entropy"] += (s.entropy * s.mask).sum().item<double>();
      rl::ClipCounts c = rl::clip_counts(loss_, s.logp, old_logp, adv, s.mask);
      if (rl::is_clipped_loss(loss_type_)) {
        token_sums_["clip_ratio/low_mean"] += c.low;
        token_sums_["clip_ratio/high_mean"] += c.high;
        token_sums_["clip_ratio/region_mean"] += c.region;
      }
      if (loss_type_ == rl::LossType::kCispo) token_sums_["cispo_clip_ratio"] += c.cispo;
      if (loss_type_ == rl::LossType::kVespo)  // TRL's vespo/phi_seq_mean, token-weighted as the other sums
        token_sums_["vespo/phi_seq_mean"] +=
            (rl::vespo_weights(loss_, s.logp, old_logp, adv, mask, sampling_ratio) * s.mask).sum().item<double>();
      if (o_.clip_ratio_c) token_sums_["pg_clipfrac_lower"] += c.dual_clip;
      if (entropy_mask.defined()) token_sums_["entropy_mask_fraction"] += kept.sum().item<double>();
      if (o_.use_adaptive_entropy) {  // the step's entropy over the policy loss's tokens
        entropy_window_[0] += (s.entropy.detach() * kept).sum().item<double>();
        entropy_window_[1] += kept.sum().item<double>();
      }
    }
    return out;
  }

  // The step's metrics as logged: the generation's (on the step that generated it), token means over the step.
  std::map<std::string, double> end_step() override {
    if (shard_.world_size > 1) reduce_step_sums();
    std::map<std::string, double> m = step_metrics_;
    for (const auto& [k, sum] : token_sums_) m[k] = sum / double(std::max<int64_t>(1, step_tokens_));
    for (const auto& [k, v] : step_min_) m[k] = v;
    for (const auto& [k, v] : step_max_) m[k] = v;
    if (o_.vllm_importance_sampling_correction && rl::is_sequence_level(correction_)) {  // per sequence, not token
      m["sampling/importance_sampling_ratio/mean"] = sequence_sums_[0] / double(std::max<int64_t>(1, per_step_));
      m["sampling/is_masked_fraction"] = sequence_sums_[1] / double(std::max<int64_t>(1, per_step_));
    }
    sequence_sums_[0] = sequence_sums_[1] = 0;
    m["logprob_max_abs_diff"] = max_logprob_diff_;
    if (o_.use_adaptive_entropy) {  // TRL: move the coefficient for the next step
      const double entropy = entropy_window_[0] / std::max(1.0, entropy_window_[1]);
      entropy_coef_ = entropy <= o_.entropy_target
                          ? std::min(entropy_coef_ + o_.entropy_coef_delta, o_.entropy_coef_max)
                          : std::max(entropy_coef_ - o_.entropy_coef_delta, o_.entropy_coef_min);
      last_entropy_ = entropy;
      entropy_window_[0] = entropy_window_[1] = 0;
    }
    if (entropy_bonus()) m["entropy_coef"] = entropy_coef_;
    m["time/learning"] = seconds_since(learning_start_);
    return m;
  }

  int64_t steps_per_epoch(int64_t) const override {
    return std::max<int64_t>(1, int64_t(data_.size()) / prompts_per_generation_ * cycle_);
  }

  nlohmann::json data_state() const override {
    nlohmann::json s = {{"epoch", epoch_},
                        {"cursor", cursor_},
                        {"iteration", iteration_},
                        {"step", step_},
                        {"generation", generation_}};
    if (o_.use_adaptive_entropy) {  // +inf (no step yet) as null
      s["entropy_coef"] = entropy_coef_;
      s["last_entropy"] = std::isfinite(last_entropy_) ? nlohmann::json(last_entropy_) : nlohmann::json(nullptr);
    }
    if (iteration_ != 0) {  // the rollouts still to be trained on
      nlohmann::json rollouts = nlohmann::json::array();
      for (const Rollout& r : rollouts_) rollouts.push_back(rollout_to_json(r));
      s["rollouts"] = std::move(rollouts);
    }
    return s;
  }

  void load_data_state(const nlohmann::json& s) override {
    epoch_ = json_integer(s, "epoch", 0, INT64_MAX, "GRPO state");
    cursor_ = size_t(json_integer(s, "cursor", 0, int64_t(data_.size()) - 1, "GRPO state"));
    iteration_ = json_integer(s, "iteration", 0, cycle_ - 1, "GRPO state");
    step_ = json_integer(s, "step", 0, INT64_MAX, "GRPO state");
    generation_ = json_integer(s, "generation", 0, INT64_MAX, "GRPO state");
    order_.clear();
    rollouts_.clear();
    if (s.contains("rollouts"))
      for (const auto& r : s["rollouts"])
        rollouts_.push_back(rollout_from_json(r, data_.size(), model_->config().vocab_size, o_.beta != 0.0,
                                              o_.vllm_importance_sampling_correction));
    if (o_.use_adaptive_entropy && s.contains("entropy_coef")) {
      entropy_coef_ = s.at("entropy_coef").get<double>();
      last_entropy_ = s.at("last_entropy").is_null() ? INFINITY : s.at("last_entropy").get<double>();
    }
    if (iteration_ != 0 && rollouts_.size() != size_t(per_generation_))
      fail("GRPO checkpoint: expected {} buffered rollouts, found {}", per_generation_, rollouts_.size());
    if (!completions_log_.empty()) detail::truncate_step_log(completions_log_, step_);
    if (!eval_log_.empty()) detail::truncate_step_log(eval_log_, step_);
  }

  // eval/pass@1 (the accuracy reward's mean over every sample that has one), eval_reward (the weighted sum's mean),
  // eval_rewards/<name>/mean, eval/completions/mean_length and eval_runtime.
  std::map<std::string, double> evaluate() override {
    if (!eval_) return {};
    const auto t0 = Clock::now();
    std::vector<size_t> rows(eval_->size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
    const int64_t n = o_.num_generations_eval.value_or(o_.num_generations);
    const uint64_t seed = (uint64_t(o_.training.seed) ^ 0xE7A1E7A1E7A1E7A1ULL) * 0x9E3779B97F4A7C15ULL;
    Generated e = sample_and_score(*eval_, rows, n, seed);
    std::map<std::string, double> m;
    double total = 0;
    for (double t : e.total) total += t;
    m["eval_reward"] = total / double(e.total.size());
    for (size_t f = 0; f < rewards_.size(); ++f) {
      const double mean = mean_of(e.per_reward[f]);
      m["eval_rewards/" + rewards_[f].name() + "/mean"] = mean;
      if (rewards_[f].name() == "accuracy") m["eval/pass@1"] = mean;
    }
    m["eval/completions/mean_length"] = double(e.generated) / double(e.rollouts.size());
    m["eval_runtime"] = seconds_since(t0);
    if (!eval_log_.empty()) log_eval_completions(e);
    return m;
  }

  // With sync_ref_model the reference drifts with the policy: it is part of the run's state.
  void save_state(CheckpointWriter& out) const override {
    Objective::save_state(out);
    if (syncs_reference()) safetensors::save(out.dir / kRefModelFile, model::named_tensors(*ref_.ptr()));
  }

  void load_state(CheckpointReader& in) override {
    Objective::load_state(in);
    if (!syncs_reference()) return;
    const fs::path path = in.dir / kRefModelFile;
    if (!fs::exists(path)) {  // written before the reference was checkpointed
      fmt::print("note: {} holds no {}; the reference restarts from {}\n", in.dir.string(), kRefModelFile,
                 o_.model_name_or_path);
      return;
    }
    rl::load_model_tensors(path, *ref_);
  }

  std::string describe(int64_t total_steps, int64_t) const override {
    return fmt::format(
        "GRPO: {} prompts; {} prompts x {} generations per generation batch, {} optimizer step(s) each; "
        "advantages {}{}, loss {} ({} level), beta {}{}, epsilon {}/{}; rewards {}{}\n",
        data_.size(), prompts_per_generation_, o_.num_generations, cycle_, o_.advantage_estimator,
        estimator_ == rl::AdvantageEstimator::kGrpo ? " (scale_rewards " + o_.scale_rewards + ")" : "", o_.loss_type,
        o_.importance_sampling_level, o_.beta, o_.use_kl_in_reward ? " (KL in the reward)" : "", o_.epsilon,
        epsilon_high_, fmt::join(o_.reward_funcs, ", "),
        o_.dynamic_sampling ? fmt::format("; dynamic sampling on {} ({})", o_.dynamic_sampling_metric,
                                          o_.max_num_gen_batches > 0
                                              ? fmt::format("at most {} rounds per batch", o_.max_num_gen_batches)
                                              : std::string("no cap on rounds"))
                            : "");
  }

 private:
  // The first rollout of this rank's micro-batch `index` of the step: global micro-batch index * W + rank.
  int64_t first_rollout(int64_t index) const {
    return slice_ * per_step_ + (index * shard_.world_size + shard_.rank) * batch_;
  }

  // Data parallel: the step's token sums, extremes and sequence sums over every rank, so that end_step's metrics
  // (and the adaptive entropy coefficient) are the global step's on every rank.
  void reduce_step_sums() {
    auto num = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : std::nan(""); };  // null: NaN
    const nlohmann::json mine = {{"sums", token_sums_},
                                 {"min", step_min_},
                                 {"max", step_max_},
                                 {"diff", max_logprob_diff_},
                                 {"sequence", {sequence_sums_[0], sequence_sums_[1]}},
                                 {"entropy", {entropy_window_[0], entropy_window_[1]}}};
    token_sums_.clear();
    step_min_.clear();
    step_max_.clear();
    sequence_sums_[0] = sequence_sums_[1] = entropy_window_[0] = entropy_window_[1] = 0;
    for (const std::string& bytes : dist::world().all_gather(mine.dump())) {
      const nlohmann::json rank = nlohmann::json::parse(bytes);
      for (const auto& [k, v] : rank["sums"].items()) token_sums_[k] += num(v);
      for (const auto& [k, v] : rank["min"].items())
        step_min_[k] = step_min_.count(k) ? std::min(step_min_[k], num(v)) : num(v);
      for (const auto& [k, v] : rank["max"].items())
        step_max_[k] = step_max_.count(k) ? std::max(step_max_[k], num(v)) : num(v);
      max_logprob_diff_ = std::max(max_logprob_diff_, num(rank["diff"]));
      for (int i = 0; i < 2; ++i) {
        sequence_sums_[i] += num(rank["sequence"][i]);
        entropy_window_[i] += num(rank["entropy"][i]);
      }
    }
  }

  // The next prompts of the seeded epoch permutation (as TRL's RepeatSampler: each prompt num_generations times).
  std::vector<size_t> next_prompts() {
    std::vector<size_t> out;
    while (int64_t(out.size()) < prompts_per_generation_) {
      if (order_.empty()) {
        order_.resize(data_.size());
        for (size_t i = 0; i < order_.size(); ++i) order_[i] = i;
        std::mt19937_64 rng(uint64_t(o_.training.seed) * 1000003ULL + uint64_t(epoch_));
        std::shuffle(order_.begin(), order_.end(), rng);
      }
      out.push_back(order_[cursor_++]);
      if (cursor_ == order_.size()) {
        cursor_ = 0;
        ++epoch_;
        order_.clear();
      }
    }
    return out;
  }

  // num_generations_eval (or num_generations) completions of each of `rows` of `data`, sampled by the engine with
  // the training sampling parameters (request p seeded seed + p), decoded and scored by every reward.
  // With `sharded` and several ranks, this rank samples and scores its share of the (prompt, sample) pairs and the
  // shares are gathered: every rank returns the whole round.
  Generated sample_and_score(const rl::PromptDataset& data, const std::vector<size_t>& rows, int64_t n, uint64_t seed,
                             bool sharded = false) {
    const auto t0 = Clock::now();
    const bool split = sharded && shard_.world_size > 1;
    const auto [begin, end] = split ? share_of(rows.size() * size_t(n), shard_.rank, shard_.world_size)
                                    : std::pair<size_t, size_t>{0, rows.size() * size_t(n)};
    std::vector<engine::Request> requests;
    std::vector<size_t> request_row;  // the prompt index of each request
    for (size_t p = 0; p < rows.size(); ++p) {
      const size_t first = std::max(begin, p * size_t(n)), last = std::min(end, (p + 1) * size_t(n));
      if (first >= last) continue;
      engine::Request r;
      r.prompt = data.prompt_ids(rows[p]);
      r.n = int32_t(last - first);
      r.first_sample = int32_t(first - p * size_t(n));
      request_row.push_back(p);
      r.params.temperature = o_.temperature;
      r.params.top_p = o_.top_p;
      r.params.top_k = o_.top_k;
      r.params.min_p = o_.min_p;
      r.params.repetition_penalty = o_.repetition_penalty;
      r.params.max_new_tokens = o_.max_completion_length;
      r.params.logprob_temperature = o_.temperature;
      r.params.seed = seed + p;
      requests.push_back(std::move(r));
    }
    std::vector<engine::Result> results = engine_->generate(requests);
    Generated out;
    out.sampling = seconds_since(t0);

    const auto t1 = Clock::now();
    std::vector<nlohmann::json> prompts, examples;
    for (size_t q = 0; q < requests.size(); ++q)
      for (const engine::Sample& s : results[q].samples) {
        const size_t p = request_row[q];
        Rollout r;
        r.row = rows[p];
        r.completion = s.tokens;
        r.old_logp = s.raw_logprobs;
        if (o_.vllm_importance_sampling_correction) r.sampling_logp = s.logprobs;
        r.truncated = s.finish_reason == engine::FinishReason::kLength;
        out.generated += int64_t(s.tokens.size());
        out.texts.push_back(tok_.decode(s.tokens, /*skip_special_tokens=*/true));
        prompts.push_back(data.prompt(rows[p]));
        examples.push_back(data.row(rows[p]));
        examples.back()["completion_length"] = int64_t(s.tokens.size());  // for token-length rewards
        out.rollouts.push_back(std::move(r));
      }
    for (const RewardFunc& fn : rewards_) out.per_reward.push_back(fn(prompts, out.texts, examples));
    for (const auto& c : rewards::combine_rewards(out.per_reward, o_.reward_weights))
      out.total.push_back(c.value_or(0.0));
    out.scoring = seconds_since(t1);
    if (split) return gather_generated(dist::world(), std::move(out));
    return out;
  }

  // Dynamic sampling: whether group g (completions [g G, (g + 1) G)) has two different dynamic_sampling_metric
  // values (missing scores left out), i.e. verl's std > 0.
  bool informative(const Generated& s, size_t g) const {
    const size_t G = size_t(o_.num_generations);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = g * G; i < (g + 1) * G; ++i) {
      const rewards::Score v =
          metric_reward_ < 0 ? rewards::Score(s.total[i]) : s.per_reward[size_t(metric_reward_)][i];
      if (v) lo = std::min(lo, *v), hi = std::max(hi, *v);
    }
    return hi > lo;
  }

  // Appends group g of `from` to `to`.
  void append_group(Generated& to, Generated& from, size_t g) const {
    const size_t G = size_t(o_.num_generations);
    to.per_reward.resize(from.per_reward.size());
    for (size_t i = g * G; i < (g + 1) * G; ++i) {
      to.rollouts.push_back(std::move(from.rollouts[i]));
      to.texts.push_back(std::move(from.texts[i]));
      for (size_t f = 0; f < from.per_reward.size(); ++f) to.per_reward[f].push_back(from.per_reward[f][i]);
      to.total.push_back(from.total[i]);
    }
  }

  // One generation batch: the next prompts, sampled and scored; with dynamic_sampling, rounds of them until
  // prompts_per_generation_ informative groups are kept.
  Generated next_batch(std::map<std::string, double>& m) {
    Generated batch;
    int64_t rounds = 0, dropped = 0, surplus = 0;
    for (;;) {
      const std::vector<size_t> rows = next_prompts();
      const uint64_t seed = rl::generation_seed(o_.training.seed, generation_);
      Generated round = sample_and_score(data_, rows, o_.num_generations, seed, /*sharded=*/true);
      ++generation_;
      ++rounds;
      if (!o_.dynamic_sampling) return round;
      batch.generated += round.generated;
      batch.sampling += round.sampling;
      batch.scoring += round.scoring;
      for (size_t g = 0; g < rows.size(); ++g) {
        if (!informative(round, g))
          ++dropped;
        else if (int64_t(batch.rollouts.size()) < per_generation_)
          append_group(batch, round, g);
        else
          ++surplus;
      }
      if (int64_t(batch.rollouts.size()) == per_generation_) break;
      if (o_.max_num_gen_batches > 0 && rounds >= o_.max_num_gen_batches)
        fail(
            "dynamic_sampling: {} generation rounds (max_num_gen_batches) gave {} of the {} groups with reward "
            "variance a batch needs ({} groups without variance dropped): the prompts are too easy or too hard for "
            "the policy; raise max_num_gen_batches (0: no cap) and resume from the last checkpoint, or turn "
            "dynamic_sampling off",
            rounds, int64_t(batch.rollouts.size()) / o_.num_generations, prompts_per_generation_, dropped);
    }
    m["dynamic_sampling/generation_rounds"] = double(rounds);
    m["dynamic_sampling/dropped_groups"] = double(dropped);
    m["dynamic_sampling/surplus_groups"] = double(surplus);
    return batch;
  }

  void generate() {
    auto& m = step_metrics_;
    Generated batch = next_batch(m);
    rollouts_ = std::move(batch.rollouts);
    const std::vector<std::string>& texts = batch.texts;
    const std::vector<std::vector<rewards::Score>>& per_reward = batch.per_reward;
    const std::vector<double>& total = batch.total;
    learning_start_ = Clock::now();
    if (o_.beta != 0.0) compute_reference_logprobs();
    if (o_.vllm_importance_sampling_correction && cycle_ > 1) compute_old_logprobs();
    std::vector<double> shaped = total, tokens;  // the rewards the advantages see; completion lengths
    for (const Rollout& r : rollouts_) tokens.push_back(double(r.completion.size()));
    if (o_.use_kl_in_reward) m["reward_kl_penalty"] = subtract_kl_from_rewards(shaped);
    rl::Advantages adv =
        aggregation_ == rl::MultiObjectiveAggregation::kNormalizeThenSum
            ? rl::normalize_then_sum_advantages(per_reward, o_.reward_weights, o_.num_generations, shaped)
            : rl::compute_advantages(estimator_, shaped, o_.num_generations, scale_, tokens);
    for (size_t i = 0; i < rollouts_.size(); ++i) rollouts_[i].advantage = adv.advantages[i];

    double sum = 0, std_sum = 0;
    for (size_t i = 0; i < total.size(); ++i) sum += total[i], std_sum += adv.group_std[i];
    m["reward"] = sum / double(total.size());
    m["reward_std"] = std_sum / double(total.size());
    m["frac_reward_zero_std"] = adv.frac_zero_std;
    for (size_t f = 0; f < per_reward.size(); ++f) {
      double s = 0, ss = 0, n = 0;
      for (const auto& v : per_reward[f])
        if (v) s += *v, ss += *v * *v, ++n;
      const double mean = n > 0 ? s / n : std::nan("");
      m["rewards/" + rewards_[f].name() + "/mean"] = mean;
      m["rewards/" + rewards_[f].name() + "/std"] =
          n > 1 ? std::sqrt(std::max(0.0, (ss - n * mean * mean) / (n - 1))) : 0.0;
    }
    double len_min = 1e18, len_max = 0, clipped = 0, kept_tokens = 0;
    for (const Rollout& r : rollouts_) {
      len_min = std::min(len_min, double(r.completion.size()));
      len_max = std::max(len_max, double(r.completion.size()));
      clipped += r.truncated ? 1 : 0;
      kept_tokens += double(r.completion.size());
    }
    m["completions/mean_length"] = kept_tokens / double(rollouts_.size());
    m["completions/min_length"] = len_min;
    m["completions/max_length"] = len_max;
    m["completions/clipped_ratio"] = clipped / double(rollouts_.size());
    m["rollout_tokens_per_second"] = double(batch.generated) / std::max(1e-9, batch.sampling);
    m["time/sampling"] = batch.sampling;
    m["time/scoring"] = batch.scoring;
    if (!completions_log_.empty()) log_completions(texts, per_reward, total);
  }

  // The log-probs of every rollout under `model`, in micro-batches, into `field` of each rollout.
  // Data parallel: each rank scores its share of the rollouts and the shares are gathered.
  void score_rollouts(model::TransformerImpl& model, std::vector<float> Rollout::*field) {
    torch::NoGradGuard no_grad;
    const auto [first, last] = share_of(rollouts_.size(), shard_.rank, shard_.world_size);
    for (size_t begin = first; begin < last; begin += size_t(batch_)) {
      const size_t end = std::min(last, begin + size_t(batch_));
      std::vector<const std::vector<int32_t>*> prompts, completions;
      for (size_t i = begin; i < end; ++i) {
        prompts.push_back(&data_.prompt_ids(rollouts_[i].row));
        completions.push_back(&rollouts_[i].completion);
      }
      rl::Scored s =
          rl::score_completions(model, prompts, completions, o_.temperature, pad_id_, false, false, o_.packing);
      for (size_t i = begin; i < end; ++i)
        rollouts_[i].*field = rl::row_prefix(s.logp, int64_t(i - begin), rollouts_[i].completion.size());
    }
    if (shard_.world_size == 1) return;
    nlohmann::json mine = nlohmann::json::array();
    for (size_t i = first; i < last; ++i) mine.push_back(rollouts_[i].*field);
    size_t i = 0;
    for (const std::string& bytes : dist::world().all_gather(mine.dump())) {
      const nlohmann::json rank = nlohmann::json::parse(bytes);
      for (const nlohmann::json& logp : rank) rollouts_[i++].*field = logp.get<std::vector<float>>();
    }
  }

  void compute_reference_logprobs() { score_rollouts(*ref_, &Rollout::ref_logp); }

  // The sampler correction across several steps per generation: the old log-probs are the learner's at generation
  // time (as TRL computes them), in the learner's arithmetic (autocast with bf16), instead of the sampler's.
  void compute_old_logprobs() {
    AutocastScope autocast(o_.training.bf16, model_->parameters().front().device());
    score_rollouts(*model_, &Rollout::old_logp);
  }

  bool entropy_bonus() const { return o_.entropy_coef != 0.0 || o_.use_adaptive_entropy; }

  // TRL's sampling/* metrics of one micro-batch: the ratio's extremes and mean (over tokens, or over sequences at
  // sequence level), |old - sampling| over tokens, and the masked fraction in the mask modes.
  void record_sampling_metrics(const at::Tensor& old_logp, const at::Tensor& sampling_logp, const at::Tensor& ratio,
                               const at::Tensor& mask) {
    torch::NoGradGuard no_grad;
    const at::Tensor in = mask > 0;
    const at::Tensor diff = (old_logp - sampling_logp).abs().masked_select(in);
    const bool sequence = rl::is_sequence_level(correction_);
    const at::Tensor values = sequence ? ratio.flatten() : ratio.masked_select(in);
    auto extreme = [](std::map<std::string, double>& m, const std::string& k, double v, bool lower) {
      auto it = m.find(k);
      if (it == m.end())
        m[k] = v;
      else
        it->second = lower ? std::min(it->second, v) : std::max(it->second, v);
    };
    if (diff.numel() > 0) {
      token_sums_["sampling/sampling_logp_difference/mean"] += diff.sum().item<double>();
      extreme(step_max_, "sampling/sampling_logp_difference/max", diff.max().item<double>(), false);
    }
    if (values.numel() == 0) return;
    extreme(step_min_, "sampling/importance_sampling_ratio/min", values.min().item<double>(), true);
    extreme(step_max_, "sampling/importance_sampling_ratio/max", values.max().item<double>(), false);
    const bool masks =
        correction_ == rl::SamplingCorrection::kTokenMask || correction_ == rl::SamplingCorrection::kSequenceMask;
    const double masked = masks ? (values == 0).sum().item<double>() : 0.0;
    if (sequence) {
      sequence_sums_[0] += values.sum().item<double>();
      sequence_sums_[1] += masked;
    } else {
      token_sums_["sampling/importance_sampling_ratio/mean"] += values.sum().item<double>();
      token_sums_["sampling/is_masked_fraction"] += masked;
    }
  }

  // use_kl_in_reward: reward_i -= beta * sum_t (log pi_old - log pi_ref) over the completion's tokens (none for a
  // truncated completion under mask_truncated_completions, as TRL's completion mask). Returns verl's
  // reward_kl_penalty metric: the mean over completions of the per-token KL.
  double subtract_kl_from_rewards(std::vector<double>& rewards) const {
    double per_token_sum = 0;
    for (size_t i = 0; i < rollouts_.size(); ++i) {
      const Rollout& r = rollouts_[i];
      if (r.completion.empty() || (o_.mask_truncated_completions && r.truncated)) continue;
      const double kl = rl::sequence_kl(r.old_logp, r.ref_logp);
      rewards[i] -= o_.beta * kl;
      per_token_sum += kl / double(r.completion.size());
    }
    return per_token_sum / double(std::max<size_t>(1, rollouts_.size()));
  }

  bool syncs_reference() const { return o_.beta != 0.0 && o_.sync_ref_model; }

  // TRL's SyncRefModelCallback: ref = alpha * policy + (1 - alpha) * ref.
  void sync_reference() {
    torch::NoGradGuard no_grad;
    auto policy = model_->named_parameters();
    for (auto& p : ref_->named_parameters())
      p.value().mul_(1.0 - o_.ref_model_mixup_alpha).add_(policy[p.key()], o_.ref_model_mixup_alpha);
  }

  void log_completions(const std::vector<std::string>& texts,
                       const std::vector<std::vector<rewards::Score>>& per_reward, const std::vector<double>& total) {
    std::vector<std::string> prompts;
    for (const Rollout& r : rollouts_) prompts.push_back(data_.prompt_text(r.row));
    append_scored_completions(completions_log_, step_ + 1, prompts, texts, rewards_, per_reward,
                              [&](size_t i, nlohmann::ordered_json& line) {
                                line["reward"] = total[i];
                                line["advantage"] = rollouts_[i].advantage;
                              });
  }

  // eval_completions.jsonl: every evaluation completion with its rewards, under the step it evaluated.
  void log_eval_completions(const Generated& e) {
    std::vector<std::string> prompts;
    for (const Rollout& r : e.rollouts) prompts.push_back(eval_->prompt_text(r.row));
    append_scored_completions(eval_log_, step_, prompts, e.texts, rewards_, e.per_reward,
                              [&](size_t i, nlohmann::ordered_json& line) { line["reward"] = e.total[i]; });
  }

  GrpoOptions o_;
  model::Transformer model_;
  model::Transformer ref_{nullptr};
  tokenizer::Tokenizer tok_;
  rl::PromptDataset data_;
  std::optional<rl::PromptDataset> eval_;  // eval_strategy steps and an eval split
  rl::LossType loss_type_;
  rl::ScaleRewards scale_;
  rl::AdvantageEstimator estimator_;
  double loss_beta_;  // beta of the loss's KL term: 0 when the KL is in the reward
  double epsilon_high_;
  rl::MultiObjectiveAggregation aggregation_;
  rl::LossConfig loss_;
  double entropy_scale_ = 1;  // the entropy bonus's factor in loss_sum (see prepare_step)
  int64_t batch_, per_step_, per_generation_, prompts_per_generation_;
  int64_t slices_;       // optimizer steps per generation batch (steps_per_generation / gradient_accumulation_steps)
  int64_t cycle_;        // steps per generation batch: slices_ * num_iterations
  double entropy_coef_;  // the entropy bonus's coefficient (adaptive: moves each step; saved)
  double last_entropy_ = INFINITY;     // adaptive: the last step's entropy (saved)
  double entropy_window_[2] = {0, 0};  // adaptive: this step's entropy sum and token count
  rl::SamplingCorrection correction_ = rl::SamplingCorrection::kSequenceMask;
  std::vector<RewardFunc> rewards_;
  std::unique_ptr<engine::Engine> engine_;
  int32_t pad_id_ = 0;
  fs::path completions_log_, eval_log_;
  int64_t metric_reward_ = -1;  // dynamic_sampling_metric's index in rewards_; -1: the weighted sum

  // data position (saved)
  int64_t epoch_ = 0, iteration_ = 0, step_ = 0, generation_ = 0;
  size_t cursor_ = 0;
  std::vector<size_t> order_;  // this epoch's permutation (rebuilt from the seed)
  std::vector<Rollout> rollouts_;

  // this step
  std::map<std::string, double> step_metrics_;  // the generation's (rewards, lengths, timings)
  std::map<std::string, double> token_sums_;    // kl, entropy, clip counts summed over the step's tokens
  int64_t step_tokens_ = 0;
  int64_t slice_ = 0;  // which per_step_ rollouts of the generation batch
  double max_logprob_diff_ = 0;
  std::map<std::string, double> step_min_, step_max_;  // sampler-correction extremes over the step
  double sequence_sums_[2] = {0, 0};                   // sequence-level correction: ratio sum, masked sequences
  Clock::time_point learning_start_;
  DataShard shard_;  // data parallel: this rank's place
};

}  // namespace

TrainResult grpo(const GrpoOptions& o, const std::atomic<bool>* stop_requested) {
  o.validate();
  check_reward_funcs(o.reward_funcs, o.reward_kwargs);  // unknown entries and bad parameters before any loading
  const text::BundleSource source = rl::policy_source(o);
  text::ModelBundle policy = text::open_tokenizer(source);
  rl::PromptDataset data = rl::PromptDataset::load(o, policy.tokenizer, policy.chat_template.get());
  data.check_rewards(o.reward_funcs);
  torch::manual_seed(uint64_t(o.training.seed));
  text::attach_model(policy, source, model::load_pretrained(o.model_name_or_path));
  model::Transformer net = policy.model;
  fmt::print("model: {} with {} parameters; {} prompts from {}\n", net->config().architecture(), net->num_parameters(),
             data.size(), o.dataset_name);
  std::optional<rl::PromptDataset> eval;
  if (o.training.eval_strategy == "steps") {
    const fs::path path = rl::split_path(o.dataset_name, o.dataset_test_split);
    if (fs::is_regular_file(path)) {
      rl::PromptOptions eval_options(o);
      eval_options.dataset_name = path.string();
      eval_options.max_samples = o.training.max_eval_samples;
      eval = rl::PromptDataset::load(eval_options, policy.tokenizer, policy.chat_template.get());
      eval->check_rewards(o.reward_funcs);
      fmt::print("evaluation: {} prompts from {}, {} completions each\n", eval->size(), path.string(),
                 o.num_generations_eval.value_or(o.num_generations));
    } else {
      fmt::print("note: no evaluation split at {} (dataset_test_split '{}'): nothing to evaluate\n", path.string(),
                 o.dataset_test_split);
    }
  }
  GrpoObjective objective(o, policy, std::move(data), std::move(eval));
  TrainerHooks hooks;
  const tokenizer::Tokenizer& tok = policy.tokenizer;
  hooks.save_extra = [&](const fs::path& dir) { tok.save(dir, /*overwrite=*/true); };
  hooks.run_config_yaml = to_yaml(o.to_json());
  hooks.stop_requested = stop_requested;
  return Trainer(net, o.training, objective, hooks).train();
}

}  // namespace r1::train
