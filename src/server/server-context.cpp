// Loading a model directory for serving (see server-context.h): weights (r1/model.h), tokenizer.json +
// tokenizer_config.json from the same directory, the chat template, and the eos ids as the union of
// config.json's eos_token_id, generation_config.json's and the tokenizer's eos token (transformers' generate
// stops on generation_config's list; chat models often end turns with a token only listed there).
#include "server/server-context.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>

#include "common/bounded-json.h"
#include "r1/error.h"

namespace r1::server {
namespace fs = std::filesystem;

namespace {
std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void add_ids(const nlohmann::json& value, std::vector<int32_t>& out) {
  if (value.is_number_integer()) out.push_back(value.get<int32_t>());
  if (value.is_array())
    for (const auto& v : value)
      if (v.is_number_integer()) out.push_back(v.get<int32_t>());
}
}  // namespace

ServerContext::ServerContext(const ContextOptions& o) : tokenizer_(nullptr) {
  if (!fs::is_directory(o.model)) fail("--model {}: no such directory", o.model.string());
  if (!fs::exists(o.model / "tokenizer.json"))
    fail("--model {}: no tokenizer.json beside the weights (copy the tokenizer into the model directory)",
         o.model.string());
  tokenizer_ = tokenizer::Tokenizer::load(o.model);

  if (!o.chat_template.empty()) {
    if (fs::is_regular_file(o.chat_template))
      chat_template_ = std::make_unique<tokenizer::ChatTemplate>(read_text(o.chat_template));
    else
      chat_template_ = std::make_unique<tokenizer::ChatTemplate>(tokenizer::ChatTemplate::named(o.chat_template));
  } else if (!tokenizer_.config().chat_template.empty()) {
    chat_template_ = std::make_unique<tokenizer::ChatTemplate>(tokenizer_.config().chat_template);
  }

  model::LoadOptions load;
  if (!o.dtype.empty()) {
    try {
      load.dtype = model::parse_dtype(o.dtype);
    } catch (const UsageError& e) {
      fail_usage("--dtype: {}", e.what());
    }
  }
  load.device = at::Device(o.device);
  model::Transformer net = model::load_pretrained(o.model, load);
  config_ = net->config();
  if (int64_t(tokenizer_.vocab_size()) > config_.vocab_size)
    fail("--model {}: the tokenizer has {} tokens but the model's vocab_size is {}", o.model.string(),
         tokenizer_.vocab_size(), config_.vocab_size);

  for (int64_t id : config_.eos_token_id) eos_ids_.push_back(int32_t(id));
  if (fs::exists(o.model / "generation_config.json")) {
    fs::path path = o.model / "generation_config.json";
    nlohmann::json gen = parse_json(read_text(path), path.string());  // bounded depth; errors name the file
    if (gen.is_object() && gen.contains("eos_token_id")) add_ids(gen["eos_token_id"], eos_ids_);
  }
  if (auto eos = tokenizer_.eos_id()) eos_ids_.push_back(*eos);
  std::sort(eos_ids_.begin(), eos_ids_.end());
  eos_ids_.erase(std::unique(eos_ids_.begin(), eos_ids_.end()), eos_ids_.end());
  policy_ = std::make_unique<TextPolicy>(tokenizer_, eos_ids_);

  engine::EngineOptions eo;
  eo.max_batch = o.max_batch;
  eo.max_seq_len = o.max_seq_len;
  if (load.dtype) eo.dtype = load.dtype;
  eo.eos_token_ids = eos_ids_;
  eo.seed = o.seed;
  const TextPolicy* policy = policy_.get();
  eo.decode = [policy](const std::vector<int32_t>& ids) { return policy->decode(ids); };
  context_length_ = o.max_seq_len > 0 ? o.max_seq_len : config_.max_position_embeddings;
  engine_ = std::make_unique<engine::Engine>(std::move(net), std::move(eo));
}

ChatPrompt ServerContext::render_chat(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& kwargs,
                                      bool add_generation_prompt) const {
  if (!chat_template_)
    fail("the tokenizer has no chat_template; start the server with --chat-template NAME|FILE ({})",
         fmt::join(tokenizer::ChatTemplate::builtin_names(), ", "));
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  ctx["messages"] = messages;
  const auto& cfg = tokenizer_.config();
  ctx["bos_token"] = cfg.bos_token.value_or("");
  ctx["eos_token"] = cfg.eos_token.value_or("");
  for (const auto& [key, value] : kwargs.items()) ctx[key] = value;
  ctx["add_generation_prompt"] = add_generation_prompt;
  ChatPrompt out;
  out.text = chat_template_->render(ctx).text;
  out.ids = tokenizer_.encode(out.text, false);
  return out;
}

std::vector<int32_t> ServerContext::encode(const std::string& text) const { return tokenizer_.encode(text, true); }

}  // namespace r1::server
