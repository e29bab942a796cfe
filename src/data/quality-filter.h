// What quality-filter.cpp shares with the file driver quality-filter-files.cpp (`r1 data filter`). Internal to
// src/data.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "r1/data.h"

namespace r1::data::detail {

// The filter names in the order they run: language, gopher-repetition, gopher-quality, c4, fineweb.
const std::vector<std::string>& known_filters();
// Whether QualityFilterOptions::filters holds `name`.
bool enabled(const QualityFilterOptions& o, const char* name);
// Whether some line of `text` is empty or white space only (Python's str.strip()).
bool has_blank_line(std::string_view text);

}  // namespace r1::data::detail
