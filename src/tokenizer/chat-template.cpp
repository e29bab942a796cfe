// ChatTemplate (r1/chat-template.h): parses once, renders per call with a fresh interpreter, as
// transformers' apply_chat_template does with its cached compiled template. The built-in named templates
// live in builtin-templates.cpp; the Jinja machinery in jinja-*.cpp.
#include "r1/chat-template.h"

#include <nlohmann/json.hpp>

#include "r1/error.h"
#include "tokenizer/jinja-eval.h"
#include "tokenizer/jinja-parser.h"

namespace r1::tokenizer {
namespace {

RenderResult render_value(const jinja::Template& parsed, const jinja::Value& context) {
  if (!context.is_dict()) throw r1::Error("chat template: the render context must be a JSON object");
  jinja::Limits limits{ChatTemplate::kMaxOutputBytes, ChatTemplate::kMaxCallDepth, ChatTemplate::kMaxLoopIterations,
                       ChatTemplate::kMaxListItems};
  jinja::Interpreter interpreter(parsed, context, limits);
  RenderResult result;
  interpreter.render(result.text, result.generation_spans);
  return result;
}

}  // namespace

ChatTemplate::ChatTemplate(const std::string& source) : source_(source), parsed_(jinja::parse(source)) {}

RenderResult ChatTemplate::render(const nlohmann::json& context) const {
  return render_value(*parsed_, jinja::Value::from_json(context));
}

RenderResult ChatTemplate::render(const nlohmann::ordered_json& context) const {
  return render_value(*parsed_, jinja::Value::from_json(context));
}

const std::string& ChatTemplate::source() const { return source_; }

}  // namespace r1::tokenizer
