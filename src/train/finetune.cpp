// Shared pieces of SFT and DPO (see finetune.h): recipe keys with TRL / open-r1 names (model_name_or_path,
// chat_template, dataset_name + splits, use_peft / lora_*), model + tokenizer + template loading, JSONL
// splits, seeded per-epoch order, padded token batches with targets (block-diagonal segments when rows hold
// several examples or padding), and the LM head over target positions only (the (B, T, V) logits of the
// whole batch are never built).
#include "train/finetune.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/types.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "common/jsonl.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/lora.h"
#include "r1/recipe.h"

namespace r1::train::detail {
namespace fs = std::filesystem;
namespace {
template <class A, class V>
void visit(A& a, V& v) {
  v("model_name_or_path", a.model_name_or_path, "HF model directory to fine-tune (required)");
  v("tokenizer_name_or_path", a.tokenizer_name_or_path, "directory with tokenizer.json (default: model_name_or_path)");
  v("chat_template", a.chat_template, "built-in name, file or Jinja string (default: the tokenizer's)");
  v("dataset_name", a.dataset_name, "a .jsonl file, or a directory of <split>.jsonl files");
  v("dataset_train_split", a.dataset_train_split, "training split of a dataset directory");
  v("dataset_test_split", a.dataset_test_split, "evaluation split (used when eval_strategy is steps)");
  v("use_peft", a.peft.use_peft, "train LoRA adapters instead of all weights");
  v("lora_r", a.peft.lora_r, "LoRA rank");
  v("lora_alpha", a.peft.lora_alpha, "LoRA alpha (scaling alpha / r)");
  v("lora_dropout", a.peft.lora_dropout, "dropout on the adapter input");
  v("lora_target_modules", a.peft.lora_target_modules,
    "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, or all-linear");
}
struct Keys {
  std::vector<std::string>& keys;
  template <class T>
  void operator()(const std::string& key, T&, const char*) {
    keys.push_back(key);
  }
};

model::LoraConfig lora_config(const FinetuneArguments& a) {
  model::LoraConfig c;
  c.r = a.peft.lora_r;
  c.lora_alpha = a.peft.lora_alpha;
  c.lora_dropout = a.peft.lora_dropout;
  c.target_modules = a.peft.lora_target_modules;
  c.base_model_name_or_path = a.model_name_or_path;
  return c;
}

}  // namespace

void read_finetune_arguments(const Recipe& recipe, FinetuneArguments& out, std::vector<std::string>& known) {
  RecipeReader reader{recipe, {}};
  visit(out, reader);
  known.insert(known.end(), reader.keys.begin(), reader.keys.end());
  if (out.model_name_or_path.empty()) fail_usage("model_name_or_path is required");
  if (out.dataset_name.empty()) fail_usage("dataset_name is required (a .jsonl file or a directory of <split>.jsonl)");
  if (out.tokenizer_name_or_path.empty()) out.tokenizer_name_or_path = out.model_name_or_path;
  if (out.peft.use_peft) lora_config(out).validate();
}

void write_finetune_arguments(const FinetuneArguments& args, nlohmann::ordered_json& out) {
  RecipeWriter writer;
  FinetuneArguments copy = args;
  visit(copy, writer);
  for (const auto& [k, v] : writer.out.items()) out[k] = v;
}

std::vector<std::pair<std::string, std::string>> finetune_help() {
  FinetuneArguments a;
  RecipeHelp h;
  visit(a, h);
  return h.lines;
}

FinetuneSetup load_finetune(const FinetuneArguments& args, int64_t seed, const model::LoadOptions& load,
                            const PrepareModel& prepare) {
  const text::BundleSource source{.model_dir = args.model_name_or_path,
                                  .tokenizer_dir = args.tokenizer_name_or_path,
                                  .chat_template = args.chat_template,
                                  .option = "chat_template"};
  FinetuneSetup setup = text::open_tokenizer(source);
  if (!args.chat_template.empty()) {
    tokenizer::TokenizerConfig config = setup.tokenizer.config();
    config.chat_template = setup.chat_template ? setup.chat_template->source() : "";
    setup.tokenizer.set_config(config);
  }
  torch::manual_seed(uint64_t(seed));
  text::attach_model(setup, source, model::load_pretrained(args.model_name_or_path, load));
  if (prepare) setup.model = prepare(setup.model, setup.tokenizer);
  model::Transformer& model = setup.model;
  std::string lora;
  if (args.peft.use_peft) {
    model::LoraConfig c = lora_config(args);
    model::apply_lora(*model, c);
    int64_t trainable = 0;
    for (const auto& [name, t] : model::adapter_tensors(*model)) trainable += t.numel();
    const std::vector<std::string>& saved = model->lora_config()->modules_to_save;
    lora = fmt::format("; LoRA r={} alpha={} on [{}]{}: {} trainable parameters", c.r, c.lora_alpha,
                       fmt::join(model->lora_config()->target_modules, ", "),
                       saved.empty() ? "" : fmt::format(", modules_to_save [{}]", fmt::join(saved, ", ")), trainable);
  }
  fmt::print("model: {} ({} parameters){}; tokenizer {} ({} tokens){}\n", args.model_name_or_path,
             model->num_parameters(), lora,
             args.tokenizer_name_or_path.empty() ? "of the model" : args.tokenizer_name_or_path,
             setup.tokenizer.vocab_size(), setup.chat_template ? "" : ", no chat template");
  return setup;
}

std::vector<std::pair<nlohmann::json, std::string>> read_split(const FinetuneArguments& args, const std::string& split,
                                                               bool required) {
  fs::path path = args.dataset_name;
  if (fs::is_directory(path)) {
    path /= split + ".jsonl";
  } else if (split != args.dataset_train_split) {
    path = path.parent_path() / (path.stem().string() + "." + split + ".jsonl");  // data.jsonl -> data.test.jsonl
  }
  std::vector<std::pair<nlohmann::json, std::string>> rows;
  if (!fs::exists(path)) {
    if (required) fail_usage("dataset_name: '{}' does not exist (split '{}')", path.string(), split);
    return rows;
  }
  for_each_jsonl_row(
      path,
      [&](const nlohmann::json& row, size_t line) {
        rows.emplace_back(row, fmt::format("{}:{}", path.string(), line));
      },
      /*skip_invalid=*/false);
  if (rows.empty() && required) fail_usage("dataset '{}' has no rows", path.string());
  return rows;
}

TrainerHooks finetune_hooks(const FinetuneSetup& setup, std::string run_config_yaml, const std::atomic<bool>* stop) {
  TrainerHooks hooks;
  tokenizer::Tokenizer tok = setup.tokenizer;
  hooks.save_extra = [tok](const fs::path& dir) { tok.save(dir, /*overwrite=*/true); };
  hooks.run_config_yaml = std::move(run_config_yaml);
  hooks.stop_requested = stop;
  return hooks;
}

size_t EpochOrder::next() {
  if (position_ >= order_.size()) {
    ++epoch_;
    position_ = 0;
    reshuffle();
  }
  return order_[position_++];
}

std::vector<std::vector<size_t>> EpochOrder::next_batches(int64_t count, int64_t size, const DataShard& shard) {
  std::vector<std::vector<size_t>> batches;
  for (int64_t m = 0; m < count * shard.world_size; ++m) {
    std::vector<size_t> batch;
    for (int64_t i = 0; i < size; ++i) batch.push_back(next());
    if (m % shard.world_size == shard.rank) batches.push_back(std::move(batch));
  }
  return batches;
}

void EpochOrder::load_state(const nlohmann::json& state) {
  epoch_ = json_integer(state, "epoch", 0, INT64_MAX, "data order");
  position_ = size_t(json_integer(state, "position", 0, int64_t(n_), "data order"));
  reshuffle();
}

void EpochOrder::reshuffle() {
  order_.resize(n_);
  for (size_t i = 0; i < n_; ++i) order_[i] = i;
  std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + uint64_t(epoch_));
  for (size_t i = n_; i > 1; --i) std::swap(order_[i - 1], order_[size_t(rng() % i)]);  // Fisher-Yates
}

LmBatch make_lm_batch(const std::vector<std::vector<Segment>>& rows, int32_t pad_id, at::Device device) {
  const int64_t R = int64_t(rows.size());
  int64_t L = 0;
  bool segmented = false;
  std::vector<int64_t> lengths;
  for (const auto& row : rows) {
    int64_t n = 0;
    for (const Segment& s : row) n += int64_t(s.ids->size());
    lengths.push_back(n);
    L = std::max(L, n);
    segmented = segmented || row.size() > 1;
  }
  for (int64_t n : lengths) segmented = segmented || n != L;
  LmBatch b;
  b.ids = torch::full({R, L}, int64_t(pad_id), torch::kLong);   // (R, L)
  b.labels = torch::full({R, L}, int64_t(-100), torch::kLong);  // (R, L)
  at::Tensor seg = torch::full({R, L}, int64_t(-1), torch::kLong);
  auto ids = b.ids.accessor<int64_t, 2>();
  auto labels = b.labels.accessor<int64_t, 2>();
  auto segs = seg.accessor<int64_t, 2>();
  for (int64_t r = 0; r < R; ++r) {
    int64_t t = 0;
    for (size_t s = 0; s < rows[size_t(r)].size(); ++s) {
      const Segment& segment = rows[size_t(r)][s];
      const size_t n = segment.ids->size();
      for (size_t i = 0; i < n; ++i, ++t) {
        ids[r][t] = (*segment.ids)[i];
        segs[r][t] = int64_t(s);
        if (i + 1 < n && (*segment.targets)[i + 1]) {
          labels[r][t] = (*segment.ids)[i + 1];
          ++b.targets;
        }
      }
    }
  }
  b.ids = b.ids.to(device);
  b.labels = b.labels.to(device);
  if (segmented) b.segment_ids = seg.to(device);
  return b;
}

TargetHidden target_hidden(model::TransformerImpl& model, const LmBatch& batch) {
  model::ForwardArgs args;
  args.segment_ids = batch.segment_ids;
  at::Tensor hidden = model.hidden_states(batch.ids, args);  // (R, L, C)
  at::Tensor where = (batch.labels != -100).nonzero();       // (N, 2)
  at::Tensor rows = where.select(1, 0), cols = where.select(1, 1);
  return {hidden.index({rows, cols}), batch.labels.index({rows, cols}), rows};  // (N, C), (N), (N)
}

TargetLogits target_logits(model::TransformerImpl& model, const LmBatch& batch) {
  TargetHidden t = target_hidden(model, batch);
  return {model.logits(t.hidden), t.labels, t.rows};  // (N, V)
}

}  // namespace r1::train::detail
