// GGUF export (r1/gguf.h) checked two ways on tiny random Llama (GQA, untied head, Q/K permutation) and Qwen2
// (q/k/v biases, tied head, padded vocabulary) models with a BPE tokenizer trained here:
//   1. an independent parser here reads the file back (header, keys, tensor infos, aligned offsets) and compares
//      the data with the safetensors weights (Llama Q/K rows permuted as convert_hf_to_gguf.py, Q8_0 within
//      half a quantisation step);
//   2. the real llama.cpp (node-llama-cpp's prebuilt binary, tests/reference/gguf-llama.mjs) tokenizes prompts and
//      continues them greedily: tokens equal r1's; f32 continuations equal r1's; f16/bf16 equal up to a first
//      divergence, which must sit where r1's fp32 logits nearly tie (gap below kGapF16 / kGapBf16); q8_0 text
//      scored by r1's fp32 model has a perplexity within kQ8PerplexityRatio of r1's own greedy text.
//      Skipped with a message when node or the npm packages (scripts/fetch-test-assets.sh) are missing.
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <map>
#include <variant>

#include "r1/engine.h"
#include "r1/error.h"
#include "r1/gguf.h"
#include "r1/model.h"
#include "r1/safetensors.h"
#include "r1/tokenizer.h"
#include "test-helpers.h"

namespace fs = std::filesystem;
using nlohmann::json;
using r1::gguf::OutType;

namespace {

constexpr double kGapF16 = 0.02;             // fp32 logit gap a f16 rounding may flip
constexpr double kGapBf16 = 0.15;            // same for bf16 (8 mantissa bits)
constexpr double kQ8PerplexityRatio = 1.10;  // q8_0 continuation perplexity / r1's, under r1's fp32 model

// ---- An independent GGUF reader (ggml/docs/gguf.md)
// -------------------------------------------------------------------

struct GgufTensor {
  std::vector<uint64_t> ne;  // ggml order: ne[0] is the row length
  uint32_t type = 0;
  uint64_t offset = 0;
};
using GgufValue =
    std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<std::string>, std::vector<int64_t>>;
struct GgufFile {
  uint32_t version = 0;
  std::map<std::string, GgufValue> kv;
  std::map<std::string, GgufTensor> tensors;
  std::vector<std::string> order;
  uint64_t data_start = 0;
  std::string bytes;
  const char* data(const std::string& name) const { return bytes.data() + data_start + tensors.at(name).offset; }
};

class Reader {
 public:
  explicit Reader(const std::string& b) : b_(b) {}
  template <typename T>
  T get() {
    T v;
    if (pos_ + sizeof(T) > b_.size()) throw std::runtime_error("truncated");
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str() {
    uint64_t n = get<uint64_t>();
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  GgufValue scalar(uint32_t type) {
    switch (type) {
      case 0:
        return uint64_t(get<uint8_t>());
      case 1:
        return int64_t(get<int8_t>());
      case 2:
        return uint64_t(get<uint16_t>());
      case 3:
        return int64_t(get<int16_t>());
      case 4:
        return uint64_t(get<uint32_t>());
      case 5:
        return int64_t(get<int32_t>());
      case 6:
        return double(get<float>());
      case 7:
        return get<uint8_t>() != 0;
      case 8:
        return str();
      case 10:
        return get<uint64_t>();
      case 11:
        return get<int64_t>();
      case 12:
        return get<double>();
    }
    throw std::runtime_error("bad type " + std::to_string(type));
  }
  GgufValue value(uint32_t type) {
    if (type != 9) return scalar(type);
    uint32_t elem = get<uint32_t>();
    uint64_t n = get<uint64_t>();
    if (elem == 8) {
      std::vector<std::string> v;
      for (uint64_t i = 0; i < n; ++i) v.push_back(str());
      return v;
    }
    std::vector<int64_t> v;
    for (uint64_t i = 0; i < n; ++i) {
      GgufValue x = scalar(elem);
      v.push_back(std::holds_alternative<uint64_t>(x) ? int64_t(std::get<uint64_t>(x)) : std::get<int64_t>(x));
    }
    return v;
  }
  size_t pos() const { return pos_; }

 private:
  const std::string& b_;
  size_t pos_ = 0;
};

GgufFile read_gguf(const fs::path& path) {
  GgufFile f;
  f.bytes = r1::test::read_bytes(path);
  Reader r(f.bytes);
  EXPECT_EQ(r.get<uint32_t>(), 0x46554747u);  // "GGUF"
  f.version = r.get<uint32_t>();
  uint64_t n_tensors = r.get<uint64_t>(), n_kv = r.get<uint64_t>();
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.str();
    f.kv[key] = r.value(r.get<uint32_t>());
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    std::string name = r.str();
    GgufTensor t;
    uint32_t dims = r.get<uint32_t>();
    for (uint32_t d = 0; d < dims; ++d) t.ne.push_back(r.get<uint64_t>());
    t.type = r.get<uint32_t>();
    t.offset = r.get<uint64_t>();
    f.tensors[name] = t;
    f.order.push_back(name);
  }
  uint64_t align = std::get<uint64_t>(f.kv.at("general.alignment"));
  f.data_start = (r.pos() + align - 1) / align * align;
  return f;
}

// ---- The fixture: a trained tokenizer and two tiny models
// -------------------------------------------------------------

const char* kChatMl =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

r1::tokenizer::Tokenizer train_tokenizer(const fs::path& dir, const std::string& pre) {
  {
    std::ofstream corpus(dir / "corpus.txt");
    const char* lines[] = {"What is 12 + 35? The answer is 47.",           "Hello, world! It's a fine day, isn't it?",
                           "They're here; we'll see what you've done.",    "Numbers: 1234567 and 3.14159 and 2,718",
                           "The quick brown fox jumps over the lazy dog.", "  indented\tand\ttabbed\n\nlines  "};
    for (int i = 0; i < 40; ++i)
      for (const char* l : lines) corpus << l << " " << i * 37 << "\n";
  }
  r1::tokenizer::TrainOptions t;
  t.pre_tokenizer = pre;
  t.vocab_size = 330;
  t.special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  t.show_progress = false;
  auto tok = r1::tokenizer::train_tokenizer({dir / "corpus.txt"}, t);
  auto c = tok.config();
  c.eos_token = "<|im_end|>";
  c.pad_token = "<|endoftext|>";
  c.chat_template = kChatMl;
  tok.set_config(c);
  return tok;
}

fs::path make_model(const fs::path& dir, const std::string& type) {
  fs::path out = dir / type;
  auto tok = train_tokenizer(dir, type == "llama" ? "llama3" : "qwen2");
  tok.save(out, true);
  int64_t rows = type == "qwen2" ? (int64_t(tok.vocab_size()) + 31) / 32 * 32 : int64_t(tok.vocab_size());
  json c = {{"model_type", type},
            {"vocab_size", rows},
            {"hidden_size", 64},
            {"intermediate_size", 96},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"max_position_embeddings", 128},
            {"initializer_range", 0.15},
            {"rms_norm_eps", 1e-5},
            {"rope_theta", type == "llama" ? 500000.0 : 10000.0},
            {"eos_token_id", *tok.eos_id()},
            {"tie_word_embeddings", type == "qwen2"}};
  auto config = r1::model::ModelConfig::parse(c.dump(), type);
  torch::manual_seed(type == "llama" ? 5 : 6);
  r1::model::Transformer m(config);
  m->init_weights();
  torch::NoGradGuard no_grad;
  for (auto& layer : m->weights().layers) {
    layer.input_norm.uniform_(0.5, 1.5);  // norms not all ones: a swapped norm would show
    layer.post_norm.uniform_(0.5, 1.5);
    for (at::Tensor b : {layer.q_bias, layer.k_bias, layer.v_bias})
      if (b.defined()) b.normal_(0, 0.5);
  }
  r1::model::save_pretrained(*m, out);
  return out;
}

class GgufTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new r1::test::TempDir();
    for (const char* type : {"llama", "qwen2"}) {
      fs::path model = make_model(dir_->path(), type);
      for (OutType t : {OutType::kF32, OutType::kF16, OutType::kBF16, OutType::kQ8_0})
        r1::gguf::export_gguf(model, gguf_path(type, t), {.outtype = t});
    }
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path model_dir(const std::string& type) { return dir_->path() / type; }
  static fs::path gguf_path(const std::string& type, OutType t) {
    return dir_->path() / (type + "-" + r1::gguf::outtype_name(t) + ".gguf");
  }
  static r1::test::TempDir* dir_;
};
r1::test::TempDir* GgufTest::dir_ = nullptr;

at::Tensor f32_tensor(const GgufFile& f, const std::string& name) {
  const GgufTensor& t = f.tensors.at(name);
  EXPECT_EQ(t.type, 0u) << name;
  std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
  return torch::from_blob(const_cast<char*>(f.data(name)), shape, at::kFloat).clone();
}

// ---- 1. The file read back by our own parser
// ----------------------------------------------------------------------------

TEST_F(GgufTest, HeaderMetadataAndF32TensorsMatchTheWeights) {
  for (const std::string type : {"llama", "qwen2"}) {
    SCOPED_TRACE(type);
    GgufFile f = read_gguf(gguf_path(type, OutType::kF32));
    auto config = r1::model::ModelConfig::load(model_dir(type) / "config.json");
    auto tok = r1::tokenizer::Tokenizer::load(model_dir(type));
    EXPECT_EQ(f.version, 3u);
    EXPECT_EQ(std::get<std::string>(f.kv.at("general.architecture")), type);
    EXPECT_EQ(std::get<uint64_t>(f.kv.at("general.file_type")), 0u);
    EXPECT_EQ(std::get<uint64_t>(f.kv.at(type + ".block_count")), 2u);
    EXPECT_EQ(std::get<uint64_t>(f.kv.at(type + ".embedding_length")), 64u);
    EXPECT_EQ(std::get<uint64_t>(f.kv.at(type + ".feed_forward_length")), 96u);
    EXPECT_EQ(std::get<uint64_t>(f.kv.at(type + ".attention.head_count")), 4u);
    EXPECT_EQ(std::get<uint64_t>(f.kv.at(type + ".attention.head_count_kv")), 2u);
    EXPECT_EQ(std::get<uint64_t>(f.kv.at(type + ".context_length")), 128u);
    EXPECT_FLOAT_EQ(float(std::get<double>(f.kv.at(type + ".rope.freq_base"))), float(config.rope_theta));
    EXPECT_FLOAT_EQ(float(std::get<double>(f.kv.at(type + ".attention.layer_norm_rms_epsilon"))), 1e-5f);
    EXPECT_EQ(std::get<std::string>(f.kv.at("tokenizer.ggml.model")), "gpt2");
    EXPECT_EQ(std::get<std::string>(f.kv.at("tokenizer.ggml.pre")), type == "llama" ? "llama-bpe" : "qwen2");
    EXPECT_EQ(std::get<std::string>(f.kv.at("tokenizer.chat_template")), kChatMl);
    EXPECT_EQ(std::get<uint64_t>(f.kv.at("tokenizer.ggml.eos_token_id")), uint64_t(*tok.eos_id()));
    EXPECT_EQ(std::get<uint64_t>(f.kv.at("tokenizer.ggml.padding_token_id")), uint64_t(*tok.pad_id()));
    EXPECT_FALSE(std::get<bool>(f.kv.at("tokenizer.ggml.add_bos_token")));
    const auto& tokens = std::get<std::vector<std::string>>(f.kv.at("tokenizer.ggml.tokens"));
    const auto& types = std::get<std::vector<int64_t>>(f.kv.at("tokenizer.ggml.token_type"));
    ASSERT_EQ(int64_t(tokens.size()), config.vocab_size);
    ASSERT_EQ(types.size(), tokens.size());
    for (int32_t id = 0; id < int32_t(tokens.size()); ++id) {
      auto t = tok.id_to_token(id);
      EXPECT_EQ(tokens[size_t(id)], t ? *t : "[PAD" + std::to_string(id) + "]");
      EXPECT_EQ(types[size_t(id)], !t ? 5 : tok.is_special(id) ? 3 : 1) << id;
    }
    EXPECT_GT(std::get<std::vector<std::string>>(f.kv.at("tokenizer.ggml.merges")).size(), 10u);

    // Tensor infos: names, ggml dims (row length first), 32-aligned offsets in file order, no overlap.
    auto weights = r1::safetensors::TensorCollection::open_directory(model_dir(type));
    size_t expected_tensors = 3 + 9 * 2 + (type == "qwen2" ? 3 * 2 - 1 : 0);  // qwen2: tied head, 3 biases
    EXPECT_EQ(f.tensors.size(), expected_tensors);
    EXPECT_EQ(f.tensors.count("output.weight"), type == "llama" ? 1u : 0u);
    uint64_t end = 0;
    for (const auto& name : f.order) {
      const GgufTensor& t = f.tensors.at(name);
      EXPECT_EQ(t.offset % 32, 0u) << name;
      EXPECT_GE(t.offset, end) << name;
      uint64_t n = 1;
      for (uint64_t d : t.ne) n *= d;
      end = t.offset + n * 4;
    }
    EXPECT_LE(f.data_start + end, f.bytes.size());
    EXPECT_TRUE(torch::equal(f32_tensor(f, "token_embd.weight"), weights.view("model.embed_tokens.weight")));
    EXPECT_EQ(f.tensors.at("blk.1.ffn_down.weight").ne, (std::vector<uint64_t>{96, 64}));
    EXPECT_TRUE(
        torch::equal(f32_tensor(f, "blk.1.ffn_down.weight"), weights.view("model.layers.1.mlp.down_proj.weight")));
    EXPECT_TRUE(
        torch::equal(f32_tensor(f, "blk.0.attn_norm.weight"), weights.view("model.layers.0.input_layernorm.weight")));
    EXPECT_TRUE(torch::equal(f32_tensor(f, "blk.0.ffn_norm.weight"),
                             weights.view("model.layers.0.post_attention_layernorm.weight")));
    EXPECT_TRUE(
        torch::equal(f32_tensor(f, "blk.0.attn_v.weight"), weights.view("model.layers.0.self_attn.v_proj.weight")));
    // Q and K: llama rows permuted (GGUF row h*D + i holds HF row h*D + (i % 2) * D/2 + i / 2); qwen2 as stored.
    const int64_t D = 16;
    for (const auto& [g, hf] : {std::pair<std::string, std::string>{"blk.1.attn_q", "model.layers.1.self_attn.q_proj"},
                                {"blk.1.attn_k", "model.layers.1.self_attn.k_proj"}}) {
      at::Tensor got = f32_tensor(f, g + ".weight"), want = weights.view(hf + ".weight");
      for (int64_t r = 0; r < want.size(0); ++r) {
        int64_t h = r / D, i = r % D;
        int64_t src = type == "llama" ? h * D + (i % 2) * (D / 2) + i / 2 : r;
        ASSERT_TRUE(torch::equal(got[r], want[src])) << g << " row " << r;
      }
      if (type == "qwen2") {
        EXPECT_TRUE(torch::equal(f32_tensor(f, g + ".bias"), weights.view(hf + ".bias")));
      }
    }
  }
}

TEST_F(GgufTest, Q8_0BlocksAreGgmlsAndNormsStayF32) {
  GgufFile f = read_gguf(gguf_path("llama", OutType::kQ8_0));
  EXPECT_EQ(std::get<uint64_t>(f.kv.at("general.file_type")), 7u);
  EXPECT_EQ(f.tensors.at("blk.0.attn_norm.weight").type, 0u);
  EXPECT_EQ(f.tensors.at("output_norm.weight").type, 0u);
  auto weights = r1::safetensors::TensorCollection::open_directory(model_dir("llama"));
  for (const auto& [g, hf] :
       {std::pair<std::string, std::string>{"blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj.weight"},
        {"token_embd.weight", "model.embed_tokens.weight"}}) {
    ASSERT_EQ(f.tensors.at(g).type, 8u) << g;
    at::Tensor x = weights.view(hf).reshape({-1, 32});  // (blocks, 32)
    const char* p = f.data(g);
    for (int64_t b = 0; b < x.size(0); ++b, p += 34) {
      uint16_t half;
      std::memcpy(&half, p, 2);
      c10::Half d_half;
      d_half.x = half;
      float amax = x[b].abs().max().item<float>();
      float d = float(d_half);
      EXPECT_NEAR(d, amax / 127.0f, amax / 127.0f * 1e-3f + 1e-12f);
      for (int64_t j = 0; j < 32; ++j) {
        float w = x[b][j].item<float>();
        float expected_q = std::round(w * (amax / 127.0f != 0 ? 127.0f / amax : 0.0f));
        EXPECT_LE(std::fabs(float(int8_t(p[2 + j])) - expected_q), 1.0f);  // 1/d vs 127/amax may round apart
        EXPECT_LE(std::fabs(float(int8_t(p[2 + j])) * d - w), d * 0.5f + amax * 2e-3f);
      }
    }
  }
}

TEST_F(GgufTest, F16AndBf16StoreRoundedWeights) {
  auto weights = r1::safetensors::TensorCollection::open_directory(model_dir("qwen2"));
  at::Tensor w = weights.view("model.layers.0.mlp.up_proj.weight");
  for (auto [t, dtype, code] :
       {std::tuple{OutType::kF16, at::kHalf, 1u}, std::tuple{OutType::kBF16, at::kBFloat16, 30u}}) {
    GgufFile f = read_gguf(gguf_path("qwen2", t));
    ASSERT_EQ(f.tensors.at("blk.0.ffn_up.weight").type, code);
    at::Tensor got = torch::from_blob(const_cast<char*>(f.data("blk.0.ffn_up.weight")), w.sizes(), dtype);
    EXPECT_TRUE(torch::equal(got, w.to(dtype)));
    EXPECT_EQ(f.tensors.at("blk.0.attn_q.bias").type, 0u);
  }
}

TEST_F(GgufTest, RefusesWhatLlamaCppCannotRepresent) {
  r1::test::TempDir tmp;
  // A sequence classifier.
  fs::path cls = tmp / "cls";
  fs::create_directories(cls);
  fs::copy(model_dir("llama"), cls, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  json c = json::parse(r1::test::read_bytes(cls / "config.json"));
  c["architectures"] = {"LlamaForSequenceClassification"};
  c["id2label"] = {{"0", "LABEL_0"}};
  r1::test::write_bytes(cls / "config.json", c.dump());
  R1_EXPECT_THROW_WITH(r1::gguf::export_gguf(cls, tmp / "x.gguf"), r1::UsageError, "sequence classifier");
  // A WordPiece tokenizer.
  fs::path wp = tmp / "wp";
  fs::copy(model_dir("llama"), wp, fs::copy_options::recursive);
  r1::tokenizer::TrainOptions t;
  t.model = "wordpiece";
  t.pre_tokenizer = "bert";
  t.vocab_size = 100;
  t.special_tokens = {"[UNK]"};
  t.show_progress = false;
  r1::tokenizer::train_tokenizer({dir_->path() / "corpus.txt"}, t).save(wp, true);
  R1_EXPECT_THROW_WITH(r1::gguf::export_gguf(wp, tmp / "x.gguf"), r1::UsageError, "WordPiece");
  // A byte-level regex llama.cpp has no pre-tokenizer for.
  json tj = json::parse(r1::test::read_bytes(model_dir("llama") / "tokenizer.json"));
  tj["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\p{L}+|\\s+|.";
  fs::path odd = tmp / "odd";
  fs::copy(model_dir("llama"), odd, fs::copy_options::recursive);
  r1::test::write_bytes(odd / "tokenizer.json", tj.dump());
  R1_EXPECT_THROW_WITH(r1::gguf::export_gguf(odd, tmp / "x.gguf"), r1::UsageError, "pre-tokenizer");
  // No overwriting without asking.
  R1_EXPECT_THROW_WITH(r1::gguf::export_gguf(model_dir("llama"), gguf_path("llama", OutType::kF32)), r1::UsageError,
                       "--overwrite");
}

TEST_F(GgufTest, CliWritesGgufAndOllamaModelfile) {
  r1::test::TempDir tmp;
  auto r = r1::test::run_r1("model export-gguf " + model_dir("qwen2").string() + " --out " + (tmp / "m.gguf").string() +
                            " --outtype q8_0 --ollama");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_gguf(tmp / "m.gguf").tensors.size(), 26u);
  std::string modelfile = r1::test::read_bytes(tmp / "Modelfile");
  EXPECT_NE(modelfile.find("FROM ./m.gguf\n"), std::string::npos) << modelfile;
  EXPECT_NE(modelfile.find("TEMPLATE \"\"\"{{ if .System }}<|im_start|>system"), std::string::npos) << modelfile;
  EXPECT_NE(modelfile.find("PARAMETER stop \"<|im_end|>\""), std::string::npos) << modelfile;
  r = r1::test::run_r1("model export-gguf " + model_dir("qwen2").string() + " --out " + (tmp / "m.gguf").string() +
                       " --outtype q4");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--outtype"), std::string::npos) << r.output;
}

// ---- 2. The real llama.cpp
// --------------------------------------------------------------------------------------------

const std::vector<std::string> kTexts = {
    "What is 12 + 35? The answer is",
    "Hello, world! It's a fine day, isn't it?",
    "They're here; WE'LL see what you've done.",
    "Numbers: 1234567 and 3.14159\n\n  indented\tand\ttabbed  ",
    "caf\xc3\xa9 na\xc3\xafve \xe4\xbd\xa0\xe5\xa5\xbd <|im_start|>user\nhi<|im_end|>",
    "The quick brown fox",
};

std::vector<int32_t> ids_of(const json& j) { return j.get<std::vector<int32_t>>(); }

// Skips the calling test unless node and the node-llama-cpp packages are installed.
#define R1_REQUIRE_LLAMA_CPP(assets)                                                                             \
  do {                                                                                                           \
    if (std::system("node --version > /dev/null 2>&1") != 0)                                                     \
      GTEST_SKIP() << "node not found: llama.cpp check skipped";                                                 \
    if (!fs::exists((assets) / "llama-cpp" / "node_modules" / "node-llama-cpp") ||                               \
        !fs::exists((assets) / "llama-cpp" / "node_modules" / "@node-llama-cpp" / "linux-x64"))                  \
      GTEST_SKIP() << "node-llama-cpp missing: run scripts/fetch-test-assets.sh " << (assets) << " (needs npm)"; \
  } while (0)

json run_llama_cpp(const json& request, const fs::path& work) {
  const fs::path script = fs::path(R1_SOURCE_DIR) / "tests" / "reference" / "gguf-llama.mjs";
  r1::test::write_bytes(work / "request.json", request.dump());
  std::string cmd = "node " + script.string() + " " + R1_TEST_ASSETS + " " + (work / "request.json").string() + " > " +
                    (work / "response.json").string() + " 2> " + (work / "node.log").string();
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error(r1::test::read_bytes(work / "node.log"));
  return json::parse(r1::test::read_bytes(work / "response.json"));
}

// Mean negative log-likelihood of `continuation` after `prompt` under r1's fp32 model; also the logit gap
// (max - chosen) at each continuation position.
double mean_nll(r1::model::TransformerImpl& m, const std::vector<int32_t>& prompt,
                const std::vector<int32_t>& continuation, std::vector<double>* gaps) {
  std::vector<int64_t> all(prompt.begin(), prompt.end());
  all.insert(all.end(), continuation.begin(), continuation.end());
  torch::NoGradGuard no_grad;
  at::Tensor logits = m.forward(torch::tensor(all).unsqueeze(0))[0];  // (T, V)
  at::Tensor logp = torch::log_softmax(logits, -1);
  double nll = 0;
  for (size_t j = 0; j < continuation.size(); ++j) {
    int64_t pos = int64_t(prompt.size() + j) - 1;
    nll -= logp[pos][continuation[j]].item<double>();
    if (gaps) gaps->push_back((logits[pos].max() - logits[pos][continuation[j]]).item<double>());
  }
  return nll / double(continuation.size());
}

TEST_F(GgufTest, LlamaCppTokenizesAndContinuesLikeR1) {
  R1_REQUIRE_LLAMA_CPP(fs::path(R1_TEST_ASSETS));
  constexpr int64_t kNew = 16;
  const std::vector<OutType> outtypes = {OutType::kF32, OutType::kF16, OutType::kBF16, OutType::kQ8_0};
  // One llama.cpp thread: a tiny model gains nothing from more, and on a busy 2-core machine ggml's spinning
  // threads slow it 40x.
  json request = {{"threads", 1}, {"models", json::array()}};
  std::map<std::string, std::vector<std::vector<int32_t>>> r1_tokens, r1_greedy;
  for (const std::string type : {"llama", "qwen2"}) {
    auto tok = r1::tokenizer::Tokenizer::load(model_dir(type));
    r1::engine::Engine engine(r1::model::load_pretrained(model_dir(type)), {.max_batch = 8});
    std::vector<r1::engine::Request> requests;
    for (const auto& text : kTexts) {
      r1_tokens[type].push_back(tok.encode(text, true));
      r1::engine::Request q{.prompt = r1_tokens[type].back()};
      q.params.temperature = 0;
      q.params.max_new_tokens = kNew;
      q.params.ignore_eos = true;
      requests.push_back(q);
    }
    for (const auto& result : engine.generate(requests)) r1_greedy[type].push_back(result.samples[0].tokens);
    for (OutType t : outtypes)
      request["models"].push_back(
          {{"path", gguf_path(type, t).string()}, {"texts", kTexts}, {"prompts", r1_tokens[type]}, {"n", kNew}});
  }
  json response = run_llama_cpp(request, dir_->path());

  size_t m = 0;
  for (const std::string type : {"llama", "qwen2"}) {
    auto model = r1::model::load_pretrained(model_dir(type));
    for (OutType t : outtypes) {
      const json& got = response["models"][m++];
      SCOPED_TRACE(type + " " + r1::gguf::outtype_name(t));
      EXPECT_EQ(got["metadata"]["general.architecture"], type);  // @huggingface/gguf reads our header
      EXPECT_EQ(got["metadata"]["tokenizer.ggml.tokens"]["length"], model->config().vocab_size);
      for (size_t i = 0; i < kTexts.size(); ++i) EXPECT_EQ(ids_of(got["tokens"][i]), r1_tokens[type][i]) << kTexts[i];
      size_t agree = 0, total = 0;
      double nll_r1 = 0, nll_cpp = 0;
      for (size_t i = 0; i < kTexts.size(); ++i) {
        std::vector<int32_t> cpp = ids_of(got["continuations"][i]), ref = r1_greedy[type][i];
        ASSERT_EQ(cpp.size(), size_t(kNew));
        size_t first = 0;
        while (first < cpp.size() && cpp[first] == ref[first]) ++first;
        agree += first;
        total += cpp.size();
        std::vector<double> gaps;
        nll_cpp += mean_nll(*model, r1_tokens[type][i], cpp, &gaps) / double(kTexts.size());
        nll_r1 += mean_nll(*model, r1_tokens[type][i], ref, nullptr) / double(kTexts.size());
        if (t == OutType::kF32) {
          EXPECT_EQ(cpp, ref) << kTexts[i];
        } else if (t != OutType::kQ8_0 && first < cpp.size()) {
          EXPECT_LT(gaps[first], t == OutType::kF16 ? kGapF16 : kGapBf16)
              << kTexts[i] << ": llama.cpp left r1's greedy path at token " << first << " where r1's logits do not tie";
        }
      }
      double ratio = std::exp(nll_cpp - nll_r1);
      std::printf("[ gguf ] %s %-4s: llama.cpp greedy == r1 for %zu/%zu tokens; perplexity ratio %.4f\n", type.c_str(),
                  r1::gguf::outtype_name(t).c_str(), agree, total, ratio);
      if (t == OutType::kQ8_0) {
        EXPECT_LT(ratio, kQ8PerplexityRatio);
      }
    }
  }
}

// The Hub's GPT-2, Llama-3 and Qwen2.5 tokenizers (real merges, added tokens, Llama-3's ignore_merges) under the
// pre-tokenizer names the export picks: llama.cpp's ids equal r1's (which equal HF tokenizers', test-tokenizer).
TEST_F(GgufTest, HubTokenizersTokenizeInLlamaCppAsInR1) {
  R1_REQUIRE_LLAMA_CPP(fs::path(R1_TEST_ASSETS));
  const std::vector<std::string> texts = {
      "Hello world! It's 2024; they'll see 1234567 items.",
      "  leading spaces\n\n\ttabs and   runs of   spaces  ",
      "caf\xc3\xa9 na\xc3\xafve \xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c "
      "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xf0\x9f\x98\x80",
      "def f(x):\n    return x**2  # comment\n",
      "THEY'RE WE'VE I'M l'amour 3.14159e-10 $1,000,000",
  };
  r1::test::TempDir tmp;
  json request = {{"threads", 1}, {"models", json::array()}};
  std::vector<std::vector<std::vector<int32_t>>> expected;
  std::vector<std::string> names;
  for (const std::string package : {"gpt2", "llama3", "qwen2_5"}) {
    fs::path models = fs::path(R1_TEST_ASSETS) / "node_modules" / "@lenml" / ("tokenizer-" + package) / "models";
    if (!fs::exists(models / "tokenizer.json")) continue;
    fs::path dir = tmp / package;
    fs::create_directories(dir);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      if (fs::exists(models / f)) fs::copy_file(models / f, dir / f);
    auto tok = r1::tokenizer::Tokenizer::load(dir);
    auto config = r1::model::ModelConfig::parse(json{{"model_type", package == "qwen2_5" ? "qwen2" : "llama"},
                                                     {"vocab_size", tok.vocab_size()},
                                                     {"hidden_size", 32},
                                                     {"intermediate_size", 32},
                                                     {"num_hidden_layers", 1},
                                                     {"num_attention_heads", 2},
                                                     {"num_key_value_heads", 2}}
                                                    .dump(),
                                                package);
    r1::model::Transformer m(config);
    m->init_weights();
    r1::model::save_pretrained(*m, dir);
    auto report = r1::gguf::export_gguf(dir, tmp / (package + ".gguf"), {.outtype = OutType::kF16});
    EXPECT_EQ(report.pre_tokenizer, package == "gpt2" ? "gpt-2" : package == "llama3" ? "llama-bpe" : "qwen2");
    std::vector<std::vector<int32_t>> ids;
    for (const auto& t : texts) ids.push_back(tok.encode(t, false));
    expected.push_back(ids);
    names.push_back(package);
    request["models"].push_back(
        {{"path", (tmp / (package + ".gguf")).string()}, {"texts", texts}, {"prompts", json::array()}, {"n", 0}});
  }
  if (names.empty()) GTEST_SKIP() << "Hub tokenizers missing: run scripts/fetch-test-assets.sh";
  json response = run_llama_cpp(request, tmp.path());
  for (size_t m = 0; m < names.size(); ++m)
    for (size_t i = 0; i < texts.size(); ++i)
      EXPECT_EQ(ids_of(response["models"][m]["tokens"][i]), expected[m][i]) << names[m] << ": " << texts[i];
}

// RoPE scaling: llama3's per-frequency factors travel as rope_freqs.weight (1 for high frequencies, `factor` for low
// ones, smoothed between), linear as rope.scaling.*; llama.cpp's greedy text equals r1's with llama3 scaling.
TEST_F(GgufTest, RopeScalingIsExportedAndRunsAlikeInLlamaCpp) {
  r1::test::TempDir tmp;
  fs::path dir = tmp / "llama3";
  fs::copy(model_dir("llama"), dir, fs::copy_options::recursive);
  json c = json::parse(r1::test::read_bytes(dir / "config.json"));
  // original_max_position_embeddings 64: with D 16 and theta 5e5 the wavelengths span all three bands.
  c["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 64}};
  r1::test::write_bytes(dir / "config.json", c.dump());
  r1::gguf::export_gguf(dir, tmp / "llama3.gguf", {.outtype = OutType::kF32});
  GgufFile f = read_gguf(tmp / "llama3.gguf");
  at::Tensor factors = f32_tensor(f, "rope_freqs.weight");  // (D/2)
  ASSERT_EQ(factors.size(0), 8);
  EXPECT_FLOAT_EQ(factors[0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(factors[7].item<float>(), 8.0f);
  EXPECT_GT(((factors > 1.0f) & (factors < 8.0f)).sum().item<int64_t>(), 0);  // the smoothed band
  c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  r1::test::write_bytes(dir / "config.json", c.dump());
  r1::gguf::export_gguf(dir, tmp / "linear.gguf", {.outtype = OutType::kF32});
  GgufFile lin = read_gguf(tmp / "linear.gguf");
  EXPECT_EQ(std::get<std::string>(lin.kv.at("llama.rope.scaling.type")), "linear");
  EXPECT_FLOAT_EQ(float(std::get<double>(lin.kv.at("llama.rope.scaling.factor"))), 2.0f);

  R1_REQUIRE_LLAMA_CPP(fs::path(R1_TEST_ASSETS));
  c["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 64}};
  r1::test::write_bytes(dir / "config.json", c.dump());
  auto tok = r1::tokenizer::Tokenizer::load(dir);
  r1::engine::Engine engine(r1::model::load_pretrained(dir), {.max_batch = 2});
  std::vector<r1::engine::Request> requests;
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& text : {kTexts[0], kTexts[3]}) {
    prompts.push_back(tok.encode(text, true));
    r1::engine::Request q{.prompt = prompts.back()};
    q.params.temperature = 0;
    q.params.max_new_tokens = 24;
    q.params.ignore_eos = true;
    requests.push_back(q);
  }
  auto results = engine.generate(requests);
  json request = {
      {"threads", 1},
      {"models",
       {{{"path", (tmp / "llama3.gguf").string()}, {"texts", json::array()}, {"prompts", prompts}, {"n", 24}}}}};
  json response = run_llama_cpp(request, tmp.path());
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(ids_of(response["models"][0]["continuations"][i]), results[i].samples[0].tokens) << i;
}

}  // namespace
