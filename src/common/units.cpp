// Size parsing and formatting; see include/r1/io.h.
#include "r1/io.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <utility>

#include "r1/error.h"

namespace r1 {

uint64_t parse_byte_size(const std::string& text, const std::string& option) {
  size_t pos = 0;
  while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) ++pos;
  std::string number = text.substr(0, pos), unit = text.substr(pos);
  for (auto& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},      {"B", 1},        {"KB", 1e3},        {"MB", 1e6},           {"GB", 1e9},
      {"TB", 1e12}, {"KIB", 1024.0}, {"MIB", 1048576.0}, {"GIB", 1073741824.0}, {"TIB", 1099511627776.0}};
  double value = 0;
  try {
    size_t used = 0;
    value = number.empty() ? -1 : std::stod(number, &used);
    if (used != number.size()) value = -1;
  } catch (const std::exception&) {
    value = -1;
  }
  for (const auto& [name, scale] : kUnits)
    if (unit == name && value >= 0) return static_cast<uint64_t>(std::llround(value * scale));
  fail_usage("{}: expected a size such as 5GB, 500MB or 2GiB, got '{}'", option, text);
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) v /= 1000, ++u;
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.3g} {}", v, units[u]);
}

std::string format_count(int64_t n) {
  if (n < 1000) return fmt::format("{}", n);
  if (n < 1'000'000) return fmt::format("{:.3g} K", n / 1e3);
  if (n < 1'000'000'000) return fmt::format("{:.3g} M", n / 1e6);
  return fmt::format("{:.3g} B", n / 1e9);
}

}  // namespace r1
