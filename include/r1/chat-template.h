// Chat templates: the Jinja subset Hugging Face chat_template strings are written in, rendered the way
// transformers' apply_chat_template renders them (jinja2 ImmutableSandboxedEnvironment with trim_blocks,
// lstrip_blocks, loopcontrols and the {% generation %} tag), plus r1's built-in named templates.
// Not here: tokenization of the rendered text (r1/tokenizer.h).
// Departures from jinja2 and from @huggingface/jinja are listed in src/tokenizer/jinja-eval.cpp's header.
//
// Usage:
//   r1::tokenizer::ChatTemplate chat = r1::tokenizer::ChatTemplate::named("chatml");  // or ChatTemplate(source)
//   nlohmann::json context = {{"messages", messages}, {"add_generation_prompt", true}};
//   std::string prompt = chat.render(context).text;  // .generation_spans: assistant output
//   std::optional<std::string> source =  // what --chat-template / chat_template resolve to
//       r1::tokenizer::chat_template_source(spec, tokenizer_template, "--chat-template");
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace r1::tokenizer {

namespace jinja {
struct Template;  // the parsed template (src/tokenizer/jinja-ast.h)
}

// ---- Parsing and rendering a template -------------------------------------------------------------------------------

struct RenderResult {
  std::string text;
  // Byte ranges [begin, end) of `text` produced inside {% generation %} ... {% endgeneration %} blocks
  // (HF's marker for assistant output used by return_assistant_tokens_mask). Empty if the template has none.
  std::vector<std::pair<size_t, size_t>> generation_spans;
};

class ChatTemplate {
 public:
  // Runaway guards: rendering stops with r1::Error past these (the message names the limit).
  static constexpr size_t kMaxOutputBytes = size_t{64} << 20;  // rendered text, and any one string built
  static constexpr int kMaxCallDepth = 200;                    // nested macro / caller() calls
  static constexpr long long kMaxLoopIterations = 1'000'000;   // all {% for %} iterations of one render
  static constexpr size_t kMaxListItems = 1'000'000;  // any one list built (+, *, range: 100,000 as jinja2's sandbox)

  // Parses a Jinja template (HF chat_template string). Throws r1::Error naming line:column for syntax
  // errors and for unsupported constructs (by name), never silently misrendering.
  explicit ChatTemplate(const std::string& source);

  // Renders with `context` (a JSON object: messages, add_generation_prompt, bos_token, eos_token, tools,
  // documents, any other keys). raise_exception(msg) -> r1::Error containing msg. Runtime errors (a bad
  // operand type, attribute access on an undefined value, an exceeded limit) name line:column.
  // nlohmann::json keeps object keys sorted, so `| tojson` of a context object lists keys alphabetically;
  // pass an ordered_json to keep the order the keys were written in (as Python dicts do).
  RenderResult render(const nlohmann::json& context) const;
  RenderResult render(const nlohmann::ordered_json& context) const;

  const std::string& source() const;

  // Built-in named templates: "chatml", "qwen2.5", "llama3", "deepseek-r1-distill", "r1-zero", "open-r1".
  static ChatTemplate named(const std::string& name);  // r1::Error listing the names if unknown
  static std::vector<std::string> builtin_names();
  // The template source of a built-in name; nullopt if `name` is not one.
  static std::optional<std::string> builtin_source(const std::string& name);

 private:
  std::string source_;
  std::shared_ptr<const jinja::Template> parsed_;
};

// ---- Choosing a template and preparing messages (serve, chat, generate, eval, trainers) -----------------------------
// The one rule for a chat-template option (`--chat-template` of serve, chat, generate and eval, `chat_template`
// of sft, dpo and grpo, `--template` of tokenizer render), so a model renders the same prompts everywhere:
//   "" or "auto": the tokenizer's own template (`tokenizer_template`; nullopt when it has none)
//   "none":       nullopt (raw text prompts)
//   a file path:  the file's text (a .jinja file, as vLLM's --chat-template)
//   a built-in name ("chatml", "r1-zero", ...): its source
//   text holding "{{" or "{%": the template itself (as TRL's chat_template)
// r1::UsageError "<option>: ..." otherwise, listing the built-in names.
std::optional<std::string> chat_template_source(const std::string& spec, const std::string& tokenizer_template,
                                                const std::string& option);

// Message content given as OpenAI parts ([{"type": "text", "text": ...}, ...]) as one string: the text parts
// joined with "\n" (vLLM's rule for text-only models). `serve` and the dataset readers both use it, so a
// conversation renders the same in training and serving. nullopt if a part is not a text part.
std::optional<std::string> join_text_parts(const nlohmann::json& parts);
std::optional<std::string> join_text_parts(const nlohmann::ordered_json& parts);

// A conversation from a dataset row made ready for a template: every message an object with a string role and
// a string / text-parts / null content (parts joined as above). r1::Error "<where>: message <i> ..." otherwise,
// so a bad row is named by its file:line and index instead of by the chat template's position.
nlohmann::json text_messages(const nlohmann::json& messages, const std::string& where);

}  // namespace r1::tokenizer
