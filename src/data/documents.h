// Documents from input files, and the cleaning filters applied to them: expanding input directories,
// cutting files into chunks at document boundaries (so chunks can be parsed and tokenized in parallel), the
// document rules of include/r1/data.h (lines, blank-line blocks, JSONL rows), and the per-document filters.
// Not here: dedup and the split (they need the global order; prepare.cpp). Filter definitions follow
// Gopher (Rae et al. 2021, appendix A: duplicate-line fraction) and common web-text cleaning practice.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "r1/data.h"

namespace r1::data {

// Files for the inputs: files as given, directories expanded to their text/JSONL files (recursively, sorted,
// hidden entries and anything under `exclude` skipped). r1::Error for a missing input or an empty directory.
std::vector<std::filesystem::path> expand_inputs(const std::vector<std::filesystem::path>& inputs,
                                                 const std::filesystem::path& exclude = {});
bool is_jsonl_path(const std::filesystem::path& path);

// A run of whole documents of one file. first_line is the 1-based line number of text's first byte.
struct Chunk {
  size_t index = 0;  // position in the reading order (over all files)
  size_t file = 0;   // index into the file list
  size_t first_line = 1;
  std::string text;
};

// Reads files one after another in chunks of about `chunk_bytes`, cut only where a document ends (after a
// newline; for blank-line documents, after a blank line), so chunks are independent. Not thread-safe.
class ChunkReader {
 public:
  ChunkReader(std::vector<std::filesystem::path> files, DocumentSeparator separator, size_t chunk_bytes);
  bool next(Chunk& chunk);  // false when every file is read
  const std::vector<std::filesystem::path>& files() const { return files_; }

 private:
  bool open_next_file();
  size_t find_cut(const std::string& buffer) const;  // end of the last complete document, or npos
  std::vector<std::filesystem::path> files_;
  DocumentSeparator separator_;
  size_t chunk_bytes_;
  size_t file_ = 0, index_ = 0, line_ = 1;
  bool open_ = false;
  std::ifstream in_;
  std::string carry_;  // bytes read past the last cut
};

struct Document {
  std::string text;
  size_t line = 0;  // where it starts
};

// The documents of a chunk by the document rules; whitespace-only documents are dropped and counted in
// *empty. JSONL rows that are malformed or lack a string `field`: r1::Error naming file:line, or with
// skip_invalid skipped and counted in *invalid.
std::vector<Document> split_documents(const Chunk& chunk, const std::filesystem::path& file, bool jsonl,
                                      DocumentSeparator separator, const std::string& field, bool skip_invalid,
                                      uint64_t* empty, uint64_t* invalid);

// ---- Cleaning filters ----
struct TextStats {
  uint64_t chars = 0;          // code points (an invalid UTF-8 byte counts as one)
  uint64_t non_printable = 0;  // C0 controls other than \t \n \r, DEL, C1 controls, U+FFFD, invalid bytes
};
TextStats text_stats(std::string_view text);
// Non-blank lines equal to an earlier non-blank line of the same text / non-blank lines (0 for < 2 lines).
double repeated_line_ratio(std::string_view text);

struct CleaningOptions {
  uint64_t min_chars = 0, max_chars = 0;
  double max_non_printable_ratio = 0.1, max_repeated_line_ratio = 0.3;
};
// The filters in the order they are applied ("empty" and "duplicate" are counted elsewhere).
inline const std::vector<std::string>& filter_names() {
  static const std::vector<std::string> names = {"empty",         "min_chars",      "max_chars",
                                                 "non_printable", "repeated_lines", "duplicate"};
  return names;
}
// The name of the first filter that removes `text`, or nullopt to keep it.
std::optional<std::string> rejected_by(std::string_view text, const CleaningOptions& options);

}  // namespace r1::data
