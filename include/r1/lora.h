// LoRA adapters (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") on the transformer's
// Linear layers, as PEFT's LoraModel: y = W x + b + (lora_alpha / r) * B(A(dropout(x))), A (r, in) initialised
// kaiming-uniform(a = sqrt(5)) as nn.Linear, B (out, r) zeros, so a fresh adapter leaves the model unchanged.
// The adapter is part of each wrapped Linear's forward (training, log-prob recomputation and evaluation all
// see it); base weights are frozen (requires_grad = false) so only adapter tensors reach the optimizer.
// Files: PEFT's layout, adapter_config.json + adapter_model.safetensors with PEFT's tensor names
// ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"). A sequence classifier's adapter is PEFT's
// task_type SEQ_CLS: its score head is trained in full and saved with the adapter (PEFT's modules_to_save, which
// PeftModelForSequenceClassification fills with ["classifier", "score"]), as "base_model.model.score.weight".
// Not here: the training objectives.
//
// Usage:
//   r1::model::LoraConfig lora{.r = 16, .lora_alpha = 32, .target_modules = {"all-linear"}};
//   r1::model::apply_lora(*model, lora);          // base weights frozen: only adapters train
//   r1::model::save_adapter(*model, "runs/lora");  // adapter_config.json + adapter_model.safetensors (PEFT)
//
//   r1::model::Transformer merged = r1::model::load_with_adapter("runs/lora");  // its base + the adapter
//   r1::model::merge_lora(*merged);                                             // a plain model again
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "r1/model.h"

namespace r1::model {

// ---- Configuration --------------------------------------------------------------------------------------------------
// peft.LoraConfig, the subset r1 implements (bias "none", no rsLoRA / DoRA).
struct LoraConfig {
  int64_t r = 8;
  double lora_alpha = 8.0;
  double lora_dropout = 0.0;
  // Module names as PEFT matches them (a wrapped module's name equals one or ends with ".<name>"):
  // q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (lm_head when untied), or the single entry
  // "all-linear" (every Linear but the output layer, as PEFT).
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  std::string base_model_name_or_path;  // written to adapter_config.json
  // "CAUSAL_LM", or "SEQ_CLS" for a sequence classifier (apply_lora sets it from the model). SEQ_CLS adds
  // "classifier" and "score" to modules_to_save, as PEFT does: whole modules trained and saved with the adapter
  // (r1 supports only these two names; a classifier has "score").
  std::string task_type = "CAUSAL_LM";
  std::vector<std::string> modules_to_save;

  double scaling() const { return lora_alpha / double(r); }
  void validate() const;                             // r1::UsageError naming the key
  nlohmann::ordered_json to_adapter_config() const;  // adapter_config.json, PEFT's keys
  static LoraConfig from_adapter_config(const nlohmann::json& config, const std::string& source);
};

// ---- Attaching, switching off and merging adapters (trainers) -------------------------------------------------------
// Attaches fresh adapters to the targeted Linear layers (uses the global torch generator for A) and freezes
// every base parameter but those of modules_to_save. A sequence classifier gets task_type SEQ_CLS and its score
// head stays trainable (PEFT's get_peft_model with task_type SEQ_CLS); SEQ_CLS on a causal LM is an error.
// r1::UsageError if no module matches or the model already has adapters.
void apply_lora(TransformerImpl& model, const LoraConfig& config);

// Enables or disables every adapter of the model (PEFT's disable_adapter()); a no-op without adapters.
void set_adapters_enabled(TransformerImpl& model, bool enabled);
// RAII: adapters off for the scope (the DPO reference model = the base with adapters off).
class AdaptersDisabled {
 public:
  explicit AdaptersDisabled(TransformerImpl& model) : model_(model) { set_adapters_enabled(model_, false); }
  ~AdaptersDisabled() { set_adapters_enabled(model_, true); }
  AdaptersDisabled(const AdaptersDisabled&) = delete;
  AdaptersDisabled& operator=(const AdaptersDisabled&) = delete;

 private:
  TransformerImpl& model_;
};

// W += scaling * B A for every adapter, then removes the adapters (PEFT's merge_and_unload); base parameters
// get requires_grad back; a trained score head (SEQ_CLS) stays as trained. Afterwards the model is a plain model
// (has_lora() false).
void merge_lora(TransformerImpl& model);

// (PEFT name, tensor) of every adapter tensor, in module order, then the parameters of modules_to_save
// ("base_model.model.score.weight": PEFT saves a ModulesToSaveWrapper's copy under the module's own name).
std::vector<std::pair<std::string, at::Tensor>> adapter_tensors(TransformerImpl& model);

// ---- Adapter files (PEFT layout) ------------------------------------------------------------------------------------
// Writes adapter_config.json and adapter_model.safetensors (atomic files). Refuses a directory that holds
// an adapter already unless overwrite.
void save_adapter(TransformerImpl& model, const std::filesystem::path& dir, bool overwrite = false);
// Copies the adapter weights stored in `dir` into the model's adapters (which must have the same targets
// and rank): every tensor must be present with its shape; an unknown one is an error naming it.
void load_adapter_weights(TransformerImpl& model, const std::filesystem::path& dir);
bool directory_has_adapter(const std::filesystem::path& dir);
// The adapter directory's configuration (adapter_config.json), r1::Error naming the file when malformed.
LoraConfig read_adapter_config(const std::filesystem::path& dir);

// The base model (`base`, or adapter_config.json's base_model_name_or_path when empty; a relative path is
// tried as given, then next to the adapter directory) with the adapter of `adapter_dir` applied and loaded.
// A SEQ_CLS adapter loads the base as a sequence classifier (num_labels: the rows of the stored score.weight;
// options.num_labels, when set, must agree) and its trained score head; a CAUSAL_LM adapter cannot be loaded
// with options.num_labels.
Transformer load_with_adapter(const std::filesystem::path& adapter_dir, const std::filesystem::path& base = {},
                              const LoadOptions& options = {});

}  // namespace r1::model
