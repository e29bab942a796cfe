// Direct preference optimisation (Rafailov et al. 2023, eq. 7; TRL DPOTrainer): for each pair the policy's and
// the reference's summed log-probs of the chosen and rejected continuations, z = log pi/pi_ref(y_w|x) -
// log pi/pi_ref(y_l|x), loss -log sigmoid(beta z) (or cDPO / robust / hinge / IPO, see dpo_loss in
// r1/train.h), averaged over the pairs of the accumulated step. The reference is a frozen copy of the
// initial policy, a given model, the policy with its LoRA adapters disabled, or log-probs precomputed once
// (precompute_ref_log_probs; kept in the data state so a resumed run uses the same values).
// Departures from TRL:
//   1. chosen and rejected sequences go through one forward as 2P padded rows (TRL concatenates them too);
//      the LM head is applied to the continuation positions only.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include "r1/data.h"
#include "r1/error.h"
#include "r1/lora.h"
#include "r1/recipe.h"
#include "r1/train.h"
#include "train/finetune.h"

namespace r1::train {
namespace {

// A pair as two full sequences (prompt + continuation) with the continuation tokens as targets.
struct Pair {
  std::vector<int32_t> chosen, rejected;
  std::vector<uint8_t> chosen_targets, rejected_targets;
};

struct PairData {
  std::vector<Pair> pairs;
  size_t truncated = 0;
};

PairData build(const std::vector<std::pair<nlohmann::json, std::string>>& raw, const detail::FinetuneSetup& setup,
               const DpoOptions& o) {
  PairData d;
  for (const auto& [row, where] : raw) {
    data::PreferenceExample ex = data::preference_example(setup.tokenizer, setup.chat_template.get(), row,
                                                          o.max_prompt_length, o.max_length, where);
    d.truncated += ex.truncated ? 1 : 0;
    Pair p;
    auto join = [&](const std::vector<int32_t>& tail, std::vector<int32_t>& ids, std::vector<uint8_t>& targets) {
      ids = ex.prompt;
      ids.insert(ids.end(), tail.begin(), tail.end());
      targets.assign(ids.size(), 0);
      for (size_t i = ex.prompt.size(); i < ids.size(); ++i) targets[i] = 1;
      if (!targets.empty()) targets[0] = 0;  // with an empty prompt the first token has no predecessor
    };
    join(ex.chosen, p.chosen, p.chosen_targets);
    join(ex.rejected, p.rejected, p.rejected_targets);
    d.pairs.push_back(std::move(p));
  }
  if (d.pairs.empty()) fail_usage("the preference dataset has no rows");
  return d;
}

model::Transformer frozen(model::Transformer m) {
  for (auto& p : m->parameters()) p.set_requires_grad(false);
  m->eval();
  return m;
}

model::Transformer frozen_copy(model::TransformerImpl& policy) {
  model::Transformer copy(policy.config(), policy.parameters().front().options());
  torch::NoGradGuard no_grad;
  auto src = model::named_tensors(policy);
  auto dst = model::named_tensors(*copy);
  for (size_t i = 0; i < src.size(); ++i) dst[i].second.copy_(src[i].second);
  return frozen(copy);
}

class DpoObjective : public Objective {
 public:
  DpoObjective(model::Transformer policy, model::Transformer reference, PairData train, std::optional<PairData> eval,
               const DpoOptions& o, int32_t pad)
      : policy_(std::move(policy)),
        reference_(std::move(reference)),
        train_(std::move(train)),
        eval_(std::move(eval)),
        order_(train_.pairs.size(), uint64_t(o.training.seed)),
        o_(o),
        pad_(pad) {
    // More pairs than the data holds would repeat them within a batch (TRL's loader yields a shorter batch).
    requested_batch_ = o_.training.per_device_train_batch_size;
    o_.training.per_device_train_batch_size =
        std::min<int64_t>(requested_batch_, std::max<size_t>(1, train_.pairs.size()));
  }

  double prepare_step(int64_t micro_batches) override {
    if (o_.precompute_ref_log_probs && !precomputed_) precompute();
    batches_ = order_.next_batches(micro_batches, o_.training.per_device_train_batch_size, shard_);
    return double(micro_batches * o_.training.per_device_train_batch_size);
  }
  void set_data_shard(const DataShard& shard) override { shard_ = shard; }

  MicroBatchLoss micro_batch(int64_t index) override {
    const std::vector<size_t>& pairs = batches_[size_t(index)];
    auto [policy, tokens] = logps(*policy_, train_, pairs);  // (2P)
    at::Tensor ref = precomputed_ ? stored(ref_train_, pairs) : reference_logps(train_, pairs);
    const int64_t P = int64_t(pairs.size());
    DpoLoss l = dpo_loss(policy.narrow(0, 0, P), policy.narrow(0, P, P), ref.narrow(0, 0, P), ref.narrow(0, P, P),
                         o_.loss_type, o_.beta, o_.label_smoothing);
    MicroBatchLoss out{l.losses.sum(), tokens, metrics(l, policy.detach(), P)};
    return out;
  }

  int64_t steps_per_epoch(int64_t micro_batches) const override {
    return std::max<int64_t>(1,
                             int64_t(train_.pairs.size()) / (o_.training.per_device_train_batch_size * micro_batches));
  }

  nlohmann::json data_state() const override {
    nlohmann::json s = {{"order", order_.state()}};
    if (precomputed_) s["ref_logps"] = {{"train", ref_train_}, {"eval", ref_eval_}};
    return s;
  }
  void load_data_state(const nlohmann::json& state) override {
    order_.load_state(state.at("order"));
    if (state.contains("ref_logps")) {
      ref_train_ = state["ref_logps"].at("train").get<std::vector<double>>();
      ref_eval_ = state["ref_logps"].at("eval").get<std::vector<double>>();
      if (ref_train_.size() != 2 * train_.pairs.size())
        fail("the checkpoint's precomputed reference log-probs cover {} pairs, the dataset has {} (another dataset?)",
             ref_train_.size() / 2, train_.pairs.size());
      precomputed_ = true;
      reference_ = nullptr;
    }
  }

  std::map<std::string, double> evaluate() override {
    if (!eval_) return {};
    if (o_.precompute_ref_log_probs && !precomputed_) precompute();
    size_t n = eval_->pairs.size();
    if (o_.training.max_eval_samples > 0) n = std::min(n, size_t(o_.training.max_eval_samples));
    std::map<std::string, double> sums;
    for (size_t begin = 0; begin < n; begin += size_t(o_.training.per_device_eval_batch_size)) {
      std::vector<size_t> pairs;
      for (size_t i = begin; i < std::min(n, begin + size_t(o_.training.per_device_eval_batch_size)); ++i)
        pairs.push_back(i);
      at::Tensor policy = logps(*policy_, *eval_, pairs).first;
      at::Tensor ref = precomputed_ ? stored(ref_eval_, pairs) : reference_logps(*eval_, pairs);
      const int64_t P = int64_t(pairs.size());
      DpoLoss l = dpo_loss(policy.narrow(0, 0, P), policy.narrow(0, P, P), ref.narrow(0, 0, P), ref.narrow(0, P, P),
                           o_.loss_type, o_.beta, o_.label_smoothing);
      sums["loss"] += l.losses.sum().item<double>();
      for (const auto& [k, v] : metrics(l, policy, P)) sums[k] += v;
    }
    std::map<std::string, double> out;
    for (const auto& [k, v] : sums) out["eval_" + k] = v / double(n);
    return out;
  }

  std::string describe(int64_t, int64_t) const override {
    std::string ref = precomputed_ || o_.precompute_ref_log_probs ? "precomputed reference log-probs"
                      : policy_->has_lora() && !reference_        ? "reference: the policy with adapters disabled"
                                                                  : "reference: a frozen model";
    std::string out = fmt::format("dpo data: {} pairs ({} truncated), loss_type {}, beta {}; {}\n", train_.pairs.size(),
                                  train_.truncated, o_.loss_type, o_.beta, ref);
    if (o_.training.per_device_train_batch_size < requested_batch_)
      out += fmt::format("per_device_train_batch_size {} is more than the {} pairs: batches of {}\n", requested_batch_,
                         train_.pairs.size(), o_.training.per_device_train_batch_size);
    if (eval_) out += fmt::format("eval data: {} pairs\n", eval_->pairs.size());
    return out;
  }

 private:
  at::Device device() const { return policy_->parameters().front().device(); }

  // Summed (IPO: averaged) continuation log-probs of the pairs' chosen then rejected sequences (2P), and
  // the tokens processed.
  std::pair<at::Tensor, int64_t> logps(model::TransformerImpl& model, const PairData& d,
                                       const std::vector<size_t>& pairs) {
    std::vector<std::vector<detail::Segment>> rows;
    for (size_t i : pairs) rows.push_back({{&d.pairs[i].chosen, &d.pairs[i].chosen_targets}});
    for (size_t i : pairs) rows.push_back({{&d.pairs[i].rejected, &d.pairs[i].rejected_targets}});
    detail::LmBatch b = detail::make_lm_batch(rows, pad_, device());
    detail::TargetHidden t = detail::target_hidden(model, b);
    at::Tensor token = token_logprobs(model, t.hidden, t.labels).logp;  // (N) chunked LM head, no (N, V) logits
    const int64_t R = int64_t(rows.size());
    at::Tensor sums = torch::zeros({R}, token.options()).index_add(0, t.rows, token);  // (2P)
    if (o_.loss_type == "ipo") {
      at::Tensor counts = torch::zeros({R}, token.options()).index_add(0, t.rows, torch::ones_like(token));
      sums = sums / counts;
    }
    return {sums, b.ids.numel()};
  }

  at::Tensor reference_logps(const PairData& d, const std::vector<size_t>& pairs) {
    torch::NoGradGuard no_grad;
    if (reference_) return logps(*reference_, d, pairs).first;
    model::AdaptersDisabled off(*policy_);
    return logps(*policy_, d, pairs).first;
  }

  static at::Tensor stored(const std::vector<double>& values, const std::vector<size_t>& pairs) {
    const size_t n = values.size() / 2;
    std::vector<float> out;
    for (size_t i : pairs) out.push_back(float(values[i]));
    for (size_t i : pairs) out.push_back(float(values[n + i]));
    return torch::tensor(out);
  }

  // Reference log-probs of every pair, computed once in batches: values[i] chosen, values[n + i] rejected.
  std::vector<double> all_reference(const PairData& d) {
    const size_t n = d.pairs.size();
    std::vector<double> values(2 * n);
    const size_t batch = size_t(o_.training.per_device_eval_batch_size);
    for (size_t begin = 0; begin < n; begin += batch) {
      std::vector<size_t> pairs;
      for (size_t i = begin; i < std::min(n, begin + batch); ++i) pairs.push_back(i);
      at::Tensor ref = reference_logps(d, pairs).to(at::kCPU).to(at::kDouble).contiguous();  // (2P)
      const double* r = ref.data_ptr<double>();
      for (size_t k = 0; k < pairs.size(); ++k) {
        values[pairs[k]] = r[k];
        values[n + pairs[k]] = r[pairs.size() + k];
      }
    }
    return values;
  }

  void precompute() {
    const bool training = policy_->is_training();
    policy_->eval();
    ref_train_ = all_reference(train_);
    if (eval_) ref_eval_ = all_reference(*eval_);
    if (training) policy_->train();
    precomputed_ = true;
    reference_ = nullptr;  // the frozen copy is no longer needed
    fmt::print("precomputed reference log-probs of {} pairs\n",
               train_.pairs.size() + (eval_ ? eval_->pairs.size() : 0));
  }

  std::map<std::string, double> metrics(const DpoLoss& l, const at::Tensor& policy, int64_t P) const {
    at::Tensor chosen = l.chosen_rewards, rejected = l.rejected_rewards;
    return {{"rewards/chosen", chosen.sum().item<double>()},
            {"rewards/rejected", rejected.sum().item<double>()},
            {"rewards/accuracies", (chosen > rejected).sum().item<double>()},
            {"rewards/margins", (chosen - rejected).sum().item<double>()},
            {"logps/chosen", policy.narrow(0, 0, P).sum().item<double>()},
            {"logps/rejected", policy.narrow(0, P, P).sum().item<double>()}};
  }

  model::Transformer policy_, reference_;
  PairData train_;
  std::optional<PairData> eval_;
  detail::EpochOrder order_;
  DpoOptions o_;
  int64_t requested_batch_ = 0;
  int32_t pad_;
  bool precomputed_ = false;
  std::vector<double> ref_train_, ref_eval_;
  std::vector<std::vector<size_t>> batches_;
  DataShard shard_;
};

template <class O, class V>
void visit(O& o, V& v) {
  v("beta", o.beta, "DPO beta (IPO: tau)");
  v("loss_type", o.loss_type, "sigmoid | ipo | hinge | robust");
  v("label_smoothing", o.label_smoothing, "label noise epsilon (sigmoid: cDPO; robust)");
  v("max_prompt_length", o.max_prompt_length, "prompt tokens kept (the last ones)");
  v("max_length", o.max_length, "prompt + continuation tokens kept");
  v("ref_model_name_or_path", o.ref_model_name_or_path, "reference model directory (default: the initial policy)");
  v("precompute_ref_log_probs", o.precompute_ref_log_probs, "compute the reference log-probs once before training");
}

constexpr auto kVisit = [](auto& o, auto& v) { visit(o, v); };

}  // namespace

DpoLoss dpo_loss(const at::Tensor& pc, const at::Tensor& pr, const at::Tensor& rc, const at::Tensor& rr,
                 const std::string& loss_type, double beta, double e) {
  at::Tensor z = (pc - pr) - (rc - rr);  // (P)
  DpoLoss out;
  if (loss_type == "sigmoid") {
    out.losses = -at::log_sigmoid(beta * z) * (1 - e) - at::log_sigmoid(-beta * z) * e;
  } else if (loss_type == "robust") {
    out.losses = (-at::log_sigmoid(beta * z) * (1 - e) + at::log_sigmoid(-beta * z) * e) / (1 - 2 * e);
  } else if (loss_type == "hinge") {
    out.losses = at::relu(1 - beta * z);
  } else if (loss_type == "ipo") {
    out.losses = (z - 1 / (2 * beta)).pow(2);
  } else {
    fail_usage("loss_type '{}' is not one of sigmoid, ipo, hinge, robust", loss_type);
  }
  out.chosen_rewards = beta * (pc - rc).detach();
  out.rejected_rewards = beta * (pr - rr).detach();
  return out;
}

DpoOptions DpoOptions::from_recipe(const Recipe& recipe) {
  DpoOptions o;
  recipe.reject_unused(detail::read_options(recipe, o, kVisit));
  if (!(o.beta > 0)) fail_usage("beta must be > 0, got {}", o.beta);
  if (o.loss_type != "sigmoid" && o.loss_type != "ipo" && o.loss_type != "hinge" && o.loss_type != "robust")
    fail_usage("loss_type '{}' is not one of sigmoid, ipo, hinge, robust", o.loss_type);
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 0.5))
    fail_usage("label_smoothing must be in [0, 0.5), got {}", o.label_smoothing);
  if (o.max_length < 0 || o.max_prompt_length < 0) fail_usage("max_length and max_prompt_length must be >= 0");
  if (!o.ref_model_name_or_path.empty() && o.finetune.peft.use_peft)
    fail_usage("ref_model_name_or_path with use_peft: the reference is the base model with adapters disabled");
  o.training.validate();
  return o;
}

nlohmann::ordered_json DpoOptions::to_json() const { return detail::options_json(*this, kVisit); }

std::vector<std::pair<std::string, std::string>> DpoOptions::help() { return detail::options_help<DpoOptions>(kVisit); }

TrainResult dpo(const DpoOptions& o, const std::atomic<bool>* stop_requested) {
  detail::FinetuneSetup setup = detail::load_finetune(o.finetune, o.training.seed);
  PairData train = build(detail::read_split(o.finetune, o.finetune.dataset_train_split, true), setup, o);
  std::optional<PairData> eval;
  if (o.training.eval_strategy == "steps") {
    auto rows = detail::read_split(o.finetune, o.finetune.dataset_test_split, false);
    if (!rows.empty()) eval = build(rows, setup, o);
  }
  model::Transformer reference{nullptr};
  if (!o.ref_model_name_or_path.empty())
    reference = frozen(model::load_pretrained(o.ref_model_name_or_path));
  else if (!setup.model->has_lora())
    reference = frozen_copy(*setup.model);
  const int32_t pad = setup.tokenizer.padding_id();
  DpoObjective objective(setup.model, reference, std::move(train), std::move(eval), o, pad);
  TrainerHooks hooks = detail::finetune_hooks(setup, to_yaml(o.to_json()), stop_requested);
  return Trainer(setup.model, o.training, objective, hooks).train();
}

}  // namespace r1::train
