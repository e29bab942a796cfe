// Lexer of the chat-template Jinja subset: splits a template into text and {{ }} / {% %} tag tokens, drops
// {# #} comments and applies whitespace control exactly as jinja2's lexer does with trim_blocks=True and
// lstrip_blocks=True (the settings transformers uses): "-" strips, "+" keeps, one trailing newline of the
// template is dropped (keep_trailing_newline=False). Not here: the grammar (jinja-parser).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/jinja-value.h"

namespace r1::tokenizer::jinja {

enum class TokenKind {
  kText,        // template text, whitespace control applied
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kVarBegin,    // {{
  kVarEnd,      // }}
  kName,
  kString,  // text holds the unescaped value
  kInt,
  kFloat,
  kOperator,  // + - * / // % ** ~ == != < > <= >= = ( ) [ ] { } , . : |
  kEnd,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  Location where;
  int64_t int_value = 0;
  double float_value = 0.0;
};

// Throws r1::Error naming line:column for an unterminated tag, comment or string, or a stray character.
std::vector<Token> tokenize(const std::string& source);

std::string describe(const Token& token);  // "name 'foo'", "'%}'", "end of template", for errors

}  // namespace r1::tokenizer::jinja
