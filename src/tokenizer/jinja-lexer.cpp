// Lexer of the chat-template Jinja subset (see jinja-lexer.h). Whitespace control follows jinja2's
// Lexer.tokeniter: "{%-" / "{{-" / "{#-" rstrip the preceding text; "-%}" / "-}}" / "-#}" lstrip the
// following text; lstrip_blocks removes spaces and tabs between a line start and "{%" or "{#" (not "{{",
// not "{%+"); trim_blocks removes the single newline after "%}" or "#}" (not after "+%}").
// String literals unescape as Python literals do (unknown escapes keep their backslash).
#include "tokenizer/jinja-lexer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

namespace r1::tokenizer::jinja {
namespace {

class Lexer {
 public:
  explicit Lexer(const std::string& source) : src_(source) {
    if (!src_.empty() && src_.back() == '\n') {
      src_.pop_back();
      if (!src_.empty() && src_.back() == '\r') src_.pop_back();
    }
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, tag - pos_);
      if (tag == src_.size()) {
        push_text(std::move(text), pos_);
        break;
      }
      char kind = src_[tag + 1];  // '{', '%' or '#'
      char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (sign == '-') {
        text.resize(rstrip_end(text));
      } else if (sign != '+' && kind != '{') {
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if ((l_pos > 0 || line_starting) &&
            std::all_of(text.begin() + long(l_pos), text.end(), [](char c) { return c == ' ' || c == '\t'; }))
          text.resize(l_pos);
      }
      push_text(std::move(text), pos_);
      pos_ = tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      if (kind == '#') {
        lex_comment(tag);
      } else {
        lex_tag(tag, kind == '%');
      }
      line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
    }
    tokens_.push_back(Token{TokenKind::kEnd, "", at(src_.size())});
    return std::move(tokens_);
  }

 private:
  Location at(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - 1;
    int column = 1;
    for (size_t i = *it; i < offset && i < src_.size(); ++i)
      if ((static_cast<unsigned char>(src_[i]) & 0xc0) != 0x80) ++column;
    return {int(it - line_starts_.begin()) + 1, column};
  }

  [[noreturn]] void fail(size_t offset, const std::string& message) const { fail_at(at(offset), message); }

  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i)
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    return src_.size();
  }

  void push_text(std::string text, size_t offset) {
    if (!text.empty()) tokens_.push_back(Token{TokenKind::kText, std::move(text), at(offset)});
  }

  // Code point at byte offset i and its length.
  std::pair<char32_t, size_t> decode_at(std::string_view s, size_t i) const {
    auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : 4;
    len = std::min(len, s.size() - i);
    std::u32string cps = utf8_decode(s.substr(i, len));
    return {cps.empty() ? 0 : cps[0], len};
  }

  size_t rstrip_end(std::string_view s) const {
    size_t end = s.size();
    while (end > 0) {
      size_t start = end - 1;
      while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xc0) == 0x80) --start;
      if (!is_python_space(decode_at(s, start).first)) break;
      end = start;
    }
    return end;
  }

  void skip_whitespace() {
    while (pos_ < src_.size()) {
      auto [c, len] = decode_at(src_, pos_);
      if (!is_python_space(c)) break;
      pos_ += len;
    }
  }

  bool at_literal(const char* s) const { return src_.compare(pos_, std::strlen(s), s) == 0; }

  void lex_comment(size_t open) {
    size_t close = src_.find("#}", pos_);
    if (close == std::string::npos) fail(open, "unterminated comment: '{#' without '#}'");
    bool strip_after = close > pos_ && src_[close - 1] == '-';
    bool keep = close > pos_ && src_[close - 1] == '+';
    pos_ = close + 2;
    if (strip_after) {
      skip_whitespace();
    } else if (!keep && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
  }

  void lex_tag(size_t open, bool block) {
    tokens_.push_back(Token{block ? TokenKind::kBlockBegin : TokenKind::kVarBegin, block ? "{%" : "{{", at(open)});
    int curly_depth = 0;
    while (true) {
      skip_whitespace();
      if (pos_ >= src_.size())
        fail(open, fmt::format("unterminated '{}': no matching '{}'", block ? "{%" : "{{", block ? "%}" : "}}"));
      size_t here = pos_;
      if (block) {
        bool strip = at_literal("-%}");
        bool keep = at_literal("+%}");
        if (strip || keep || at_literal("%}")) {
          tokens_.push_back(Token{TokenKind::kBlockEnd, "%}", at(here)});
          pos_ += (strip || keep) ? 3 : 2;
          if (strip) {
            skip_whitespace();
          } else if (!keep && pos_ < src_.size() && src_[pos_] == '\n') {
            ++pos_;
          }
          return;
        }
      } else if (curly_depth == 0) {
        bool strip = at_literal("-}}");
        if (strip || at_literal("}}")) {
          tokens_.push_back(Token{TokenKind::kVarEnd, "}}", at(here)});
          pos_ += strip ? 3 : 2;
          if (strip) skip_whitespace();
          return;
        }
      }
      char c = src_[pos_];
      if (c == '\'' || c == '"') {
        lex_string(c);
      } else if (c >= '0' && c <= '9') {
        lex_number();
      } else if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        size_t start = pos_;
        while (pos_ < src_.size() && (src_[pos_] == '_' || std::isalnum(static_cast<unsigned char>(src_[pos_]))))
          ++pos_;
        tokens_.push_back(Token{TokenKind::kName, src_.substr(start, pos_ - start), at(start)});
      } else {
        static const char* const kTwo[] = {"**", "//", "==", "!=", "<=", ">="};
        std::string op;
        for (const char* two : kTwo)
          if (at_literal(two)) op = two;
        if (op.empty() && std::strchr("+-*/%~<>=()[]{},.:|", c) != nullptr && c != '\0') op = std::string(1, c);
        if (op.empty()) fail(here, fmt::format("unexpected character '{}' inside a tag", c));
        if (op == "{") ++curly_depth;
        if (op == "}") --curly_depth;
        tokens_.push_back(Token{TokenKind::kOperator, op, at(here)});
        pos_ += op.size();
      }
    }
  }

  void lex_number() {
    size_t start = pos_;
    auto digits = [&] {
      while (pos_ < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[pos_])) ||
                                    (src_[pos_] == '_' && pos_ + 1 < src_.size() &&
                                     std::isdigit(static_cast<unsigned char>(src_[pos_ + 1])))))
        ++pos_;
    };
    digits();
    bool is_float = false;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && std::isdigit(static_cast<unsigned char>(src_[pos_ + 1]))) {
      is_float = true;
      ++pos_;
      digits();
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t save = pos_++;
      if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) ++pos_;
      if (pos_ < src_.size() && std::isdigit(static_cast<unsigned char>(src_[pos_]))) {
        is_float = true;
        digits();
      } else {
        pos_ = save;
      }
    }
    std::string text = src_.substr(start, pos_ - start);
    std::string clean;
    for (char ch : text)
      if (ch != '_') clean += ch;
    Token t{is_float ? TokenKind::kFloat : TokenKind::kInt, text, at(start)};
    try {
      if (is_float) {
        t.float_value = std::stod(clean);
      } else {
        t.int_value = std::stoll(clean);
      }
    } catch (const std::exception&) {
      fail(start, fmt::format("number '{}' is out of range", text));
    }
    tokens_.push_back(std::move(t));
  }

  void lex_string(char quote) {
    size_t start = pos_++;
    std::string value;
    while (true) {
      if (pos_ >= src_.size()) fail(start, "unterminated string literal");
      char c = src_[pos_];
      if (c == quote) {
        ++pos_;
        break;
      }
      if (c != '\\') {
        value += c;
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= src_.size()) fail(start, "unterminated string literal");
      char e = src_[pos_ + 1];
      pos_ += 2;
      auto hex = [&](size_t n) {
        if (pos_ + n > src_.size()) fail(pos_ - 2, fmt::format("truncated \\{} escape in a string literal", e));
        char32_t cp = 0;
        for (size_t k = 0; k < n; ++k) {
          char h = src_[pos_ + k];
          if (!std::isxdigit(static_cast<unsigned char>(h)))
            fail(pos_ - 2, fmt::format("bad \\{} escape in a string literal", e));
          cp = cp * 16 + char32_t(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
        }
        pos_ += n;
        utf8_append(value, cp);
      };
      switch (e) {
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'v':
          value += '\v';
          break;
        case 'a':
          value += '\a';
          break;
        case '\\':
        case '\'':
        case '"':
          value += e;
          break;
        case '\n':
          break;
        case 'x':
          hex(2);
          break;
        case 'u':
          hex(4);
          break;
        case 'U':
          hex(8);
          break;
        default:
          if (e >= '0' && e <= '7') {
            char32_t cp = char32_t(e - '0');
            for (int k = 0; k < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++k)
              cp = cp * 8 + char32_t(src_[pos_++] - '0');
            utf8_append(value, cp);
          } else {
            value += '\\';
            value += e;
          }
      }
    }
    tokens_.push_back(Token{TokenKind::kString, std::move(value), at(start)});
  }

  std::string src_;
  size_t pos_ = 0;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source) { return Lexer(source).run(); }

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kText:
      return "template text";
    case TokenKind::kName:
      return "name '" + token.text + "'";
    case TokenKind::kString:
      return "string literal";
    case TokenKind::kInt:
    case TokenKind::kFloat:
      return "number " + token.text;
    case TokenKind::kEnd:
      return "end of template";
    default:
      return "'" + token.text + "'";
  }
}

}  // namespace r1::tokenizer::jinja
