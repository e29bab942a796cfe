// JSON Lines reading; see jsonl.h.
#include "common/jsonl.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "r1/error.h"
#include "r1/io.h"

namespace r1 {

namespace {
std::string_view trim_line_end(std::string_view text) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return text;
}
bool is_blank(std::string_view text) { return text.find_first_not_of(" \t\r") == std::string_view::npos; }
}  // namespace

nlohmann::json parse_jsonl_line(std::string_view text, const std::string& source, size_t line) {
  return parse_json(trim_line_end(text), fmt::format("{}:{}", source, line));
}

bool try_parse_jsonl_line(std::string_view text, nlohmann::json& row) {
  return parse_json_bounded(trim_line_end(text), row, nullptr);
}

JsonlReader::JsonlReader(const std::filesystem::path& path) : path_(path) {
  require_regular_file(path);
  in_.open(path, std::ios::binary);
  if (!in_) fail("{}: cannot open", path.string());
}

bool JsonlReader::next(nlohmann::json& row) {
  while (std::getline(in_, buffer_)) {
    ++line_;
    if (is_blank(buffer_)) continue;
    std::string error;
    if (parse_json_bounded(trim_line_end(buffer_), row, &error)) return true;
    if (!skip_invalid_) fail("{}:{}: not valid JSON ({})", path_.string(), line_, error);  // parsed once
    ++skipped_;
  }
  if (in_.bad()) fail("{}:{}: read error", path_.string(), line_ + 1);
  return false;
}

size_t for_each_jsonl_row(const std::filesystem::path& path,
                          const std::function<void(const nlohmann::json& row, size_t line)>& fn, bool skip_invalid,
                          size_t* skipped) {
  JsonlReader reader(path);
  reader.set_skip_invalid(skip_invalid);
  nlohmann::json row;
  size_t rows = 0;
  while (reader.next(row)) {
    fn(row, reader.line());
    ++rows;
  }
  if (skipped) *skipped += reader.skipped();
  return rows;
}

}  // namespace r1
