// normalize_latex's `units` step (normalize.cpp): latex2sympy2_extended's list of unit words and the two
// removals it makes with them at the end of an answer: a trailing \text{...} / \mbox{...} (with ^2), then a
// trailing unit word (plural too) after a digit, "}" or a space. The regular expressions of the original are
// hand-written scans here with the same results.
#include "verify/normalize-units.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include "verify/text-scan.h"

namespace r1::verify {

namespace {

constexpr size_t npos = std::string::npos;
using namespace scan;  // the scanning helpers shared with the other stages (text-scan.h)

// latex2sympy2_extended's unit words, as regular expression fragments: "." is any character. ("integer" and
// "point" are one word there, a missing comma.)
constexpr std::array<std::string_view, 140> kUnits = {"integerpoint",
                                                      "feet",
                                                      "sue",
                                                      "digit",
                                                      "pound",
                                                      "meal",
                                                      "edge",
                                                      "student",
                                                      "children ticket",
                                                      "multiple",
                                                      "east",
                                                      "degree",
                                                      "mph",
                                                      "kmph",
                                                      "ft",
                                                      "m square",
                                                      " m east",
                                                      "sq m",
                                                      "deg",
                                                      "mile",
                                                      "q .",
                                                      "monkey",
                                                      "prime",
                                                      "ratio",
                                                      "profit of rs",
                                                      "rd",
                                                      "o",
                                                      "gm",
                                                      "p . m",
                                                      "lb",
                                                      "tile",
                                                      "per",
                                                      "dm",
                                                      "lt",
                                                      "gain",
                                                      "ab",
                                                      "way",
                                                      "west",
                                                      "a .",
                                                      "b .",
                                                      "c .",
                                                      "d .",
                                                      "e .",
                                                      "f .",
                                                      "g .",
                                                      "h .",
                                                      "t",
                                                      "h",
                                                      "no change",
                                                      "men",
                                                      "soldier",
                                                      "pie",
                                                      "bc",
                                                      "excess",
                                                      "st",
                                                      "inches",
                                                      "noon",
                                                      "cent",
                                                      "by",
                                                      "gal",
                                                      "kmh",
                                                      "c",
                                                      "acre",
                                                      "rise",
                                                      "a . m",
                                                      "th",
                                                      "\xCF\x80 r 2",
                                                      "sq",
                                                      "mark",
                                                      "l",
                                                      "toy",
                                                      "coin",
                                                      "sq . m",
                                                      "gallon",
                                                      "\xC2\xB0 f",
                                                      "profit",
                                                      "minw",
                                                      "yr",
                                                      "women",
                                                      "am",
                                                      "pm",
                                                      "hr",
                                                      "cu cm",
                                                      "square",
                                                      "v \xC3\xA2 \xE2\x82\xAC \xE2\x84\xA2",
                                                      "are",
                                                      "rupee",
                                                      "rounds",
                                                      "cubic",
                                                      "cc",
                                                      "mtr",
                                                      "s",
                                                      "ohm",
                                                      "number",
                                                      "kmph",
                                                      "day",
                                                      "hour",
                                                      "minute",
                                                      "min",
                                                      "second",
                                                      "man",
                                                      "woman",
                                                      "sec",
                                                      "cube",
                                                      "mt",
                                                      "sq inch",
                                                      "mp",
                                                      "\xE2\x88\x8F cm \xC2\xB3",
                                                      "hectare",
                                                      "more",
                                                      "sec",
                                                      "unit",
                                                      "cu . m",
                                                      "cm 2",
                                                      "rs .",
                                                      "rs",
                                                      "kg",
                                                      "g",
                                                      "month",
                                                      "km",
                                                      "m",
                                                      "cm",
                                                      "mm",
                                                      "apple",
                                                      "liter",
                                                      "loss",
                                                      "yard",
                                                      "pure",
                                                      "year",
                                                      "increase",
                                                      "decrease",
                                                      "d",
                                                      "less",
                                                      "Surface",
                                                      "litre",
                                                      "pi sq m",
                                                      "s .",
                                                      "metre",
                                                      "meter",
                                                      "inch"};

// Whether the fragment (with "." any character, matched by code points) matches s[b, e) exactly; on success
// returns true. Matches backwards from e so the start is found: b is set to where the fragment begins.
bool unit_ends_at(std::string_view s, size_t e, std::string_view unit, size_t& b) {
  size_t i = e;
  for (size_t k = unit.size(); k > 0;) {
    size_t ks = k - 1;  // the fragment's last code point
    while (ks > 0 && (static_cast<unsigned char>(unit[ks]) & 0xC0) == 0x80) --ks;
    if (i == 0) return false;
    size_t is = i - 1;
    while (is > 0 && (static_cast<unsigned char>(s[is]) & 0xC0) == 0x80) --is;
    if (unit.substr(ks, k - ks) == ".") {
      if (s[is] == '\n') return false;
    } else if (s.substr(is, i - is) != unit.substr(ks, k - ks)) {
      return false;
    }
    i = is;
    k = ks;
  }
  b = i;
  return true;
}

}  // namespace

std::string remove_unit_word(const std::string& s) {
  size_t e = s.size();
  while (e > 0) {  // \s*$
    size_t k = e - 1;
    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
    if (ws_len(s, k) != e - k) break;
    e = k;
  }
  if (e == 0) return s;
  // Only the unit words that can end with the text's last byte (a final "." matches any character).
  static const std::array<std::vector<std::string_view>, 256> by_last_byte = [] {
    std::array<std::vector<std::string_view>, 256> table;
    for (std::string_view unit : kUnits) {
      if (unit.back() == '.') {
        for (auto& list : table) list.push_back(unit);
      } else {
        table[static_cast<unsigned char>(unit.back())].push_back(unit);
        table['s'].push_back(unit);  // plural forms
      }
    }
    for (auto& list : table) list.erase(std::unique(list.begin(), list.end()), list.end());
    return table;
  }();
  size_t best = npos;
  for (std::string_view unit : by_last_byte[static_cast<unsigned char>(s[e - 1])]) {
    for (std::string_view plural : {"", "s", "es"}) {
      if (!plural.empty() && (e < plural.size() || s.compare(e - plural.size(), plural.size(), plural) != 0)) continue;
      size_t b;
      if (!unit_ends_at(s, e - plural.size(), unit, b)) continue;
      // The anchor: a digit, } or space just before the spaces before b.
      size_t w = b;
      while (w > 0) {
        size_t k = w - 1;
        while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        if (ws_len(s, k) != w - k) break;
        w = k;
      }
      size_t anchor = npos;
      if (w > 0 && (is_digit(s[w - 1]) || s[w - 1] == '}')) {
        anchor = w - 1;
      } else if (w < b) {
        anchor = w;  // the first space
      }
      if (anchor != npos && (best == npos || anchor < best)) best = anchor;
    }
  }
  if (best == npos) return s;
  return s.substr(0, best + std::max<size_t>(1, ws_len(s, best)));
}

std::string remove_trailing_text(const std::string& s) {
  const size_t e = s.size();
  // The } of the \text{...} can be the last character, or followed by ^d or {^d} at the end.
  std::array<size_t, 3> closes = {npos, npos, npos};
  if (e >= 1 && s[e - 1] == '}') closes[0] = e - 1;
  if (e >= 3 && s[e - 3] == '}' && s[e - 2] == '^' && is_digit(s[e - 1])) closes[1] = e - 3;
  if (e >= 5 && s[e - 5] == '}' && s.compare(e - 4, 2, "{^") == 0 && is_digit(s[e - 2]) && s[e - 1] == '}')
    closes[2] = e - 5;
  if (closes[0] == npos && closes[1] == npos) return s;
  const size_t last_newline = s.rfind('\n');
  for (size_t i = s.find('\\'); i != npos; i = s.find('\\', i + 1)) {
    if (!(literal_at(s, i, "\\text{") || literal_at(s, i, "\\mbox{"))) continue;
    const size_t open = i + 5;
    if (last_newline != npos && last_newline > open) continue;  // the lazy .*? does not cross a newline
    for (size_t c : closes)
      if (c != npos && c > open) return s.substr(0, i);
  }
  return s;
}

}  // namespace r1::verify
