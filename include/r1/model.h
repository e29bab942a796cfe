// The decoder-only transformer of the Llama / Qwen2 family, its Hugging Face config, and checkpoints in the
// Hugging Face directory layout (config.json + model.safetensors, or shards + index; HF tensor names).
//
// Block (HF LlamaDecoderLayer / Qwen2DecoderLayer): x += o_proj(attn(RoPE(q), RoPE(k), v)) over RMSNorm(x);
// x += down_proj(silu(gate_proj(h)) * up_proj(h)) with h = RMSNorm(x); then a final RMSNorm and the LM head
// (tied to the embedding when tie_word_embeddings). Grouped-query attention: query head h reads kv head
// h / (H / Hkv), as HF's repeat_kv. Qwen2 has q/k/v biases; Llama has biases on q/k/v/o iff attention_bias.
// Departures from HF, each a config switch that HF does not have:
//   1. position_embedding_type = "alibi" replaces RoPE with ALiBi biases (Press et al. 2022; slopes as
//      BLOOM/MPT for any head count). transformers ignores this key: such a model loads there but is wrong.
//
// Usage:
//   r1::model::Transformer model = r1::model::load_pretrained("models/qwen2.5-0.5b", {.dtype = at::kBFloat16});
//   at::Tensor logits = model->forward(input_ids);  // (B, T) int64 -> (B, T, V)
//   auto [loss_sum, tokens] = r1::model::causal_lm_loss_sum(*model, model->hidden_states(input_ids), labels);
//   r1::model::save_pretrained(*model, "runs/out", {.overwrite = true});  // config.json + safetensors, HF layout
//
//   r1::model::Transformer fresh(r1::model::ModelConfig::load("config.json"));  // a new model
//   fresh->init_weights();
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace r1::model {

// ---- The configuration (config.json) --------------------------------------------------------------------------------

enum class PositionEncoding { kRope, kAlibi };

struct RopeScaling {
  std::string rope_type = "default";  // "default" | "linear" | "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;                     // llama3 only
  double high_freq_factor = 4.0;                    // llama3 only
  int64_t original_max_position_embeddings = 8192;  // llama3 only
};

// config.json, with the transformers key names. Defaults are transformers' for the model_type.
struct ModelConfig {
  std::string model_type = "llama";  // "llama" (LlamaForCausalLM) | "qwen2" (Qwen2ForCausalLM)
  // > 0: a sequence classifier (LlamaForSequenceClassification / Qwen2ForSequenceClassification, e.g. a reward
  // model with 1 label): a `score` head (num_labels, hidden_size) without bias on each row's last non-pad token
  // instead of the LM head. config.json holds it as id2label / label2id (transformers' num_labels).
  int64_t num_labels = 0;
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;  // == heads: multi-head; 1: multi-query
  int64_t head_dim = 0;              // 0: hidden_size / num_attention_heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // Llama: biases on q/k/v/o. Qwen2 ignores it (always q/k/v, never o).
  bool mlp_bias = false;        // Llama only
  double initializer_range = 0.02;
  std::string torch_dtype = "float32";
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_id;  // one or several
  std::optional<int64_t> pad_token_id;
  PositionEncoding position_embedding_type = PositionEncoding::kRope;

  int64_t resolved_head_dim() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  bool qkv_bias() const { return model_type == "qwen2" || attention_bias; }
  bool o_bias() const { return model_type == "llama" && attention_bias; }
  bool is_classifier() const { return num_labels > 0; }
  std::string architecture() const {
    if (model_type == "qwen2") return is_classifier() ? "Qwen2ForSequenceClassification" : "Qwen2ForCausalLM";
    return is_classifier() ? "LlamaForSequenceClassification" : "LlamaForCausalLM";
  }

  // Parses config.json text; `source` (a path) prefixes every error. Unknown keys are ignored, unsupported
  // features (another model_type, hidden_act, rope type, sliding window) are errors that name them.
  static ModelConfig parse(const std::string& json_text, const std::string& source);
  static ModelConfig load(const std::filesystem::path& config_json);
  std::string to_json() const;  // pretty-printed config.json text
  void validate(const std::string& source) const;
};

// "float32"/"fp32"/"f32", "bfloat16"/"bf16", "float16"/"fp16"/"f16" -> dtype; r1::UsageError otherwise.
at::ScalarType parse_dtype(const std::string& name);
std::string dtype_name(at::ScalarType dtype);  // transformers' spelling: "float32", "bfloat16", "float16"

// ---- The module: forward, hidden states, weights by role ------------------------------------------------------------
// Preallocated keys and values for incremental decoding, owned by the caller (the generation engine).
// Invariant: positions [0, length) of every row hold keys/values already computed; a forward with T new
// tokens writes [length, length + T) and then advances length. Rows of a batch share `length`; left padding
// and finished rows are expressed through the attention mask.
struct KvCache {
  std::vector<at::Tensor> key;    // per layer (B, Hkv, S_max, D)
  std::vector<at::Tensor> value;  // per layer (B, Hkv, S_max, D)
  int64_t length = 0;

  static KvCache allocate(const ModelConfig& config, int64_t batch, int64_t max_length, at::ScalarType dtype,
                          at::Device device);
  int64_t capacity() const { return key.empty() ? 0 : key[0].size(2); }
};

struct ForwardArgs {
  // (B, T) int64 positions for RoPE. Undefined: from attention_mask as cumsum - 1 (left padding), else
  // cache length + arange(T).
  at::Tensor positions;
  // (B, S) with 1 for real tokens and 0 for padding, S = (cache ? cache->length : 0) + T. Undefined: all real.
  at::Tensor attention_mask;
  KvCache* cache = nullptr;
  // (B, T) int64 segment of each token (packing several examples into one row): a token attends only to
  // earlier tokens of its own segment, and positions (when not given) restart at 0 in each segment, so a
  // packed row computes exactly what separate forwards of its examples compute. Undefined: one segment per
  // row. Not allowed with a KV cache.
  at::Tensor segment_ids;
};

// The parameters of one decoder layer by role: the tensors themselves (not copies), for code that runs the layer's
// math without its modules (the engine's fast decode step). Hugging Face names belong to checkpoints only.
struct LayerWeights {
  at::Tensor input_norm, post_norm;           // (C) RMSNorm weights before attention and before the MLP
  at::Tensor q, k, v, o;                      // (H*D, C), (Hkv*D, C), (Hkv*D, C), (C, H*D)
  at::Tensor q_bias, k_bias, v_bias, o_bias;  // (H*D), (Hkv*D), (Hkv*D), (C); undefined where the config has none
  at::Tensor gate, up, down;                  // (I, C), (I, C), (C, I)
  at::Tensor gate_bias, up_bias, down_bias;   // (I), (I), (C); undefined where the config has none
};

// Every parameter of a TransformerImpl by role. Base weights only: LoRA adapters are not in it (has_lora()).
struct DecoderWeights {
  at::Tensor embed;                  // (V, C) token embeddings
  std::vector<LayerWeights> layers;  // num_hidden_layers
  at::Tensor final_norm;             // (C)
  at::Tensor lm_head;                // (V, C) lm_head.weight, or `embed` itself when tie_word_embeddings;
                                     // undefined for a sequence classifier
};

namespace detail {
class DecoderStackImpl;  // src/model/layers.h
class LinearImpl;
}  // namespace detail
struct LoraConfig;  // r1/lora.h

class TransformerImpl : public torch::nn::Module {
 public:
  // Parameters are allocated uninitialised with `options` (dtype, device); call init_weights() for a new model.
  explicit TransformerImpl(const ModelConfig& config, const at::TensorOptions& options = {});

  // input_ids (B, T) int64 -> logits (B, T, V) in the parameters' dtype.
  at::Tensor forward(const at::Tensor& input_ids, const ForwardArgs& args = {});
  // input_ids (B, T) -> final-norm hidden states (B, T, C); logits() applies the LM head to any (..., C).
  at::Tensor hidden_states(const at::Tensor& input_ids, const ForwardArgs& args = {});
  at::Tensor logits(const at::Tensor& hidden);
  // Sequence classifiers (config().is_classifier()): input_ids (B, T) -> (B, num_labels), the score head on each
  // row's last token that is not pad_token_id (transformers' *ForSequenceClassification pooling, right or left
  // padding alike; without a pad token only a batch of one row, pooled at its last token). score() applies the
  // head to any (..., C). Both are errors for a causal LM, as forward(), logits() and lm_head_weight() are for a
  // classifier.
  at::Tensor sequence_logits(const at::Tensor& input_ids, const ForwardArgs& args = {});
  at::Tensor score(const at::Tensor& hidden);
  // (V, C): lm_head.weight, or the embedding matrix when tie_word_embeddings (what logits() multiplies by).
  at::Tensor lm_head_weight() const;
  // True when logits() is exactly hidden @ lm_head_weight()^T (false while a LoRA adapter on lm_head is active).
  bool lm_head_is_plain() const;
  // Every parameter by role (typed access, no names); see DecoderWeights.
  DecoderWeights weights() const;

  // Weight init as HF Llama: Linear and Embedding weights ~ N(0, initializer_range), biases 0, norms 1,
  // the padding row of the embedding 0. Uses the global torch generator (seed it for reproducibility).
  void init_weights();

  const ModelConfig& config() const { return config_; }
  int64_t num_parameters() const;  // tied weights counted once

  // Activation checkpointing (HF gradient_checkpointing_enable): while training with gradients, each decoder
  // layer keeps only its input; its activations are recomputed during backward (under the autocast state
  // of the forward). Costs one extra layer forward per backward; saves most activation memory.
  void set_gradient_checkpointing(bool enabled) { gradient_checkpointing_ = enabled; }
  bool gradient_checkpointing() const { return gradient_checkpointing_; }

  // LoRA adapters (r1/lora.h) are attached to some Linear layers. Code that reads Linear weights directly
  // instead of calling forward() (the engine's fast decode path) must fall back to forward() or merge first.
  bool has_lora() const { return lora_ != nullptr; }
  const LoraConfig* lora_config() const { return lora_.get(); }
  void set_lora_config(std::shared_ptr<const LoraConfig> config) { lora_ = std::move(config); }  // r1/lora.h

 private:
  ModelConfig config_;
  bool gradient_checkpointing_ = false;
  std::shared_ptr<detail::DecoderStackImpl> model_;  // registered as "model"
  std::shared_ptr<detail::LinearImpl> lm_head_;      // registered as "lm_head"; null when tied or a classifier
  std::shared_ptr<detail::LinearImpl> score_;        // registered as "score" in a sequence classifier
  at::Tensor inv_freq_;  // (D/2) fp32 RoPE frequencies (construction device); not a parameter, never written after
  at::Tensor slopes_;    // (H) fp32 ALiBi slopes (construction device); not a parameter, never written after
  std::shared_ptr<const LoraConfig> lora_;  // null: no adapters
};
TORCH_MODULE(Transformer);

// ---- Loading and saving (Hugging Face model directories) ------------------------------------------------------------

struct LoadOptions {
  std::optional<at::ScalarType> dtype;  // unset: float32 (training precision; use convert for storage)
  at::Device device = at::kCPU;
  // Set: load as a sequence classifier with this many labels. A causal LM's directory gives the trunk; its LM head
  // is dropped and the score head starts as N(0, initializer_range) from the global generator (transformers'
  // AutoModelForSequenceClassification.from_pretrained(dir, num_labels=n)). A classifier's directory must have n.
  std::optional<int64_t> num_labels;
};

// Loads config.json and the safetensors weights of `dir`. Every model tensor must be present with its exact
// shape; unknown tensors are an error (RoPE inv_freq buffers and a tied lm_head.weight are skipped).
// A PEFT adapter directory (adapter_config.json, no config.json) loads its base model with the adapter
// merged into the weights (r1/lora.h load_with_adapter + merge_lora), so every consumer sees a plain model.
Transformer load_pretrained(const std::filesystem::path& dir, const LoadOptions& options = {});

struct SaveOptions {
  std::optional<at::ScalarType> dtype;       // unset: the parameters' dtype
  uint64_t max_shard_bytes = 5'000'000'000;  // transformers' default "5GB"; 0 = never shard
  bool overwrite = false;                    // replace a model already in `dir`
};

// Writes config.json, model.safetensors (or shards + index) and, if absent, generation_config.json. Each file
// is written atomically. Refuses a directory that already holds a model unless options.overwrite.
// A model with LoRA adapters writes only its adapter (adapter_config.json + adapter_model.safetensors), as
// PEFT's PeftModel.save_pretrained does; merge_lora() first to write the full model.
void save_pretrained(TransformerImpl& model, const std::filesystem::path& dir, const SaveOptions& options = {});

// (HF name, tensor) for every base parameter (LoRA adapter tensors excluded), tied weights once.
std::vector<std::pair<std::string, at::Tensor>> named_tensors(TransformerImpl& model);

// The tensors a checkpoint of `config` must hold: HF name -> shape, in module order.
std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(const ModelConfig& config);

// True if `dir` holds config.json or weight files.
bool directory_has_model(const std::filesystem::path& dir);

struct ConvertOptions {
  at::ScalarType dtype = at::kBFloat16;  // floating-point tensors are cast to this; integer ones kept
  uint64_t max_shard_bytes = 5'000'000'000;
  bool overwrite = false;  // allow a non-empty `out`
};

// Re-stores the checkpoint in `in` as `out` in another dtype, tensor by tensor (no model is built, so any
// extra tensors survive). config.json is copied with its dtype key changed and every other key kept; the
// other files of `in` (tokenizer, generation config, ...) are copied. `out` must differ from `in`.
void convert_checkpoint(const std::filesystem::path& in, const std::filesystem::path& out,
                        const ConvertOptions& options);

// A copy of `model` with `vocab_size` embedding (and untied LM head) rows. Rows kept from the original are
// copied; each row id in `init` is set to the mean of the original rows of its source ids (how a token added
// to the tokenizer starts out as the average of the pieces it used to be split into); any other new row to
// the mean of all original rows. Source ids must be below the original vocab_size.
Transformer resize_token_embeddings(TransformerImpl& model, int64_t vocab_size,
                                    const std::map<int64_t, std::vector<int32_t>>& init);

// `model` rebuilt with config.pad_token_id = pad and the same weights (`model` itself when it has that pad already),
// as transformers' `model.config.pad_token_id = ...`: a sequence classifier pools at each row's last non-pad token,
// and the pad row of the embedding gets no gradient. The model must have no LoRA adapters (they are not copied).
Transformer with_pad_token_id(Transformer model, int64_t pad);

// What `r1 model info` prints, read from config.json and the safetensors headers only (no weights loaded).
struct CheckpointSummary {
  ModelConfig config;
  int64_t parameters = 0;                 // elements of all stored tensors
  int64_t embedding_parameters = 0;       // embed_tokens (+ lm_head when untied)
  std::map<std::string, int64_t> dtypes;  // safetensors dtype -> number of tensors
  uint64_t weight_bytes = 0;              // size of the weight files
  size_t weight_files = 0;
  std::vector<std::string> problems;  // tensors missing, unexpected or of the wrong shape for the config
};
CheckpointSummary summarize_checkpoint(const std::filesystem::path& dir);

// ---- LM-head losses (src/model/lm-head-losses.cpp), for the trainers and evaluation ---------------------------------
// Causal-LM loss: cross-entropy of logits (B, T, V) against labels (B, T), ignoring label -100, summed
// over tokens, computed in fp32. Returns (loss_sum, number of counted tokens).
std::pair<at::Tensor, int64_t> causal_lm_loss_sum(const at::Tensor& logits, const at::Tensor& labels);
// The same loss from final hidden states (B, T, C) (TransformerImpl::hidden_states) and the model's LM head,
// without materialising the (B·T, V) logits: rows are projected and differentiated chunk by chunk, and rows
// labelled -100 are never projected (Liger-Kernel's fused linear cross-entropy). Under autocast the logits
// are formed in the autocast dtype, as model.logits() would. Prefer it for training: less memory and time.
std::pair<at::Tensor, int64_t> causal_lm_loss_sum(TransformerImpl& model, const at::Tensor& hidden,
                                                  const at::Tensor& labels);

// Per-token log-probabilities log_softmax(hidden @ W^T / temperature)[target] under the model's LM head, for
// final hidden states (N, C) and targets (N), as TRL's selective_log_softmax of logits / temperature, plus
// (with_entropy) each row's entropy (detached). The (N, V) logits are formed in row chunks, never whole: the
// backward recomputes each chunk's logits (one more GEMM) rather than keeping (N, V) probabilities. Under
// autocast the logits are formed in the autocast dtype, as model.logits() would. logp (N) fp32 has the graph.
struct TokenLogprobs {
  at::Tensor logp;     // (N) fp32
  at::Tensor entropy;  // (N) fp32, no graph; undefined unless with_entropy
};
TokenLogprobs token_logprobs(TransformerImpl& model, const at::Tensor& hidden, const at::Tensor& targets,
                             double temperature = 1.0, bool with_entropy = false);

// Generalized Jensen-Shannon divergence of the student's next-token distribution from the teacher's, summed over
// rows: TRL's GKDTrainer.generalized_jsd_loss (GKD, Agarwal et al. 2024, eq. 1) with reduction "sum", at
// temperature 1 as TRL calls it. With s, t the log-softmaxes of the student's and the teacher's logits:
//   beta 0: sum_v p_t (t - s)  (forward KL(teacher || student))   beta 1: sum_v p_s (s - t)  (reverse KL)
//   else:   m = log((1 - beta) p_s + beta p_t),  beta KL(teacher || m) + (1 - beta) KL(student || m)
// computed in fp32 (fp64 for fp64 logits); the teacher gets no gradient. Models whose vocabularies differ in
// size (padded embeddings) are compared over the first min(V_s, V_t) ids. beta outside [0, 1] is an r1::Error.
// From logits (..., V) with labels (...) (rows labelled -100 not counted; undefined: every row):
at::Tensor generalized_jsd_sum(const at::Tensor& student_logits, const at::Tensor& teacher_logits, double beta,
                               const at::Tensor& labels = {});
// From final hidden states (N, C) of the same N positions and the models' LM heads, without the (N, V) logits:
// both models' logits are formed in row chunks (in the autocast dtype under autocast, as model.logits() would),
// and the student's gradients are formed chunk by chunk in the forward.
at::Tensor generalized_jsd_sum(TransformerImpl& student, const at::Tensor& student_hidden, TransformerImpl& teacher,
                               const at::Tensor& teacher_hidden, double beta);

}  // namespace r1::model
