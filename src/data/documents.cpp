// Input files -> chunks -> documents, and the cleaning filters; see documents.h.
#include "data/documents.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "common/jsonl.h"
#include "r1/error.h"

namespace r1::data {
namespace fs = std::filesystem;

namespace {
bool is_blank(std::string_view s) { return s.find_first_not_of(" \t\r\f\v") == std::string_view::npos; }

std::string_view strip_cr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

bool under(const fs::path& path, const fs::path& dir) {
  if (dir.empty()) return false;
  auto rel = fs::relative(path, dir);
  return !rel.empty() && rel.native().rfind("..", 0) != 0;
}
}  // namespace

bool is_jsonl_path(const fs::path& path) {
  std::string ext = path.extension().string();
  return ext == ".jsonl" || ext == ".json";
}

std::vector<fs::path> expand_inputs(const std::vector<fs::path>& inputs, const fs::path& exclude) {
  static const std::vector<std::string> kExtensions = {".txt", ".text", ".md", ".jsonl", ".json"};
  fs::path excluded = exclude.empty() || !fs::exists(exclude) ? fs::path() : fs::canonical(exclude);
  std::vector<fs::path> files;
  for (const fs::path& input : inputs) {
    if (fs::is_regular_file(input)) {
      files.push_back(input);
    } else if (fs::is_directory(input)) {
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(input); it != fs::recursive_directory_iterator(); ++it) {
        const fs::path& p = it->path();
        if (p.filename().string().rfind('.', 0) == 0 || (!excluded.empty() && under(fs::canonical(p), excluded))) {
          if (it->is_directory()) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file() &&
            std::find(kExtensions.begin(), kExtensions.end(), p.extension().string()) != kExtensions.end())
          found.push_back(p);
      }
      if (found.empty())
        fail("--input {}: a directory without .txt, .text, .md, .jsonl or .json files", input.string());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      fail("--input {}: no such file or directory", input.string());
    }
  }
  return files;
}

// ---- ChunkReader --------------------------------------------------------------------------------------

ChunkReader::ChunkReader(std::vector<fs::path> files, DocumentSeparator separator, size_t chunk_bytes)
    : files_(std::move(files)), separator_(separator), chunk_bytes_(std::max<size_t>(chunk_bytes, 1)) {}

bool ChunkReader::open_next_file() {
  if (file_ >= files_.size()) return false;
  in_ = std::ifstream(files_[file_], std::ios::binary);
  if (!in_) fail("{}: cannot open", files_[file_].string());
  open_ = true;
  line_ = 1;
  carry_.clear();
  return true;
}

size_t ChunkReader::find_cut(const std::string& buffer) const {
  // Plain lines and JSONL: after the last newline. Blank-line blocks: after the last blank line, i.e. after
  // "\n\n" or "\n\r\n" (lines of spaces are blank too, but are not used as cut points: no document is split).
  if (is_jsonl_path(files_[file_]) || separator_ == DocumentSeparator::Line) {
    size_t nl = buffer.rfind('\n');
    return nl == std::string::npos ? std::string::npos : nl + 1;
  }
  for (size_t pos = buffer.size(); pos > 0;) {
    size_t nl = buffer.rfind('\n', pos - 1);
    if (nl == std::string::npos || nl == 0) return std::string::npos;
    size_t prev = buffer.rfind('\n', nl - 1);
    std::string_view between(buffer.data() + (prev == std::string::npos ? 0 : prev + 1),
                             nl - (prev == std::string::npos ? 0 : prev + 1));
    if (prev != std::string::npos && (between.empty() || between == "\r")) return nl + 1;
    pos = nl;
  }
  return std::string::npos;
}

bool ChunkReader::next(Chunk& chunk) {
  while (true) {
    if (!open_ && !open_next_file()) return false;
    std::string buffer = std::move(carry_);
    carry_.clear();
    size_t cut = std::string::npos;
    while (true) {
      if (buffer.size() >= chunk_bytes_ && (cut = find_cut(buffer)) != std::string::npos) break;
      size_t at = buffer.size();
      buffer.resize(at + chunk_bytes_);
      in_.read(buffer.data() + at, std::streamsize(chunk_bytes_));
      buffer.resize(at + size_t(in_.gcount()));
      if (in_.bad()) fail("{}: read error", files_[file_].string());
      if (in_.eof()) {
        cut = buffer.size();
        break;
      }
    }
    if (cut < buffer.size()) carry_.assign(buffer, cut, std::string::npos);
    buffer.resize(cut);
    bool file_done = carry_.empty() && in_.eof();
    size_t first_line = line_;
    line_ += size_t(std::count(buffer.begin(), buffer.end(), '\n'));
    size_t file = file_;
    if (file_done) {
      open_ = false;
      in_.close();
      ++file_;
    }
    if (buffer.empty()) continue;
    chunk.index = index_++;
    chunk.file = file;
    chunk.first_line = first_line;
    chunk.text = std::move(buffer);
    return true;
  }
}

// ---- Documents ----------------------------------------------------------------------------------------

std::vector<Document> split_documents(const Chunk& chunk, const fs::path& file, bool jsonl, DocumentSeparator separator,
                                      const std::string& field, bool skip_invalid, uint64_t* empty, uint64_t* invalid) {
  std::vector<Document> docs;
  std::string_view all = chunk.text;
  size_t line = chunk.first_line;
  size_t block_start = std::string::npos, block_end = 0, block_line = 0;  // blank-line mode
  auto close_block = [&] {
    if (block_start != std::string::npos)
      docs.push_back({std::string(all.substr(block_start, block_end - block_start)), block_line});
    block_start = std::string::npos;
  };
  nlohmann::json row;
  for (size_t start = 0; start < all.size(); ++line) {
    size_t nl = all.find('\n', start);
    size_t end = nl == std::string_view::npos ? all.size() : nl;
    std::string_view text = strip_cr(all.substr(start, end - start));
    size_t text_start = start;
    start = end + 1;
    if (jsonl) {
      if (is_blank(text)) continue;
      if (!try_parse_jsonl_line(text, row)) {
        if (!skip_invalid) parse_jsonl_line(text, file.string(), line);  // throws, naming file:line
        ++*invalid;
        continue;
      }
      if (!row.is_object() || !row.contains(field) || !row[field].is_string()) {
        if (!skip_invalid)
          fail("{}:{}: no string field \"{}\" (choose the field with --field)", file.string(), line, field);
        ++*invalid;
        continue;
      }
      std::string& doc = row[field].get_ref<std::string&>();
      if (is_blank(doc)) {
        ++*empty;
        continue;
      }
      docs.push_back({std::move(doc), line});
    } else if (separator == DocumentSeparator::Line) {
      if (is_blank(text)) {
        if (!text.empty()) ++*empty;  // an empty line separates nothing; a line of spaces is an empty document
        continue;
      }
      docs.push_back({std::string(text), line});
    } else {
      if (is_blank(text)) {
        close_block();
        continue;
      }
      if (block_start == std::string::npos) block_start = text_start, block_line = line;
      block_end = text_start + text.size();
    }
  }
  close_block();
  return docs;
}

// ---- Cleaning filters ---------------------------------------------------------------------------------

TextStats text_stats(std::string_view text) {
  TextStats s;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    uint32_t cp = 0;
    size_t len = 0;
    if (c < 0x80)
      cp = c, len = 1;
    else if ((c & 0xE0) == 0xC0)
      cp = c & 0x1F, len = 2;
    else if ((c & 0xF0) == 0xE0)
      cp = c & 0x0F, len = 3;
    else if ((c & 0xF8) == 0xF0)
      cp = c & 0x07, len = 4;
    bool valid = len > 0 && i + len <= n;
    for (size_t k = 1; valid && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) valid = false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (valid && len > 1) {  // overlong forms, surrogates and values past U+10FFFF are invalid too
      static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) valid = false;
    }
    ++s.chars;
    if (!valid) {
      ++s.non_printable;
      ++i;
      continue;
    }
    if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFD)
      ++s.non_printable;
    i += len;
  }
  return s;
}

double repeated_line_ratio(std::string_view text) {
  std::unordered_set<std::string_view> seen;
  uint64_t lines = 0, repeated = 0;
  for (size_t start = 0; start <= text.size();) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = strip_cr(text.substr(start, end - start));
    start = end + 1;
    if (!is_blank(line)) {
      ++lines;
      repeated += seen.insert(line).second ? 0 : 1;
    }
    if (nl == std::string_view::npos) break;
  }
  return lines < 2 ? 0.0 : double(repeated) / double(lines);
}

std::optional<std::string> rejected_by(std::string_view text, const CleaningOptions& o) {
  if (is_blank(text)) return "empty";
  TextStats s = text_stats(text);
  if (o.min_chars > 0 && s.chars < o.min_chars) return "min_chars";
  if (o.max_chars > 0 && s.chars > o.max_chars) return "max_chars";
  if (double(s.non_printable) > o.max_non_printable_ratio * double(s.chars)) return "non_printable";
  if (repeated_line_ratio(text) > o.max_repeated_line_ratio) return "repeated_lines";
  return std::nullopt;
}

}  // namespace r1::data
