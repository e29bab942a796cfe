// JSON Lines input: a streaming reader that parses one JSON value per non-blank line and names file:line on
// a malformed row, and a helper that visits every row, skipping and counting malformed ones on request.
// Used by `r1 data prepare` and the SFT / preference / prompt datasets. Not here: writing JSONL (atomic
// writes live in r1/io.h). Reference behaviour: the JSON Lines format (jsonlines.org) as
// datasets.load_dataset("json") reads it: UTF-8, one value per line, blank lines ignored, "\r\n" accepted.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace r1 {

// Parses one line; r1::Error "<source>:<line>: not valid JSON (...)" if it is not.
nlohmann::json parse_jsonl_line(std::string_view text, const std::string& source, size_t line);
// Parses one line; false (row untouched) if it is not valid JSON.
bool try_parse_jsonl_line(std::string_view text, nlohmann::json& row);

class JsonlReader {
 public:
  explicit JsonlReader(const std::filesystem::path& path);  // r1::Error naming the path if it cannot be opened
  // The next row; false at the end of the file. r1::Error naming file:line on a malformed row; with
  // skip_invalid, malformed rows are skipped and counted in skipped().
  bool next(nlohmann::json& row);
  size_t line() const { return line_; }  // 1-based line of the row next() returned last
  const std::filesystem::path& path() const { return path_; }
  void set_skip_invalid(bool skip) { skip_invalid_ = skip; }
  size_t skipped() const { return skipped_; }

 private:
  std::filesystem::path path_;
  std::ifstream in_;
  std::string buffer_;
  size_t line_ = 0, skipped_ = 0;
  bool skip_invalid_ = false;
};

// Calls fn(row, line) for every row of the file. Malformed rows are an r1::Error naming file:line unless
// skip_invalid, in which case they are skipped and counted in *skipped (if given). fn may throw r1::Error
// itself (e.g. for a missing field); returns the number of rows visited.
size_t for_each_jsonl_row(const std::filesystem::path& path,
                          const std::function<void(const nlohmann::json& row, size_t line)>& fn, bool skip_invalid,
                          size_t* skipped = nullptr);

}  // namespace r1
