// Progress bar; see progress.h.
#include "common/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace r1 {

Progress::Progress(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && ::isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::add(uint64_t n) {
  done_ += n;
  draw(false);
}
void Progress::set(uint64_t done) {
  done_ = done;
  draw(false);
}
void Progress::set_total(uint64_t total) { total_ = total; }

void Progress::finish() {
  if (finished_) return;
  draw(true);
  if (enabled_) std::fputc('\n', stderr);
  finished_ = true;
}

void Progress::draw(bool force) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  uint64_t done = done_, total = total_;
  double frac = total ? std::min(1.0, double(done) / double(total)) : 0.0;
  constexpr int kWidth = 30;
  int filled = int(frac * kWidth);
  std::string eta = frac > 0 && frac < 1 ? fmt::format(" ETA {:.0f}s", elapsed * (1 - frac) / frac) : "";
  fmt::print(stderr, "\r{} [{}{}] {}/{} {:.1f}s{}   ", label_, std::string(filled, '#'),
             std::string(kWidth - filled, '.'), done, total, elapsed, eta);
  std::fflush(stderr);
}

}  // namespace r1
