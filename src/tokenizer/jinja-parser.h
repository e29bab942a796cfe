// Parser of the chat-template Jinja subset: tokens (jinja-lexer) to the tree in jinja-ast.h, with jinja2's
// operator precedence (condexpr < or < and < not < compare < + - < ~ < * / // % < ** < unary, with filters
// and tests binding to the unary operand). Unknown filters and tests, unsupported statements (include,
// extends, block, import, raw, with, ...) and misplaced break/continue are syntax errors naming line:column.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/jinja-ast.h"

namespace r1::tokenizer::jinja {

std::shared_ptr<const Template> parse(const std::string& source);

}  // namespace r1::tokenizer::jinja
