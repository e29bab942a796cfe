// `r1 launch` (include/r1/distributed.h: launch): torchrun's process launcher without Python or elastic restarts.
// Starts one child per local rank with torchrun's variables, forwards SIGINT/SIGTERM/SIGHUP, and stops every rank
// when one fails, as torchrun's LocalElasticAgent does. Where it goes beyond or departs from torchrun:
//   1. The program: argv[0] with a '/' is run as given; "r1", when this process is r1, is this binary
//      (/proc/self/exe: the same build); another name is looked up on PATH; a name not found there (`pretrain`,
//      `--version`), when this process is r1, is an r1 subcommand: this binary runs with argv as its arguments.
//   2. Each child runs in a process group of its own, so a Ctrl-C at the terminal reaches it once, through the
//      launcher (r1's trainers take a second SIGINT as "stop now, without a checkpoint"); signals go to the whole
//      group (a shell rank and what it started). Like background jobs, ranks cannot read the terminal. Children get
//      SIGTERM when the thread that called launch() dies (PR_SET_PDEATHSIG), so a SIGKILLed launcher leaves no ranks
//      behind. One launch() at a time per process.
//   3. A signal the launcher received makes it return 128 + that signal (unless a rank had failed before), even
//      when the ranks then exit 0 after a checkpoint: the run did not finish.
//   4. --log-dir appends to LOG_DIR/rank-<RANK>.log (an existing file is never truncated), after a header line.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "r1/distributed.h"
#include "r1/error.h"

extern char** environ;

namespace r1::dist {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP};

// ---- Signals: the handler writes the signal number to a self-pipe that the wait loop polls ----------------------

int g_signal_pipe[2] = {-1, -1};

extern "C" void on_launcher_signal(int signal) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(signal);
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &byte, 1);
  errno = saved;
}

// Installs the forwarding handlers for the life of one launch and restores the previous ones. A signal the launcher
// inherited as ignored (nohup's SIGHUP, SIGINT of a `&` job in a script) stays ignored, in the children too.
class SignalForwarding {
 public:
  SignalForwarding() {
    if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
      fail("r1 launch: cannot create a pipe: {}", strerror(errno));
    struct sigaction action {};
    action.sa_handler = on_launcher_signal;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < std::size(kForwarded); ++i) {
      sigaction(kForwarded[i], nullptr, &old_[i]);
      if (old_[i].sa_handler != SIG_IGN) sigaction(kForwarded[i], &action, nullptr);
    }
  }
  ~SignalForwarding() {
    for (size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &old_[i], nullptr);
    ::close(g_signal_pipe[0]);
    ::close(g_signal_pipe[1]);
    g_signal_pipe[0] = g_signal_pipe[1] = -1;
  }
  SignalForwarding(const SignalForwarding&) = delete;
  SignalForwarding& operator=(const SignalForwarding&) = delete;

  // Waits up to `timeout_ms` for signals; returns those received, in order.
  // What a child sets the signal to before exec: SIG_IGN where the launcher inherited it so, else SIG_DFL.
  sighandler_t child_disposition(size_t i) const { return old_[i].sa_handler == SIG_IGN ? SIG_IGN : SIG_DFL; }

  std::vector<int> wait(int timeout_ms) {
    pollfd p{g_signal_pipe[0], POLLIN, 0};
    ::poll(&p, 1, timeout_ms);
    std::vector<int> signals;
    unsigned char buffer[64];
    ssize_t n;
    while ((n = ::read(g_signal_pipe[0], buffer, sizeof buffer)) > 0) signals.insert(signals.end(), buffer, buffer + n);
    return signals;
  }

 private:
  struct sigaction old_[std::size(kForwarded)]{};
};

// ---- The program to run -------------------------------------------------------------------------------------------

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  const std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t begin = 0;
  while (begin <= dirs.size()) {
    size_t end = dirs.find(':', begin);
    if (end == std::string::npos) end = dirs.size();
    const std::string dir = dirs.substr(begin, end - begin);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    begin = end + 1;
  }
  return {};
}

struct Program {
  std::string path;               // what execv runs
  std::vector<std::string> argv;  // its argv, argv[0] included
};

// Rule 1 of the file header.
Program resolve_program(const std::vector<std::string>& argv) {
  const std::string& first = argv.front();
  if (first.find('/') != std::string::npos) {
    if (!is_executable_file(first)) fail_usage("r1 launch: '{}' is not an executable file", first);
    return {first, argv};
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const bool self_is_r1 = !ec && self.filename() == "r1";
  if (self_is_r1 && first == "r1") {
    std::vector<std::string> args = argv;
    args.front() = self.string();
    return {self.string(), args};
  }
  if (std::string found = find_on_path(first); !found.empty()) return {found, argv};
  if (!self_is_r1)
    fail_usage("r1 launch: '{}' is not a program on PATH (and this process is not r1, so it is no r1 subcommand)",
               first);
  std::vector<std::string> args = {self.string()};
  args.insert(args.end(), argv.begin(), argv.end());
  return {self.string(), args};
}

// ---- Checks and the children's environment ------------------------------------------------------------------------

void check_options(const LaunchOptions& o, const std::vector<std::string>& argv) {
  if (o.nproc_per_node < 1) fail_usage("--nproc-per-node must be >= 1, got {}", o.nproc_per_node);
  if (o.nnodes < 1) fail_usage("--nnodes must be >= 1, got {}", o.nnodes);
  if (o.node_rank < 0 || o.node_rank >= o.nnodes)
    fail_usage("--node-rank must be >= 0 and < --nnodes ({}), got {}", o.nnodes, o.node_rank);
  if (o.master_port < 1 || o.master_port > 65535)
    fail_usage("--master-port must be in 1..65535, got {}", o.master_port);
  if (o.master_addr.empty()) fail_usage("--master-addr must not be empty");
  if (!(o.kill_grace_seconds >= 0) || !std::isfinite(o.kill_grace_seconds))
    fail_usage("--kill-grace must be a number of seconds >= 0, got {}", o.kill_grace_seconds);
  if (argv.empty()) fail_usage("r1 launch: no program to run (give it after --, e.g. r1 launch -- pretrain ...)");
}

// The inherited environment with torchrun's variables for one local rank set (replacing inherited values).
std::vector<std::string> child_environment(const LaunchOptions& o, int local_rank) {
  const int world = o.nnodes * o.nproc_per_node;
  const std::map<std::string, std::string> set = {
      {"RANK", std::to_string(o.node_rank * o.nproc_per_node + local_rank)},
      {"WORLD_SIZE", std::to_string(world)},
      {"LOCAL_RANK", std::to_string(local_rank)},
      {"LOCAL_WORLD_SIZE", std::to_string(o.nproc_per_node)},
      {"GROUP_RANK", std::to_string(o.node_rank)},
      {"GROUP_WORLD_SIZE", std::to_string(o.nnodes)},
      {"ROLE_NAME", "default"},
      {"ROLE_RANK", std::to_string(o.node_rank * o.nproc_per_node + local_rank)},
      {"ROLE_WORLD_SIZE", std::to_string(world)},
      {"MASTER_ADDR", o.master_addr},
      {"MASTER_PORT", std::to_string(o.master_port)},
      {"TORCHELASTIC_RUN_ID", o.run_id},
      {"TORCHELASTIC_RESTART_COUNT", "0"},
      {"TORCHELASTIC_MAX_RESTARTS", "0"},
  };
  std::vector<std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string text = *entry;
    if (!set.count(text.substr(0, text.find('=')))) env.push_back(text);
  }
  for (const auto& [name, value] : set) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Opens LOG_DIR/rank-<rank>.log for appending and writes the run's header line; returns the descriptor.
int open_log(const fs::path& dir, int rank, int world, const LaunchOptions& o, const Program& program) {
  const fs::path path = dir / ("rank-" + std::to_string(rank) + ".log");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail("r1 launch: cannot open {}: {}", path.string(), strerror(errno));
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::string command;
  for (const std::string& a : program.argv) command += (command.empty() ? "" : " ") + a;
  const std::string header = fmt::format("==== r1 launch {}: rank {} of {} (node {}), {}: {}\n", o.run_id, rank, world,
                                         o.node_rank, when, command);
  if (::write(fd, header.data(), header.size()) != static_cast<ssize_t>(header.size()))
    fail("r1 launch: cannot write {}: {}", path.string(), strerror(errno));
  return fd;
}

// ---- The children -------------------------------------------------------------------------------------------------

struct Child {
  pid_t pid = -1;
  int rank = 0, local_rank = 0;
  bool running = false;
};

// fork + execv; between them only async-signal-safe calls on data prepared before the fork.
pid_t spawn(const Program& program, std::vector<std::string>& env, int log_fd, const SignalForwarding& forwarding) {
  sighandler_t dispositions[std::size(kForwarded)];
  for (size_t i = 0; i < std::size(kForwarded); ++i) dispositions[i] = forwarding.child_disposition(i);
  std::vector<std::string> args = program.argv;
  std::vector<char*> argv_ptrs = pointers(args), env_ptrs = pointers(env);
  const std::string exec_error = "r1 launch: cannot run " + program.path + ": ";
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) _exit(128 + SIGTERM);  // the launcher died before prctl
  if (log_fd >= 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
  }
  for (size_t i = 0; i < std::size(kForwarded); ++i) ::signal(kForwarded[i], dispositions[i]);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(program.path.c_str(), argv_ptrs.data(), env_ptrs.data());
  const char* reason = strerrordesc_np(errno);  // strerror may translate (not async-signal-safe)
  if (reason == nullptr) reason = "unknown error";
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, exec_error.data(), exec_error.size());
  n = ::write(STDERR_FILENO, reason, strlen(reason));
  n = ::write(STDERR_FILENO, "\n", 1);
  _exit(127);
}

std::string describe(int status) {
  if (WIFSIGNALED(status))
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("exited with status {}", WEXITSTATUS(status));
}

int exit_code(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

// Signals each running child's process group (the child and what it started, as a terminal's Ctrl-C would).
void signal_running(const std::vector<Child>& children, int signal) {
  for (const Child& c : children)
    if (c.running) ::kill(-c.pid, signal);
}

// The ranks' log files (--log-dir), open until the children have them; -1 where a rank writes to the terminal.
class LogFiles {
 public:
  LogFiles(const LaunchOptions& o, const Program& program) : fds_(o.nproc_per_node, -1) {
    if (!o.log_dir) return;
    const fs::path dir = *o.log_dir;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) fail("r1 launch: --log-dir {}: cannot create it: {}", dir.string(), ec.message());
    for (int i = 0; i < o.nproc_per_node; ++i)
      fds_[i] = open_log(dir, o.node_rank * o.nproc_per_node + i, o.nnodes * o.nproc_per_node, o, program);
    fmt::print(stderr, "r1 launch: {} local rank(s); their output is appended to {}/rank-<RANK>.log\n",
               o.nproc_per_node, dir.string());
  }
  ~LogFiles() { close(); }
  LogFiles(const LogFiles&) = delete;
  LogFiles& operator=(const LogFiles&) = delete;
  int fd(int local_rank) const { return fds_[local_rank]; }
  void close() {
    for (int& fd : fds_) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }

 private:
  std::vector<int> fds_;
};

// Starts every local rank. Signals are blocked around each fork, so that no child runs the launcher's handler
// before it resets it; a fork that fails kills the ranks already started.
std::vector<Child> start_children(const LaunchOptions& o, const Program& program, const LogFiles& logs,
                                  const SignalForwarding& forwarding) {
  sigset_t forwarded, previous;
  sigemptyset(&forwarded);
  for (int signal : kForwarded) sigaddset(&forwarded, signal);
  std::vector<Child> children;
  for (int local = 0; local < o.nproc_per_node; ++local) {
    std::vector<std::string> env = child_environment(o, local);
    ::pthread_sigmask(SIG_BLOCK, &forwarded, &previous);
    const pid_t pid = spawn(program, env, logs.fd(local), forwarding);
    const int fork_errno = errno;
    if (pid > 0) ::setpgid(pid, pid);  // also here, so that the group exists before the first kill(-pid)
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (pid < 0) {
      signal_running(children, SIGKILL);
      for (const Child& c : children) ::waitpid(c.pid, nullptr, 0);
      fail("r1 launch: cannot start local rank {}: {}", local, strerror(fork_errno));
    }
    children.push_back({pid, o.node_rank * o.nproc_per_node + local, local, true});
  }
  return children;
}

// Waits for every child: forwards the signals the launcher receives, stops the others when one fails, and
// SIGKILLs whatever still runs `kill_grace_seconds` after it was asked to stop. Returns launch()'s status.
int supervise(std::vector<Child>& children, SignalForwarding& forwarding, double kill_grace_seconds) {
  int first_failure = -1;  // exit code of the first rank that failed
  int received = 0;        // the first signal forwarded
  constexpr Clock::time_point kNever = Clock::time_point::max();
  Clock::time_point kill_at = kNever;  // when the ranks still running get SIGKILL
  const auto grace = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(std::min(kill_grace_seconds, 1e8)));  // 1e8 s: never, without overflow
  for (size_t running = children.size(); running > 0;) {
    for (int signal : forwarding.wait(50)) {
      if (received == 0) received = signal;
      signal_running(children, signal);
      if (kill_at == kNever) kill_at = Clock::now() + grace;
    }
    for (Child& c : children) {
      int status = 0;
      if (!c.running || ::waitpid(c.pid, &status, WNOHANG) != c.pid) continue;
      c.running = false;
      --running;
      if (exit_code(status) == 0 || first_failure >= 0 || received != 0) continue;
      first_failure = exit_code(status);
      fmt::print(stderr, "r1 launch: rank {} (local rank {}) {}{}\n", c.rank, c.local_rank, describe(status),
                 running > 0 ? "; stopping the other ranks" : "");
      signal_running(children, SIGTERM);
      kill_at = Clock::now() + grace;
    }
    if (running > 0 && Clock::now() >= kill_at) {
      for (const Child& c : children)
        if (c.running)
          fmt::print(stderr, "r1 launch: rank {} (local rank {}) did not stop within {} s; killing it\n", c.rank,
                     c.local_rank, kill_grace_seconds);
      signal_running(children, SIGKILL);
      kill_at = kNever;
    }
  }
  if (first_failure >= 0) return first_failure;
  return received != 0 ? 128 + received : 0;
}

}  // namespace

int launch(const LaunchOptions& options, const std::vector<std::string>& argv) {
  check_options(options, argv);
  const Program program = resolve_program(argv);
  LogFiles logs(options, program);
  SignalForwarding forwarding;
  std::vector<Child> children = start_children(options, program, logs, forwarding);
  logs.close();  // the children hold their own copies
  return supervise(children, forwarding, options.kill_grace_seconds);
}

}  // namespace r1::dist
