// `r1 model merge-lora ADAPTER_DIR --out DIR [--base DIR]`: PEFT's merge_and_unload as a command. Loads the
// base model (adapter_config.json's base_model_name_or_path unless --base), applies the adapter, folds
// W += (alpha/r) B A into the weights and saves a plain HF model directory with the tokenizer files. A SEQ_CLS
// adapter (`r1 reward` with use_peft) gives a *ForSequenceClassification directory with its trained score head and,
// when the base has none, config.pad_token_id from the tokenizer (as `r1 reward` trains and saves a full model).
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/lora.h"
#include "r1/model.h"
#include "r1/tokenizer.h"

namespace r1::cli {
namespace fs = std::filesystem;
namespace {
struct MergeCli {
  std::string adapter, base, out, dtype;
  bool overwrite = false;
};

// The directory whose tokenizer goes with the merged model: the adapter's (saved by r1 sft / dpo / reward), else
// the base model's; empty when neither has one.
fs::path tokenizer_dir(const MergeCli& o, const std::string& base) {
  for (const fs::path& dir : {fs::path(o.adapter), fs::path(base)})
    if (fs::exists(dir / "tokenizer.json")) return dir;
  return {};
}

int run_merge(const MergeCli& o) {
  model::Transformer net = model::load_with_adapter(o.adapter, o.base);
  const std::string base = o.base.empty() ? net->lora_config()->base_model_name_or_path : o.base;
  model::merge_lora(*net);
  if (const fs::path tok = tokenizer_dir(o, base);
      net->config().is_classifier() && !net->config().pad_token_id && !tok.empty())  // pooled at the last non-pad token
    net = model::with_pad_token_id(net, tokenizer::Tokenizer::load(tok).padding_id());
  model::SaveOptions save;
  save.overwrite = o.overwrite;
  if (!o.dtype.empty()) save.dtype = model::parse_dtype(o.dtype);
  model::save_pretrained(*net, o.out, save);
  // the tokenizer: the adapter directory's (saved by r1 sft / dpo), else the base model's
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    for (const fs::path& from : {fs::path(o.adapter) / name, fs::path(base) / name}) {
      if (!fs::exists(from)) continue;
      write_file_atomic(fs::path(o.out) / name, read_file(from));
      break;
    }
  }
  fmt::print("merged {} into {} and saved {}\n", o.adapter, base, o.out);
  return 0;
}
}  // namespace

void add_merge_lora_subcommand(CLI::App& model, Invocation& ctx) {
  auto opts = std::make_shared<MergeCli>();
  CLI::App* cmd = model.add_subcommand(
      "merge-lora", "fold a PEFT LoRA adapter into its base model's weights (a SEQ_CLS adapter: a classifier)");
  cmd->add_option("adapter", opts->adapter, "adapter directory (adapter_config.json + adapter_model.safetensors)")
      ->required();
  cmd->add_option("--out", opts->out, "output model directory")->required();
  cmd->add_option("--base", opts->base,
                  "base model directory (default: adapter_config.json's base_model_name_or_path)");
  cmd->add_option("--dtype", opts->dtype, "stored dtype: float32, bfloat16, float16 (default: float32)");
  cmd->add_flag("--overwrite", opts->overwrite, "replace a model already in --out");
  cmd->callback([&ctx, opts] { ctx.run = [opts] { return run_merge(*opts); }; });
}

}  // namespace r1::cli
