// Atomic file writes (temp file in the target's directory + fsync + rename + fsync of the directory), so a
// crash or a full disk never leaves a half-written file under the final name, and whole-file reads.
// Not here: checkpoint-level manifests (they build on this).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace r1 {

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

}  // namespace r1
