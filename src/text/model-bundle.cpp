// The one rule for stop ids and the loading of a model bundle (see model-bundle.h).
#include "text/model-bundle.h"

#include <algorithm>
#include <nlohmann/json.hpp>

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
  if (fs::is_regular_file(generation)) {
    nlohmann::json gen = parse_json(read_file(generation), generation.string());  // bounded depth; errors name it
    if (gen.is_object() && gen.contains("eos_token_id")) add_ids(gen["eos_token_id"], ids);
  }
  if (auto eos = tokenizer.eos_id()) ids.push_back(*eos);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

ModelBundle load_model_bundle(const fs::path& dir, const model::LoadOptions& load, const std::string& chat_template,
                              const std::string& option) {
  if (!fs::is_directory(dir)) fail("{}: not a directory (expected a Hugging Face model directory)", dir.string());
  if (!fs::exists(dir / "tokenizer.json"))
    fail("{}: no tokenizer.json beside the weights (copy the tokenizer into the model directory)", dir.string());
  ModelBundle b;
  b.tokenizer = tokenizer::Tokenizer::load(dir);
  if (auto source = tokenizer::chat_template_source(chat_template, b.tokenizer.config().chat_template, option))
    b.chat_template = std::make_shared<const tokenizer::ChatTemplate>(*source);
  b.model = model::load_pretrained(dir, load);
  b.tokenizer.require_fits(b.model->config().vocab_size, dir.string());
  b.stop_ids = stop_token_ids(dir, b.model->config(), b.tokenizer);
  return b;
}

}  // namespace r1::text
