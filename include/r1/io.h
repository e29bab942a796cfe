// Bytes and text in and out of files, checked: atomic writes (temp file + fsync + rename), whole-file reads of
// regular files only, JSON parsed with a nesting limit, and human-readable sizes. Every part of r1 and the CLI
// read and write through these, so a crash never leaves a half-written file and no input overflows the stack.
//
// Usage:
//   r1::write_file_atomic(dir / "results.json", text);              // all or nothing under the final name
//   nlohmann::json config = r1::parse_json(r1::read_file(path), path.string());  // r1::Error naming path
//   uint64_t bytes = r1::parse_byte_size("500MiB", "--max_shard_size");
//   std::cout << r1::format_bytes(bytes);                            // "524 MB"
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>

namespace r1 {

// ---- Files ----------------------------------------------------------------------------------------------------------
// Atomic writes: a temp file in the target's directory + fsync + rename + fsync of the directory, so a crash or a
// full disk never leaves a half-written file under the final name. Not here: checkpoint-level manifests (they
// build on this, src/train/checkpoint.h).
class AtomicFile {
 public:
  // Creates "<target>.tmp-<pid>-<n>" beside target. Throws r1::Error if the directory is not writable.
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();  // removes the temp file unless commit() succeeded
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Flushes to disk and renames over the target (replacing it). After this the object is inert.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;  // -1 after commit or on failure
};

void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// Whole file as bytes; r1::Error naming the path if it cannot be read or is not a regular file.
std::string read_file(const std::filesystem::path& path);

// Inputs r1 reads whole or row by row must be regular files: a FIFO blocks the reader forever and /dev/zero
// never ends. r1::Error "<path>: not a regular file (a FIFO)" / "<path>: cannot open: No such file ...".
void require_regular_file(const std::filesystem::path& path);

// ---- JSON from outside the program ----------------------------------------------------------------------------------
// JSON from files, requests and rows (HTTP bodies, dataset rows, task files, configs, checkpoints) parsed with a
// nesting limit the parser itself enforces: nlohmann's SAX interface with a depth counter (its DOM builder,
// subclassed), so a value nested deeper than kMaxJsonDepth is refused while parsing, before any recursive
// copy, dump or template context can overflow the stack on it (a 1 MiB body can nest 500,000 deep). Errors
// carry no library codes ("[json.exception.parse_error.101]") and name where: the caller's `where` (file:line,
// file, "request body") and the byte or line/column inside it.
// Not here: reading files (jsonl.h streams JSON Lines through this).

// Deeper than any chat message, tool schema or config needs; a recursive walk of this depth uses well under
// 1 MiB of stack.
inline constexpr int kMaxJsonDepth = 512;

// Parses `text` into `out`. False on any error (out untouched), with `*error` saying what and where inside
// the text: "nested deeper than 512 levels at byte 1024", "number overflow parsing '1e999999'",
// "syntax error while parsing value - invalid literal; last read: 'x' at line 1, column 3",
// "invalid string: ill-formed UTF-8 byte ...".
bool parse_json_bounded(std::string_view text, nlohmann::json& out, std::string* error, int max_depth = kMaxJsonDepth);
bool parse_json_bounded(std::string_view text, nlohmann::ordered_json& out, std::string* error,
                        int max_depth = kMaxJsonDepth);

// Throwing forms: r1::Error "<where>: not valid JSON (<what>)" / "<where>: JSON nested deeper than ...".
nlohmann::json parse_json(std::string_view text, const std::string& where);
nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& where);

// The integer obj[key] checked to lie in [low, high]: r1::Error "<where>: \"<key>\" must be an integer in
// [low, high], found <value or nothing>" otherwise (a missing key, another type, a fraction, a huge number).
// For saved states (trainer, data loaders) whose fields a hand edit or a corrupted file can change.
int64_t json_integer(const nlohmann::json& obj, const char* key, int64_t low, int64_t high, const std::string& where);

// Without a library code prefix: "[json.exception.type_error.302] type must be string" -> "type must be string".
// For the few places that still catch a nlohmann exception (a value of the wrong type in a parsed document).
std::string json_error_text(const std::exception& e);

// ---- Sizes and counts for people ------------------------------------------------------------------------------------
// "5GB" / "500MiB" parsing (transformers' max_shard_size spelling: KB/MB/GB are powers of 1000, KiB/MiB/GiB of
// 1024) and compact printing ("5.53 M", "21.1 MB").

// "5GB", "500MiB", "1000" (bytes) -> bytes. r1::UsageError naming `option` for anything else.
uint64_t parse_byte_size(const std::string& text, const std::string& option);
std::string format_bytes(uint64_t bytes);  // "21.1 MB" (powers of 1000)
std::string format_count(int64_t n);       // "5.53 M", "1.54 B", "812"

}  // namespace r1
