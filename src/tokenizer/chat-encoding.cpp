// encode_chat(): render a conversation with a chat template, tokenize it, and mark the assistant tokens;
// see r1/tokenizer.h for the rules. Rendering uses ordered JSON so that tojson keeps the user's key order.
#include <nlohmann/json.hpp>

#include "r1/chat-template.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/tokenizer.h"

namespace r1::tokenizer {
using ordered_json = nlohmann::ordered_json;

namespace {
bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }
}  // namespace

ChatEncoding encode_chat(const Tokenizer& tok, const ChatTemplate& tmpl, const std::string& context_json,
                         bool add_generation_prompt) {
  ordered_json ctx = parse_ordered_json(context_json, "chat context");
  if (!ctx.is_object() || !ctx.contains("messages") || !ctx["messages"].is_array())
    fail("chat context: expected an object with a \"messages\" list");
  const TokenizerConfig& cfg = tok.config();
  if (!ctx.contains("bos_token")) ctx["bos_token"] = cfg.bos_token.value_or("");
  if (!ctx.contains("eos_token")) ctx["eos_token"] = cfg.eos_token.value_or("");
  ctx["add_generation_prompt"] = add_generation_prompt;
  RenderResult full = tmpl.render(ctx);

  std::vector<std::pair<size_t, size_t>> spans = full.generation_spans;
  const ordered_json messages = ctx["messages"];
  if (spans.empty()) {
    for (size_t i = 0; i < messages.size(); ++i) {
      if (!messages[i].is_object() || messages[i].value("role", "") != "assistant") continue;
      ordered_json before = ctx, through = ctx;
      before["messages"] = ordered_json(messages.begin(), messages.begin() + long(i));
      before["add_generation_prompt"] = true;
      through["messages"] = ordered_json(messages.begin(), messages.begin() + long(i) + 1);
      through["add_generation_prompt"] = false;
      std::string prefix = tmpl.render(before).text, upto = tmpl.render(through).text;
      if (!starts_with(upto, prefix) || !starts_with(full.text, upto))
        fail(
            "chat template: assistant message {} cannot be located by prefix rendering (the template rewrites "
            "earlier turns); use a template with {{% generation %}} markers for an assistant mask",
            i);
      spans.emplace_back(prefix.size(), upto.size());
    }
  }
  ChatEncoding out;
  out.text = std::move(full.text);
  for (const TokenSpan& t : tok.encode_with_spans(out.text, /*add_special_tokens=*/false)) {
    bool assistant = false;
    for (auto [b, e] : spans) assistant = assistant || (t.begin < e && t.end > b);
    out.ids.push_back(t.id);
    out.assistant_mask.push_back(assistant ? 1 : 0);
  }
  return out;
}

namespace {
template <class Json>
std::optional<std::string> join_parts(const Json& parts) {
  if (!parts.is_array()) return std::nullopt;
  std::string text;
  for (const auto& part : parts) {
    if (!part.is_object() || !part.contains("type") || part["type"] != "text" || !part.contains("text") ||
        !part["text"].is_string())
      return std::nullopt;
    if (!text.empty()) text += '\n';
    text += part["text"].template get_ref<const std::string&>();
  }
  return text;
}
}  // namespace

std::optional<std::string> join_text_parts(const nlohmann::json& parts) { return join_parts(parts); }
std::optional<std::string> join_text_parts(const nlohmann::ordered_json& parts) { return join_parts(parts); }

nlohmann::json text_messages(const nlohmann::json& messages, const std::string& where) {
  nlohmann::json out = messages;
  for (size_t i = 0; i < messages.size(); ++i) {
    const nlohmann::json& m = messages[i];
    if (!m.is_object()) fail("{}: message {} is not a {{role, content}} object, got {}", where, i, m.type_name());
    if (!m.contains("role") || !m["role"].is_string()) fail("{}: message {} has no string 'role'", where, i);
    if (!m.contains("content") || m["content"].is_string() || m["content"].is_null()) continue;
    if (!m["content"].is_array())
      fail("{}: message {}'s 'content' must be a string or a list of parts, got {}", where, i,
           m["content"].type_name());
    std::optional<std::string> text = join_text_parts(m["content"]);
    if (!text) fail("{}: message {}'s 'content': only parts of type \"text\" are supported", where, i);
    out[i]["content"] = std::move(*text);
  }
  return out;
}

}  // namespace r1::tokenizer
