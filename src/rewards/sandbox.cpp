// Sandboxed execution; see sandbox.h. Process tree: r1 forks A (own process group; unshares the network, mount,
// PID, IPC and UTS namespaces, plus a user namespace when not root), A forks B = PID 1 of the new PID namespace,
// B makes every mount read-only and forks C, which sets rlimits, drops to the sandbox's uid and execs the program.
// What this contains and what it does not is listed below the includes. Requires Linux >= 5.12 (mount_setattr).
#include "rewards/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

#include "r1/error.h"

// Contained:
//   1. network: an empty network namespace (loopback down; abstract unix sockets private): every connect fails.
//   2. files: all mounts are remounted read-only and nosuid (mount_setattr, AT_RECURSIVE); the only writable places
//      are a size-capped tmpfs (cwd, TMPDIR) and dir() when writable_dir; /run is covered by an empty read-only
//      tmpfs (daemon sockets); /proc is the new namespace's where the kernel allows. RLIMIT_FSIZE caps a file.
//   3. processes: as root, programs run as a fresh uid per Sandbox with no capabilities, no supplementary groups
//      and no_new_privs, so RLIMIT_NPROC really caps them; a pids cgroup (v1 or v2, when writable) caps them too.
//      When B exits (after C, or killed on timeout) the kernel kills everything left in the PID namespace, so
//      setsid() or double forks cannot escape; r1 SIGKILLs A's process group at the wall-clock deadline.
//   4. resources: RLIMIT_CPU, RLIMIT_AS, RLIMIT_NOFILE, RLIMIT_CORE = 0; stdout/stderr through pipes, cut (and the
//      sandbox killed) past max_output_bytes.
// Not contained: reading world-readable files; CPU time shared with r1 (no cgroup CPU quota); memory only per
// process (RLIMIT_AS x max_processes in all); no seccomp filter, so the kernel's whole syscall surface is exposed.
// Root whose unshare fails gets an r1::Error. Without root, a user namespace maps the caller's uid only (the program
// has no capabilities); RLIMIT_NPROC then counts in that namespace and no cgroup is used (not exercised by tests).

namespace r1::rewards {

namespace fs = std::filesystem;

namespace {
constexpr unsigned kUidBase = 2000000000;  // sandbox uids: kUidBase + (pid % 65536) * 1024 + n % 1024
std::atomic<unsigned> next_sandbox{0};

// What a child reports on the status pipe: a setup step that failed (errno), or C's wait status.
struct Report {
  char kind;  // 'E' setup error, 'S' program status
  int value;  // errno or wait status
  char step[96];
};

// ---- async-signal-safe helpers for the children (no allocation, no locks) ----
void report(int fd, char kind, int value, const char* step) {
  Report r{};
  r.kind = kind;
  r.value = value;
  for (size_t i = 0; step[i] != 0 && i + 1 < sizeof r.step; ++i) r.step[i] = step[i];
  ssize_t ignored = write(fd, &r, sizeof r);
  (void)ignored;
}

[[noreturn]] void die(int fd, const char* step) {
  report(fd, 'E', errno, step);
  _exit(125);
}

bool write_all(int fd, const char* s) {
  size_t n = strlen(s);
  return write(fd, s, n) == ssize_t(n);
}

bool write_file_raw(const char* path, const char* content) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write_all(fd, content);
  close(fd);
  return ok;
}

void format_uint(char* out, unsigned long v) {
  char tmp[24];
  int n = 0;
  do tmp[n++] = char('0' + v % 10), v /= 10;
  while (v != 0);
  for (int i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  out[n] = 0;
}

void set_limit(int fd, int resource, rlim_t soft, rlim_t hard, const char* step) {
  rlimit rl{soft, hard};
  if (setrlimit(resource, &rl) != 0) die(fd, step);
}

// Everything the children need, prepared before fork.
struct ChildPlan {
  std::vector<std::string> argv_store, env_store;
  std::vector<char*> argv, env;
  std::string dir, scratch, cwd, cgroup_procs;
  std::string tmpfs_options;
  bool writable_dir = false, drop_uid = false, hide_run = false;
  unsigned uid = 0, outer_uid = 0, outer_gid = 0;
  SandboxLimits limits;
  int stdin_fd = -1, out_fd = -1, err_fd = -1, report_fd = -1;
};

[[noreturn]] void run_program(const ChildPlan& p) {  // C
  const int rf = p.report_fd;
  if (dup2(p.stdin_fd, 0) < 0 || dup2(p.out_fd, 1) < 0 || dup2(p.err_fd, 2) < 0) die(rf, "dup2");
  if (chdir(p.cwd.c_str()) != 0) die(rf, "chdir to the working directory");
  const SandboxLimits& l = p.limits;
  rlim_t cpu = rlim_t(std::ceil(l.cpu_seconds > 0 ? l.cpu_seconds : l.timeout_seconds));
  set_limit(rf, RLIMIT_CPU, cpu, cpu + 1, "setrlimit(RLIMIT_CPU)");
  set_limit(rf, RLIMIT_AS, rlim_t(l.memory_bytes), rlim_t(l.memory_bytes), "setrlimit(RLIMIT_AS)");
  set_limit(rf, RLIMIT_FSIZE, rlim_t(l.max_file_bytes), rlim_t(l.max_file_bytes), "setrlimit(RLIMIT_FSIZE)");
  set_limit(rf, RLIMIT_NPROC, rlim_t(l.max_processes), rlim_t(l.max_processes), "setrlimit(RLIMIT_NPROC)");
  set_limit(rf, RLIMIT_NOFILE, rlim_t(l.max_open_files), rlim_t(l.max_open_files), "setrlimit(RLIMIT_NOFILE)");
  set_limit(rf, RLIMIT_CORE, 0, 0, "setrlimit(RLIMIT_CORE)");
  if (p.drop_uid) {
    if (syscall(SYS_setgroups, 0, nullptr) != 0) die(rf, "setgroups");
    if (syscall(SYS_setresgid, p.uid, p.uid, p.uid) != 0) die(rf, "setresgid");
    if (syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) die(rf, "setresuid");
    if (geteuid() == 0) die(rf, "dropping root");
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die(rf, "prctl(PR_SET_NO_NEW_PRIVS)");
  if (syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */) != 0) die(rf, "close_range");
  execve(p.argv[0], p.argv.data(), p.env.data());
  die(rf, "execve");
}

[[noreturn]] void run_init(const ChildPlan& p) {  // B: PID 1 of the new namespace
  const int rf = p.report_fd;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) die(rf, "prctl(PR_SET_PDEATHSIG)");
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die(rf, "making mounts private");
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
  if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof attr) != 0)
    die(rf, "remounting / read-only (mount_setattr)");
  if (p.writable_dir) {
    if (mount(p.dir.c_str(), p.dir.c_str(), nullptr, MS_BIND, nullptr) != 0) die(rf, "bind-mounting the directory");
    if (mount(nullptr, p.dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, nullptr) != 0)
      die(rf, "remounting the directory writable");
  }
  if (mount("tmpfs", p.scratch.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, p.tmpfs_options.c_str()) != 0)
    die(rf, "mounting the scratch tmpfs");
  if (p.hide_run && mount("tmpfs", "/run", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k") != 0)
    die(rf, "covering /run");
  // The namespace's own /proc; where that is refused (a container masking /proc), the host's stays visible.
  mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  pid_t c = fork();
  if (c < 0) die(rf, "fork (program)");
  if (c == 0) run_program(p);
  for (;;) {  // reap everything (orphans are re-parented here) until C ends
    int status = 0;
    pid_t w = waitpid(-1, &status, 0);
    if (w == c) {
      report(rf, 'S', status, "");
      _exit(0);  // the kernel now kills whatever is left in the namespace
    }
    if (w < 0 && errno != EINTR) die(rf, "waitpid");
  }
}

// Closes every descriptor but `keep` (sorted): other threads' pipes inherited by this fork would otherwise stay
// open for as long as this sandbox runs and delay their end-of-file.
void close_all_but(int a, int b, int c, int d) {
  int keep[4] = {a, b, c, d};
  std::sort(keep, keep + 4);
  unsigned from = 3;
  for (int k : keep) {
    if (k >= int(from)) {
      if (k > int(from)) syscall(SYS_close_range, from, unsigned(k - 1), 0u);
      from = unsigned(k) + 1;
    }
  }
  syscall(SYS_close_range, from, ~0u, 0u);
}

[[noreturn]] void run_outer(const ChildPlan& p, pid_t r1_pid) {  // A
  const int rf = p.report_fd;
  close_all_but(p.stdin_fd, p.out_fd, p.err_fd, p.report_fd);
  setpgid(0, 0);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != r1_pid) _exit(125);
  if (!p.cgroup_procs.empty()) {
    char pid[24];
    format_uint(pid, (unsigned long)getpid());
    if (!write_file_raw(p.cgroup_procs.c_str(), pid)) die(rf, "joining the pids cgroup");
  }
  const int namespaces = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
  if (p.drop_uid) {
    if (unshare(namespaces) != 0) die(rf, "unshare(CLONE_NEWNET|CLONE_NEWNS|CLONE_NEWPID)");
  } else {
    if (unshare(CLONE_NEWUSER | namespaces) != 0)
      die(rf, "unshare(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWNS|CLONE_NEWPID)");
    char map[64], id[24];
    if (!write_file_raw("/proc/self/setgroups", "deny")) die(rf, "writing /proc/self/setgroups");
    format_uint(id, p.outer_uid);
    strcpy(map, id), strcat(map, " "), strcat(map, id), strcat(map, " 1");
    if (!write_file_raw("/proc/self/uid_map", map)) die(rf, "writing /proc/self/uid_map");
    format_uint(id, p.outer_gid);
    strcpy(map, id), strcat(map, " "), strcat(map, id), strcat(map, " 1");
    if (!write_file_raw("/proc/self/gid_map", map)) die(rf, "writing /proc/self/gid_map");
  }
  pid_t b = fork();
  if (b < 0) die(rf, "fork (namespace init)");
  if (b == 0) run_init(p);
  int status = 0;
  while (waitpid(b, &status, 0) < 0 && errno == EINTR) {
  }
  _exit(0);
}

// ---- parent side ----
std::string errno_text(int e) { return std::strerror(e); }

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

// A pids cgroup of its own for one run (v1 "pids" hierarchy, or v2 with the pids controller), or "" when none can be
// made (e.g. not root): the per-uid RLIMIT_NPROC still applies.
std::string make_pids_cgroup(int max_processes, const std::string& name) {
  std::ifstream in("/proc/self/cgroup");
  std::string line, base;
  while (std::getline(in, line)) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers == "pids" || controllers.find("pids,") == 0 || controllers.find(",pids") != std::string::npos) {
      base = "/sys/fs/cgroup/pids" + path;
      break;
    }
    if (controllers.empty() && line.compare(0, 2, "0:") == 0) {
      std::ifstream ctl("/sys/fs/cgroup" + path + "/cgroup.controllers");
      std::string available((std::istreambuf_iterator<char>(ctl)), {});
      if (available.find("pids") != std::string::npos) base = "/sys/fs/cgroup" + path;
    }
  }
  if (base.empty()) return "";
  std::string dir = base + (base.back() == '/' ? "" : "/") + name;
  if (mkdir(dir.c_str(), 0700) != 0) return "";
  if (!write_file_raw((dir + "/pids.max").c_str(), std::to_string(max_processes).c_str())) {
    rmdir(dir.c_str());
    return "";
  }
  return dir;
}

// Kills whatever is still in the run's cgroup, waits (up to 10 s) until the kernel has reaped it all, then
// removes the cgroup: when run() returns, no process of the run is left, even when the PID namespace's own
// teardown is slow under load.
void remove_cgroup(const std::string& dir) {
  const bool has_kill = write_file_raw((dir + "/cgroup.kill").c_str(), "1");  // cgroup v2 (Linux >= 5.14)
  for (int attempt = 0; attempt < 10000; ++attempt) {
    if (rmdir(dir.c_str()) == 0 || errno != EBUSY) return;
    if (!has_kill) {
      std::ifstream procs(dir + "/cgroup.procs");
      for (pid_t pid; procs >> pid;) kill(pid, SIGKILL);
    }
    usleep(1000);
  }
}
// Processes whose real uid is `uid` (only this sandbox's programs run as it), from /proc/<pid>/status.
int processes_of(unsigned uid) {
  int n = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    std::ifstream status(entry.path() / "status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("Uid:", 0) == 0) {
        if (std::strtoul(line.c_str() + 4, nullptr, 10) == uid) ++n;
        break;
      }
  }
  return n;
}
}  // namespace

Sandbox::Sandbox() {
  drop_uid_ = geteuid() == 0;
  unsigned n = next_sandbox.fetch_add(1);
  uid_ = drop_uid_ ? kUidBase + (unsigned(getpid()) % 65536) * 1024 + n % 1024 : geteuid();
  std::string tmpl = (fs::temp_directory_path() / "r1-sandbox-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) fail("sandbox: cannot create a directory {}: {}", tmpl, errno_text(errno));
  dir_ = tmpl;
  fs::create_directory(dir_ / "scratch");
  if (drop_uid_ && (chown(dir_.c_str(), uid_, uid_) != 0 || chown((dir_ / "scratch").c_str(), uid_, uid_) != 0))
    fail("sandbox: cannot give {} to uid {}: {}", dir_.string(), uid_, errno_text(errno));
}

Sandbox::~Sandbox() {
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void Sandbox::write_file(const std::string& name, const std::string& content) const {
  fs::path path = dir_ / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), std::streamsize(content.size()));
  out.close();
  if (!out) fail("sandbox: cannot write {}", path.string());
  if (drop_uid_ && chown(path.c_str(), uid_, uid_) != 0)
    fail("sandbox: cannot give {} to uid {}: {}", path.string(), uid_, errno_text(errno));
}

SandboxResult Sandbox::run(const std::vector<std::string>& argv, const std::string& input, const SandboxLimits& limits,
                           bool writable_dir) const {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/')
    fail("sandbox: the program must be an absolute path, found '{}'", argv.empty() ? "" : argv[0]);
  if (!(limits.timeout_seconds > 0) || limits.memory_bytes <= 0 || limits.max_output_bytes < 0 ||
      limits.max_file_bytes <= 0 || limits.max_processes < 1 || limits.max_open_files < 4)
    fail("sandbox: invalid limits (timeout {} s, memory {} B, output {} B, file {} B, processes {}, files {})",
         limits.timeout_seconds, limits.memory_bytes, limits.max_output_bytes, limits.max_file_bytes,
         limits.max_processes, limits.max_open_files);

  ChildPlan plan;
  plan.limits = limits;
  plan.argv_store = argv;
  plan.dir = dir_.string();
  plan.scratch = (dir_ / "scratch").string();
  plan.cwd = writable_dir ? plan.dir : plan.scratch;
  plan.writable_dir = writable_dir;
  plan.drop_uid = drop_uid_;
  plan.uid = uid_;
  plan.outer_uid = geteuid();
  plan.outer_gid = getegid();
  plan.tmpfs_options = fmt::format("size={},nr_inodes=4096,mode=0700,uid={},gid={}", limits.max_file_bytes,
                                   drop_uid_ ? uid_ : geteuid(), drop_uid_ ? uid_ : getegid());
  struct stat st {};
  plan.hide_run = stat("/run", &st) == 0 && S_ISDIR(st.st_mode) && plan.dir.rfind("/run/", 0) != 0;
  plan.env_store = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + plan.cwd,      "TMPDIR=" + plan.cwd, "LANG=C.UTF-8",
                    "PYTHONDONTWRITEBYTECODE=1",         "PYTHONIOENCODING=utf-8"};
  for (auto& s : plan.argv_store) plan.argv.push_back(s.data());
  plan.argv.push_back(nullptr);
  for (auto& s : plan.env_store) plan.env.push_back(s.data());
  plan.env.push_back(nullptr);

  Fd stdin_fd(memfd_create("r1-sandbox-stdin", MFD_CLOEXEC));
  if (stdin_fd.fd < 0) fail("sandbox: memfd_create: {}", errno_text(errno));
  for (size_t done = 0; done < input.size();) {
    ssize_t n = write(stdin_fd.fd, input.data() + done, input.size() - done);
    if (n < 0) fail("sandbox: writing stdin: {}", errno_text(errno));
    done += size_t(n);
  }
  lseek(stdin_fd.fd, 0, SEEK_SET);
  int out_pipe[2], err_pipe[2], report_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) fail("sandbox: pipe: {}", errno_text(errno));
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) fail("sandbox: pipe: {}", errno_text(errno));
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
  if (pipe2(report_pipe, O_CLOEXEC) != 0) fail("sandbox: pipe: {}", errno_text(errno));
  Fd report_r(report_pipe[0]), report_w(report_pipe[1]);
  plan.stdin_fd = stdin_fd.fd, plan.out_fd = out_w.fd, plan.err_fd = err_w.fd, plan.report_fd = report_w.fd;

  std::string cgroup;
  if (drop_uid_) {
    cgroup = make_pids_cgroup(limits.max_processes,
                              fs::path(plan.dir).filename().string() + "-" + std::to_string(next_sandbox.fetch_add(1)));
    if (!cgroup.empty()) plan.cgroup_procs = cgroup + "/cgroup.procs";
  }

  const pid_t self = getpid();
  const auto start = std::chrono::steady_clock::now();
  pid_t a = fork();
  if (a < 0) {
    if (!cgroup.empty()) remove_cgroup(cgroup);
    fail("sandbox: fork: {}", errno_text(errno));
  }
  if (a == 0) run_outer(plan, self);
  setpgid(a, a);
  out_w.reset(), err_w.reset(), report_w.reset();

  SandboxResult result;
  const auto deadline = start + std::chrono::duration<double>(limits.timeout_seconds);
  bool killed = false;
  auto kill_all = [&] {
    if (!killed) kill(-a, SIGKILL), kill(a, SIGKILL);
    killed = true;
  };
  std::string* sinks[2] = {&result.out, &result.err};
  pollfd fds[2] = {{out_r.fd, POLLIN, 0}, {err_r.fd, POLLIN, 0}};
  char buffer[65536];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    int wait_ms = -1;
    if (!killed) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        result.timed_out = true;
        kill_all();
      } else {
        wait_ms = int(std::min<int64_t>(left.count() + 1, 1000));
      }
    }
    int n = poll(fds, 2, wait_ms);
    if (n < 0 && errno != EINTR) {
      kill_all();
      break;
    }
    for (int k = 0; k < 2 && n > 0; ++k) {
      if (fds[k].fd < 0 || fds[k].revents == 0) continue;
      ssize_t got = read(fds[k].fd, buffer, sizeof buffer);
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        fds[k].fd = -1;
        continue;
      }
      std::string& sink = *sinks[k];
      size_t room = size_t(limits.max_output_bytes) - std::min(sink.size(), size_t(limits.max_output_bytes));
      sink.append(buffer, std::min(size_t(got), room));
      if (size_t(got) > room) {
        result.output_truncated = true;
        kill_all();
      }
    }
  }
  int status = 0;
  while (waitpid(a, &status, 0) < 0 && errno == EINTR) {
  }
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!cgroup.empty()) remove_cgroup(cgroup);
  // A killed run's processes leave the cgroup when they start exiting, not when they are gone: some may still
  // be tearing down or waiting to be reaped (as zombies they still count against this uid's RLIMIT_NPROC for
  // the next run). Wait (up to 10 s) until none is left.
  if (killed && drop_uid_)
    for (int attempt = 0; attempt < 10000 && processes_of(uid_) > 0; ++attempt) usleep(1000);

  fcntl(report_r.fd, F_SETFL, O_NONBLOCK);
  std::optional<Report> program, failure;
  Report r;
  while (read(report_r.fd, &r, sizeof r) == ssize_t(sizeof r)) (r.kind == 'S' ? program : failure) = r;
  if (failure)
    fail("sandbox: {} failed ({}) while starting '{}'; nothing was run outside the sandbox", failure->step,
         errno_text(failure->value), argv[0]);
  if (program) {
    if (WIFEXITED(program->value))
      result.exit_code = WEXITSTATUS(program->value);
    else if (WIFSIGNALED(program->value))
      result.signal = WTERMSIG(program->value);
  } else {
    result.signal = SIGKILL;  // killed (timeout or output cap) before the program's status was reported
  }
  if (killed && result.exit_code == 0 && result.signal == 0) result.signal = SIGKILL;
  return result;
}

}  // namespace r1::rewards
