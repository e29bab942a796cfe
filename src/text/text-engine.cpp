// Serving a model (see text-engine.h): the model bundle (text/model-bundle.h: weights, tokenizer, chat
// template, stop ids) put into a generation engine with the server's text policy.
#include "text/text-engine.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "r1/error.h"
#include "r1/text.h"

namespace r1::text {
namespace fs = std::filesystem;

TextEngine::TextEngine(const TextEngineOptions& o) : tokenizer_(nullptr) {
  model::LoadOptions load;
  if (!o.dtype.empty()) {
    try {
      load.dtype = model::parse_dtype(o.dtype);
    } catch (const UsageError& e) {
      fail_usage("--dtype: {}", e.what());
    }
  }
  load.device = at::Device(o.device);
  ModelBundle bundle = load_model_bundle({.model_dir = o.model, .chat_template = o.chat_template}, load);
  tokenizer_ = bundle.tokenizer;
  chat_template_ = bundle.chat_template;
  eos_ids_ = bundle.stop_ids;
  config_ = bundle.model->config();
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
  engine_ = std::make_unique<engine::Engine>(std::move(bundle.model), std::move(eo));
}

ChatPrompt TextEngine::render_chat(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& kwargs,
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

std::vector<int32_t> TextEngine::encode(const std::string& text) const { return tokenizer_.encode(text, true); }

}  // namespace r1::text
