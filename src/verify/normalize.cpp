// LaTeX answer normalisation before parsing, after Math-Verify's latex normalisation (itself from
// lm-eval-harness / the MATH grader): spacing and sizing commands, \text-like wrappers, units, degrees,
// currency, percent words, \dfrac/\tfrac/\cfrac, thousands separators and trailing punctuation. The output is
// one canonical string (single spaces) that parse.cpp reads and that is also compared as text.
// Departures from Math-Verify:
//   1. Unit words are a fixed English list removed only after a number or closing bracket at the end of the
//      answer (Math-Verify removes \text{...} units anywhere); a lone \text{word} answer is kept as the word.
//   2. Thousands separators are only recognised outside brackets, so (1,000) stays a tuple.
#include <algorithm>
#include <array>
#include <cctype>

#include "verify/expr.h"

namespace r1::verify {

namespace {

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

constexpr std::array<std::string_view, 78> kUnits = {
    "units",   "unit",   "cm",       "mm",      "km",      "m",      "meters",  "meter",  "metres",  "metre",
    "inches",  "inch",   "in",       "feet",    "foot",    "ft",     "yards",   "yard",   "miles",   "mile",
    "mph",     "kg",     "g",        "grams",   "gram",    "mg",     "pounds",  "pound",  "lbs",     "lb",
    "ounces",  "ounce",  "oz",       "liters",  "liter",   "litres", "l",       "ml",     "gallons", "gallon",
    "seconds", "second", "sec",      "s",       "minutes", "minute", "min",     "hours",  "hour",    "hrs",
    "hr",      "days",   "day",      "weeks",   "week",    "months", "month",   "years",  "year",    "dollars",
    "dollar",  "cents",  "cent",     "degrees", "degree",  "deg",    "radians", "radian", "square",  "sq",
    "cubic",   "people", "students", "apples",  "ways",    "times",  "points",  "sqft"};

bool is_unit(std::string_view word) {
  std::string low;
  for (char c : word) low += char(std::tolower(static_cast<unsigned char>(c)));
  return std::find(kUnits.begin(), kUnits.end(), low) != kUnits.end();
}

// Every occurrence of `from` (non-empty), left to right, without overlaps; one pass over s (in-place
// std::string::replace in a loop is quadratic on long answers).
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  size_t at = s.find(from);
  if (at == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t done = 0;
  for (; at != std::string::npos; at = s.find(from, done)) {
    out.append(s, done, at - done).append(to);
    done = at + from.size();
  }
  out.append(s, done, std::string::npos);
  s = std::move(out);
}

// Removes a command when it is not the prefix of a longer command name (\left but not \leftarrow).
void remove_command(std::string& s, std::string_view command) {
  size_t at = s.find(command);
  if (at == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t done = 0;
  for (; at != std::string::npos; at = s.find(command, at)) {
    size_t end = at + command.size();
    if (end < s.size() && is_alpha(s[end]) && is_alpha(command.back())) {
      at = end;  // a longer command: kept
      continue;
    }
    out.append(s, done, at - done).append(" ");
    done = at = end;
  }
  out.append(s, done, std::string::npos);
  s = std::move(out);
}

size_t matching_brace(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      ++i;
      continue;
    }
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string::npos;
}

// \text{...}-like wrappers: a unit inside is dropped, anything else is unwrapped.
void unwrap_text(std::string& s) {
  static constexpr std::array<std::string_view, 13> kWrappers = {
      "\\text", "\\textbf", "\\textit",       "\\textrm", "\\mathrm", "\\mathbf",    "\\mathit",
      "\\mbox", "\\mathsf", "\\operatorname", "\\boxed",  "\\fbox",   "\\textnormal"};
  bool changed = true;
  while (changed) {
    changed = false;
    for (std::string_view w : kWrappers) {
      for (size_t at = s.find(w); at != std::string::npos; at = s.find(w, at + 1)) {
        size_t open = at + w.size();
        while (open < s.size() && s[open] == ' ') ++open;
        if (open >= s.size() || s[open] != '{' || (at + w.size() < s.size() && is_alpha(s[at + w.size()]))) continue;
        size_t close = matching_brace(s, open);
        if (close == std::string::npos) continue;
        std::string inner = s.substr(open + 1, close - open - 1);
        size_t b = inner.find_first_not_of(' '), e = inner.find_last_not_of(' ');
        std::string word = b == std::string::npos ? "" : inner.substr(b, e - b + 1);
        bool unit = !word.empty() &&
                    std::all_of(word.begin(), word.end(), [](char c) { return is_alpha(c) || c == ' '; }) &&
                    is_unit(word.substr(0, word.find(' '))) && at > 0;
        s.replace(at, close + 1 - at, unit ? " " : " " + inner + " ");
        changed = true;
        break;
      }
    }
  }
}

// Drops unit words (with an optional ^2 / ^3) at the end, after a number or a closing bracket.
void strip_trailing_units(std::string& s) {
  for (bool changed = true; changed;) {
    changed = false;
    size_t e = s.find_last_not_of(' ');
    if (e == std::string::npos) return;
    size_t end = e + 1;
    if (end >= 2 && s[end - 2] == '^' && (s[end - 1] == '2' || s[end - 1] == '3')) end -= 2;
    size_t b = end;
    while (b > 0 && is_alpha(s[b - 1])) --b;
    if (b == end || !is_unit(std::string_view(s).substr(b, end - b))) return;
    size_t before = b;
    while (before > 0 && s[before - 1] == ' ') --before;
    if (before == 0) return;
    char prev = s[before - 1];
    bool after_value = is_digit(prev) || prev == '}' || prev == ')' || prev == '%' || is_alpha(prev);
    if (!after_value || (is_alpha(prev) && before == b)) return;  // "cm" alone, or part of a longer word
    if (before == b && end - b < 2) return;                       // "2m" is 2 m (a product), "2 m" is metres
    s.erase(b);
    changed = true;
  }
}

// 1,000,000 -> 1000000 outside brackets (a comma followed by exactly three digits, repeatedly).
void strip_thousands(std::string& s) {
  int depth = 0;
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0 && i > 0 && is_digit(s[i - 1]) && i + 3 < s.size() + 0 && is_digit(s[i + 1]) &&
        is_digit(s[i + 2]) && is_digit(s[i + 3]) && (i + 4 >= s.size() || !is_digit(s[i + 4]))) {
      size_t b = i;  // the group before must be 1-3 digits starting a number
      while (b > 0 && is_digit(s[b - 1])) --b;
      if (i - b <= 3) continue;
    }
    out += c;
  }
  s = out;
}

}  // namespace

std::string normalize_answer(std::string_view raw) {
  std::string s(raw);
  replace_all(s, "\n", " ");
  replace_all(s, "\t", " ");
  replace_all(s, "\\$", " ");
  replace_all(s, "$", " ");
  replace_all(s, "{,}", ",");
  replace_all(s, ",\\!", ",");
  for (std::string_view c : {"\\!", "\\,", "\\;", "\\:", "\\ ", "~"}) replace_all(s, c, " ");
  for (std::string_view c : {"\\displaystyle", "\\quad", "\\qquad", "\\left.", "\\right.", "\\left", "\\right",
                             "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\big", "\\Big", "\\limits"})
    remove_command(s, c);
  for (std::string_view c : {"\\dfrac", "\\tfrac", "\\cfrac"}) replace_all(s, c, "\\frac");
  replace_all(s, "\\lbrace", "\\{");
  replace_all(s, "\\rbrace", "\\}");
  replace_all(s, "\\lvert", "|");
  replace_all(s, "\\rvert", "|");
  replace_all(s, "\\vert", "|");
  for (std::string_view c : {"^{\\circ}", "^\\circ", "^{\\circ }", "\xC2\xB0", "\\degree", "\\circ"})
    replace_all(s, c, " ");
  replace_all(s, "\\%", "%");
  for (std::string_view c : {"\xE2\x82\xAC", "\xC2\xA3"}) replace_all(s, c, " ");  // euro, pound signs
  unwrap_text(s);
  for (std::string_view w : {"percentage", "percent", "pct"}) {  // as whole words, one pass each
    std::string replaced;
    size_t done = 0;
    for (size_t at = s.find(w); at != std::string::npos; at = s.find(w, at + 1)) {
      bool word = (at == 0 || !is_alpha(s[at - 1])) && (at + w.size() >= s.size() || !is_alpha(s[at + w.size()]));
      if (!word) continue;
      replaced.append(s, done, at - done).append("%");
      done = at + w.size();
      at = done - 1;
    }
    if (done > 0) s = std::move(replaced.append(s, done, std::string::npos));
  }
  // Collapse whitespace.
  std::string out;
  for (char c : s) {
    if (is_space(c)) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  strip_trailing_units(out);
  while (!out.empty()) {
    char c = out.back();
    if (c == ' ' || c == '.' || c == ',' || c == ';') {
      out.pop_back();
    } else if (out.size() >= 2 && out.compare(out.size() - 2, 2, "\\\\") == 0) {
      out.resize(out.size() - 2);
    } else {
      break;
    }
  }
  strip_thousands(out);
  strip_trailing_units(out);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (!out.empty() && out.front() == ' ') out.erase(0, 1);
  return out;
}

}  // namespace r1::verify
