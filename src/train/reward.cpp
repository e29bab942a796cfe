// Reward-model training (TRL RewardTrainer; Bradley-Terry as in Ouyang et al. 2022 eq. 1): a sequence classifier
// with one label scores prompt+chosen and prompt+rejected at each row's last non-pad token; the loss per pair is
// -log sigmoid(r_c - r_r - margin), plus center_rewards_coefficient * (r_c + r_r)^2 (Eisenstein et al. 2023, eq. 2),
// averaged over the pairs of the accumulated step. Also score_preferences, what `r1 eval reward` runs.
// Departures from TRL:
//   1. prompt and continuation are tokenized apart and joined (as r1's DPO; TRL tokenizes the joined string, which
//      can merge tokens across the boundary). Text rows get EOS on chosen/rejected as TRL adds it.
//   2. the model is rebuilt with config.pad_token_id set (TRL sets it after loading), so the embedding row of the
//      pad token gets no gradient (torch's padding_idx).
// With use_peft, LoRA adapters go on lora_target_modules of the trunk and the score head trains in full (PEFT's
// task_type SEQ_CLS, modules_to_save ["classifier", "score"]); checkpoints and the output directory are PEFT adapter
// directories holding the head too (r1/lora.h), which `r1 model merge-lora` folds into a full classifier.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include "common/jsonl.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/recipe.h"
#include "r1/reward-trainer.h"
#include "r1/text.h"
#include "r1/tokenizer.h"
#include "train/finetune.h"

namespace r1::train {
namespace {

struct PairRows {
  std::vector<std::vector<int32_t>> chosen, rejected;
  std::vector<float> margin;  // 0 where the row has none
  bool has_margin = false;
  size_t dropped = 0;  // pairs over max_length
};

void add_pair(PairRows& d, const text::ModelBundle& b, nlohmann::json row, int64_t max_length,
              const std::string& where) {
  if (row.is_object() && !row.contains("prompt") && row.contains("chosen") && row["chosen"].is_string())
    row["prompt"] = "";  // a text pair without a prompt: chosen and rejected are the whole texts
  data::PreferenceExample ex = data::preference_example(b.tokenizer, b.chat_template.get(), row, 0, 0, where);
  float margin = 0;
  if (row.contains("margin")) {
    if (!row["margin"].is_number()) fail("{}: 'margin' must be a number, got {}", where, row["margin"].dump());
    margin = row["margin"].get<float>();
    d.has_margin = true;
  }
  auto join = [&](const std::vector<int32_t>& tail) {
    std::vector<int32_t> ids = ex.prompt;
    ids.insert(ids.end(), tail.begin(), tail.end());
    return ids;
  };
  std::vector<int32_t> chosen = join(ex.chosen), rejected = join(ex.rejected);
  if (max_length > 0 && (int64_t(chosen.size()) > max_length || int64_t(rejected.size()) > max_length)) {
    ++d.dropped;
    return;
  }
  d.chosen.push_back(std::move(chosen));
  d.rejected.push_back(std::move(rejected));
  d.margin.push_back(margin);
}

PairRows build(const std::vector<std::pair<nlohmann::json, std::string>>& raw, const text::ModelBundle& b,
               int64_t max_length) {
  PairRows d;
  for (const auto& [row, where] : raw) add_pair(d, b, row, max_length, where);
  return d;
}

// Rewards (2P) of the pairs' chosen then rejected sequences, right-padded with the model's pad_token_id.
at::Tensor pair_rewards(model::TransformerImpl& model, const PairRows& d, const std::vector<size_t>& pairs,
                        int64_t* tokens = nullptr) {
  const int64_t pad = model.config().pad_token_id.value_or(0);
  std::vector<const std::vector<int32_t>*> rows;
  for (size_t i : pairs) rows.push_back(&d.chosen[i]);
  for (size_t i : pairs) rows.push_back(&d.rejected[i]);
  size_t L = 0;
  for (const auto* r : rows) L = std::max(L, r->size());
  at::Tensor ids = torch::full({int64_t(rows.size()), int64_t(L)}, pad, torch::kLong);  // (2P, L)
  auto a = ids.accessor<int64_t, 2>();
  int64_t n = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t t = 0; t < rows[r]->size(); ++t) a[int64_t(r)][int64_t(t)] = (*rows[r])[t];
    n += int64_t(rows[r]->size());
  }
  if (tokens != nullptr) *tokens = n;
  const at::Device device = model.parameters().front().device();
  return model.sequence_logits(ids.to(device)).squeeze(-1).to(at::kFloat);  // (2P)
}

at::Tensor margins(const PairRows& d, const std::vector<size_t>& pairs, at::Device device) {
  std::vector<float> m;
  for (size_t i : pairs) m.push_back(d.margin[i]);
  return torch::tensor(m).to(device);  // (P)
}

// Sums over the pairs (the trainer divides by the step's pairs).
std::map<std::string, double> pair_metrics(const at::Tensor& chosen, const at::Tensor& rejected) {
  return {{"accuracy", (chosen > rejected).sum().item<double>()},
          {"margin", (chosen - rejected).sum().item<double>()},
          {"rewards/chosen", chosen.sum().item<double>()},
          {"rewards/rejected", rejected.sum().item<double>()}};
}

class RewardObjective : public Objective {
 public:
  RewardObjective(model::Transformer model, PairRows train, std::optional<PairRows> eval, const RewardOptions& o)
      : model_(std::move(model)),
        train_(std::move(train)),
        eval_(std::move(eval)),
        order_(train_.chosen.size(), uint64_t(o.training.seed)),
        o_(o) {
    requested_batch_ = o_.training.per_device_train_batch_size;
    o_.training.per_device_train_batch_size =
        std::min<int64_t>(requested_batch_, std::max<size_t>(1, train_.chosen.size()));
  }

  // data parallel: every rank draws the global step's pairs (the order stays global) and keeps its own
  void set_data_shard(const DataShard& shard) override { shard_ = shard; }

  double prepare_step(int64_t micro_batches) override {
    batches_ = order_.next_batches(micro_batches, o_.training.per_device_train_batch_size, shard_);
    return double(micro_batches * o_.training.per_device_train_batch_size);
  }

  MicroBatchLoss micro_batch(int64_t index) override {
    const std::vector<size_t>& pairs = batches_[size_t(index)];
    int64_t tokens = 0;
    at::Tensor r = pair_rewards(*model_, train_, pairs, &tokens);  // (2P)
    const int64_t P = int64_t(pairs.size());
    at::Tensor chosen = r.narrow(0, 0, P), rejected = r.narrow(0, P, P);
    RewardLoss l = reward_loss(chosen, rejected, margins(train_, pairs, r.device()), o_.center_rewards_coefficient);
    return {l.losses.sum(), tokens, pair_metrics(chosen.detach(), rejected.detach())};
  }

  int64_t steps_per_epoch(int64_t micro_batches) const override {
    return std::max<int64_t>(1,
                             int64_t(train_.chosen.size()) / (o_.training.per_device_train_batch_size * micro_batches));
  }

  nlohmann::json data_state() const override { return {{"order", order_.state()}}; }
  void load_data_state(const nlohmann::json& state) override { order_.load_state(state.at("order")); }

  std::map<std::string, double> evaluate() override {
    if (!eval_ || eval_->chosen.empty()) return {};
    size_t n = eval_->chosen.size();
    if (o_.training.max_eval_samples > 0) n = std::min(n, size_t(o_.training.max_eval_samples));
    std::map<std::string, double> sums;
    torch::NoGradGuard no_grad;
    for (size_t begin = 0; begin < n; begin += size_t(o_.training.per_device_eval_batch_size)) {
      std::vector<size_t> pairs;
      for (size_t i = begin; i < std::min(n, begin + size_t(o_.training.per_device_eval_batch_size)); ++i)
        pairs.push_back(i);
      at::Tensor r = pair_rewards(*model_, *eval_, pairs);
      const int64_t P = int64_t(pairs.size());
      at::Tensor chosen = r.narrow(0, 0, P), rejected = r.narrow(0, P, P);
      RewardLoss l = reward_loss(chosen, rejected, margins(*eval_, pairs, r.device()), o_.center_rewards_coefficient);
      sums["loss"] += l.losses.sum().item<double>();
      for (const auto& [k, v] : pair_metrics(chosen, rejected)) sums[k] += v;
    }
    std::map<std::string, double> out;
    for (const auto& [k, v] : sums) out["eval_" + k] = v / double(n);
    return out;
  }

  std::string describe(int64_t, int64_t) const override {
    std::string out =
        fmt::format("reward data: {} pairs ({} over max_length {} dropped){}; pad_token_id {}\n", train_.chosen.size(),
                    train_.dropped, o_.max_length, train_.has_margin ? ", with margins" : "",
                    model_->config().pad_token_id.value_or(-1));
    if (o_.training.per_device_train_batch_size < requested_batch_)
      out += fmt::format("per_device_train_batch_size {} is more than the {} pairs: batches of {}\n", requested_batch_,
                         train_.chosen.size(), o_.training.per_device_train_batch_size);
    if (eval_) out += fmt::format("eval data: {} pairs ({} dropped)\n", eval_->chosen.size(), eval_->dropped);
    return out;
  }

 private:
  model::Transformer model_;
  PairRows train_;
  std::optional<PairRows> eval_;
  detail::EpochOrder order_;
  RewardOptions o_;
  int64_t requested_batch_ = 0;
  std::vector<std::vector<size_t>> batches_;
  DataShard shard_;
};

template <class O, class V>
void visit(O& o, V& v) {
  v("max_length", o.max_length, "pairs whose chosen or rejected tokens exceed it are dropped (0: no limit)");
  if constexpr (std::is_same_v<V, RecipeReader>) {
    v.keys.push_back("center_rewards_coefficient");
    if (const nlohmann::json* c = v.recipe.find("center_rewards_coefficient"); c != nullptr && !c->is_null()) {
      double x = 0;
      v.recipe.read("center_rewards_coefficient", x);
      o.center_rewards_coefficient = x;
    }
  } else {
    v("center_rewards_coefficient", o.center_rewards_coefficient,
      "adds coef * mean((r_c + r_r)^2) to centre the rewards (unset: off; TRL suggests 0.01)");
  }
}

constexpr auto kVisit = [](auto& o, auto& v) { visit(o, v); };

}  // namespace

RewardLoss reward_loss(const at::Tensor& chosen, const at::Tensor& rejected, const at::Tensor& margin,
                       std::optional<double> coef) {
  at::Tensor d = chosen - rejected;  // (P)
  if (margin.defined()) d = d - margin;
  RewardLoss out{-at::log_sigmoid(d)};
  if (coef) out.losses = out.losses + *coef * (chosen + rejected).pow(2);
  return out;
}

RewardOptions RewardOptions::from_recipe(const Recipe& recipe) {
  RewardOptions o;
  o.training.learning_rate = 1e-4;  // TRL's RewardConfig default
  recipe.reject_unused(detail::read_options(recipe, o, kVisit));
  if (o.max_length < 0) fail_usage("max_length must be >= 0, got {}", o.max_length);
  o.training.validate();
  return o;
}

nlohmann::ordered_json RewardOptions::to_json() const { return detail::options_json(*this, kVisit); }

std::vector<std::pair<std::string, std::string>> RewardOptions::help() {
  return detail::options_help<RewardOptions>(kVisit);
}

TrainResult reward(const RewardOptions& o, const std::atomic<bool>* stop_requested) {
  // the pad token is set before LoRA attaches (rebuilding the model would drop the adapters)
  detail::FinetuneSetup setup = detail::load_finetune(
      o.finetune, o.training.seed, {.num_labels = 1}, [](model::Transformer m, const tokenizer::Tokenizer& tokenizer) {
        return model::with_pad_token_id(std::move(m), tokenizer.padding_id());
      });
  PairRows train = build(detail::read_split(o.finetune, o.finetune.dataset_train_split, true), setup, o.max_length);
  if (train.chosen.empty()) fail_usage("no preference pair fits max_length {}", o.max_length);
  std::optional<PairRows> eval;
  if (o.training.eval_strategy == "steps") {
    auto rows = detail::read_split(o.finetune, o.finetune.dataset_test_split, false);
    if (!rows.empty()) eval = build(rows, setup, o.max_length);
  }
  RewardObjective objective(setup.model, std::move(train), std::move(eval), o);
  TrainerHooks hooks = detail::finetune_hooks(setup, to_yaml(o.to_json()), stop_requested);
  return Trainer(setup.model, o.training, objective, hooks).train();
}

PreferenceScores score_preferences(const std::filesystem::path& model_dir, const std::filesystem::path& data,
                                   int64_t max_length, int64_t batch_size) {
  if (batch_size < 1) fail_usage("--batch-size must be >= 1, got {}", batch_size);
  text::ModelBundle bundle = text::load_model_bundle({.model_dir = model_dir});
  if (bundle.model->config().num_labels != 1)
    fail_usage(
        "--model {}: a reward model is a sequence classifier with num_labels 1 (`r1 reward` writes one), got a {}",
        model_dir.string(), bundle.model->config().architecture());
  if (!bundle.model->config().pad_token_id)
    bundle.model = model::with_pad_token_id(bundle.model, bundle.tokenizer.padding_id());
  bundle.model->eval();
  PairRows d;
  for_each_jsonl_row(
      data,
      [&](const nlohmann::json& row, size_t line) {
        add_pair(d, bundle, row, max_length, fmt::format("{}:{}", data.string(), line));
      },
      /*skip_invalid=*/false);
  PreferenceScores out;
  out.skipped = d.dropped;
  torch::NoGradGuard no_grad;
  for (size_t begin = 0; begin < d.chosen.size(); begin += size_t(batch_size)) {
    std::vector<size_t> pairs;
    for (size_t i = begin; i < std::min(d.chosen.size(), begin + size_t(batch_size)); ++i) pairs.push_back(i);
    at::Tensor r = pair_rewards(*bundle.model, d, pairs).to(at::kCPU).to(at::kDouble).contiguous();  // (2P)
    const double* v = r.data_ptr<double>();
    for (size_t k = 0; k < pairs.size(); ++k) {
      out.chosen.push_back(v[k]);
      out.rejected.push_back(v[pairs.size() + k]);
    }
  }
  return out;
}

}  // namespace r1::train
