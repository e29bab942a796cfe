// Multiple-choice letter extraction (GPQA / MMLU style), after lighteval's and simple-evals' answer regexes:
// "\boxed{C}", "Answer: C" / "answer is (C)", then "(C)" or a lone letter at the very end. Letters beyond
// num_choices are ignored; the last explicit statement wins. Case: upper-case letters only, except after
// "answer" (where "answer: c" is accepted), so the article "A" inside prose is not mistaken for a choice.
#include <cctype>

#include "r1/error.h"
#include "r1/verify.h"

namespace r1::verify {

namespace {

bool is_choice(char c, int num_choices) { return c >= 'A' && c < char('A' + num_choices); }

// The letter a span starts with, allowing "(C)", "C)", "C.", "C:", "{C}", "\text{C}", "$C$" and spaces.
std::optional<char> leading_letter(std::string_view s, int num_choices, bool lower_ok) {
  size_t i = 0;
  auto skip = [&] {
    while (i < s.size() && (std::isspace(static_cast<unsigned char>(s[i])) || s[i] == '(' || s[i] == '{' ||
                            s[i] == '$' || s[i] == '*' || s[i] == ':' || s[i] == '['))
      ++i;
  };
  skip();
  for (std::string_view wrapper : {"\\boxed", "\\text", "\\textbf", "\\mathrm", "option", "Option", "choice"})
    if (s.substr(i).substr(0, wrapper.size()) == wrapper) {
      i += wrapper.size();
      skip();
    }
  if (i >= s.size()) return std::nullopt;
  char c = s[i];
  if (lower_ok) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (!is_choice(c, num_choices)) return std::nullopt;
  if (i + 1 < s.size() && std::isalnum(static_cast<unsigned char>(s[i + 1]))) return std::nullopt;  // a word
  return c;
}

}  // namespace

std::optional<char> extract_choice(std::string_view text, int num_choices) {
  if (num_choices < 2 || num_choices > 26) fail_usage("num_choices must be in [2, 26], got {}", num_choices);
  std::optional<char> found;
  size_t found_at = 0;
  auto consider = [&](size_t at, std::optional<char> letter) {
    if (letter && (!found || at >= found_at)) found = letter, found_at = at;
  };
  for (size_t at = text.find("\\boxed"); at != std::string_view::npos; at = text.find("\\boxed", at + 1))
    consider(at, leading_letter(text.substr(at + 6), num_choices, false));
  std::string low(text);
  for (char& c : low) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view phrase : {"answer is", "answer:", "answer is:"}) {
    for (size_t at = low.find(phrase); at != std::string::npos; at = low.find(phrase, at + 1))
      consider(at, leading_letter(text.substr(at + phrase.size()), num_choices, true));
  }
  if (found) return found;
  // No explicit statement: "(C)" anywhere (the last), or the text ends in a lone letter.
  for (size_t at = text.rfind('('); at != std::string_view::npos;
       at = at ? text.rfind('(', at - 1) : std::string_view::npos) {
    if (at + 2 < text.size() && is_choice(text[at + 1], num_choices) && text[at + 2] == ')') return text[at + 1];
    if (at == 0) break;
  }
  size_t end = text.find_last_not_of(" \t\r\n.");
  if (end == std::string_view::npos) return std::nullopt;
  if (is_choice(text[end], num_choices) && (end == 0 || !std::isalnum(static_cast<unsigned char>(text[end - 1]))))
    return text[end];
  return std::nullopt;
}

}  // namespace r1::verify
