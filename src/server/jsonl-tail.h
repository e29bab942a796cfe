// Incremental reading of a JSON Lines file that another process appends to (a run's metrics.jsonl and
// completions.jsonl, for `r1 dashboard`): each poll reads only the bytes appended since the last one, as
// `tail -F` does, and hands over the complete lines; a last line without its '\n' waits for the next poll.
// A file that was replaced or cut back — the trainer rewrites metrics.jsonl without the lines after the
// checkpoint when a run resumes (train/checkpoint.h truncate_step_log: a new file renamed over the old) — is
// read again from byte 0: poll notices a new inode, a file shorter than what was read, or last-read bytes that
// are no longer the same (cut back in place, then grown past the old end between two polls).
// Not here: parsing the lines (the caller does, counting those that are not JSON).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace r1::server {

class JsonlTail {
 public:
  using LineSink = std::function<void(uint64_t offset, std::string_view line)>;

  // Lines longer than max_line_bytes are skipped (counted in lines_too_long), never held whole.
  explicit JsonlTail(std::filesystem::path path, size_t max_line_bytes = size_t(16) << 20);

  // Reads what was appended since the last call and passes each complete non-empty line (without its '\n' or
  // "\r\n") with the byte offset of its first byte. When the file was replaced, cut back or removed since the
  // last call, `on_reset` runs first (the caller drops what it built from the earlier lines) and reading starts
  // again at byte 0. Returns whether the file exists (as a regular file; anything else reads as absent).
  bool poll(const std::function<void()>& on_reset, const LineSink& on_line);

  // Resets so far: 0 until the file is first replaced or cut back.
  uint64_t generation() const { return generation_; }
  uint64_t bytes_read() const { return read_; }
  uint64_t lines_too_long() const { return too_long_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void restart(const std::function<void()>& on_reset);
  bool tail_matches(int fd) const;
  void consume(std::string_view chunk, const LineSink& on_line);
  void emit(std::string_view line, const LineSink& on_line);

  std::filesystem::path path_;
  size_t max_line_bytes_;
  uint64_t read_ = 0;        // bytes of the file read so far (complete lines and pending_)
  std::string pending_;      // the last line read so far, without its '\n' yet
  uint64_t pending_at_ = 0;  // its offset
  bool dropping_ = false;    // pending_ grew past max_line_bytes: the rest of that line is skipped
  std::string tail_;         // the last (at most kTailBytes) bytes read, ending at read_
  bool have_identity_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint64_t generation_ = 0, too_long_ = 0;
};

}  // namespace r1::server
