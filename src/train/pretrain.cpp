// Pretraining: next-token prediction on packed windows of max_length + 1 tokens drawn from a weighted
// mixture of token-shard sources (src/data), evaluated on the sources' validation shards (loss, perplexity,
// bits per byte). Builds the model (new from model_config, initialised as HF with `seed`, or continued from
// model_name_or_path), the loader and the objective, and runs the shared Trainer.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "r1/data.h"
#include "r1/error.h"
#include "r1/eval.h"
#include "r1/io.h"
#include "r1/recipe.h"
#include "r1/text.h"
#include "r1/tokenizer.h"
#include "r1/train.h"

namespace r1::train {
namespace fs = std::filesystem;
namespace {

class PretrainObjective : public Objective {
 public:
  PretrainObjective(model::Transformer model, data::LoaderOptions loader, std::vector<fs::path> validation,
                    int64_t batch, int64_t eval_batch, int64_t max_eval_samples)
      : model_(std::move(model)),
        loader_(loader),
        seq_len_(loader.seq_len),
        batch_(batch),
        eval_batch_(eval_batch),
        max_eval_samples_(max_eval_samples) {
    if (!validation.empty()) eval_.emplace(std::move(validation), seq_len_);
  }

  // Data parallel: every rank reads the global step's windows (the position stays global) and keeps its own.
  void set_data_shard(const DataShard& shard) override { shard_ = shard; }

  double prepare_step(int64_t micro_batches) override {
    batches_.clear();
    for (int64_t j = 0; j < micro_batches * shard_.world_size; ++j) {
      at::Tensor ids = torch::empty({batch_, seq_len_ + 1}, torch::kLong);  // (B, T+1)
      loader_.next(batch_, ids.data_ptr<int64_t>());
      if (j % shard_.world_size == shard_.rank) batches_.push_back(ids.to(model_->parameters().front().device()));
    }
    return double(micro_batches * batch_ * seq_len_);
  }

  MicroBatchLoss micro_batch(int64_t index) override {
    const at::Tensor& ids = batches_[size_t(index)];
    at::Tensor hidden = model_->hidden_states(ids.narrow(1, 0, seq_len_));  // (B, T, C)
    auto [loss, counted] = causal_lm_loss_sum(*model_, hidden, ids.narrow(1, 1, seq_len_));
    return {loss, batch_ * seq_len_, {}};
  }

  int64_t steps_per_epoch(int64_t micro_batches) const override {
    const double windows = double(loader_.tokens()) / double(seq_len_);
    return std::max<int64_t>(1, int64_t(windows / double(batch_ * micro_batches)));
  }

  nlohmann::json data_state() const override { return loader_.state(); }
  std::string tokenizer_hash() const { return loader_.tokenizer_hash(); }
  uint64_t vocab_size() const { return loader_.vocab_size(); }
  void load_data_state(const nlohmann::json& state) override { loader_.load_state(state); }

  std::map<std::string, double> evaluate() override {
    if (!eval_) return {};
    size_t count = eval_->size();
    if (max_eval_samples_ > 0) count = std::min(count, size_t(max_eval_samples_));
    eval::LikelihoodTotals t = eval::score_windows(
        *model_, count, [&](size_t i) { return eval_->window(i); }, eval_batch_);
    // bytes covered: the shards' text bytes in proportion to the tokens predicted
    const double bytes =
        double(eval_->text_bytes()) * double(t.predicted) / double(std::max<uint64_t>(1, eval_->tokens()));
    return {
        {"eval_loss", t.loss()}, {"eval_perplexity", t.perplexity()}, {"eval_bits_per_byte", t.bits_per_byte(bytes)}};
  }

  std::string describe(int64_t total_steps, int64_t micro_batches) const override {
    const uint64_t planned = uint64_t(total_steps * micro_batches * batch_ * seq_len_);
    std::string out = loader_.format_report(planned);
    if (!out.empty() && out.back() != '\n') out += "\n";
    if (eval_) out += fmt::format("validation: {} tokens ({} windows)\n", eval_->tokens(), eval_->size());
    return out;
  }

 private:
  model::Transformer model_;
  data::PackedLoader loader_;
  int64_t seq_len_, batch_, eval_batch_, max_eval_samples_;
  std::optional<data::EvalWindows> eval_;
  std::vector<at::Tensor> batches_;
  DataShard shard_;
};

model::ModelConfig model_config_from(const nlohmann::json& spec, const tokenizer::Tokenizer& tok) {
  nlohmann::json config;
  std::string source = "model_config";
  if (spec.is_string()) {
    source = spec.get<std::string>();
    if (!fs::is_regular_file(source)) fail_usage("model_config: '{}' does not exist", source);
    config = parse_json(read_file(source), source);
  } else if (spec.is_object()) {
    config = spec;
  } else {
    fail_usage("model_config must be a config.json path or a mapping of its keys");
  }
  const int64_t vocab = int64_t(tok.vocab_size());
  if (!config.contains("vocab_size")) config["vocab_size"] = vocab;
  if (!config.contains("eos_token_id") && tok.eos_id()) config["eos_token_id"] = *tok.eos_id();
  if (!config.contains("bos_token_id") && tok.bos_id()) config["bos_token_id"] = *tok.bos_id();
  if (!config.contains("pad_token_id") && tok.pad_id()) config["pad_token_id"] = *tok.pad_id();
  model::ModelConfig c = model::ModelConfig::parse(config.dump(), source);
  if (c.vocab_size < vocab)
    fail_usage("{}: vocab_size {} is smaller than the tokenizer's {} tokens", source, c.vocab_size, vocab);
  return c;
}

}  // namespace

PretrainOptions PretrainOptions::from_recipe(const Recipe& recipe) {
  PretrainOptions o;
  o.training.read(recipe);
  std::vector<std::string> known = TrainingArguments::keys();
  for (const char* key : {"model_name_or_path", "tokenizer_name_or_path", "dataset_name", "model_config",
                          "dataset_mixture", "max_length", "block_size"})
    known.push_back(key);
  if (recipe.find("model_name_or_path")) recipe.read("model_name_or_path", o.model_name_or_path);
  if (recipe.find("tokenizer_name_or_path")) recipe.read("tokenizer_name_or_path", o.tokenizer_name_or_path);
  if (recipe.find("dataset_name")) recipe.read("dataset_name", o.dataset_name);
  if (recipe.find("model_config")) recipe.read("model_config", o.model_config);
  if (recipe.find("dataset_mixture")) recipe.read("dataset_mixture", o.dataset_mixture);
  if (recipe.find("block_size")) recipe.read("block_size", o.max_length);
  if (recipe.find("max_length")) recipe.read("max_length", o.max_length);
  recipe.reject_unused(known);
  if (o.max_length < 1) fail_usage("max_length must be >= 1, got {}", o.max_length);
  if (o.model_name_or_path.empty() && o.model_config.is_null())
    fail_usage("set model_config (a new model) or model_name_or_path (continue training one)");
  if (!o.model_name_or_path.empty() && !o.model_config.is_null())
    fail_usage("set model_config or model_name_or_path, not both");
  if (o.dataset_name.empty() == o.dataset_mixture.is_null())
    fail_usage("set exactly one of dataset_name (a prepared directory) and dataset_mixture");
  if (o.tokenizer_name_or_path.empty()) o.tokenizer_name_or_path = o.model_name_or_path;
  if (o.tokenizer_name_or_path.empty()) fail_usage("tokenizer_name_or_path is required with model_config");
  o.training.validate();
  return o;
}

nlohmann::ordered_json PretrainOptions::to_json() const {
  nlohmann::ordered_json j;
  if (!model_name_or_path.empty()) j["model_name_or_path"] = model_name_or_path;
  if (!model_config.is_null()) j["model_config"] = nlohmann::ordered_json::parse(model_config.dump());
  j["tokenizer_name_or_path"] = tokenizer_name_or_path;
  if (!dataset_name.empty()) j["dataset_name"] = dataset_name;
  if (!dataset_mixture.is_null()) j["dataset_mixture"] = nlohmann::ordered_json::parse(dataset_mixture.dump());
  j["max_length"] = max_length;
  const nlohmann::ordered_json training_keys = training.to_json();
  for (const auto& [k, v] : training_keys.items()) j[k] = v;
  return j;
}

std::vector<std::pair<std::string, std::string>> PretrainOptions::help() {
  std::vector<std::pair<std::string, std::string>> lines = {
      {"model_config", "config.json path or inline mapping: a new model (initialised with seed)"},
      {"model_name_or_path", "HF model directory to continue training"},
      {"tokenizer_name_or_path", "directory with tokenizer.json (default: model_name_or_path)"},
      {"dataset_name", "a directory written by r1 data prepare"},
      {"dataset_mixture", "{datasets: [{id: DIR, weight: W}, ...]}: several prepared directories, mixed by weight"},
      {"max_length", "tokens per training sequence (alias block_size)"}};
  auto training = TrainingArguments::help();
  lines.insert(lines.end(), training.begin(), training.end());
  return lines;
}

TrainResult pretrain(const PretrainOptions& o, const std::atomic<bool>* stop_requested) {
  const fs::path tokenizer_dir = o.tokenizer_name_or_path;
  // No chat template: pretraining reads token shards.
  const text::BundleSource source{
      .model_dir = o.model_name_or_path, .tokenizer_dir = tokenizer_dir, .chat_template = "none"};
  text::ModelBundle bundle = text::open_tokenizer(source);
  const tokenizer::Tokenizer& tok = bundle.tokenizer;

  data::LoaderOptions loader;
  loader.seq_len = o.max_length;
  loader.seed = uint64_t(o.training.seed);
  std::vector<fs::path> validation;
  auto add_source = [&](const std::string& id, double weight) {
    data::MixtureSource s;
    s.name = fs::path(id).filename().string();
    s.shards = data::list_shards(id, "train");
    s.weight = weight;
    if (s.shards.empty()) fail_usage("dataset '{}' has no train shards (run r1 data prepare)", id);
    loader.sources.push_back(std::move(s));
    auto v = data::list_shards(id, "validation");
    validation.insert(validation.end(), v.begin(), v.end());
  };
  if (!o.dataset_name.empty()) {
    add_source(o.dataset_name, 1.0);
  } else {
    const nlohmann::json& list =
        o.dataset_mixture.is_object() ? o.dataset_mixture.value("datasets", nlohmann::json()) : o.dataset_mixture;
    if (!list.is_array() || list.empty())
      fail_usage("dataset_mixture: expected {{datasets: [{{id: DIR, weight: W}}, ...]}}");
    for (const auto& d : list) {
      if (!d.is_object() || !d.contains("id") || !d["id"].is_string())
        fail_usage("dataset_mixture: every dataset needs an 'id' (a prepared directory), got {}", d.dump());
      const double weight = d.value("weight", 1.0);
      if (!(weight > 0)) fail_usage("dataset_mixture: weight of '{}' must be > 0", d["id"].get<std::string>());
      add_source(d["id"].get<std::string>(), weight);
    }
  }

  torch::manual_seed(uint64_t(o.training.seed));
  model::Transformer net{nullptr};
  if (!o.model_name_or_path.empty()) {
    net = model::load_pretrained(o.model_name_or_path);
  } else {
    net = model::Transformer(model_config_from(o.model_config, tok));
    net->init_weights();
  }
  fmt::print("model: {} with {} parameters; tokenizer {} ({} tokens)\n", net->config().architecture(),
             net->num_parameters(), tokenizer_dir.string(), tok.vocab_size());
  text::attach_model(bundle, source, net);

  const std::string tok_hash = data::tokenizer_hash(tok);
  PretrainObjective objective(net, loader, validation, o.training.per_device_train_batch_size,
                              o.training.per_device_eval_batch_size, o.training.max_eval_samples);
  if (objective.tokenizer_hash() != tok_hash)
    fail_usage("the shards were tokenized with another tokenizer ({}) than {} ({}): re-run r1 data prepare",
               objective.tokenizer_hash(), tokenizer_dir.string(), tok_hash);
  if (objective.vocab_size() > uint64_t(net->config().vocab_size))
    fail_usage("the shards' headers give a vocabulary of {} ids but the model has {} embedding rows",
               objective.vocab_size(), net->config().vocab_size);
  TrainerHooks hooks;
  hooks.save_extra = [&](const fs::path& dir) { tok.save(dir, /*overwrite=*/true); };
  hooks.run_config_yaml = to_yaml(o.to_json());
  hooks.stop_requested = stop_requested;
  return Trainer(net, o.training, objective, hooks).train();
}

}  // namespace r1::train
