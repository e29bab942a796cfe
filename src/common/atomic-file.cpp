// Atomic writes and whole-file reads; see include/r1/io.h.
#include "r1/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "r1/error.h"

namespace r1 {
namespace fs = std::filesystem;

namespace {
std::atomic<uint64_t> temp_counter{0};

void fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some file systems do not allow opening directories
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)) {
  temp_ = target_;
  temp_ += fmt::format(".tmp-{}-{}", ::getpid(), temp_counter.fetch_add(1));
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create {}: {}", temp_.string(), std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    std::error_code ignored;
    fs::remove(temp_, ignored);
  }
}

void AtomicFile::write(const void* data, size_t size) {
  if (fd_ < 0) fail("internal: write to {} after commit", target_.string());
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write {}: {}", temp_.string(), std::strerror(errno));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) fail("internal: {} committed twice", target_.string());
  if (::fsync(fd_) != 0) fail("cannot flush {}: {}", temp_.string(), std::strerror(errno));
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    std::error_code ignored;
    fs::remove(temp_, ignored);
    fail("cannot close {}: {}", temp_.string(), std::strerror(errno));
  }
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    int err = errno;
    std::error_code ignored;
    fs::remove(temp_, ignored);
    fail("cannot rename {} to {}: {}", temp_.string(), target_.string(), std::strerror(err));
  }
  fsync_directory(target_.parent_path());
}

void write_file_atomic(const fs::path& path, std::string_view content) {
  AtomicFile file(path);
  file.write(content);
  file.commit();
}

void require_regular_file(const fs::path& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error) fail("{}: cannot open: {}", path.string(), error.message());
  const char* kind = nullptr;
  switch (status.type()) {
    case fs::file_type::regular:
      return;
    case fs::file_type::directory:
      kind = "a directory";
      break;
    case fs::file_type::fifo:
      kind = "a FIFO";
      break;
    case fs::file_type::socket:
      kind = "a socket";
      break;
    case fs::file_type::character:
      kind = "a character device";
      break;
    case fs::file_type::block:
      kind = "a block device";
      break;
    default:
      kind = "not a file";
      break;
  }
  fail("{}: not a regular file ({})", path.string(), kind);
}

std::string read_file(const fs::path& path) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open {}: {}", path.string(), std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("cannot read {}", path.string());
  return std::move(buffer).str();
}

}  // namespace r1
