// config.json parsing against real Hub configs (Qwen2.5-0.5B, Llama-3.2-1B, DeepSeek-R1-Distill-Qwen-1.5B),
// whose published parameter counts check the tensor list; transformers' defaults; round trip; errors that
// name the file and key; size and dtype parsing.
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "model/layers.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/model.h"
#include "test-helpers.h"

using r1::model::ModelConfig;

namespace {

const char* kQwen25_05B = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
  "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02, "intermediate_size": 4864,
  "max_position_embeddings": 32768, "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 14,
  "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
  "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.43.1",
  "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})";

const char* kLlama32_1B = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009], "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
  "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false,
  "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_cache": true,
  "vocab_size": 128256})";

const char* kR1DistillQwen15B = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151643,
  "hidden_act": "silu", "hidden_size": 1536, "initializer_range": 0.02, "intermediate_size": 8960,
  "max_position_embeddings": 131072, "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 12,
  "num_hidden_layers": 28, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 10000,
  "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true,
  "use_mrope": false, "use_sliding_window": false, "vocab_size": 151936})";

int64_t parameter_count(const ModelConfig& c) {
  int64_t n = 0;
  for (const auto& [name, shape] : r1::model::expected_tensors(c)) {
    int64_t k = 1;
    for (int64_t d : shape) k *= d;
    n += k;
  }
  return n;
}

}  // namespace

TEST(Config, ParsesHubConfigsWithTheirPublishedParameterCounts) {
  ModelConfig qwen = ModelConfig::parse(kQwen25_05B, "qwen.json");
  EXPECT_EQ(qwen.model_type, "qwen2");
  EXPECT_TRUE(qwen.qkv_bias());
  EXPECT_FALSE(qwen.o_bias());
  EXPECT_EQ(qwen.resolved_head_dim(), 64);
  EXPECT_EQ(qwen.torch_dtype, "bfloat16");
  EXPECT_EQ(qwen.eos_token_id, std::vector<int64_t>{151645});
  EXPECT_EQ(parameter_count(qwen), 494'032'768);  // Qwen2.5-0.5B

  ModelConfig llama = ModelConfig::parse(kLlama32_1B, "llama.json");
  EXPECT_FALSE(llama.qkv_bias());
  EXPECT_EQ(llama.rope_scaling.rope_type, "llama3");
  EXPECT_DOUBLE_EQ(llama.rope_scaling.factor, 32.0);
  EXPECT_EQ(llama.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(llama.eos_token_id, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(parameter_count(llama), 1'235'814'400);  // Llama-3.2-1B

  ModelConfig distill = ModelConfig::parse(kR1DistillQwen15B, "distill.json");
  EXPECT_FALSE(distill.tie_word_embeddings);
  EXPECT_EQ(parameter_count(distill), 1'777'088'000);  // DeepSeek-R1-Distill-Qwen-1.5B
}

// transformers >= 5 keeps RoPE's settings in "rope_parameters", rope_theta included (no top-level key).
TEST(Config, ReadsTransformers5RopeParameters) {
  ModelConfig plain = ModelConfig::parse(
      R"({"model_type": "qwen2", "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}})", "q.json");
  EXPECT_DOUBLE_EQ(plain.rope_theta, 1e6);
  EXPECT_EQ(plain.rope_scaling.rope_type, "default");
  ModelConfig llama3 = ModelConfig::parse(R"({"model_type": "llama", "rope_parameters": {"rope_type": "llama3",
      "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192}})",
                                          "l.json");
  EXPECT_DOUBLE_EQ(llama3.rope_theta, 5e5);
  EXPECT_EQ(llama3.rope_scaling.rope_type, "llama3");
  EXPECT_DOUBLE_EQ(llama3.rope_scaling.factor, 32.0);
  EXPECT_EQ(llama3.rope_scaling.original_max_position_embeddings, 8192);
  R1_EXPECT_THROW_WITH(
      ModelConfig::parse(R"({"model_type": "llama", "rope_parameters": {"rope_type": "linear"}})", "bad.json"),
      r1::Error, "bad.json", "rope_parameters of type 'linear' lacks factor");
}

TEST(Config, MissingKeysTakeTransformersDefaults) {
  ModelConfig llama = ModelConfig::parse(R"({"model_type": "llama", "num_attention_heads": 8})", "x.json");
  EXPECT_EQ(llama.vocab_size, 32000);
  EXPECT_EQ(llama.hidden_size, 4096);
  EXPECT_EQ(llama.num_key_value_heads, 8);  // None -> num_attention_heads
  EXPECT_EQ(llama.max_position_embeddings, 2048);
  ModelConfig qwen = ModelConfig::parse(R"({"architectures": ["Qwen2ForCausalLM"]})", "x.json");
  EXPECT_EQ(qwen.model_type, "qwen2");
  EXPECT_EQ(qwen.vocab_size, 151936);
  EXPECT_EQ(qwen.max_position_embeddings, 32768);
  // transformers >= 4.56 writes "dtype" instead of "torch_dtype"
  EXPECT_EQ(ModelConfig::parse(R"({"model_type": "llama", "dtype": "float16"})", "x.json").torch_dtype, "float16");
}

TEST(Config, RoundTripThroughJson) {
  for (const char* text : {kQwen25_05B, kLlama32_1B, kR1DistillQwen15B}) {
    ModelConfig a = ModelConfig::parse(text, "a.json");
    ModelConfig b = ModelConfig::parse(a.to_json(), "b.json");
    EXPECT_EQ(a.to_json(), b.to_json());
    EXPECT_EQ(r1::model::expected_tensors(a), r1::model::expected_tensors(b));
  }
  ModelConfig alibi = ModelConfig::parse(R"({"model_type": "llama", "position_embedding_type": "alibi"})", "x.json");
  EXPECT_EQ(ModelConfig::parse(alibi.to_json(), "y").position_embedding_type, r1::model::PositionEncoding::kAlibi);
}

TEST(Config, ErrorsNameTheFileAndTheKey) {
  auto bad = [](const std::string& json, std::initializer_list<std::string> fragments) {
    try {
      ModelConfig::parse(json, "cfg.json");
      ADD_FAILURE() << "accepted: " << json;
    } catch (const r1::Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("cfg.json"), std::string::npos) << msg;
      for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg << " lacks " << f;
    }
  };
  bad("{", {"not valid JSON"});
  bad("[]", {"JSON object"});
  bad("{}", {"model_type", "architectures"});
  bad(R"({"model_type": "gpt2"})", {"'gpt2'", "not supported"});
  bad(R"({"architectures": ["MistralForCausalLM"]})", {"MistralForCausalLM"});
  bad(R"({"model_type": "llama", "hidden_size": "big"})", {"\"hidden_size\"", "integer", "\"big\""});
  bad(R"({"model_type": "llama", "hidden_size": 100, "num_attention_heads": 8})", {"not divisible"});
  bad(R"({"model_type": "llama", "num_attention_heads": 8, "num_key_value_heads": 3})", {"multiple of"});
  bad(R"({"model_type": "llama", "num_hidden_layers": 0})", {"num_hidden_layers", "positive"});
  bad(R"({"model_type": "llama", "hidden_act": "gelu"})", {"hidden_act", "gelu"});
  bad(R"({"model_type": "qwen2", "use_sliding_window": true})", {"use_sliding_window"});
  bad(R"({"model_type": "llama", "rope_scaling": {"rope_type": "yarn", "factor": 4.0}})", {"'yarn'"});
  bad(R"({"model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 8.0}})",
      {"rope_scaling", "'llama3' lacks low_freq_factor, high_freq_factor, original_max_position_embeddings"});
  bad(R"({"model_type": "llama", "rope_scaling": {"type": "linear"}})", {"'linear' lacks factor"});
  bad(R"({"model_type": "llama", "num_hidden_layers": 1000000000})", {"num_hidden_layers", "exceeds 4096"});
  bad(R"({"model_type": "llama", "max_position_embeddings": 1000000000000})", {"max_position_embeddings", "exceeds"});
  bad(R"({"model_type": "llama", "vocab_size": 100000000})", {"vocab_size", "exceeds"});
  bad(R"({"model_type": "llama", "x": )" + std::string(600, '[') + std::string(600, ']') + "}",
      {"not valid JSON", "nested deeper than 512"});
  bad(R"({"model_type": "llama", "torch_dtype": "int8"})", {"torch_dtype", "int8"});
  bad(R"({"model_type": "llama", "vocab_size": 10, "eos_token_id": 10})", {"eos_token_id", "outside"});
  bad(R"({"model_type": "llama", "eos_token_id": "x"})", {"eos_token_id"});
  R1_EXPECT_THROW_WITH(ModelConfig::load("/nonexistent/config.json"), r1::Error, "/nonexistent/config.json",
                       "not found");
}

TEST(Config, RopeInverseFrequencies) {
  ModelConfig c = ModelConfig::parse(R"({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4,
                                         "rope_theta": 10000.0})",
                                     "x");
  at::Tensor f = r1::model::detail::rope_inverse_frequencies(c);  // D = 16: theta^(-2i/16), i = 0..7
  ASSERT_EQ(f.numel(), 8);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(f[i].item<float>(), std::pow(10000.0, -2.0 * i / 16), 1e-7);
  c.rope_scaling.rope_type = "linear";
  c.rope_scaling.factor = 4.0;
  EXPECT_NEAR(r1::model::detail::rope_inverse_frequencies(c)[3].item<float>(), std::pow(10000.0, -6.0 / 16) / 4, 1e-8);
}

TEST(Config, AlibiSlopesMatchThePaper) {
  // Press et al.: for 8 heads the slopes are 1/2, 1/4, ..., 1/256.
  at::Tensor s8 = r1::model::detail::alibi_slopes(8);
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(s8[i].item<float>(), std::pow(0.5f, i + 1));
  // 6 heads: the 4-head sequence (1/4 .. 1/256) then every other slope of the 8-head one (1/2, 1/8).
  at::Tensor s6 = r1::model::detail::alibi_slopes(6);
  std::vector<float> want = {0.25f, 1.0f / 16, 1.0f / 64, 1.0f / 256, 0.5f, 0.125f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(s6[i].item<float>(), want[i]);
}

TEST(Units, ByteSizesAndDtypes) {
  EXPECT_EQ(r1::parse_byte_size("5GB", "--x"), 5'000'000'000u);
  EXPECT_EQ(r1::parse_byte_size("500MB", "--x"), 500'000'000u);
  EXPECT_EQ(r1::parse_byte_size("2GiB", "--x"), 2147483648u);
  EXPECT_EQ(r1::parse_byte_size("1.5kb", "--x"), 1500u);
  EXPECT_EQ(r1::parse_byte_size("0", "--x"), 0u);
  R1_EXPECT_THROW_WITH(r1::parse_byte_size("5 GB", "--max-shard-size"), r1::UsageError, "--max-shard-size", "'5 GB'");
  R1_EXPECT_THROW_WITH(r1::parse_byte_size("lots", "--x"), r1::UsageError, "'lots'");
  EXPECT_EQ(r1::model::parse_dtype("bf16"), at::kBFloat16);
  EXPECT_EQ(r1::model::parse_dtype("float16"), at::kHalf);
  R1_EXPECT_THROW_WITH(r1::model::parse_dtype("int4"), r1::UsageError, "'int4'");
  EXPECT_EQ(r1::format_count(5'250'000), "5.25 M");
  EXPECT_EQ(r1::format_bytes(21'000'000), "21 MB");
}
