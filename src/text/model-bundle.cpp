// The one rule for stop ids and the loading of a model bundle (see r1/text.h).
#include "r1/text.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "r1/error.h"
#include "r1/io.h"

namespace r1::text {
namespace fs = std::filesystem;

namespace {
void add_ids(const nlohmann::json& value, std::vector<int32_t>& out) {
  if (value.is_number_integer()) out.push_back(value.get<int32_t>());
  if (value.is_array())
    for (const auto& v : value)
      if (v.is_number_integer()) out.push_back(v.get<int32_t>());
}
}  // namespace

std::vector<int32_t> stop_token_ids(const fs::path& model_dir, const model::ModelConfig& config,
                                    const tokenizer::Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  for (int64_t id : config.eos_token_id) ids.push_back(int32_t(id));
  const fs::path generation = model_dir / "generation_config.json";
  if (!model_dir.empty() && fs::is_regular_file(generation)) {
    nlohmann::json gen = parse_json(read_file(generation), generation.string());  // bounded depth; errors name it
    if (gen.is_object() && gen.contains("eos_token_id")) add_ids(gen["eos_token_id"], ids);
  }
  if (auto eos = tokenizer.eos_id()) ids.push_back(*eos);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

ModelBundle open_tokenizer(const BundleSource& source) {
  ModelBundle b;
  if (source.tokenizer_dir.empty()) {
    const fs::path& dir = source.model_dir;
    if (!fs::is_directory(dir)) fail("{}: not a directory (expected a Hugging Face model directory)", dir.string());
    if (!fs::exists(dir / "tokenizer.json"))
      fail("{}: no tokenizer.json beside the weights (copy the tokenizer into the model directory)", dir.string());
    b.tokenizer = tokenizer::Tokenizer::load(dir);
  } else {
    b.tokenizer = tokenizer::Tokenizer::load(source.tokenizer_dir);
  }
  std::optional<std::string> chosen =
      tokenizer::chat_template_source(source.chat_template, b.tokenizer.config().chat_template, source.option);
  if (!chosen && !source.fallback_template.empty() && (source.chat_template.empty() || source.chat_template == "auto"))
    chosen = tokenizer::ChatTemplate::builtin_source(source.fallback_template);
  if (chosen) b.chat_template = std::make_shared<const tokenizer::ChatTemplate>(*chosen);
  return b;
}

void attach_model(ModelBundle& bundle, const BundleSource& source, model::Transformer model) {
  const fs::path& named = source.model_dir.empty() ? source.tokenizer_dir : source.model_dir;
  bundle.tokenizer.require_fits(model->config().vocab_size, named.string());
  bundle.stop_ids = stop_token_ids(source.model_dir, model->config(), bundle.tokenizer);
  bundle.model = std::move(model);
}

ModelBundle load_model_bundle(const BundleSource& source, const model::LoadOptions& load) {
  ModelBundle b = open_tokenizer(source);
  attach_model(b, source, model::load_pretrained(source.model_dir, load));
  return b;
}

}  // namespace r1::text
