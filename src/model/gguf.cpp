// GGUF export (r1/gguf.h): the GGUF v3 container (ggml/docs/gguf.md: header, typed key/values, tensor infos with
// offsets aligned to general.alignment, then the aligned data) and the mapping of a Hugging Face Llama / Qwen2
// directory onto llama.cpp's names and keys as convert_hf_to_gguf.py writes them (LlamaModel, Qwen2Model,
// _set_vocab_gpt2, gguf.SpecialVocab). Not here: reading GGUF (tests carry their own independent parser).
// Departures from the converter:
//   1. The pre-tokenizer name comes from the tokenizer.json regex (the converter hashes a tokenization of a test
//      text); regexes llama.cpp has no pre-tokenizer for are refused instead of falling back to "default".
//   2. add_bos_token / add_eos_token are what the tokenizer does (encode with and without special tokens), not
//      only tokenizer_config.json's flags, so llama.cpp adds exactly the tokens r1 adds.
#include <torch/types.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "r1/error.h"
#include "r1/gguf.h"
#include "r1/io.h"
#include "r1/model.h"
#include "r1/safetensors.h"
#include "r1/tokenizer.h"

namespace r1::gguf {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr uint32_t kAlignment = 32;
constexpr int64_t kQ8Block = 32;
// gguf_type (ggml/include/gguf.h) and ggml_type (ggml.h) values used here.
enum ValueType : uint32_t { kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9 };
enum GgmlType : uint32_t { kTypeF32 = 0, kTypeF16 = 1, kTypeQ8_0 = 8, kTypeBF16 = 30 };
// llama_token_type
enum TokenType : int32_t { kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5 };

constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Little-endian serialisation of the metadata section.
class Buffer {
 public:
  template <typename T>
  void pod(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void str(std::string_view s) {
    pod<uint64_t>(s.size());
    bytes_.append(s);
  }
  void pad_to(uint64_t alignment) { bytes_.resize((bytes_.size() + alignment - 1) / alignment * alignment, '\0'); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

class Metadata {
 public:
  void u32(const std::string& key, uint64_t v) {
    head(key, kU32);
    body_.pod<uint32_t>(uint32_t(v));
  }
  void f32(const std::string& key, double v) {
    head(key, kF32);
    body_.pod<float>(float(v));
  }
  void boolean(const std::string& key, bool v) {
    head(key, kBool);
    body_.pod<uint8_t>(v ? 1 : 0);
  }
  void str(const std::string& key, const std::string& v) {
    head(key, kString);
    body_.str(v);
  }
  void strings(const std::string& key, const std::vector<std::string>& v) {
    head(key, kArray);
    body_.pod<uint32_t>(kString);
    body_.pod<uint64_t>(v.size());
    for (const auto& s : v) body_.str(s);
  }
  void i32s(const std::string& key, const std::vector<int32_t>& v) {
    head(key, kArray);
    body_.pod<uint32_t>(kI32);
    body_.pod<uint64_t>(v.size());
    for (int32_t x : v) body_.pod<int32_t>(x);
  }
  uint64_t count() const { return count_; }
  const std::string& bytes() const { return body_.bytes(); }

 private:
  void head(const std::string& key, ValueType type) {
    if (!keys_.insert(key).second) throw std::logic_error("gguf: duplicate key " + key);
    body_.str(key);
    body_.pod<uint32_t>(type);
    ++count_;
  }
  Buffer body_;
  std::set<std::string> keys_;
  uint64_t count_ = 0;
};

// One tensor to write: its GGUF name, HF source (or a computed value) and storage.
struct TensorPlan {
  std::string name;
  std::string source;   // HF name; empty when `value` is set
  at::Tensor value;     // computed tensor (rope_freqs)
  int64_t permute = 0;  // > 0: Llama Q/K row permutation with this many heads
  GgmlType type = kTypeF32;
  std::vector<int64_t> shape;  // torch order (rows first)
  uint64_t offset = 0, size = 0;
};

uint64_t byte_size(GgmlType type, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  switch (type) {
    case kTypeF32:
      return uint64_t(n) * 4;
    case kTypeF16:
    case kTypeBF16:
      return uint64_t(n) * 2;
    case kTypeQ8_0:
      return uint64_t(n / kQ8Block) * (2 + kQ8Block);
  }
  return 0;
}

GgmlType storage_type(OutType outtype, const std::vector<int64_t>& shape) {
  if (shape.size() < 2) return kTypeF32;
  switch (outtype) {
    case OutType::kF32:
      return kTypeF32;
    case OutType::kF16:
      return kTypeF16;
    case OutType::kBF16:
      return kTypeBF16;
    case OutType::kQ8_0:
      return shape.back() % kQ8Block == 0 ? kTypeQ8_0 : kTypeF16;
  }
  return kTypeF32;
}

// convert_hf_to_gguf.py LlamaModel.permute: HF's rotate_half pairs (i, i + D/2) become llama.cpp's (2i, 2i + 1).
at::Tensor permute_rows(const at::Tensor& w, int64_t heads) {  // (heads*D, ...) or (heads*D)
  std::vector<int64_t> split = {heads, 2, w.size(0) / heads / 2};
  for (int64_t i = 1; i < w.dim(); ++i) split.push_back(w.size(i));
  return w.reshape(split).transpose(1, 2).reshape(w.sizes()).contiguous();
}

// ggml quantize_row_q8_0_ref: per block of 32, d = amax / 127, q = round(x / d) (half away from zero).
std::string quantize_q8_0(const at::Tensor& t) {  // t: contiguous fp32, numel % 32 == 0
  const float* x = t.data_ptr<float>();
  const int64_t blocks = t.numel() / kQ8Block;
  std::string out(size_t(blocks) * (2 + kQ8Block), '\0');
  char* p = out.data();
  for (int64_t b = 0; b < blocks; ++b, x += kQ8Block, p += 2 + kQ8Block) {
    float amax = 0;
    for (int64_t j = 0; j < kQ8Block; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t half = c10::Half(d).x;
    std::memcpy(p, &half, 2);
    for (int64_t j = 0; j < kQ8Block; ++j) p[2 + j] = static_cast<char>(static_cast<int8_t>(std::round(x[j] * id)));
  }
  return out;
}

std::string tensor_bytes(const at::Tensor& fp32, GgmlType type) {
  at::Tensor t;
  switch (type) {
    case kTypeQ8_0:
      return quantize_q8_0(fp32);
    case kTypeF32:
      t = fp32;
      break;
    case kTypeF16:
      t = fp32.to(at::kHalf).contiguous();
      break;
    case kTypeBF16:
      t = fp32.to(at::kBFloat16).contiguous();
      break;
  }
  return std::string(static_cast<const char*>(t.data_ptr()), size_t(t.nbytes()));
}

// llama.cpp's tokenizer.ggml.pre for a byte-level BPE pre-tokenizer (tokenizer.json "pre_tokenizer").
std::string pre_tokenizer_name(const json& pre, const std::string& where) {
  auto is_byte_level = [](const json& j, bool regex) {
    return j.is_object() && j.value("type", "") == "ByteLevel" && j.value("use_regex", true) == regex;
  };
  if (is_byte_level(pre, true)) return "gpt-2";
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].size() == 2 && is_byte_level(pre["pretokenizers"][1], false)) {
    const json& split = pre["pretokenizers"][0];
    std::string regex;
    if (split.value("type", "") == "Split" && split.contains("pattern") && split["pattern"].contains("Regex"))
      regex = split["pattern"]["Regex"].get<std::string>();
    if (regex == kLlama3Regex) return "llama-bpe";
    if (regex == kQwen2Regex) return "qwen2";
    fail_usage("{}: the pre-tokenizer regex {} is not one llama.cpp has a pre-tokenizer for (Llama-3, Qwen2, GPT-2)",
               where, json(regex).dump());
  }
  fail_usage("{}: pre-tokenizer {} is not a byte-level BPE pre-tokenizer llama.cpp knows (GPT-2, Llama-3, Qwen2)",
             where, pre.dump().substr(0, 200));
}

// convert_hf_to_gguf.py does_token_look_special: added tokens that are control tokens by their look.
bool looks_special(const std::string& t) {
  if (t.size() >= 4 && t.starts_with("<|") && t.ends_with("|>")) return true;
  return t == "<s>" || t == "</s>" || t == "<pad>" || t == "<unk>" || t == "<mask>";
}

struct Vocabulary {
  std::vector<std::string> tokens, merges;
  std::vector<int32_t> types;
  std::string pre;
};

Vocabulary vocabulary(const tokenizer::Tokenizer& tok, int64_t rows, const std::string& where) {
  if (tok.model_type() != "BPE")
    fail_usage("{}: a {} tokenizer cannot be written to GGUF as llama.cpp's gpt2 (byte-level BPE) vocabulary", where,
               tok.model_type());
  tok.require_fits(rows, where);
  json j = json::parse(tok.to_json());
  if (j["model"].value("byte_fallback", false))
    fail_usage("{}: byte_fallback BPE (SentencePiece-style) tokenizers are not supported by the GGUF export", where);
  const json& norm = j["normalizer"];
  if (!norm.is_null() && norm.value("type", "") != "NFC")
    fail_usage("{}: normalizer {} has no llama.cpp equivalent", where, norm.value("type", "?"));
  Vocabulary v;
  v.pre = pre_tokenizer_name(j["pre_tokenizer"], where);
  for (const json& m : j["model"]["merges"])
    v.merges.push_back(m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>());
  std::set<int32_t> added;
  for (const auto& a : tok.added_tokens()) added.insert(a.id);
  for (int32_t id = 0; id < int32_t(rows); ++id) {
    std::optional<std::string> t = tok.id_to_token(id);
    if (!t) {
      v.tokens.push_back(fmt::format("[PAD{}]", id));
      v.types.push_back(kUnused);
    } else {
      v.tokens.push_back(*t);
      v.types.push_back(!added.count(id)                            ? kNormal
                        : (tok.is_special(id) || looks_special(*t)) ? kControl
                                                                    : kUserDefined);
    }
  }
  return v;
}

void write_tokenizer(Metadata& kv, const tokenizer::Tokenizer& tok, const model::ModelConfig& c, const Vocabulary& v) {
  kv.str("tokenizer.ggml.model", "gpt2");
  kv.str("tokenizer.ggml.pre", v.pre);
  kv.strings("tokenizer.ggml.tokens", v.tokens);
  kv.i32s("tokenizer.ggml.token_type", v.types);
  kv.strings("tokenizer.ggml.merges", v.merges);
  // The tokenizer's ids first, then config.json's (gguf.SpecialVocab reads both); -1: none.
  const int64_t bos = tok.bos_id() ? *tok.bos_id() : c.bos_token_id.value_or(-1);
  const int64_t eos = tok.eos_id() ? *tok.eos_id() : (c.eos_token_id.empty() ? -1 : c.eos_token_id[0]);
  const int64_t pad = tok.pad_id() ? *tok.pad_id() : c.pad_token_id.value_or(-1);
  if (bos >= 0) kv.u32("tokenizer.ggml.bos_token_id", uint64_t(bos));
  if (eos >= 0) kv.u32("tokenizer.ggml.eos_token_id", uint64_t(eos));
  if (pad >= 0) kv.u32("tokenizer.ggml.padding_token_id", uint64_t(pad));
  // What encode(add_special_tokens) adds around a text (departure 2).
  std::vector<int32_t> plain = tok.encode("a", false), full = tok.encode("a", true);
  const bool add_bos = full.size() > plain.size() && bos >= 0 && full.front() == bos;
  const bool add_eos = full.size() > plain.size() && eos >= 0 && full.back() == eos;
  kv.boolean("tokenizer.ggml.add_bos_token", add_bos);
  kv.boolean("tokenizer.ggml.add_eos_token", add_eos);
  if (!tok.config().chat_template.empty()) kv.str("tokenizer.chat_template", tok.config().chat_template);
}

// convert_hf_to_gguf.py LlamaModel.generate_extra_tensors: per-frequency llama3 RoPE factors (rope_freqs.weight).
at::Tensor llama3_rope_factors(const model::ModelConfig& c) {
  const auto& s = c.rope_scaling;
  const int64_t dim = c.resolved_head_dim();
  const double low_wavelen = double(s.original_max_position_embeddings) / s.low_freq_factor;
  const double high_wavelen = double(s.original_max_position_embeddings) / s.high_freq_factor;
  at::Tensor factors = torch::empty({dim / 2}, at::kFloat);
  for (int64_t i = 0; i < dim / 2; ++i) {
    const double freq = 1.0 / std::pow(c.rope_theta, double(2 * i) / double(dim));
    const double wavelen = 2 * M_PI / freq;
    double f = 1;
    if (wavelen > low_wavelen) {
      f = s.factor;
    } else if (wavelen >= high_wavelen) {
      double smooth = (double(s.original_max_position_embeddings) / wavelen - s.low_freq_factor) /
                      (s.high_freq_factor - s.low_freq_factor);
      f = 1 / ((1 - smooth) / s.factor + smooth);
    }
    factors[i] = f;
  }
  return factors;
}

void write_hparams(Metadata& kv, const model::ModelConfig& c, const std::string& arch) {
  kv.u32(arch + ".vocab_size", uint64_t(c.vocab_size));
  kv.u32(arch + ".context_length", uint64_t(c.max_position_embeddings));
  kv.u32(arch + ".embedding_length", uint64_t(c.hidden_size));
  kv.u32(arch + ".block_count", uint64_t(c.num_hidden_layers));
  kv.u32(arch + ".feed_forward_length", uint64_t(c.intermediate_size));
  kv.u32(arch + ".attention.head_count", uint64_t(c.num_attention_heads));
  kv.u32(arch + ".attention.head_count_kv", uint64_t(c.num_key_value_heads));
  kv.u32(arch + ".attention.key_length", uint64_t(c.resolved_head_dim()));
  kv.u32(arch + ".attention.value_length", uint64_t(c.resolved_head_dim()));
  kv.u32(arch + ".rope.dimension_count", uint64_t(c.resolved_head_dim()));
  kv.f32(arch + ".rope.freq_base", c.rope_theta);
  kv.f32(arch + ".attention.layer_norm_rms_epsilon", c.rms_norm_eps);
  if (c.rope_scaling.rope_type == "linear") {
    kv.str(arch + ".rope.scaling.type", "linear");
    kv.f32(arch + ".rope.scaling.factor", c.rope_scaling.factor);
  }
}

uint32_t file_type(OutType t) {  // llama_ftype: ALL_F32, MOSTLY_F16, MOSTLY_Q8_0, MOSTLY_BF16
  switch (t) {
    case OutType::kF32:
      return 0;
    case OutType::kF16:
      return 1;
    case OutType::kQ8_0:
      return 7;
    case OutType::kBF16:
      return 32;
  }
  return 0;
}

// HF tensor name -> llama.cpp name (convert_hf_to_gguf.py's tensor map for llama / qwen2).
std::string gguf_name(const std::string& hf, const std::string& where) {
  static const std::vector<std::pair<std::string, std::string>> layer_parts = {
      {"input_layernorm", "attn_norm"}, {"post_attention_layernorm", "ffn_norm"},
      {"self_attn.q_proj", "attn_q"},   {"self_attn.k_proj", "attn_k"},
      {"self_attn.v_proj", "attn_v"},   {"self_attn.o_proj", "attn_output"},
      {"mlp.gate_proj", "ffn_gate"},    {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"}};
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::string prefix = "model.layers.";
  if (hf.starts_with(prefix)) {
    size_t dot = hf.find('.', prefix.size());
    std::string layer = hf.substr(prefix.size(), dot - prefix.size());
    std::string rest = hf.substr(dot + 1);
    size_t last = rest.rfind('.');
    for (const auto& [from, to] : layer_parts)
      if (rest.substr(0, last) == from) return fmt::format("blk.{}.{}{}", layer, to, rest.substr(last));
  }
  fail_usage("{}: tensor {} has no llama.cpp name", where, hf);
}

std::string modelfile_text(const std::string& gguf_file, const tokenizer::Tokenizer& tok) {
  const std::string& t = tok.config().chat_template;
  std::string out = fmt::format("FROM ./{}\n", gguf_file);
  std::vector<std::string> stops;
  if (t.find("<|im_start|>") != std::string::npos) {
    out +=
        "TEMPLATE \"\"\"{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
        "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}"
        "<|im_start|>assistant\n{{ .Response }}<|im_end|>\n\"\"\"\n";
    stops = {"<|im_start|>", "<|im_end|>"};
  } else if (t.find("<|start_header_id|>") != std::string::npos) {
    out +=
        "TEMPLATE \"\"\"{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>"
        "{{ end }}{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}"
        "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>\"\"\"\n";
    stops = {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
  }
  if (tok.eos_id()) {
    std::string eos = tok.id_to_token(*tok.eos_id()).value_or("");
    if (!eos.empty() && std::find(stops.begin(), stops.end(), eos) == stops.end()) stops.push_back(eos);
  }
  for (const auto& s : stops) out += fmt::format("PARAMETER stop {}\n", json(s).dump());
  return out;
}

void check_exportable(const model::ModelConfig& c, const std::string& where) {
  if (c.is_classifier())
    fail_usage("{}: {} is a sequence classifier; llama.cpp runs causal LMs only", where, c.architecture());
  if (c.position_embedding_type == model::PositionEncoding::kAlibi)
    fail_usage("{}: ALiBi positions (position_embedding_type) have no llama.cpp llama/qwen2 equivalent", where);
  if (c.model_type != "llama" && c.model_type != "qwen2")
    fail_usage("{}: model_type '{}' is not llama or qwen2", where, c.model_type);
  if (c.model_type == "qwen2" && c.rope_scaling.rope_type != "default")
    fail_usage("{}: rope_scaling {} is not exported for qwen2", where, c.rope_scaling.rope_type);
}

}  // namespace

OutType parse_outtype(const std::string& name) {
  if (name == "f32") return OutType::kF32;
  if (name == "f16") return OutType::kF16;
  if (name == "bf16") return OutType::kBF16;
  if (name == "q8_0") return OutType::kQ8_0;
  fail_usage("--outtype: expected f32, f16, bf16 or q8_0, got '{}'", name);
}

std::string outtype_name(OutType type) {
  switch (type) {
    case OutType::kF32:
      return "f32";
    case OutType::kF16:
      return "f16";
    case OutType::kBF16:
      return "bf16";
    case OutType::kQ8_0:
      return "q8_0";
  }
  return "?";
}

ExportReport export_gguf(const fs::path& model_dir, const fs::path& out, const ExportOptions& options) {
  const std::string where = model_dir.string();
  if (!fs::is_directory(model_dir)) fail_usage("{}: not a model directory", where);
  if (!fs::exists(model_dir / "config.json"))
    fail_usage("{}: no config.json (a PEFT adapter must be merged first: r1 model merge-lora)", where);
  model::ModelConfig c = model::ModelConfig::load(model_dir / "config.json");
  check_exportable(c, where);
  if (!fs::exists(model_dir / "tokenizer.json")) fail_usage("{}: no tokenizer.json (GGUF embeds the tokenizer)", where);
  tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(model_dir);
  if (fs::exists(out) && !options.overwrite) fail_usage("{} exists (pass --overwrite to replace it)", out.string());
  const fs::path modelfile = out.parent_path() / "Modelfile";
  if (options.ollama && fs::exists(modelfile) && !options.overwrite)
    fail_usage("{} exists (pass --overwrite to replace it)", modelfile.string());
  Vocabulary vocab = vocabulary(tok, c.vocab_size, where + "/tokenizer.json");
  auto weights = safetensors::TensorCollection::open_directory(model_dir);

  const std::string arch = c.model_type;
  std::vector<TensorPlan> plan;
  if (arch == "llama" && c.rope_scaling.rope_type == "llama3") {
    at::Tensor f = llama3_rope_factors(c);
    plan.push_back({"rope_freqs.weight", "", f, 0, kTypeF32, {f.size(0)}});
  }
  for (const auto& [hf, shape] : model::expected_tensors(c)) {
    if (!weights.contains(hf)) fail("{}: tensor {} is missing", where, hf);
    if (weights.info(hf).shape != shape) fail("{}: tensor {} has the wrong shape", where, hf);
    TensorPlan p{gguf_name(hf, where), hf, {}, 0, storage_type(options.outtype, shape), shape};
    if (arch == "llama" && (hf.find("q_proj.") != std::string::npos)) p.permute = c.num_attention_heads;
    if (arch == "llama" && (hf.find("k_proj.") != std::string::npos)) p.permute = c.num_key_value_heads;
    plan.push_back(std::move(p));
  }

  Metadata kv;
  kv.str("general.architecture", arch);
  kv.str("general.type", "model");
  kv.str("general.name",
         options.name.empty() ? fs::absolute(model_dir).lexically_normal().filename().string() : options.name);
  kv.u32("general.alignment", kAlignment);
  kv.u32("general.file_type", file_type(options.outtype));
  kv.u32("general.quantization_version", 2);
  write_hparams(kv, c, arch);
  write_tokenizer(kv, tok, c, vocab);

  Buffer head;
  head.pod<uint32_t>(0x46554747);  // "GGUF"
  head.pod<uint32_t>(3);
  head.pod<uint64_t>(plan.size());
  head.pod<uint64_t>(kv.count());
  std::string header = head.bytes() + kv.bytes();
  Buffer infos;
  uint64_t offset = 0;
  for (auto& p : plan) {
    p.size = byte_size(p.type, p.shape);
    p.offset = offset;
    offset = (offset + p.size + kAlignment - 1) / kAlignment * kAlignment;
    infos.str(p.name);
    infos.pod<uint32_t>(uint32_t(p.shape.size()));
    for (auto d = p.shape.rbegin(); d != p.shape.rend(); ++d) infos.pod<uint64_t>(uint64_t(*d));  // ne0 first
    infos.pod<uint32_t>(p.type);
    infos.pod<uint64_t>(p.offset);
  }
  header += infos.bytes();
  header.resize((header.size() + kAlignment - 1) / kAlignment * kAlignment, '\0');

  AtomicFile file(out);
  file.write(header);
  const std::string zeros(kAlignment, '\0');
  for (const auto& p : plan) {
    at::Tensor t = p.value.defined() ? p.value : weights.view(p.source).to(at::kFloat);
    if (p.permute) t = permute_rows(t, p.permute);
    std::string bytes = tensor_bytes(t.contiguous(), p.type);
    if (bytes.size() != p.size) throw std::logic_error("gguf: size mismatch for " + p.name);
    file.write(bytes);
    file.write(zeros.data(), (kAlignment - p.size % kAlignment) % kAlignment);
  }
  file.commit();

  ExportReport report{arch, vocab.pre, int64_t(plan.size()), header.size() + offset, std::nullopt};
  if (options.ollama) {
    write_file_atomic(modelfile, modelfile_text(out.filename().string(), tok));
    report.modelfile = modelfile;
  }
  return report;
}

}  // namespace r1::gguf
