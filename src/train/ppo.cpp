// PPO (r1/train.h PpoOptions) on the shared trainer, as TRL's PPOTrainer: each rollout the engine samples one
// completion per prompt from the live weights, the rewards score it, the reference model and the value model score
// every completion token, and the KL-shaped per-token rewards go through GAE (src/train/ppo-math.h); the rollout then
// serves num_ppo_epochs * num_mini_batches optimizer steps of shuffled mini-batches. The value model is a sequence
// classifier on its own trunk, trained with the policy by the same AdamW (Objective::extra_params). Departures from
// TRL:
//   1. The score is added on the completion's last token (with its EOS when it has one), where verl puts it; TRL adds
//      it one position after the last non-pad token, which is the EOS when pad == EOS and past the end otherwise.
//      Values and the value loss cover the completion tokens only (TRL's padding_mask_p1 one more).
//   2. The old log-probs are the engine's (log_softmax(logits / temperature) at sampling time), as TRL's (from the
//      generation's logits); on AVX-512 CPUs in fp32 they equal the training forward's (model/exact-ops.h).
//   3. The learning-rate schedule advances per optimizer step (max_steps counts them), not per rollout.
//   4. Metrics are logged per optimizer step: the rollout's (objective/*, rewards, lengths, timings) on the step
//      that generated it, the losses and ratios as means over the step's micro-batches.
// Data parallel (set_data_shard): the rollout counts every rank's prompts; each rank samples and scores its share,
// the shares are gathered (GRPO's gather, train/grpo-rollouts.h), and every rank shapes the whole rollout (the
// reference and value forwards over all of it: simple, not yet by shares) and trains its global micro-batches.
// Checkpointed state: the prompt order, the position within the rollout and, mid-rollout, the rollout itself in
// trainer_state.json's "data_state"; the value model as value_model.safetensors.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

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
#include "train/checkpoint.h"
#include "train/finetune.h"
#include "train/grpo-data.h"
#include "train/grpo-rollouts.h"
#include "train/ppo-math.h"
#include "train/reward-funcs.h"
#include "train/rollout.h"

namespace r1::train {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kValueModelFile = "value_model.safetensors";
constexpr const char* kValueModelDir = "value_model";

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct PpoRollout {
  size_t row = 0;                                            // dataset row
  std::vector<int32_t> completion;                           // sampled ids (the stop token included when one ended it)
  std::vector<float> old_logp, values, advantages, returns;  // per completion token
  bool truncated = false;                                    // finished by length
};

nlohmann::json rollout_to_json(const PpoRollout& r) {
  return {{"row", r.row},
          {"completion", r.completion},
          {"old_logp", r.old_logp},
          {"values", r.values},
          {"advantages", r.advantages},
          {"returns", r.returns},
          {"truncated", r.truncated}};
}

PpoRollout rollout_from_json(const nlohmann::json& j, size_t rows, int64_t vocab_size) {
  PpoRollout r;
  r.row = size_t(json_integer(j, "row", 0, int64_t(rows) - 1, "PPO rollout"));
  r.completion = j.at("completion").get<std::vector<int32_t>>();
  r.old_logp = j.at("old_logp").get<std::vector<float>>();
  r.values = j.at("values").get<std::vector<float>>();
  r.advantages = j.at("advantages").get<std::vector<float>>();
  r.returns = j.at("returns").get<std::vector<float>>();
  r.truncated = j.at("truncated").get<bool>();
  for (int32_t id : r.completion)
    if (id < 0 || id >= vocab_size)
      fail("PPO rollout: completion token {} is outside the vocabulary [0, {})", id, vocab_size);
  const size_t n = r.completion.size();
  if (r.old_logp.size() != n || r.values.size() != n || r.advantages.size() != n || r.returns.size() != n)
    fail("PPO rollout: {} completion tokens but {} log-probs, {} values, {} advantages and {} returns", n,
         r.old_logp.size(), r.values.size(), r.advantages.size(), r.returns.size());
  return r;
}

class PpoObjective : public Objective {
 public:
  PpoObjective(const PpoOptions& o, const text::ModelBundle& policy, model::Transformer value, rl::PromptDataset data)
      : o_(o),
        model_(policy.model),
        value_(std::move(value)),
        tok_(policy.tokenizer),
        data_(std::move(data)),
        kl_(rl::parse_kl_estimator(o.kl_estimator)),
        batch_(o.training.per_device_train_batch_size),
        mini_batch_size_(o.training.per_device_train_batch_size * o.training.gradient_accumulation_steps),
        rollout_size_(o.rollout_size()),
        prompts_(data_.size(), uint64_t(o.training.seed)) {
    const at::Device device = model_->parameters().front().device();
    names_ = o.rewards();
    rewards_ = make_reward_funcs(names_, o.reward_kwargs, device);
    engine::EngineOptions eo;
    eo.max_batch = std::min<int64_t>(rollout_size_, o.generation_max_batch);
    eo.max_seq_len = o.max_prompt_length + o.response_length;
    if (o.training.bf16) eo.dtype = at::kBFloat16;
    eo.eos_token_ids = policy.stop_ids;
    eo.seed = uint64_t(o.training.seed);
    engine_ = std::make_unique<engine::Engine>(model_, eo);
    pad_id_ = tok_.padding_id();
    if (o.kl_coef != 0.0) {
      ref_ = model::load_pretrained(o.model_name_or_path);
      ref_->to(device);
      ref_->eval();
      for (auto& p : ref_->parameters()) p.set_requires_grad(false);
    }
    value_->to(device);
    value_->train();
    value_->set_gradient_checkpointing(o.training.gradient_checkpointing);  // as the trainer sets it on the policy
    if (o.log_completions) completions_log_ = fs::path(o.training.output_dir) / "completions.jsonl";
  }

  std::vector<AdamW::Param> extra_params() override {
    std::vector<AdamW::Param> params = optimizer_params(*value_, o_.training.no_weight_decay);
    for (AdamW::Param& p : params) p.name = "value_model." + p.name;
    return params;
  }

  // The mini-batches count every rank's micro-batches; rank 0 alone logs completions.
  void set_data_shard(const DataShard& shard) override {
    shard_ = shard;
    mini_batch_size_ *= shard.world_size;
    if (shard.rank != 0) completions_log_.clear();
  }

  double prepare_step(int64_t micro_batches) override {
    step_metrics_.clear();
    sums_.clear();
    if (position_ == 0)
      generate();  // sets learning_start_ before the reference and value forwards
    else
      learning_start_ = Clock::now();
    const int64_t epoch = position_ / o_.num_mini_batches, mini = position_ % o_.num_mini_batches;
    const std::vector<size_t> order = epoch_order(epoch);
    mini_batch_.assign(order.begin() + mini * mini_batch_size_, order.begin() + (mini + 1) * mini_batch_size_);
    position_ = (position_ + 1) % o_.steps_per_rollout();
    ++step_;
    return double(micro_batches);  // each micro-batch's loss is its token mean; TRL averages them
  }

  MicroBatchLoss micro_batch(int64_t index) override {
    rl::TokenRows prompts, completions;
    std::vector<const std::vector<float>*> old, old_values, advantages, returns;
    const int64_t first = (index * shard_.world_size + shard_.rank) * batch_;  // global micro-batch index * W + rank
    for (int64_t i = first; i < first + batch_; ++i) {
      const PpoRollout& r = rollouts_[mini_batch_[size_t(i)]];
      prompts.push_back(&data_.prompt_ids(r.row));
      completions.push_back(&r.completion);
      old.push_back(&r.old_logp);
      old_values.push_back(&r.values);
      advantages.push_back(&r.advantages);
      returns.push_back(&r.returns);
    }
    rl::Scored s = rl::score_completions(*model_, prompts, completions, o_.temperature, pad_id_, /*with_entropy=*/true);
    at::Tensor values = rl::completion_values(*value_, prompts, completions, pad_id_);  // (B, L)
    const int64_t L = s.logp.size(1);
    const at::Device device = s.logp.device();
    auto tensor = [&](const std::vector<const std::vector<float>*>& rows) {
      return rl::floats_to_tensor(rows, L).to(device);
    };
    rl::PpoLoss l = rl::ppo_loss(s.logp, values, tensor(old), tensor(old_values), tensor(advantages), tensor(returns),
                                 s.mask, o_.cliprange, o_.cliprange_value);
    MicroBatchLoss out;
    out.loss_sum = l.pg_loss + o_.vf_coef * l.vf_loss;
    out.tokens = s.tokens;
    sums_["policy/approxkl_avg"] += l.approxkl;
    sums_["policy/clipfrac_avg"] += l.pg_clipfrac;
    sums_["loss/policy_avg"] += l.pg_loss.item<double>();
    sums_["loss/value_avg"] += l.vf_loss.item<double>();
    sums_["val/clipfrac_avg"] += l.vf_clipfrac;
    sums_["val/ratio"] += l.ratio;
    sums_["policy/entropy_avg"] += rl::masked_mean(s.entropy, s.mask).item<double>();
    ++micro_batches_;
    return out;
  }

  std::map<std::string, double> end_step() override {
    std::map<std::string, double> m = step_metrics_;
    for (const auto& [k, sum] : sums_) m[k] = sum / double(std::max<int64_t>(1, micro_batches_));
    m["time/learning"] = seconds_since(learning_start_);
    micro_batches_ = 0;
    return m;
  }

  int64_t steps_per_epoch(int64_t) const override {
    return std::max<int64_t>(1, int64_t(data_.size()) / rollout_size_ * o_.steps_per_rollout());
  }

  nlohmann::json data_state() const override {
    nlohmann::json s = {
        {"prompts", prompts_.state()}, {"position", position_}, {"step", step_}, {"generation", generation_}};
    if (position_ != 0) {  // the rollout still to be trained on
      nlohmann::json rollouts = nlohmann::json::array();
      for (const PpoRollout& r : rollouts_) rollouts.push_back(rollout_to_json(r));
      s["rollouts"] = std::move(rollouts);
    }
    return s;
  }

  void load_data_state(const nlohmann::json& s) override {
    prompts_.load_state(s.at("prompts"));
    position_ = json_integer(s, "position", 0, o_.steps_per_rollout() - 1, "PPO state");
    step_ = json_integer(s, "step", 0, INT64_MAX, "PPO state");
    generation_ = json_integer(s, "generation", 0, INT64_MAX, "PPO state");
    rollouts_.clear();
    if (s.contains("rollouts"))
      for (const auto& r : s["rollouts"])
        rollouts_.push_back(rollout_from_json(r, data_.size(), model_->config().vocab_size));
    if (position_ != 0 && int64_t(rollouts_.size()) != rollout_size_)
      fail("PPO checkpoint: expected {} buffered rollouts, found {}", rollout_size_, rollouts_.size());
    if (!completions_log_.empty()) detail::truncate_step_log(completions_log_, step_);
  }

  void save_state(CheckpointWriter& out) const override {
    Objective::save_state(out);
    safetensors::save(out.dir / kValueModelFile, model::named_tensors(*value_.ptr()));
  }

  void load_state(CheckpointReader& in) override {
    Objective::load_state(in);
    const fs::path path = in.dir / kValueModelFile;
    if (!fs::exists(path))
      fail("{}: no {} (the value model); this is not a PPO checkpoint", in.dir.string(), kValueModelFile);
    rl::load_model_tensors(path, *value_);
  }

  std::string describe(int64_t, int64_t) const override {
    return fmt::format(
        "PPO: {} prompts; rollouts of {} completions, {} epoch(s) x {} mini-batch(es) of {} each; kl_coef {} ({}), "
        "cliprange {} / value {}, vf_coef {}, gamma {}, lam {}{}; value model {} parameters; rewards {}\n",
        data_.size(), rollout_size_, o_.num_ppo_epochs, o_.num_mini_batches, mini_batch_size_, o_.kl_coef,
        o_.kl_estimator, o_.cliprange, o_.cliprange_value, o_.vf_coef, o_.gamma, o_.lam,
        o_.whiten_rewards ? ", whitened rewards" : "", value_->num_parameters(), fmt::join(names_, ", "));
  }

 private:
  // The rollout's order in PPO epoch `epoch` (TRL: a fresh permutation per epoch), seeded by the run's seed, the
  // rollout and the epoch, so a resumed run draws the same mini-batches.
  std::vector<size_t> epoch_order(int64_t epoch) const {
    std::vector<size_t> order(static_cast<size_t>(rollout_size_));
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937_64 rng(uint64_t(o_.training.seed) * 0x9E3779B97F4A7C15ULL + uint64_t(generation_) * 1000003ULL +
                        uint64_t(epoch));
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[size_t(rng() % i)]);
    return order;
  }

  void generate() {
    const auto t0 = Clock::now();
    std::vector<size_t> rows;
    std::vector<engine::Request> requests;
    for (int64_t p = 0; p < rollout_size_; ++p) rows.push_back(prompts_.next());
    const auto [begin, end] = rl::share_of(rows.size(), shard_.rank, shard_.world_size);  // this rank's prompts
    for (size_t p = begin; p < end; ++p) {
      engine::Request r;
      r.prompt = data_.prompt_ids(rows[p]);
      r.params.temperature = o_.temperature;  // TRL's PPO samples with temperature only (top_k 0, top_p 1)
      r.params.max_new_tokens = o_.response_length;
      r.params.logprob_temperature = o_.temperature;
      r.params.seed = rl::generation_seed(o_.training.seed, generation_) + uint64_t(p);
      requests.push_back(std::move(r));
    }
    std::vector<engine::Result> results = engine_->generate(requests);
    ++generation_;
    const double sampling_here = seconds_since(t0);

    const auto t1 = Clock::now();
    rl::Generated mine;  // this rank's share, scored
    std::vector<nlohmann::json> prompts, examples;
    for (size_t q = 0; q < results.size(); ++q) {
      const engine::Sample& s = results[q].samples.at(0);
      const size_t row = rows[begin + q];
      rl::Rollout r;
      r.row = row;
      r.completion = s.tokens;
      r.old_logp = s.raw_logprobs;
      r.truncated = s.finish_reason == engine::FinishReason::kLength;
      mine.generated += int64_t(s.tokens.size());
      mine.texts.push_back(tok_.decode(s.tokens, /*skip_special_tokens=*/true));
      prompts.push_back(data_.prompt(row));
      examples.push_back(data_.row(row));
      examples.back()["completion_length"] = int64_t(s.tokens.size());
      mine.rollouts.push_back(std::move(r));
    }
    for (const RewardFunc& fn : rewards_) mine.per_reward.push_back(fn(prompts, mine.texts, examples));
    mine.sampling = sampling_here;
    mine.scoring = seconds_since(t1);
    rl::Generated all = shard_.world_size > 1 ? rl::gather_generated(dist::world(), std::move(mine)) : std::move(mine);
    const double sampling = all.sampling;
    const int64_t generated = all.generated;
    const std::vector<std::string>& texts = all.texts;
    const std::vector<std::vector<rewards::Score>>& per_reward = all.per_reward;
    rollouts_.clear();
    int64_t eos = 0;
    for (rl::Rollout& g : all.rollouts) {
      PpoRollout r;
      r.row = g.row;
      r.completion = std::move(g.completion);
      r.old_logp = std::move(g.old_logp);
      r.truncated = g.truncated;
      eos += r.truncated ? 0 : 1;
      rollouts_.push_back(std::move(r));
    }
    std::vector<rewards::Score> combined = rewards::combine_rewards(per_reward, o_.reward_weights);
    std::vector<double> total, scores;
    for (size_t i = 0; i < combined.size(); ++i) {
      total.push_back(combined[i].value_or(0.0));  // TRL's nansum of all-NaN is 0
      scores.push_back(total.back() - (o_.missing_eos_penalty && rollouts_[i].truncated ? *o_.missing_eos_penalty : 0));
    }
    const double scoring = std::max(all.scoring, seconds_since(t1));
    learning_start_ = Clock::now();
    shape_and_estimate(scores);

    auto& m = step_metrics_;
    double reward_sum = 0, score_sum = 0, len_min = 1e18, len_max = 0;
    for (size_t i = 0; i < total.size(); ++i) reward_sum += total[i], score_sum += scores[i];
    for (const PpoRollout& r : rollouts_) {
      len_min = std::min(len_min, double(r.completion.size()));
      len_max = std::max(len_max, double(r.completion.size()));
    }
    const double n = double(rollouts_.size());
    m["reward"] = reward_sum / n;
    m["objective/scores"] = score_sum / n;
    m["objective/rlhf_reward"] = score_sum / n + m["objective/non_score_reward"];
    for (size_t f = 0; f < per_reward.size(); ++f) {
      double s = 0, c = 0;
      for (const auto& v : per_reward[f])
        if (v) s += *v, ++c;
      m["rewards/" + rewards_[f].name() + "/mean"] = c > 0 ? s / c : std::nan("");
    }
    m["val/num_eos_tokens"] = double(eos);
    m["completions/mean_length"] = double(generated) / n;
    m["completions/min_length"] = len_min;
    m["completions/max_length"] = len_max;
    m["completions/clipped_ratio"] = (n - double(eos)) / n;
    m["rollout_tokens_per_second"] = double(generated) / std::max(1e-9, sampling);
    m["time/sampling"] = sampling;
    m["time/scoring"] = scoring;
    if (!completions_log_.empty()) log_completions(texts, per_reward, scores);
  }

  // Reference log-probs and values of every completion token, the KL-shaped per-token rewards, GAE, and the
  // whitened advantages, into the rollouts; the objective/* metrics of the rollout.
  void shape_and_estimate(const std::vector<double>& scores) {
    torch::NoGradGuard no_grad;
    int64_t L = 1;
    for (const PpoRollout& r : rollouts_) L = std::max<int64_t>(L, int64_t(r.completion.size()));
    const int64_t N = int64_t(rollouts_.size());
    at::Tensor ref_logp = at::zeros({N, L}), values = at::zeros({N, L}), mask = at::zeros({N, L});
    std::vector<const std::vector<float>*> old;
    for (const PpoRollout& r : rollouts_) old.push_back(&r.old_logp);
    at::Tensor old_logp = rl::floats_to_tensor(old, L);
    value_->eval();
    for (int64_t begin = 0; begin < N; begin += batch_) {
      const int64_t end = std::min(N, begin + batch_);
      rl::TokenRows prompts, completions;
      for (int64_t i = begin; i < end; ++i) {
        prompts.push_back(&data_.prompt_ids(rollouts_[size_t(i)].row));
        completions.push_back(&rollouts_[size_t(i)].completion);
      }
      at::Tensor v = rl::completion_values(*value_, prompts, completions, pad_id_).to(at::kCPU);
      values.narrow(0, begin, end - begin).narrow(1, 0, v.size(1)).copy_(v);
      if (ref_) {
        rl::Scored s = rl::score_completions(*ref_, prompts, completions, o_.temperature, pad_id_, false);
        ref_logp.narrow(0, begin, end - begin).narrow(1, 0, s.logp.size(1)).copy_(s.logp.to(at::kCPU, at::kFloat));
      }
    }
    value_->train();
    for (int64_t i = 0; i < N; ++i) mask[i].narrow(0, 0, int64_t(rollouts_[size_t(i)].completion.size())).fill_(1.0);
    at::Tensor kl = ref_ ? rl::kl_estimate(old_logp, ref_logp, kl_) * mask : at::zeros({N, L});
    at::Tensor non_score = -o_.kl_coef * kl;
    at::Tensor rewards = non_score.clone();
    for (int64_t i = 0; i < N; ++i) {
      const int64_t len = int64_t(rollouts_[size_t(i)].completion.size());
      if (len > 0) rewards[i][len - 1] += scores[size_t(i)];
    }
    if (o_.whiten_rewards) rewards = rl::masked_whiten(rewards, mask, /*shift_mean=*/false);
    rl::Gae gae = rl::generalized_advantages(rewards, values, mask, o_.gamma, o_.lam);
    at::Tensor advantages = rl::masked_whiten(gae.advantages, mask, /*shift_mean=*/true);
    for (int64_t i = 0; i < N; ++i) {
      PpoRollout& r = rollouts_[size_t(i)];
      r.values = rl::row_prefix(values, i, r.completion.size());
      r.advantages = rl::row_prefix(advantages, i, r.completion.size());
      r.returns = rl::row_prefix(gae.returns, i, r.completion.size());
    }
    auto& m = step_metrics_;
    m["objective/kl"] = kl.sum(1).mean().item<double>();
    m["objective/entropy"] = (-old_logp * mask).sum(1).mean().item<double>();
    m["objective/non_score_reward"] = non_score.sum(1).mean().item<double>();
    m["val/mean"] = rl::masked_mean(values, mask).item<double>();
    m["returns/mean"] = rl::masked_mean(gae.returns, mask).item<double>();
  }

  void log_completions(const std::vector<std::string>& texts,
                       const std::vector<std::vector<rewards::Score>>& per_reward, const std::vector<double>& scores) {
    std::vector<std::string> prompts;
    for (const PpoRollout& r : rollouts_) prompts.push_back(data_.prompt_text(r.row));
    append_scored_completions(completions_log_, step_ + 1, prompts, texts, rewards_, per_reward,
                              [&](size_t i, nlohmann::ordered_json& line) { line["score"] = scores[i]; });
  }

  PpoOptions o_;
  model::Transformer model_, value_;
  model::Transformer ref_{nullptr};
  tokenizer::Tokenizer tok_;
  rl::PromptDataset data_;
  rl::KlEstimator kl_;
  int64_t batch_, mini_batch_size_, rollout_size_;
  std::vector<std::string> names_;
  std::vector<RewardFunc> rewards_;
  std::unique_ptr<engine::Engine> engine_;
  int32_t pad_id_ = 0;
  fs::path completions_log_;

  // position (saved)
  detail::EpochOrder prompts_;
  int64_t position_ = 0, step_ = 0, generation_ = 0;  // position_: optimizer steps taken on the current rollout
  std::vector<PpoRollout> rollouts_;

  // this step
  std::vector<size_t> mini_batch_;
  std::map<std::string, double> step_metrics_, sums_;
  int64_t micro_batches_ = 0;
  Clock::time_point learning_start_;
  DataShard shard_;  // data parallel: this rank's place
};

// The value model: value_model_path, else reward_model_path, else the policy; a causal LM's trunk gets a fresh
// one-label head (transformers' from_pretrained(num_labels=1)). It must read the policy's tokens.
model::Transformer load_value_model(const PpoOptions& o, const model::ModelConfig& policy) {
  const std::string path = !o.value_model_path.empty()
                               ? o.value_model_path
                               : (!o.reward_model_path.empty() ? o.reward_model_path : o.model_name_or_path);
  model::Transformer value = model::load_pretrained(path, {.num_labels = 1});
  if (value->config().vocab_size != policy.vocab_size)
    fail_usage(
        "value model '{}' has a vocabulary of {} tokens, the policy {}: the value model reads the policy's "
        "tokens (set value_model_path to a model with the policy's tokenizer)",
        path, value->config().vocab_size, policy.vocab_size);
  return value;
}

}  // namespace

TrainResult ppo(const PpoOptions& o, const std::atomic<bool>* stop_requested) {
  o.validate();
  const std::vector<std::string> names = o.rewards();
  check_reward_funcs(names, o.reward_kwargs);  // unknown entries and bad parameters before any loading
  const text::BundleSource source = rl::policy_source(o);
  text::ModelBundle policy = text::open_tokenizer(source);
  rl::PromptDataset data = rl::PromptDataset::load(o, policy.tokenizer, policy.chat_template.get());
  data.check_rewards(names);
  torch::manual_seed(uint64_t(o.training.seed));
  text::attach_model(policy, source, model::load_pretrained(o.model_name_or_path));
  model::Transformer net = policy.model;
  model::Transformer value = load_value_model(o, net->config());
  fmt::print("model: {} with {} parameters; value model {}; {} prompts from {}\n", net->config().architecture(),
             net->num_parameters(), value->config().architecture(), data.size(), o.dataset_name);
  PpoObjective objective(o, policy, value, std::move(data));
  TrainerHooks hooks;
  const tokenizer::Tokenizer& tok = policy.tokenizer;
  const fs::path output_dir = o.training.output_dir;
  hooks.save_extra = [&](const fs::path& dir) {
    tok.save(dir, /*overwrite=*/true);
    if (fs::absolute(dir).lexically_normal() != fs::absolute(output_dir).lexically_normal()) return;
    const fs::path value_dir = dir / kValueModelDir;  // the final model: the value model beside it
    model::save_pretrained(*value, value_dir, {.overwrite = true});
    tok.save(value_dir, /*overwrite=*/true);
  };
  hooks.run_config_yaml = to_yaml(o.to_json());
  hooks.stop_requested = stop_requested;
  return Trainer(net, o.training, objective, hooks).train();
}

}  // namespace r1::train
