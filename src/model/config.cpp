// config.json <-> ModelConfig with transformers' key names and per-model_type defaults (LlamaConfig,
// Qwen2Config), validation with errors that name the file and key, dtype names, and the tensor list a
// checkpoint of a config must hold. Not here: the modules (layers.*, transformer.cpp), weights (hf-directory.cpp).
#include <torch/types.h>

#include <fmt/ranges.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "r1/error.h"
#include "r1/io.h"
#include "r1/model.h"

namespace r1::model {
using nlohmann::json;

namespace {

const char* type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

// Reads j[key] into out if present and not null; type mismatches name the source and key.
struct Reader {
  const json& j;
  const std::string& source;

  [[noreturn]] void wrong(const std::string& key, const char* expected) const {
    fail("{}: \"{}\" must be {}, found {} ({})", source, key, expected, j[key].dump(), type_name(j[key]));
  }
  bool has(const std::string& key) const { return j.contains(key) && !j[key].is_null(); }
  void get(const std::string& key, int64_t& out) const {
    if (!has(key)) return;
    if (!j[key].is_number_integer()) wrong(key, "an integer");
    out = j[key].get<int64_t>();
  }
  void get(const std::string& key, double& out) const {
    if (!has(key)) return;
    if (!j[key].is_number()) wrong(key, "a number");
    out = j[key].get<double>();
  }
  void get(const std::string& key, bool& out) const {
    if (!has(key)) return;
    if (!j[key].is_boolean()) wrong(key, "true or false");
    out = j[key].get<bool>();
  }
  void get(const std::string& key, std::string& out) const {
    if (!has(key)) return;
    if (!j[key].is_string()) wrong(key, "a string");
    out = j[key].get<std::string>();
  }
  void get(const std::string& key, std::optional<int64_t>& out) const {
    if (!has(key)) return;
    if (!j[key].is_number_integer()) wrong(key, "an integer or null");
    out = j[key].get<int64_t>();
  }
};

void apply_type_defaults(ModelConfig& c) {
  if (c.model_type == "qwen2") {  // transformers' Qwen2Config defaults
    c.vocab_size = 151936;
    c.intermediate_size = 22016;
    c.max_position_embeddings = 32768;
  }
}

}  // namespace

ModelConfig ModelConfig::parse(const std::string& text, const std::string& source) {
  const json j = parse_json(text, source);
  if (!j.is_object()) fail("{}: expected a JSON object", source);
  Reader r{j, source};
  ModelConfig c;

  std::string arch;
  if (r.has("architectures")) {
    if (!j["architectures"].is_array() || j["architectures"].empty() || !j["architectures"][0].is_string())
      r.wrong("architectures", "a list of class names");
    arch = j["architectures"][0].get<std::string>();
  }
  // architecture -> (model_type, sequence classifier)
  static const std::map<std::string, std::pair<std::string, bool>> kArchitectures = {
      {"LlamaForCausalLM", {"llama", false}},
      {"Qwen2ForCausalLM", {"qwen2", false}},
      {"LlamaForSequenceClassification", {"llama", true}},
      {"Qwen2ForSequenceClassification", {"qwen2", true}}};
  auto known = kArchitectures.find(arch);
  if (!arch.empty() && known == kArchitectures.end()) {
    std::vector<std::string> names;
    for (const auto& [name, kind] : kArchitectures) names.push_back(name);
    fail("{}: architecture '{}' is not supported (supported: {})", source, arch, fmt::join(names, ", "));
  }
  std::string type;
  r.get("model_type", type);
  if (type.empty()) {
    if (arch.empty()) fail("{}: neither \"model_type\" nor \"architectures\" is given", source);
    type = known->second.first;
  }
  if (type != "llama" && type != "qwen2")
    fail("{}: model_type '{}' is not supported (supported: llama, qwen2)", source, type);
  c.model_type = type;
  apply_type_defaults(c);
  if (known != kArchitectures.end() && known->second.second) {
    // transformers' num_labels is len(id2label); a config written with num_labels alone, or neither (default 2)
    c.num_labels = 2;
    if (r.has("id2label")) {
      if (!j["id2label"].is_object() || j["id2label"].empty()) r.wrong("id2label", "an object {\"0\": label, ...}");
      c.num_labels = int64_t(j["id2label"].size());
    } else {
      r.get("num_labels", c.num_labels);
    }
  }

  r.get("vocab_size", c.vocab_size);
  r.get("hidden_size", c.hidden_size);
  r.get("intermediate_size", c.intermediate_size);
  r.get("num_hidden_layers", c.num_hidden_layers);
  r.get("num_attention_heads", c.num_attention_heads);
  c.num_key_value_heads = c.num_attention_heads;  // transformers: None means multi-head
  r.get("num_key_value_heads", c.num_key_value_heads);
  r.get("head_dim", c.head_dim);
  r.get("rms_norm_eps", c.rms_norm_eps);
  r.get("rope_theta", c.rope_theta);
  r.get("max_position_embeddings", c.max_position_embeddings);
  r.get("tie_word_embeddings", c.tie_word_embeddings);
  r.get("attention_bias", c.attention_bias);
  r.get("mlp_bias", c.mlp_bias);
  r.get("initializer_range", c.initializer_range);
  r.get("torch_dtype", c.torch_dtype);
  if (!r.has("torch_dtype")) r.get("dtype", c.torch_dtype);  // transformers >= 4.56 writes "dtype"
  r.get("bos_token_id", c.bos_token_id);
  r.get("pad_token_id", c.pad_token_id);
  if (r.has("eos_token_id")) {
    const json& e = j["eos_token_id"];
    if (e.is_number_integer())
      c.eos_token_id = {e.get<int64_t>()};
    else if (e.is_array() && std::all_of(e.begin(), e.end(), [](const json& x) { return x.is_number_integer(); }))
      c.eos_token_id = e.get<std::vector<int64_t>>();
    else
      r.wrong("eos_token_id", "an integer or a list of integers");
  }
  std::string act = "silu";
  r.get("hidden_act", act);
  if (act != "silu") fail("{}: hidden_act '{}' is not supported (Llama/Qwen2 use silu)", source, act);
  bool sliding = false;
  r.get("use_sliding_window", sliding);
  if (sliding) fail("{}: use_sliding_window=true is not supported (sliding-window attention)", source);
  std::string pos = "rope";
  r.get("position_embedding_type", pos);
  if (pos == "alibi")
    c.position_embedding_type = PositionEncoding::kAlibi;
  else if (pos != "rope")
    fail("{}: position_embedding_type '{}' is not supported (rope, alibi)", source, pos);

  // transformers >= 5 writes "rope_parameters" ({rope_type, rope_theta, factor, ...}) where older ones wrote
  // "rope_theta" and "rope_scaling" (null for plain RoPE); either is read, rope_parameters first.
  const std::string rope_key = r.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
  if (r.has(rope_key)) {
    const json& s = j[rope_key];
    if (!s.is_object()) r.wrong(rope_key, "an object or null");
    Reader rs{s, source};
    rs.get("rope_theta", c.rope_theta);
    std::string kind;
    rs.get("rope_type", kind);
    if (kind.empty()) rs.get("type", kind);  // older configs
    c.rope_scaling.rope_type = kind.empty() ? "default" : kind;
    // transformers' rope validation: the keys each type needs must be given, never filled from defaults.
    std::vector<std::string> required;
    if (kind == "linear" || kind == "dynamic") required = {"factor"};
    if (kind == "llama3")
      required = {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"};
    std::vector<std::string> missing;
    for (const std::string& key : required)
      if (!rs.has(key)) missing.push_back(key);
    if (!missing.empty()) fail("{}: {} of type '{}' lacks {}", source, rope_key, kind, fmt::join(missing, ", "));
    rs.get("factor", c.rope_scaling.factor);
    rs.get("low_freq_factor", c.rope_scaling.low_freq_factor);
    rs.get("high_freq_factor", c.rope_scaling.high_freq_factor);
    rs.get("original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings);
  }
  c.validate(source);
  return c;
}

ModelConfig ModelConfig::load(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) fail("{}: file not found", path.string());
  return parse(read_file(path), path.string());
}

void ModelConfig::validate(const std::string& source) const {
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) fail("{}: \"{}\" must be positive, found {}", source, key, v);
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("num_key_value_heads", num_key_value_heads);
  positive("max_position_embeddings", max_position_embeddings);
  // Upper bounds far above any released model, so a corrupt or hostile config.json is refused before anything
  // sized by it is allocated (the weights bound it further when a model is loaded: see check_tensors).
  auto at_most = [&](const char* key, int64_t v, int64_t limit) {
    if (v > limit) fail("{}: \"{}\" {} exceeds {} (a corrupt config.json?)", source, key, v, limit);
  };
  at_most("vocab_size", vocab_size, int64_t{1} << 24);
  at_most("hidden_size", hidden_size, int64_t{1} << 20);
  at_most("intermediate_size", intermediate_size, int64_t{1} << 22);
  at_most("num_hidden_layers", num_hidden_layers, 4096);
  at_most("num_attention_heads", num_attention_heads, 4096);
  at_most("num_key_value_heads", num_key_value_heads, 4096);
  at_most("head_dim", head_dim, 65536);
  at_most("max_position_embeddings", max_position_embeddings, int64_t{1} << 27);
  at_most("num_labels", num_labels, int64_t{1} << 20);
  if (num_labels < 0) fail("{}: \"num_labels\" must be positive, found {}", source, num_labels);
  if (head_dim < 0) fail("{}: \"head_dim\" must be positive, found {}", source, head_dim);
  if (head_dim == 0 && hidden_size % num_attention_heads != 0)
    fail("{}: hidden_size {} is not divisible by num_attention_heads {}", source, hidden_size, num_attention_heads);
  if (num_attention_heads % num_key_value_heads != 0)
    fail("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", source, num_attention_heads,
         num_key_value_heads);
  if (position_embedding_type == PositionEncoding::kRope && resolved_head_dim() % 2 != 0)
    fail("{}: RoPE needs an even head dimension, found {}", source, resolved_head_dim());
  if (!(rms_norm_eps > 0)) fail("{}: \"rms_norm_eps\" must be positive, found {}", source, rms_norm_eps);
  if (!(rope_theta > 0)) fail("{}: \"rope_theta\" must be positive, found {}", source, rope_theta);
  if (!(initializer_range >= 0)) fail("{}: \"initializer_range\" must be >= 0, found {}", source, initializer_range);
  const std::string& kind = rope_scaling.rope_type;
  if (kind != "default" && kind != "linear" && kind != "llama3")
    fail("{}: rope_scaling type '{}' is not supported (default, linear, llama3)", source, kind);
  if (kind != "default" && !(rope_scaling.factor > 0))
    fail("{}: rope_scaling.factor must be positive, found {}", source, rope_scaling.factor);
  if (kind == "llama3" && !(rope_scaling.high_freq_factor > rope_scaling.low_freq_factor))
    fail("{}: rope_scaling needs high_freq_factor > low_freq_factor", source);
  try {
    parse_dtype(torch_dtype);
  } catch (const Error&) {
    fail("{}: torch_dtype '{}' is not supported (float32, bfloat16, float16)", source, torch_dtype);
  }
  auto token = [&](const char* key, int64_t id) {
    if (id < 0 || id >= vocab_size)
      fail("{}: \"{}\" {} is outside the vocabulary [0, {})", source, key, id, vocab_size);
  };
  if (bos_token_id) token("bos_token_id", *bos_token_id);
  if (pad_token_id) token("pad_token_id", *pad_token_id);
  for (int64_t id : eos_token_id) token("eos_token_id", id);
}

std::string ModelConfig::to_json() const {
  json j;
  j["architectures"] = {architecture()};
  j["model_type"] = model_type;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  if (head_dim > 0) j["head_dim"] = head_dim;
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  if (rope_scaling.rope_type == "default") {
    j["rope_scaling"] = nullptr;
  } else {
    j["rope_scaling"] = {{"rope_type", rope_scaling.rope_type}, {"factor", rope_scaling.factor}};
    if (rope_scaling.rope_type == "llama3") {
      j["rope_scaling"]["low_freq_factor"] = rope_scaling.low_freq_factor;
      j["rope_scaling"]["high_freq_factor"] = rope_scaling.high_freq_factor;
      j["rope_scaling"]["original_max_position_embeddings"] = rope_scaling.original_max_position_embeddings;
    }
  }
  j["max_position_embeddings"] = max_position_embeddings;
  j["tie_word_embeddings"] = tie_word_embeddings;
  if (model_type == "llama") {
    j["attention_bias"] = attention_bias;
    j["mlp_bias"] = mlp_bias;
  } else {
    j["use_sliding_window"] = false;
  }
  j["initializer_range"] = initializer_range;
  j["torch_dtype"] = torch_dtype;
  j["use_cache"] = true;
  j["bos_token_id"] = bos_token_id ? json(*bos_token_id) : json(nullptr);
  if (eos_token_id.size() == 1)
    j["eos_token_id"] = eos_token_id[0];
  else if (eos_token_id.empty())
    j["eos_token_id"] = nullptr;
  else
    j["eos_token_id"] = eos_token_id;
  if (pad_token_id) j["pad_token_id"] = *pad_token_id;
  if (position_embedding_type == PositionEncoding::kAlibi) j["position_embedding_type"] = "alibi";
  if (is_classifier()) {  // as transformers writes them for num_labels
    for (int64_t i = 0; i < num_labels; ++i) {
      j["id2label"][std::to_string(i)] = fmt::format("LABEL_{}", i);
      j["label2id"][fmt::format("LABEL_{}", i)] = i;
    }
  }
  return j.dump(2) + "\n";
}

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "f32") return at::kFloat;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "f16") return at::kHalf;
  fail_usage("unknown dtype '{}' (expected float32, bfloat16 or float16)", name);
}

std::string dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return "float32";
    case at::kBFloat16:
      return "bfloat16";
    case at::kHalf:
      return "float16";
    default:
      fail("dtype {} is not a model dtype (float32, bfloat16, float16)", c10::toString(dtype));
  }
}

std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(const ModelConfig& c) {
  const int64_t C = c.hidden_size, D = c.resolved_head_dim(), H = c.num_attention_heads, Hkv = c.num_key_value_heads;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, C}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    std::string p = fmt::format("model.layers.{}.", i);
    out.push_back({p + "input_layernorm.weight", {C}});
    out.push_back({p + "self_attn.q_proj.weight", {H * D, C}});
    if (c.qkv_bias()) out.push_back({p + "self_attn.q_proj.bias", {H * D}});
    out.push_back({p + "self_attn.k_proj.weight", {Hkv * D, C}});
    if (c.qkv_bias()) out.push_back({p + "self_attn.k_proj.bias", {Hkv * D}});
    out.push_back({p + "self_attn.v_proj.weight", {Hkv * D, C}});
    if (c.qkv_bias()) out.push_back({p + "self_attn.v_proj.bias", {Hkv * D}});
    out.push_back({p + "self_attn.o_proj.weight", {C, H * D}});
    if (c.o_bias()) out.push_back({p + "self_attn.o_proj.bias", {C}});
    out.push_back({p + "post_attention_layernorm.weight", {C}});
    out.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, C}});
    if (c.mlp_bias) out.push_back({p + "mlp.gate_proj.bias", {c.intermediate_size}});
    out.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, C}});
    if (c.mlp_bias) out.push_back({p + "mlp.up_proj.bias", {c.intermediate_size}});
    out.push_back({p + "mlp.down_proj.weight", {C, c.intermediate_size}});
    if (c.mlp_bias) out.push_back({p + "mlp.down_proj.bias", {C}});
  }
  out.push_back({"model.norm.weight", {C}});
  if (c.is_classifier())
    out.push_back({"score.weight", {c.num_labels, C}});
  else if (!c.tie_word_embeddings)
    out.push_back({"lm_head.weight", {c.vocab_size, C}});
  return out;
}

}  // namespace r1::model
