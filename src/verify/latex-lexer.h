// Internal to src/verify: the LaTeX lexer (latex-lexer.cpp) whose tokens the parser (parse.cpp) reads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace r1::verify {

enum class Tok { kNum, kIdent, kCmd, kOp, kText, kEnd };

struct Token {
  Tok type;
  std::string text;
};

// The tokens of s, the last one kEnd. Throws ParseError (expr.h) for a character or word latex2sympy's lexer
// does not read.
std::vector<Token> tokenize(std::string_view s);

}  // namespace r1::verify
