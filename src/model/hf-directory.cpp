// Hugging Face model directories: load (config.json + safetensors, single or sharded), save (atomic files,
// transformers' names and sharding), dtype conversion tensor by tensor, and the header-only summary.
// Matches transformers' save_pretrained: tied lm_head not stored, "format": "pt" metadata, a
// generation_config.json with the special token ids. Loading is stricter than transformers: a missing,
// unexpected or misshapen tensor is an error naming it, never a silently random weight.
#include <torch/types.h>
#include <torch/utils.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "r1/error.h"
#include "r1/io.h"
#include "r1/lora.h"
#include "r1/model.h"
#include "r1/safetensors.h"

namespace r1::model {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Tensors some checkpoints carry that are not weights (RoPE tables stored by old transformers versions).
bool ignorable_tensor(const std::string& name, const ModelConfig& config) {
  if (name.size() >= 19 && name.compare(name.size() - 19, 19, "rotary_emb.inv_freq") == 0) return true;
  return config.tie_word_embeddings && name == "lm_head.weight";
}

std::string shape_string(c10::IntArrayRef shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

std::string list_some(const std::vector<std::string>& names) {
  constexpr size_t kShow = 5;
  std::vector<std::string> shown(names.begin(), names.begin() + std::min(names.size(), kShow));
  std::string s = fmt::format("{}", fmt::join(shown, ", "));
  if (names.size() > kShow) s += fmt::format(" (and {} more)", names.size() - kShow);
  return s;
}

void require_directory(const fs::path& dir) {
  if (!fs::exists(dir)) fail("{}: no such directory", dir.string());
  if (!fs::is_directory(dir)) fail("{}: not a directory (expected a Hugging Face model directory)", dir.string());
}

// Checks stored tensors against the config; returns human-readable problems (empty when consistent).
std::vector<std::string> check_tensors(const safetensors::TensorCollection& tensors, const ModelConfig& config) {
  // The config is bounded by the weights before its tensors are enumerated: config.json claiming 10^9 layers
  // would otherwise be listed name by name (and then allocated).
  int64_t layers_in_files = 0;
  for (const auto& name : tensors.names()) {
    if (name.rfind("model.layers.", 0) != 0) continue;
    const size_t end = name.find('.', 13);
    try {
      layers_in_files = std::max<int64_t>(layers_in_files, std::stoll(name.substr(13, end - 13)) + 1);
    } catch (const std::exception&) {  // "model.layers.x.": not a layer tensor; reported as unexpected below
    }
  }
  if (config.num_hidden_layers > layers_in_files)
    return {fmt::format("config.json has num_hidden_layers {} but the weights hold {} layer(s)",
                        config.num_hidden_layers, layers_in_files)};
  std::vector<std::string> problems, missing;
  std::set<std::string> expected_names;
  for (const auto& [name, shape] : expected_tensors(config)) {
    expected_names.insert(name);
    if (!tensors.contains(name)) {
      missing.push_back(name);
      continue;
    }
    const auto& info = tensors.info(name);
    if (info.shape != shape)
      problems.push_back(fmt::format("tensor '{}' in {} has shape {} but config.json implies {}", name,
                                     tensors.file_of(name).path().filename().string(), shape_string(info.shape),
                                     shape_string(shape)));
    else if (info.dtype != "F32" && info.dtype != "BF16" && info.dtype != "F16" && info.dtype != "F64")
      problems.push_back(fmt::format("tensor '{}' is stored as {}, expected a floating-point dtype", name, info.dtype));
  }
  if (!missing.empty())
    problems.push_back(
        fmt::format("{} tensor(s) expected by config.json are missing: {}", missing.size(), list_some(missing)));
  std::vector<std::string> unexpected;
  for (const auto& name : tensors.names())
    if (!expected_names.count(name) && !ignorable_tensor(name, config)) unexpected.push_back(name);
  if (!unexpected.empty())
    problems.push_back(fmt::format("{} tensor(s) not used by a {} model of this config: {}", unexpected.size(),
                                   config.architecture(), list_some(unexpected)));
  return problems;
}

}  // namespace

bool directory_has_model(const fs::path& dir) {
  return fs::exists(dir / "config.json") || fs::exists(dir / "model.safetensors") ||
         fs::exists(dir / "model.safetensors.index.json");
}

std::vector<std::pair<std::string, at::Tensor>> named_tensors(TransformerImpl& model) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    if (name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos) continue;
    out.emplace_back(name, item.value());
  }
  return out;
}

Transformer load_pretrained(const fs::path& dir, const LoadOptions& options) {
  require_directory(dir);
  if (!fs::exists(dir / "config.json") && directory_has_adapter(dir)) {  // a PEFT adapter directory
    Transformer model = load_with_adapter(dir, {}, options);
    merge_lora(*model);
    return model;
  }
  ModelConfig config = ModelConfig::load(dir / "config.json");
  auto tensors = safetensors::TensorCollection::open_directory(dir);
  auto problems = check_tensors(tensors, config);
  if (!problems.empty()) fail("{}: the weights do not match config.json: {}", dir.string(), fmt::join(problems, "; "));
  bool new_head = false;  // a causal LM's trunk under a fresh score head
  if (options.num_labels) {
    if (*options.num_labels < 1) fail_usage("num_labels must be >= 1, got {}", *options.num_labels);
    if (config.is_classifier() && config.num_labels != *options.num_labels)
      fail_usage("{}: a classifier with {} labels, asked to load with {}", dir.string(), config.num_labels,
                 *options.num_labels);
    new_head = !config.is_classifier();
    config.num_labels = *options.num_labels;
  }

  const at::ScalarType dtype = options.dtype.value_or(at::kFloat);
  Transformer model(config, torch::TensorOptions().dtype(dtype).device(options.device));
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    if (new_head && item.key() == "score.weight")
      item.value().normal_(0.0, config.initializer_range);  // transformers' _init_weights of the missing head
    else
      item.value().copy_(tensors.view(item.key()));
  }
  return model;
}

void save_pretrained(TransformerImpl& model, const fs::path& dir, const SaveOptions& options) {
  if (fs::exists(dir) && !fs::is_directory(dir)) fail("{}: exists and is not a directory", dir.string());
  if (directory_has_model(dir) && !options.overwrite)
    fail("{}: already holds a model (config.json or weights); pass --overwrite to replace it", dir.string());
  if (model.has_lora()) {  // PEFT's PeftModel.save_pretrained: the adapter only
    save_adapter(model, dir, options.overwrite);
    return;
  }
  fs::create_directories(dir);

  auto tensors = named_tensors(model);
  at::ScalarType dtype = options.dtype.value_or(tensors.front().second.scalar_type());
  for (auto& entry : tensors) entry.second = entry.second.detach().to(dtype);
  ModelConfig config = model.config();
  config.torch_dtype = dtype_name(dtype);
  safetensors::save_sharded(dir, tensors, options.max_shard_bytes);
  write_file_atomic(dir / "config.json", config.to_json());
  if (!fs::exists(dir / "generation_config.json")) {  // never replace the user's sampling defaults
    json gen = {{"_from_model_config", true}};
    if (config.bos_token_id) gen["bos_token_id"] = *config.bos_token_id;
    if (config.eos_token_id.size() == 1)
      gen["eos_token_id"] = config.eos_token_id[0];
    else if (!config.eos_token_id.empty())
      gen["eos_token_id"] = config.eos_token_id;
    if (config.pad_token_id) gen["pad_token_id"] = *config.pad_token_id;
    write_file_atomic(dir / "generation_config.json", gen.dump(2) + "\n");
  }
}

void convert_checkpoint(const fs::path& in, const fs::path& out, const ConvertOptions& options) {
  require_directory(in);
  if (fs::exists(out) && fs::equivalent(in, out)) fail("{}: --out must differ from the input directory", out.string());
  if (fs::exists(out) && !fs::is_directory(out)) fail("{}: exists and is not a directory", out.string());
  if (fs::exists(out) && !fs::is_empty(out) && !options.overwrite)
    fail("{}: exists and is not empty; pass --overwrite to write into it", out.string());
  ModelConfig config = ModelConfig::load(in / "config.json");
  auto tensors = safetensors::TensorCollection::open_directory(in);
  auto problems = check_tensors(tensors, config);
  if (!problems.empty()) fail("{}: the weights do not match config.json: {}", in.string(), fmt::join(problems, "; "));

  std::vector<std::pair<std::string, at::Tensor>> converted;
  for (const auto& name : tensors.names()) {
    if (ignorable_tensor(name, config)) continue;
    at::Tensor t = tensors.view(name);
    converted.emplace_back(name, t.is_floating_point() ? t.to(options.dtype) : t);
  }
  fs::create_directories(out);
  safetensors::save_sharded(out, converted, options.max_shard_bytes);

  json raw = parse_json(read_file(in / "config.json"), (in / "config.json").string());
  raw["torch_dtype"] = dtype_name(options.dtype);
  if (raw.contains("dtype")) raw["dtype"] = dtype_name(options.dtype);
  write_file_atomic(out / "config.json", raw.dump(2) + "\n");
  for (const auto& entry : fs::directory_iterator(in)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name == "config.json" || name.ends_with(".safetensors") ||
        name == "model.safetensors.index.json" || name.find(".tmp-") != std::string::npos)
      continue;
    write_file_atomic(out / name, read_file(entry.path()));
  }
}

CheckpointSummary summarize_checkpoint(const fs::path& dir) {
  require_directory(dir);
  CheckpointSummary s;
  s.config = ModelConfig::load(dir / "config.json");
  auto tensors = safetensors::TensorCollection::open_directory(dir);
  for (const auto& name : tensors.names()) {
    const auto& info = tensors.info(name);
    int64_t numel = 1;
    for (int64_t d : info.shape) numel *= d;
    if (ignorable_tensor(name, s.config)) continue;
    s.parameters += numel;
    if (name == "model.embed_tokens.weight" || name == "lm_head.weight") s.embedding_parameters += numel;
    s.dtypes[info.dtype] += 1;
  }
  s.weight_bytes = tensors.total_bytes();
  s.weight_files = tensors.files().size();
  s.problems = check_tensors(tensors, s.config);
  return s;
}

}  // namespace r1::model
