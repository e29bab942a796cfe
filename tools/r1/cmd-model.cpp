// `r1 model init | info | convert`: create a randomly initialised Hugging Face model directory, describe
// one (from config.json and the safetensors headers, without loading weights), and re-store one in
// another dtype. The work is done by the library (r1/model.h); this file parses options and prints.
#include <fmt/format.h>
#include <torch/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "r1/error.h"
#include "r1/gguf.h"
#include "r1/io.h"
#include "r1/model.h"
#include "r1/tokenizer.h"

namespace r1::cli {
namespace fs = std::filesystem;
using model::ModelConfig;

namespace {

struct ModelOptions {
  std::string config, out, dir, dtype = "float32", max_shard_size = "5GB", tokenizer, old_tokenizer;
  std::string outtype = "f16", name;
  bool ollama = false;
  int64_t pad_to_multiple_of = 1;
  bool overwrite = false, json = false;
};

at::Device device_of(const Invocation& ctx) { return at::Device(ctx.runtime.device); }

at::ScalarType dtype_option(const std::string& value) {
  try {
    return model::parse_dtype(value);
  } catch (const UsageError& e) {
    fail_usage("--dtype: {}", e.what());
  }
}

int run_init(const Invocation& ctx, const ModelOptions& o) {
  ModelConfig config = ModelConfig::load(o.config);
  at::ScalarType dtype = dtype_option(o.dtype);
  // Initialise in fp32 on the chosen device (as HF), then store in the requested dtype.
  model::Transformer net(config, torch::TensorOptions().dtype(at::kFloat).device(device_of(ctx)));
  net->init_weights();
  model::SaveOptions save;
  save.dtype = dtype;
  save.overwrite = o.overwrite;
  save.max_shard_bytes = parse_byte_size(o.max_shard_size, "--max-shard-size");
  model::save_pretrained(*net, o.out, save);
  fmt::print("initialised {} ({} parameters, {}, seed {}) in {}\n", config.architecture(),
             format_count(net->num_parameters()), model::dtype_name(dtype), ctx.runtime.seed, o.out);
  return 0;
}

int run_info(const ModelOptions& o) {
  auto s = model::summarize_checkpoint(o.dir);
  const ModelConfig& c = s.config;
  std::string dtypes;
  for (const auto& [name, count] : s.dtypes)
    dtypes += fmt::format("{}{} x {}", dtypes.empty() ? "" : ", ", name, count);
  const int64_t H = c.num_attention_heads, Hkv = c.num_key_value_heads;
  std::string attention = Hkv == H   ? "multi-head"
                          : Hkv == 1 ? "multi-query"
                                     : fmt::format("grouped-query {}:1", H / Hkv);
  std::string positions =
      c.position_embedding_type == model::PositionEncoding::kAlibi
          ? std::string("ALiBi")
          : fmt::format("RoPE theta={}{}", c.rope_theta,
                        c.rope_scaling.rope_type == "default" ? "" : ", scaling " + c.rope_scaling.rope_type);
  if (o.json) {
    nlohmann::json j = {{"path", o.dir},
                        {"architecture", c.architecture()},
                        {"model_type", c.model_type},
                        {"parameters", s.parameters},
                        {"embedding_parameters", s.embedding_parameters},
                        {"num_hidden_layers", c.num_hidden_layers},
                        {"hidden_size", c.hidden_size},
                        {"intermediate_size", c.intermediate_size},
                        {"num_attention_heads", H},
                        {"num_key_value_heads", Hkv},
                        {"head_dim", c.resolved_head_dim()},
                        {"vocab_size", c.vocab_size},
                        {"max_position_embeddings", c.max_position_embeddings},
                        {"tie_word_embeddings", c.tie_word_embeddings},
                        {"torch_dtype", c.torch_dtype},
                        {"stored_dtypes", s.dtypes},
                        {"weight_bytes", s.weight_bytes},
                        {"weight_files", s.weight_files},
                        {"problems", s.problems}};
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("model          {}\n", o.dir);
    fmt::print("architecture   {} ({})\n", c.architecture(), c.model_type);
    fmt::print("parameters     {} ({} in embeddings{})\n", format_count(s.parameters),
               format_count(s.embedding_parameters), c.tie_word_embeddings ? ", tied to the LM head" : " and LM head");
    fmt::print("layers         {} x (hidden {}, intermediate {})\n", c.num_hidden_layers, c.hidden_size,
               c.intermediate_size);
    fmt::print("attention      {} heads x {}, {} key/value heads ({}), {}\n", H, c.resolved_head_dim(), Hkv, attention,
               positions);
    fmt::print("vocabulary     {} tokens, max positions {}\n", c.vocab_size, c.max_position_embeddings);
    fmt::print("dtype          {} (stored: {})\n", c.torch_dtype, dtypes);
    fmt::print("weights        {} file(s), {}\n", s.weight_files, format_bytes(s.weight_bytes));
    if (s.problems.empty()) fmt::print("check          weights match config.json\n");
    for (const auto& p : s.problems) fmt::print("problem        {}\n", p);
  }
  return s.problems.empty() ? 0 : 1;
}

int run_convert(const ModelOptions& o) {
  model::ConvertOptions options;
  options.dtype = dtype_option(o.dtype);
  options.overwrite = o.overwrite;
  options.max_shard_bytes = parse_byte_size(o.max_shard_size, "--max-shard-size");
  model::convert_checkpoint(o.dir, o.out, options);
  fmt::print("converted {} to {} in {}\n", o.dir, model::dtype_name(options.dtype), o.out);
  return 0;
}

int run_resize(const ModelOptions& o) {
  namespace tk = r1::tokenizer;
  if (o.pad_to_multiple_of < 1) fail_usage("--pad-to-multiple-of must be >= 1");
  std::string old_path = o.old_tokenizer.empty() ? o.dir : o.old_tokenizer;
  if (!fs::exists(fs::path(old_path) / "tokenizer.json") && !fs::is_regular_file(old_path))
    fail_usage("{} has no tokenizer.json: name the model's original tokenizer with --old-tokenizer", old_path);
  tk::Tokenizer old_tok = tk::Tokenizer::load(old_path), new_tok = tk::Tokenizer::load(o.tokenizer);
  for (int32_t id = 0; id < int32_t(old_tok.vocab_size()); ++id)
    if (old_tok.id_to_token(id) != new_tok.id_to_token(id))
      fail("{}: token id {} differs from the old tokenizer ('{}' vs '{}'); resizing needs an extension that keeps ids",
           o.tokenizer, id, old_tok.id_to_token(id).value_or("-"), new_tok.id_to_token(id).value_or("-"));
  model::Transformer net = model::load_pretrained(o.dir);
  int64_t wanted = int64_t(new_tok.vocab_size());
  wanted = (wanted + o.pad_to_multiple_of - 1) / o.pad_to_multiple_of * o.pad_to_multiple_of;
  wanted = std::max(wanted, net->config().vocab_size);
  std::map<int64_t, std::vector<int32_t>> init;
  auto pieces = tk::decompose_new_tokens(old_tok, new_tok);
  for (size_t i = 0; i < pieces.size(); ++i) init[int64_t(old_tok.vocab_size() + i)] = pieces[i];
  model::Transformer resized = model::resize_token_embeddings(*net, wanted, init);
  model::SaveOptions save;
  save.overwrite = o.overwrite;
  save.dtype = model::parse_dtype(model::ModelConfig::load(fs::path(o.dir) / "config.json").torch_dtype);
  model::save_pretrained(*resized, o.out, save);
  new_tok.save(o.out, o.overwrite);
  if (fs::exists(fs::path(o.dir) / "generation_config.json") && !fs::exists(fs::path(o.out) / "generation_config.json"))
    fs::copy_file(fs::path(o.dir) / "generation_config.json", fs::path(o.out) / "generation_config.json");
  fmt::print("resized {} -> {} rows ({} new tokens initialised from their pieces) in {}\n", net->config().vocab_size,
             wanted, pieces.size(), o.out);
  return 0;
}

int run_export_gguf(const ModelOptions& o) {
  gguf::ExportOptions options;
  options.outtype = gguf::parse_outtype(o.outtype);
  options.ollama = o.ollama;
  options.overwrite = o.overwrite;
  options.name = o.name;
  gguf::ExportReport r = gguf::export_gguf(o.dir, o.out, options);
  fmt::print("exported {} ({}, {} tensors, {}, pre-tokenizer {}) to {}\n", o.dir, r.architecture, r.tensors,
             format_bytes(r.bytes), r.pre_tokenizer, o.out);
  if (r.modelfile) fmt::print("wrote {} (ollama create NAME -f {})\n", r.modelfile->string(), r.modelfile->string());
  return 0;
}

}  // namespace

void add_model_command(CLI::App& app, Invocation& ctx) {
  auto opts = std::make_shared<ModelOptions>();
  CLI::App* model = app.add_subcommand("model", "create, inspect and convert Hugging Face model directories");
  model->require_subcommand(1);

  CLI::App* init =
      model->add_subcommand("init", "randomly initialise a model (HF Llama init) and save it as an HF directory");
  init->add_option("--config", opts->config,
                   "config.json with transformers' keys (LlamaForCausalLM or Qwen2ForCausalLM); "
                   "missing keys take transformers' defaults")
      ->required()
      ->check(CLI::ExistingFile);
  init->add_option("--out", opts->out, "output directory")->required();
  init->add_option("--dtype", opts->dtype, "stored dtype: float32, bfloat16, float16")->capture_default_str();
  init->add_option("--max-shard-size", opts->max_shard_size,
                   "shard the weights above this size (5GB, 500MB, 0 = never)")
      ->capture_default_str();
  init->add_flag("--overwrite", opts->overwrite, "replace a model already in --out");
  init->callback([&ctx, opts] { ctx.run = [&ctx, opts] { return run_init(ctx, *opts); }; });

  CLI::App* info = model->add_subcommand("info", "describe a model directory (architecture, parameters, dtype, size)");
  info->add_option("dir", opts->dir, "Hugging Face model directory")->required();
  info->add_flag("--json", opts->json, "print JSON instead of text");
  info->callback([&ctx, opts] { ctx.run = [opts] { return run_info(*opts); }; });

  CLI::App* convert = model->add_subcommand("convert", "re-store a model's weights in another dtype");
  convert->add_option("dir", opts->dir, "Hugging Face model directory to read")->required();
  convert->add_option("--dtype", opts->dtype, "target dtype: float32, bfloat16, float16")->required();
  convert->add_option("--out", opts->out, "output directory (must differ from the input)")->required();
  convert->add_option("--max-shard-size", opts->max_shard_size, "shard the weights above this size")
      ->capture_default_str();
  convert->add_flag("--overwrite", opts->overwrite, "allow writing into a non-empty --out");
  convert->callback([&ctx, opts] { ctx.run = [opts] { return run_convert(*opts); }; });

  CLI::App* resize = model->add_subcommand(
      "resize-embeddings", "grow the embedding and LM head to an extended tokenizer (new rows = mean of their pieces)");
  resize->add_option("dir", opts->dir, "model directory")->required();
  resize->add_option("--tokenizer", opts->tokenizer, "the extended tokenizer (e.g. from r1 tokenizer extend)")
      ->required();
  resize->add_option("--old-tokenizer", opts->old_tokenizer,
                     "the model's original tokenizer (default: the model directory)");
  resize->add_option("--pad-to-multiple-of", opts->pad_to_multiple_of, "round the vocabulary size up (e.g. 64)");
  resize->add_option("--out", opts->out, "output directory (model + the extended tokenizer)")->required();
  resize->add_flag("--overwrite", opts->overwrite, "replace a model already in --out");
  resize->callback([&ctx, opts] { ctx.run = [opts] { return run_resize(*opts); }; });

  CLI::App* gguf = model->add_subcommand(
      "export-gguf", "write a llama/qwen2 model and its tokenizer as one GGUF file for llama.cpp and Ollama");
  gguf->add_option("dir", opts->dir, "Hugging Face model directory (config.json, safetensors, tokenizer.json)")
      ->required();
  gguf->add_option("--out", opts->out, "the GGUF file to write")->required();
  gguf->add_option("--outtype", opts->outtype,
                   "storage of 2-D weights: f32, f16, bf16, q8_0 (norms and biases stay f32)")
      ->capture_default_str();
  gguf->add_option("--name", opts->name, "general.name (default: the directory's name)");
  gguf->add_flag("--ollama", opts->ollama, "also write an Ollama Modelfile next to the GGUF file");
  gguf->add_flag("--overwrite", opts->overwrite, "replace an existing output file");
  gguf->callback([&ctx, opts] { ctx.run = [opts] { return run_export_gguf(*opts); }; });

  add_merge_lora_subcommand(*model, ctx);
}

}  // namespace r1::cli
