// What SFT and DPO share (internal to src/train): the recipe keys of FinetuneArguments, loading the model
// (with LoRA when use_peft), tokenizer and chat template, reading a dataset split, the per-epoch shuffled
// order of the examples (exactly resumable), batches of token rows with their targets, and the LM head
// applied to the target positions only.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "r1/chat-template.h"
#include "r1/recipe.h"
#include "r1/text.h"
#include "r1/tokenizer.h"
#include "r1/train.h"

namespace r1::train::detail {

// Reads / writes / documents the FinetuneArguments keys; `known` receives them.
void read_finetune_arguments(const Recipe& recipe, FinetuneArguments& out, std::vector<std::string>& known);
void write_finetune_arguments(const FinetuneArguments& args, nlohmann::ordered_json& out);
std::vector<std::pair<std::string, std::string>> finetune_help();

// Options structs of the fine-tuning trainers hold `training` and `finetune` plus their own keys, bound by
// `visit(options, visitor)` (a generic lambda over the trainer's visit function).
template <class O, class Visit>
std::vector<std::string> read_options(const Recipe& recipe, O& o, Visit visit) {
  o.training.read(recipe);
  std::vector<std::string> known = TrainingArguments::keys();
  read_finetune_arguments(recipe, o.finetune, known);
  RecipeReader reader{recipe, {}};
  visit(o, reader);
  known.insert(known.end(), reader.keys.begin(), reader.keys.end());
  return known;  // the caller reads any key of its own, then reject_unused(known)
}
template <class O, class Visit>
nlohmann::ordered_json options_json(const O& o, Visit visit, const nlohmann::ordered_json& extra = {}) {
  nlohmann::ordered_json j;
  write_finetune_arguments(o.finetune, j);
  RecipeWriter writer;
  O copy = o;
  visit(copy, writer);
  for (const auto& [k, v] : writer.out.items()) j[k] = v;
  if (extra.is_object())
    for (const auto& [k, v] : extra.items()) j[k] = v;
  const nlohmann::ordered_json training_keys = o.training.to_json();
  for (const auto& [k, v] : training_keys.items()) j[k] = v;
  return j;
}
template <class O, class Visit>
std::vector<std::pair<std::string, std::string>> options_help(
    Visit visit, const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  auto lines = finetune_help();
  O o;
  RecipeHelp h;
  visit(o, h);
  lines.insert(lines.end(), h.lines.begin(), h.lines.end());
  lines.insert(lines.end(), extra.begin(), extra.end());
  auto training = TrainingArguments::help();
  lines.insert(lines.end(), training.begin(), training.end());
  return lines;
}

// The model, tokenizer and chat template (null: none) of a fine-tuning run, loaded as every command loads them.
using FinetuneSetup = text::ModelBundle;
// Loads tokenizer, chat template and model (seeded with `seed` for the adapters' initialisation); prints one
// line describing them. A chat_template option is written into the tokenizer's config, so the tokenizer saved
// beside each checkpoint renders prompts as training did.
// `load` is passed to model::load_pretrained (the reward trainer loads a sequence classifier); `prepare`, when set,
// replaces the loaded model before LoRA adapters are attached (the reward trainer sets config.pad_token_id).
using PrepareModel = std::function<model::Transformer(model::Transformer, const tokenizer::Tokenizer&)>;
FinetuneSetup load_finetune(const FinetuneArguments& args, int64_t seed, const model::LoadOptions& load = {},
                            const PrepareModel& prepare = {});

// The rows of a split: (row, "file:line"). A missing split is an error when `required`, else empty.
std::vector<std::pair<nlohmann::json, std::string>> read_split(const FinetuneArguments& args, const std::string& split,
                                                               bool required);

// Hooks that save the tokenizer (with the chat template) next to each model and write the run config.
TrainerHooks finetune_hooks(const FinetuneSetup& setup, std::string run_config_yaml,
                            const std::atomic<bool>* stop_requested);

// Visits 0..n-1 in a seeded permutation per epoch (std::mt19937_64 of seed and epoch).
class EpochOrder {
 public:
  EpochOrder(size_t n, uint64_t seed) : n_(n), seed_(seed) { reshuffle(); }
  size_t next();
  // `count` micro-batches of `size` indices each, drawn in order (an SFT, DPO or reward-model step's rows). Data
  // parallel: the global step's count x world_size micro-batches are drawn (the order stays global) and this rank's
  // (shard.rank, + world_size, ...) returned.
  std::vector<std::vector<size_t>> next_batches(int64_t count, int64_t size, const DataShard& shard = {});
  nlohmann::json state() const { return {{"epoch", epoch_}, {"position", position_}}; }
  void load_state(const nlohmann::json& state);

 private:
  void reshuffle();
  size_t n_;
  uint64_t seed_;
  int64_t epoch_ = 0;
  size_t position_ = 0;
  std::vector<size_t> order_;
};

// A token sequence with a per-token target flag (first token of a segment never a target).
struct Segment {
  const std::vector<int32_t>* ids;
  const std::vector<uint8_t>* targets;
};
// Rows of one or more segments laid end to end, right-padded to the longest row with `pad_id`.
struct LmBatch {
  at::Tensor ids;          // (R, L) int64
  at::Tensor labels;       // (R, L) int64: the next token where it is a target of the same segment, else -100
  at::Tensor segment_ids;  // (R, L) int64 (padding -1), undefined when every row is one unpadded segment
  int64_t targets = 0;     // labels != -100
};
LmBatch make_lm_batch(const std::vector<std::vector<Segment>>& rows, int32_t pad_id, at::Device device);

// The logits (N, V) of the N target positions of `batch`, their labels (N) and rows (N).
struct TargetLogits {
  at::Tensor logits, labels, rows;
};
TargetLogits target_logits(model::TransformerImpl& model, const LmBatch& batch);
// The final hidden states (N, C) of the target positions only (TargetLogits::logits before the LM head), for
// token_logprobs / the fused losses.
struct TargetHidden {
  at::Tensor hidden, labels, rows;
};
TargetHidden target_hidden(model::TransformerImpl& model, const LmBatch& batch);

}  // namespace r1::train::detail
