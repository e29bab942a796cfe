// Supervised fine-tuning (TRL SFTTrainer): JSONL rows in TRL's formats tokenized with their loss masks
// (r1/data.h sft_example), optionally packed best-fit-decreasing into max_length rows or laid end to end
// (padding_free) with attention kept inside each example (ForwardArgs::segment_ids), and the causal-LM loss
// summed over target tokens and divided by the target tokens of the whole accumulated step, as TRL.
// Departures from TRL:
//   1. rows are shuffled per epoch with `seed` (TRL: the dataloader's sampler); packing is done once on the
//      whole dataset before shuffling, like TRL's pack_dataset.
//   2. examples longer than max_length are truncated and counted in the start-up report (TRL is silent).
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include "r1/data.h"
#include "r1/error.h"
#include "r1/recipe.h"
#include "r1/train.h"
#include "train/finetune.h"

namespace r1::train {
namespace fs = std::filesystem;
namespace {

struct SftData {
  std::vector<data::SftExample> examples;
  std::vector<std::vector<size_t>> rows;  // examples per training row
  size_t truncated = 0;
  int64_t targets = 0;
};

SftData build(const std::vector<std::pair<nlohmann::json, std::string>>& raw, const detail::FinetuneSetup& setup,
              const SftOptions& o, bool pack) {
  SftData d;
  data::SftFormatOptions format;
  format.completion_only_loss = o.completion_only_loss;
  format.assistant_only_loss = o.assistant_only_loss;
  format.max_length = o.max_length;
  for (const auto& [row, where] : raw) {
    data::SftExample ex = data::sft_example(setup.tokenizer, setup.chat_template.get(), row, format, where);
    if (ex.ids.size() < 2) continue;  // nothing to predict
    d.truncated += ex.truncated ? 1 : 0;
    for (size_t i = 1; i < ex.loss_mask.size(); ++i) d.targets += ex.loss_mask[i];
    d.examples.push_back(std::move(ex));
  }
  if (d.examples.empty()) fail_usage("the dataset has no example with at least two tokens");
  if (pack) {
    std::vector<size_t> lengths;
    for (const auto& ex : d.examples) lengths.push_back(ex.ids.size());
    d.rows = data::pack_best_fit_decreasing(lengths, size_t(o.max_length));
  } else {
    for (size_t i = 0; i < d.examples.size(); ++i) d.rows.push_back({i});
  }
  return d;
}

class SftObjective : public Objective {
 public:
  SftObjective(model::Transformer model, SftData train, std::optional<SftData> eval, const SftOptions& o, int32_t pad)
      : model_(std::move(model)),
        train_(std::move(train)),
        eval_(std::move(eval)),
        order_(train_.rows.size(), uint64_t(o.training.seed)),
        // More rows than the data holds would repeat it within a batch (TRL's loader yields a shorter batch):
        // the same loss at any size, but memory without bound (batch 20,000 of 1 example took 7.5 GB).
        batch_(std::min<int64_t>(o.training.per_device_train_batch_size, std::max<size_t>(1, train_.rows.size()))),
        requested_batch_(o.training.per_device_train_batch_size),
        eval_batch_(o.training.per_device_eval_batch_size),
        max_eval_samples_(o.training.max_eval_samples),
        padding_free_(o.padding_free),
        packing_(o.packing),
        pad_(pad) {}

  // Data parallel: every rank draws the global step's rows (the order stays global) and builds its own batches.
  void set_data_shard(const DataShard& shard) override { shard_ = shard; }

  double prepare_step(int64_t micro_batches) override {
    batches_.clear();
    int64_t targets = 0;
    for (const std::vector<size_t>& drawn : order_.next_batches(micro_batches, batch_, shard_)) {
      std::vector<std::vector<detail::Segment>> rows;
      for (size_t index : drawn) {
        std::vector<detail::Segment> row;
        for (size_t e : train_.rows[index]) row.push_back(segment(train_.examples[e]));
        if (padding_free_ && !rows.empty())
          rows[0].insert(rows[0].end(), row.begin(), row.end());
        else
          rows.push_back(std::move(row));
      }
      batches_.push_back(detail::make_lm_batch(rows, pad_, device()));
      targets += batches_.back().targets;
    }
    return double(targets);
  }

  MicroBatchLoss micro_batch(int64_t index) override {
    const detail::LmBatch& b = batches_[size_t(index)];
    detail::TargetLogits t = detail::target_logits(*model_, b);
    auto [loss, counted] = causal_lm_loss_sum(t.logits.unsqueeze(0), t.labels.unsqueeze(0));
    const double correct = t.logits.detach().argmax(-1).eq(t.labels).sum().item<double>();
    return {loss, b.ids.numel(), {{"mean_token_accuracy", correct}}};
  }

  int64_t steps_per_epoch(int64_t micro_batches) const override {
    const int64_t rows_per_step = batch_ * micro_batches;
    return std::max<int64_t>(1, int64_t(train_.rows.size()) / rows_per_step);
  }

  nlohmann::json data_state() const override { return order_.state(); }
  void load_data_state(const nlohmann::json& state) override { order_.load_state(state); }

  std::map<std::string, double> evaluate() override {
    if (!eval_) return {};
    size_t n = eval_->examples.size();
    if (max_eval_samples_ > 0) n = std::min(n, size_t(max_eval_samples_));
    double loss = 0, correct = 0, targets = 0;
    for (size_t begin = 0; begin < n; begin += size_t(eval_batch_)) {
      std::vector<std::vector<detail::Segment>> rows;
      for (size_t i = begin; i < std::min(n, begin + size_t(eval_batch_)); ++i)
        rows.push_back({segment(eval_->examples[i])});
      detail::LmBatch b = detail::make_lm_batch(rows, pad_, device());
      if (b.targets == 0) continue;
      detail::TargetLogits t = detail::target_logits(*model_, b);
      loss += causal_lm_loss_sum(t.logits.unsqueeze(0), t.labels.unsqueeze(0)).first.item<double>();
      correct += t.logits.argmax(-1).eq(t.labels).sum().item<double>();
      targets += double(b.targets);
    }
    if (targets == 0) return {};
    return {{"eval_loss", loss / targets}, {"eval_mean_token_accuracy", correct / targets}};
  }

  std::string describe(int64_t total_steps, int64_t micro_batches) const override {
    std::string out = fmt::format("sft data: {} examples, {} target tokens, {} truncated to max_length",
                                  train_.examples.size(), train_.targets, train_.truncated);
    if (packing_) out += fmt::format("; packed into {} rows", train_.rows.size());
    if (padding_free_) out += "; padding-free micro-batches";
    if (batch_ < requested_batch_)
      out += fmt::format("; per_device_train_batch_size {} is more than the {} rows: batches of {}", requested_batch_,
                         train_.rows.size(), batch_);
    out += "\n";
    if (eval_) out += fmt::format("eval data: {} examples, {} target tokens\n", eval_->examples.size(), eval_->targets);
    return out;
  }

 private:
  static detail::Segment segment(const data::SftExample& ex) { return {&ex.ids, &ex.loss_mask}; }
  at::Device device() const { return model_->parameters().front().device(); }

  model::Transformer model_;
  SftData train_;
  std::optional<SftData> eval_;
  detail::EpochOrder order_;
  int64_t batch_, requested_batch_, eval_batch_, max_eval_samples_;
  bool padding_free_, packing_;
  int32_t pad_;
  std::vector<detail::LmBatch> batches_;
  DataShard shard_;
};

template <class O, class V>
void visit(O& o, V& v) {
  v("max_length", o.max_length, "tokens per example (longer ones are truncated); packed row length");
  v("assistant_only_loss", o.assistant_only_loss, "messages: train on assistant tokens only");
  v("packing", o.packing, "pack examples best-fit-decreasing into max_length rows (attention within each example)");
  v("padding_free", o.padding_free, "each micro-batch as one row of its examples end to end (no padding)");
}

constexpr auto kVisit = [](auto& o, auto& v) { visit(o, v); };

}  // namespace

SftOptions SftOptions::from_recipe(const Recipe& recipe) {
  SftOptions o;
  std::vector<std::string> known = detail::read_options(recipe, o, kVisit);
  known.push_back("completion_only_loss");
  if (const nlohmann::json* v = recipe.find("completion_only_loss"); v && !v->is_null()) {
    bool value = true;
    recipe.read("completion_only_loss", value);
    o.completion_only_loss = value;
  }
  recipe.reject_unused(known);
  if (o.max_length < 2) fail_usage("max_length must be >= 2, got {}", o.max_length);
  o.training.validate();
  return o;
}

nlohmann::ordered_json SftOptions::to_json() const {
  nlohmann::ordered_json extra;
  extra["completion_only_loss"] = completion_only_loss ? nlohmann::ordered_json(*completion_only_loss) : nullptr;
  return detail::options_json(*this, kVisit, extra);
}

std::vector<std::pair<std::string, std::string>> SftOptions::help() {
  return detail::options_help<SftOptions>(
      kVisit, {{"completion_only_loss", "prompt/completion: train on completion tokens only (default true)"}});
}

TrainResult sft(const SftOptions& o, const std::atomic<bool>* stop_requested) {
  detail::FinetuneSetup setup = detail::load_finetune(o.finetune, o.training.seed);
  const bool pack = o.packing;
  SftData train = build(detail::read_split(o.finetune, o.finetune.dataset_train_split, true), setup, o, pack);
  std::optional<SftData> eval;
  if (o.training.eval_strategy == "steps") {
    auto rows = detail::read_split(o.finetune, o.finetune.dataset_test_split, false);
    if (!rows.empty()) eval = build(rows, setup, o, false);
  }
  const int32_t pad = setup.tokenizer.padding_id();
  SftObjective objective(setup.model, std::move(train), std::move(eval), o, pad);
  TrainerHooks hooks = detail::finetune_hooks(setup, to_yaml(o.to_json()), stop_requested);
  return Trainer(setup.model, o.training, objective, hooks).train();
}

}  // namespace r1::train
