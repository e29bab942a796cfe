// JsonlTail (jsonl-tail.h): pread from the remembered offset, lines split on '\n', the identity and last
// bytes of the file compared at each poll to notice a replaced or cut-back file.
#include "server/jsonl-tail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace r1::server {

namespace {
constexpr size_t kTailBytes = 64;        // compared at each poll to notice a file cut back and grown again
constexpr size_t kChunkBytes = 1 << 20;  // read at once

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly `size` bytes at `offset` unless the file ends first; the bytes read.
size_t read_at(int fd, char* out, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out + done, size - done, off_t(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += size_t(n);
  }
  return done;
}
}  // namespace

JsonlTail::JsonlTail(std::filesystem::path path, size_t max_line_bytes)
    : path_(std::move(path)), max_line_bytes_(std::max<size_t>(max_line_bytes, 1)) {}

void JsonlTail::restart(const std::function<void()>& on_reset) {
  read_ = 0;
  pending_.clear();
  pending_at_ = 0;
  dropping_ = false;
  tail_.clear();
  too_long_ = 0;
  ++generation_;
  if (on_reset) on_reset();
}

bool JsonlTail::tail_matches(int fd) const {
  if (tail_.empty()) return true;
  std::string now(tail_.size(), '\0');
  return read_at(fd, now.data(), now.size(), read_ - tail_.size()) == now.size() && now == tail_;
}

void JsonlTail::emit(std::string_view line, const LineSink& on_line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.empty() && on_line) on_line(pending_at_, line);
}

void JsonlTail::consume(std::string_view chunk, const LineSink& on_line) {
  uint64_t at = read_;  // the file offset of chunk[0]
  while (!chunk.empty()) {
    const size_t newline = chunk.find('\n');
    const std::string_view part = chunk.substr(0, newline);
    if (!dropping_ && pending_.size() + part.size() > max_line_bytes_) {
      dropping_ = true;
      pending_.clear();
    }
    if (newline == std::string_view::npos) {
      if (!dropping_) pending_.append(part);
      return;
    }
    if (dropping_)
      ++too_long_;
    else if (pending_.empty())
      emit(part, on_line);  // the common case: the whole line is in this chunk, no copy
    else {
      pending_.append(part);
      emit(pending_, on_line);
    }
    pending_.clear();
    dropping_ = false;
    at += newline + 1;
    pending_at_ = at;
    chunk.remove_prefix(newline + 1);
  }
}

bool JsonlTail::poll(const std::function<void()>& on_reset, const LineSink& on_line) {
  const bool had_something = read_ > 0 || have_identity_;
  Fd f{::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};  // O_NONBLOCK: a FIFO must not block us
  struct stat st {};
  if (f.fd < 0 || ::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (had_something) restart(on_reset);
    have_identity_ = false;
    return false;
  }
  const uint64_t size = uint64_t(st.st_size);
  const bool replaced = have_identity_ && (st.st_dev != dev_ || st.st_ino != ino_);
  if (replaced || size < read_ || !tail_matches(f.fd)) restart(on_reset);
  have_identity_ = true;
  dev_ = st.st_dev;
  ino_ = st.st_ino;

  std::string buffer;
  while (read_ < size) {  // up to the size seen now: what is appended meanwhile waits for the next poll
    buffer.resize(size_t(std::min<uint64_t>(kChunkBytes, size - read_)));
    const size_t n = read_at(f.fd, buffer.data(), buffer.size(), read_);
    if (n == 0) break;
    const std::string_view chunk(buffer.data(), n);
    consume(chunk, on_line);
    read_ += n;
    if (n >= kTailBytes)
      tail_.assign(chunk.substr(n - kTailBytes));
    else {
      tail_.append(chunk);
      if (tail_.size() > kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
    }
  }
  return true;
}

}  // namespace r1::server
