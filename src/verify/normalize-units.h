// Internal to src/verify: the removals of normalize_latex's `units` step (normalize-units.cpp), which
// normalize.cpp runs in its order (the trailing \text{...} once, the unit word twice).
#pragma once

#include <string>

namespace r1::verify {

// units_regex: (\d|\}|\s)\s*(?:UNIT)(?:s|es)?\s*$ replaced by its first group; the leftmost anchor wins.
std::string remove_unit_word(const std::string& s);

// unit_superscript_regex: (\\(?:text|mbox){.*?})(\^\d|\{\^\d\})?$ removed: from the first \text{ or \mbox{
// whose lazy .*? reaches a } that ends the text (or is followed by ^d or {^d} at the end).
std::string remove_trailing_text(const std::string& s);

}  // namespace r1::verify
