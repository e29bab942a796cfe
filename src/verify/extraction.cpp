// Answer extraction: where in a model output (or a gold solution) the final answer is. Follows Math-Verify's
// LatexExtractionConfig / ExprExtractionConfig targets: \boxed{} (nested braces), "final answer is", the last
// LaTeX math span ($..$ and \(..\) on one line; $$..$$ and \[..\] across lines), the last number.
// Departures from Math-Verify:
//   1. Targets are tried in a fixed user-chosen order (default: boxed, <answer> tag, answer phrase, math span,
//      whole short text, last number) instead of Math-Verify's numeric priorities, where "final answer is"
//      outranks \boxed.
//   2. <answer>...</answer> (the R1 / open-r1 format tag) is a target of its own.
#include <algorithm>
#include <cctype>

#include "r1/error.h"
#include "r1/verify.h"

namespace r1::verify {

namespace {

constexpr size_t kMaxWholeText = 256;

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The content of a balanced {...} starting at text[open] == '{'; nullopt when unbalanced (truncated output).
std::optional<std::string> braced(std::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      ++i;
      continue;
    }
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return std::string(text.substr(open + 1, i - open - 1));
  }
  return std::nullopt;
}

std::optional<std::string> last_boxed(std::string_view text) {
  size_t best = std::string_view::npos;
  std::optional<std::string> found;
  for (std::string_view command : {"\\boxed", "\\fbox"}) {
    for (size_t at = text.rfind(command); at != std::string_view::npos;
         at = at == 0 ? std::string_view::npos : text.rfind(command, at - 1)) {
      if (best != std::string_view::npos && at < best) break;
      size_t i = at + command.size();
      if (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) continue;  // \boxedx is another command
      while (i < text.size() && is_space(text[i])) ++i;
      std::optional<std::string> content;
      if (i < text.size() && text[i] == '{') {
        content = braced(text, i);
      } else {
        size_t e = i;
        while (e < text.size() && !is_space(text[e]) && text[e] != '$') ++e;
        if (e > i) content = std::string(text.substr(i, e - i));
      }
      if (content) {
        best = at;
        found = content;
        break;
      }
    }
  }
  return found;
}

std::optional<std::string> last_answer_tag(std::string_view text) {
  size_t close = text.rfind("</answer>");
  if (close == std::string_view::npos) return std::nullopt;
  size_t open = text.rfind("<answer>", close);
  if (open == std::string_view::npos) return std::nullopt;
  return trim(text.substr(open + 8, close - open - 8));
}

struct Span {
  size_t begin, end;  // of the content
};

// Every LaTeX math span's content, in order. An escaped \$ is not a delimiter.
std::vector<Span> math_spans(std::string_view text) {
  std::vector<Span> spans;
  size_t i = 0;
  auto find_close = [&](size_t from, std::string_view close, bool one_line) -> size_t {
    for (size_t j = from; j + close.size() <= text.size(); ++j) {
      if (one_line && text[j] == '\n') return std::string_view::npos;
      if (text[j] == '\\' && close[0] != '\\') {
        ++j;
        continue;
      }
      if (text.compare(j, close.size(), close) == 0) return j;
    }
    return std::string_view::npos;
  };
  while (i < text.size()) {
    std::string_view open, close;
    bool one_line = false;
    if (text.compare(i, 2, "\\(") == 0) {
      open = "\\(", close = "\\)", one_line = true;
    } else if (text.compare(i, 2, "\\[") == 0) {
      open = "\\[", close = "\\]";
    } else if (text.compare(i, 2, "$$") == 0) {
      open = "$$", close = "$$";
    } else if (text[i] == '$') {
      open = "$", close = "$", one_line = true;
    } else if (text[i] == '\\') {
      i += 2;
      continue;
    } else {
      ++i;
      continue;
    }
    size_t from = i + open.size();
    size_t end = find_close(from, close, one_line);
    if (end == std::string_view::npos) {
      i = from;
      continue;
    }
    spans.push_back({from, end});
    i = end + close.size();
  }
  return spans;
}

std::optional<std::string> last_math(std::string_view text) {
  auto spans = math_spans(text);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    std::string content = trim(text.substr(it->begin, it->end - it->begin));
    if (!content.empty()) return content;
  }
  return std::nullopt;
}

std::optional<std::string> answer_phrase(std::string_view text) {
  std::string low = lower(text);
  size_t best = std::string::npos, skip = 0;
  for (std::string_view phrase : {"final answer is", "answer is", "final answer:", "answer:"}) {
    size_t at = low.rfind(phrase);
    if (at != std::string::npos && (best == std::string::npos || at > best)) best = at, skip = phrase.size();
  }
  if (best == std::string::npos) return std::nullopt;
  std::string_view rest = text.substr(best + skip);
  size_t b = 0;
  while (b < rest.size() && (is_space(rest[b]) || rest[b] == ':')) ++b;
  rest = rest.substr(b);
  auto spans = math_spans(rest);
  if (!spans.empty() && (spans[0].begin <= 2)) return trim(rest.substr(spans[0].begin, spans[0].end - spans[0].begin));
  size_t end = rest.find('\n');
  rest = rest.substr(0, end);
  for (size_t i = 0; i + 1 < rest.size(); ++i)
    if (rest[i] == '.' && is_space(rest[i + 1])) {
      rest = rest.substr(0, i);
      break;
    }
  std::string out = trim(rest);
  while (!out.empty() && (out.back() == '.' || out.back() == ',' || out.back() == ';')) out.pop_back();
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::string> last_number(std::string_view text) {
  std::optional<std::string> found;
  for (size_t i = 0; i < text.size();) {
    bool starts = is_digit(text[i]) || (text[i] == '.' && i + 1 < text.size() && is_digit(text[i + 1]));
    if (!starts || (i > 0 && (std::isalpha(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '_'))) {
      ++i;
      continue;
    }
    size_t b = i;
    if (b > 0 && text[b - 1] == '-') --b;
    size_t e = i;
    while (e < text.size()) {
      if (is_digit(text[e])) {
        ++e;
      } else if ((text[e] == '.' || text[e] == '/') && e + 1 < text.size() && is_digit(text[e + 1])) {
        ++e;
      } else if (text[e] == ',' && e + 3 < text.size() + 0 && is_digit(text[e + 1]) && is_digit(text[e + 2]) &&
                 is_digit(text[e + 3]) && (e + 4 >= text.size() || !is_digit(text[e + 4]))) {
        e += 4;
      } else {
        break;
      }
    }
    if (e < text.size() && text[e] == '%') ++e;
    found = std::string(text.substr(b, e - b));
    i = e;
  }
  return found;
}

}  // namespace

ExtractionTarget parse_extraction_target(std::string_view name) {
  for (auto t : {ExtractionTarget::kBoxed, ExtractionTarget::kAnswerTag, ExtractionTarget::kAnswerPhrase,
                 ExtractionTarget::kLatexMath, ExtractionTarget::kWholeText, ExtractionTarget::kLastNumber})
    if (extraction_target_name(t) == name) return t;
  fail_usage("unknown extraction target '{}' (expected boxed, answer_tag, answer_phrase, latex, whole or number)",
             name);
}

std::string_view extraction_target_name(ExtractionTarget target) {
  switch (target) {
    case ExtractionTarget::kBoxed:
      return "boxed";
    case ExtractionTarget::kAnswerTag:
      return "answer_tag";
    case ExtractionTarget::kAnswerPhrase:
      return "answer_phrase";
    case ExtractionTarget::kLatexMath:
      return "latex";
    case ExtractionTarget::kWholeText:
      return "whole";
    case ExtractionTarget::kLastNumber:
      return "number";
  }
  return "?";
}

std::vector<std::string> extract_answers(std::string_view text, const ExtractionOptions& options) {
  std::vector<std::string> out;
  for (ExtractionTarget target : options.targets) {
    std::optional<std::string> found;
    switch (target) {
      case ExtractionTarget::kBoxed:
        found = last_boxed(text);
        break;
      case ExtractionTarget::kAnswerTag:
        found = last_answer_tag(text);
        if (found) {  // the tag's own \boxed or math span, when it has one
          if (auto inner = last_boxed(*found)) found = inner;
        }
        break;
      case ExtractionTarget::kAnswerPhrase:
        found = answer_phrase(text);
        break;
      case ExtractionTarget::kLatexMath:
        found = last_math(text);
        break;
      case ExtractionTarget::kWholeText: {
        std::string whole = trim(text);
        if (!whole.empty() && whole.size() <= kMaxWholeText) found = whole;
        break;
      }
      case ExtractionTarget::kLastNumber:
        found = last_number(text);
        break;
    }
    if (found && !trim(*found).empty() && std::find(out.begin(), out.end(), *found) == out.end()) out.push_back(*found);
  }
  return out;
}

}  // namespace r1::verify
