// LoRA adapters on the transformer's Linear layers (see r1/lora.h): attaching (PEFT's target-module matching
// and initialisation), enabling/disabling, merging (PEFT merge_and_unload: W += (alpha/r) B A), and PEFT's
// adapter files. The adapter forward itself is LinearImpl::forward (layers.cpp), so every caller sees it.
// Departures from PEFT:
//   1. bias "none", no rsLoRA / DoRA / rank_pattern; adapter_config.json from PEFT is read, these keys must
//      hold their defaults.
//   2. modules_to_save (task_type SEQ_CLS only: "classifier", "score"): PEFT trains a copy of the module and keeps
//      the original for disable_adapter(); r1 trains the score head in place, so AdaptersDisabled leaves the
//      trained head on. The saved file is the same ("base_model.model.score.weight").
#include <ATen/ATen.h>
#include <fmt/ranges.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

#include "model/layers.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/lora.h"
#include "r1/safetensors.h"

namespace r1::model {
namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;
namespace {
constexpr const char* kAdapterConfig = "adapter_config.json";
constexpr const char* kAdapterWeights = "adapter_model.safetensors";
constexpr const char* kPeftPrefix = "base_model.model.";
constexpr const char* kSeqCls = "SEQ_CLS";
const std::vector<std::string> kClassifierModules = {"classifier", "score"};  // PeftModelForSequenceClassification
const std::vector<std::string> kAllLinear = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                             "gate_proj", "up_proj", "down_proj"};

bool ends_with_module(const std::string& name, const std::string& target) {
  return name == target ||
         (name.size() > target.size() && name.compare(name.size() - target.size(), target.size(), target) == 0 &&
          name[name.size() - target.size() - 1] == '.');
}

// (module name, Linear) of every Linear that carries an adapter (or could: all of them when `all`).
std::vector<std::pair<std::string, detail::LinearImpl*>> linears(TransformerImpl& model, bool with_adapter_only) {
  std::vector<std::pair<std::string, detail::LinearImpl*>> out;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    auto* linear = item.value()->as<detail::LinearImpl>();
    if (linear == nullptr) continue;
    const std::string& name = item.key();
    if (ends_with_module(name, "lora_A") || ends_with_module(name, "lora_B")) continue;
    if (with_adapter_only && linear->lora_A == nullptr) continue;
    out.emplace_back(name, linear);
  }
  return out;
}
}  // namespace

void LoraConfig::validate() const {
  if (r < 1) fail_usage("lora_r must be >= 1, got {}", r);
  if (!(lora_alpha > 0)) fail_usage("lora_alpha must be > 0, got {}", lora_alpha);
  if (!(lora_dropout >= 0 && lora_dropout < 1)) fail_usage("lora_dropout must be in [0, 1), got {}", lora_dropout);
  if (target_modules.empty()) fail_usage("lora_target_modules is empty");
  if (target_modules.size() > 1)
    for (const auto& t : target_modules)
      if (t == "all-linear") fail_usage("lora_target_modules: all-linear must be the only entry");
  if (task_type != "CAUSAL_LM" && task_type != kSeqCls)
    fail_usage("task_type '{}' is not supported (CAUSAL_LM or SEQ_CLS)", task_type);
  for (const auto& m : modules_to_save)
    if (task_type != kSeqCls ||
        std::find(kClassifierModules.begin(), kClassifierModules.end(), m) == kClassifierModules.end())
      fail_usage("modules_to_save '{}' is not supported (only classifier and score, with task_type SEQ_CLS)", m);
}

ordered_json LoraConfig::to_adapter_config() const {
  ordered_json j;
  j["alpha_pattern"] = json::object();
  j["auto_mapping"] = nullptr;
  j["base_model_name_or_path"] = base_model_name_or_path;
  j["bias"] = "none";
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["layers_pattern"] = nullptr;
  j["layers_to_transform"] = nullptr;
  j["lora_alpha"] = lora_alpha;
  j["lora_dropout"] = lora_dropout;
  if (modules_to_save.empty())
    j["modules_to_save"] = nullptr;
  else
    j["modules_to_save"] = modules_to_save;
  j["peft_type"] = "LORA";
  j["r"] = r;
  j["rank_pattern"] = json::object();
  j["revision"] = nullptr;
  // PEFT stores the resolved module names, and "all-linear" expanded
  j["target_modules"] = target_modules.size() == 1 && target_modules[0] == "all-linear" ? kAllLinear : target_modules;
  j["task_type"] = task_type;
  j["use_dora"] = false;
  j["use_rslora"] = false;
  return j;
}

LoraConfig LoraConfig::from_adapter_config(const json& j, const std::string& source) {
  if (!j.is_object()) fail("{}: expected a JSON object", source);
  if (j.value("peft_type", std::string("LORA")) != "LORA")
    fail("{}: peft_type '{}' is not supported (only LORA)", source, j.value("peft_type", std::string()));
  for (const char* key : {"use_dora", "use_rslora", "fan_in_fan_out"})
    if (j.contains(key) && j[key].is_boolean() && j[key].get<bool>()) fail("{}: {} is not supported", source, key);
  if (j.contains("bias") && j["bias"] != "none")
    fail("{}: bias '{}' is not supported (only none)", source, j["bias"].dump());
  for (const char* key : {"rank_pattern", "alpha_pattern"})
    if (j.contains(key) && j[key].is_object() && !j[key].empty()) fail("{}: {} is not supported", source, key);
  LoraConfig c;
  try {
    c.r = j.at("r").get<int64_t>();
    c.lora_alpha = j.at("lora_alpha").get<double>();
    c.lora_dropout = j.value("lora_dropout", 0.0);
    c.base_model_name_or_path = j.value("base_model_name_or_path", std::string());
    if (j.contains("task_type") && !j["task_type"].is_null()) c.task_type = j["task_type"].get<std::string>();
    if (j.contains("modules_to_save") && !j["modules_to_save"].is_null())
      c.modules_to_save = j["modules_to_save"].get<std::vector<std::string>>();
    const json& t = j.at("target_modules");
    c.target_modules =
        t.is_string() ? std::vector<std::string>{t.get<std::string>()} : t.get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    fail("{}: {}", source, e.what());
  }
  if (c.task_type == kSeqCls) {  // PEFT adds these whatever the file lists
    for (const std::string& m : kClassifierModules)
      if (std::find(c.modules_to_save.begin(), c.modules_to_save.end(), m) == c.modules_to_save.end())
        c.modules_to_save.push_back(m);
  }
  c.validate();
  return c;
}

void apply_lora(TransformerImpl& model, const LoraConfig& config) {
  config.validate();
  if (model.has_lora()) fail_usage("the model already has LoRA adapters");
  const bool classifier = model.config().is_classifier();
  if (config.task_type == kSeqCls && !classifier)
    fail_usage("LoRA task_type SEQ_CLS needs a sequence classifier, got a {}", model.config().architecture());
  auto stored = std::make_shared<LoraConfig>(config);
  if (classifier) {  // PEFT's get_peft_model(model, LoraConfig(task_type="SEQ_CLS")): the head trains in full
    stored->task_type = kSeqCls;
    for (const std::string& m : kClassifierModules)
      if (std::find(stored->modules_to_save.begin(), stored->modules_to_save.end(), m) == stored->modules_to_save.end())
        stored->modules_to_save.push_back(m);
  }
  const bool all = config.target_modules.size() == 1 && config.target_modules[0] == "all-linear";
  const std::vector<std::string>& targets = all ? kAllLinear : config.target_modules;
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters()) p.set_requires_grad(false);
  std::set<std::string> matched;
  for (auto& [name, linear] : linears(model, false)) {
    if (classifier && name == "score") continue;  // a module to save, never a LoRA target (as PEFT)
    for (const std::string& target : targets) {
      if (!ends_with_module(name, target)) continue;
      const int64_t out = linear->weight.size(0), in = linear->weight.size(1);
      auto options = linear->weight.options().requires_grad(false);
      linear->lora_A =
          linear->register_module("lora_A", std::make_shared<detail::LinearImpl>(in, config.r, false, options));
      linear->lora_B =
          linear->register_module("lora_B", std::make_shared<detail::LinearImpl>(config.r, out, false, options));
      // nn.Linear's reset_parameters: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)); B = 0 (PEFT)
      const double bound = 1.0 / std::sqrt(double(in));
      linear->lora_A->weight.uniform_(-bound, bound);
      linear->lora_B->weight.zero_();
      linear->lora_A->weight.set_requires_grad(true);
      linear->lora_B->weight.set_requires_grad(true);
      linear->lora_scaling = config.scaling();
      linear->lora_dropout = config.lora_dropout;
      linear->lora_enabled = true;
      matched.insert(target);
      break;
    }
  }
  if (matched.empty())
    fail_usage(
        "lora_target_modules [{}] matched no Linear layer of the model (names: q_proj, k_proj, v_proj, "
        "o_proj, gate_proj, up_proj, down_proj, lm_head, or all-linear)",
        fmt::join(config.target_modules, ", "));
  if (all) stored->target_modules = kAllLinear;
  model.set_lora_config(stored);
  for (auto& [name, tensor] : adapter_tensors(model)) tensor.set_requires_grad(true);  // adapters + modules_to_save
}

void set_adapters_enabled(TransformerImpl& model, bool enabled) {
  if (!model.has_lora()) return;
  for (auto& [name, linear] : linears(model, true)) linear->lora_enabled = enabled;
}

void merge_lora(TransformerImpl& model) {
  if (!model.has_lora()) return;
  torch::NoGradGuard no_grad;
  for (auto& [name, linear] : linears(model, true)) {
    at::Tensor delta =
        at::matmul(linear->lora_B->weight.to(at::kFloat), linear->lora_A->weight.to(at::kFloat));  // (out, in)
    linear->weight.add_((delta * linear->lora_scaling).to(linear->weight.scalar_type()));
    linear->unregister_module("lora_A");
    linear->unregister_module("lora_B");
    linear->lora_A = linear->lora_B = nullptr;
  }
  for (auto& p : model.parameters()) p.set_requires_grad(true);
  model.set_lora_config(nullptr);
}

std::vector<std::pair<std::string, at::Tensor>> adapter_tensors(TransformerImpl& model) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& [name, linear] : linears(model, true)) {
    out.emplace_back(kPeftPrefix + name + ".lora_A.weight", linear->lora_A->weight);
    out.emplace_back(kPeftPrefix + name + ".lora_B.weight", linear->lora_B->weight);
  }
  if (const LoraConfig* config = model.lora_config())
    for (const std::string& module : config->modules_to_save)
      for (const auto& item : model.named_parameters())
        if (item.key().rfind(module + ".", 0) == 0) out.emplace_back(kPeftPrefix + item.key(), item.value());
  return out;
}

bool directory_has_adapter(const fs::path& dir) {
  return fs::exists(dir / kAdapterConfig) || fs::exists(dir / kAdapterWeights);
}

void save_adapter(TransformerImpl& model, const fs::path& dir, bool overwrite) {
  if (!model.has_lora()) fail("save_adapter: the model has no LoRA adapters");
  if (fs::exists(dir) && !fs::is_directory(dir)) fail("{}: exists and is not a directory", dir.string());
  if (directory_has_adapter(dir) && !overwrite)
    fail("{}: already holds an adapter; pass --overwrite to replace it", dir.string());
  fs::create_directories(dir);
  auto tensors = adapter_tensors(model);
  for (auto& entry : tensors) entry.second = entry.second.detach();
  safetensors::save(dir / kAdapterWeights, tensors);
  write_file_atomic(dir / kAdapterConfig, model.lora_config()->to_adapter_config().dump(2) + "\n");
}

LoraConfig read_adapter_config(const fs::path& dir) {
  const fs::path path = dir / kAdapterConfig;
  if (!fs::exists(path)) fail("{}: no {} (not a PEFT adapter directory)", dir.string(), kAdapterConfig);
  const json j = parse_json(read_file(path), path.string());
  return LoraConfig::from_adapter_config(j, path.string());
}

void load_adapter_weights(TransformerImpl& model, const fs::path& dir) {
  if (!model.has_lora()) fail("load_adapter_weights: the model has no LoRA adapters");
  const fs::path path = dir / kAdapterWeights;
  if (!fs::exists(path)) fail("{}: no {}", dir.string(), kAdapterWeights);
  safetensors::File file(path);
  torch::NoGradGuard no_grad;
  std::set<std::string> expected;
  for (auto& [name, tensor] : adapter_tensors(model)) {
    expected.insert(name);
    const safetensors::TensorInfo* info = file.find(name);
    if (info == nullptr) fail("{}: lacks adapter tensor '{}' (another target_modules?)", path.string(), name);
    at::Tensor stored = file.view(name);
    if (stored.sizes() != tensor.sizes())
      fail("{}: tensor '{}' has shape [{}], the adapter [{}] (another r?)", path.string(), name,
           fmt::join(stored.sizes(), ", "), fmt::join(tensor.sizes(), ", "));
    tensor.copy_(stored);
  }
  for (const auto& info : file.tensors())
    if (!expected.count(info.name))
      fail("{}: unexpected tensor '{}' for this model's adapters", path.string(), info.name);
}

Transformer load_with_adapter(const fs::path& adapter_dir, const fs::path& base, const LoadOptions& options) {
  LoraConfig config = read_adapter_config(adapter_dir);
  fs::path base_dir = base;
  if (base_dir.empty()) {
    if (config.base_model_name_or_path.empty())
      fail("{}: adapter_config.json has no base_model_name_or_path; give the base model", adapter_dir.string());
    base_dir = config.base_model_name_or_path;
    if (!fs::is_directory(base_dir) && fs::is_directory(adapter_dir / base_dir)) base_dir = adapter_dir / base_dir;
    if (!fs::is_directory(base_dir))
      fail("{}: base model '{}' (base_model_name_or_path) is not a directory here; give the base model",
           adapter_dir.string(), config.base_model_name_or_path);
  }
  LoadOptions load = options;
  if (config.task_type == kSeqCls) {  // the base as a sequence classifier with the stored head's labels
    const std::string head = std::string(kPeftPrefix) + "score.weight";
    safetensors::File file(adapter_dir / kAdapterWeights);
    const safetensors::TensorInfo* info = file.find(head);
    if (info == nullptr || info->shape.size() != 2)
      fail("{}: a SEQ_CLS adapter without its score head '{}' (2-D) in {}", adapter_dir.string(), head,
           kAdapterWeights);
    if (options.num_labels && *options.num_labels != info->shape[0])
      fail_usage("{}: a classifier adapter with {} labels, asked to load with {}", adapter_dir.string(), info->shape[0],
                 *options.num_labels);
    load.num_labels = info->shape[0];
  } else if (options.num_labels) {
    fail_usage("{}: a {} adapter, not a sequence classifier's (task_type SEQ_CLS)", adapter_dir.string(),
               config.task_type);
  }
  Transformer model = load_pretrained(base_dir, load);
  config.base_model_name_or_path = base_dir.string();
  apply_lora(*model, config);
  load_adapter_weights(*model, adapter_dir);
  return model;
}

}  // namespace r1::model
