// StopOnSignals (stop-signals.h): a self-pipe written by the handler, read by the watcher thread.
#include "server/stop-signals.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>

#include "r1/error.h"

namespace r1::server {

namespace {
int g_signal_pipe[2] = {-1, -1};
std::atomic<int> g_signals{0};
struct sigaction g_old_int {
}, g_old_term{};

// First signal: wake the watcher. Second: leave at once. Signal 0: the destructor waking the watcher.
extern "C" void on_stop_signal(int signal) {
  if (signal != 0 && g_signals.fetch_add(1) > 0) _exit(128 + signal);
  char byte = 1;
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &byte, 1);
}
}  // namespace

StopOnSignals::StopOnSignals(std::function<void()> stop) : stop_(std::move(stop)) {
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) fail("cannot create the signal pipe");
  g_signals = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_old_int);
  sigaction(SIGTERM, &action, &g_old_term);
  watcher_ = std::thread([this] {
    char byte;
    while (::read(g_signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    stop_();
  });
}

StopOnSignals::~StopOnSignals() {
  on_stop_signal(0);
  watcher_.join();
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  ::close(g_signal_pipe[0]);
  ::close(g_signal_pipe[1]);
  g_signal_pipe[0] = g_signal_pipe[1] = -1;
}

}  // namespace r1::server
