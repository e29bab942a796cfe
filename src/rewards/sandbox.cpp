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

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "r1/error.h"

// Contained:
//   1. network: an empty network namespace (loopback down; abstract unix sockets private): every connect fails.
//   2. files: the program runs in a new root (pivot_root) holding /usr, /etc and the host's /bin, /lib* links
//      (bound read-only, nosuid), /dev/{null,zero,full,random,urandom}, its own /proc where the kernel allows,
//      an empty read-only /tmp, the sandbox directory and its scratch tmpfs: no host /tmp, /run, /home, /var,
//      project or other directory, so no host unix socket or user file is reachable by path. The only writable
//      places are the size-capped scratch tmpfs (cwd, TMPDIR) and dir() when writable_dir. RLIMIT_FSIZE caps a
//      file.
//   3. processes: as root, programs run as a fresh uid per Sandbox with no capabilities, no supplementary groups
//      and no_new_privs, so RLIMIT_NPROC really caps them; the run's pids cgroup (v1 or v2, when writable) caps
//      them all together, and its memory cgroup caps their memory all together with swap off.
//      When B exits (after C, or killed on timeout) the kernel kills everything left in the PID namespace, so
//      setsid() or double forks cannot escape; r1 SIGKILLs A's process group at the wall-clock deadline.
//   4. resources: RLIMIT_CPU, RLIMIT_AS, RLIMIT_NOFILE, RLIMIT_CORE = 0; stdout/stderr through pipes, cut (and the
//      sandbox killed) past max_output_bytes.
// Not contained: reading world-readable files under /usr and /etc; CPU time shared with r1 (no cgroup CPU quota);
// where no memory cgroup can be made (not root, no delegation: said once on stderr) memory only per process
// (RLIMIT_AS x max_processes in all); no seccomp filter, so the kernel's whole syscall surface is exposed.
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
  std::string dir, scratch, cwd;
  std::vector<std::string> cgroup_procs;  // cgroup.procs files A joins (pids and memory)
  std::string tmpfs_options;
  // The file-system view, built by B as a new root on a tmpfs mounted at new_root (paths below are prepared
  // here, absolute, so B allocates nothing): host directories bound read-only, the host's top-level symlinks
  // (/bin -> usr/bin) recreated, device nodes bound one by one, and the directories leading to dir.
  std::string new_root, old_root;
  std::vector<std::pair<std::string, std::string>> root_binds;  // (host path, path in the new root)
  std::vector<std::pair<std::string, std::string>> root_links;  // (link text, path in the new root)
  std::vector<std::pair<std::string, std::string>> dev_binds;   // (/dev/null, new root's /dev/null)
  std::vector<std::pair<std::string, std::string>> dev_links;   // (/proc/self/fd, new root's /dev/fd)
  std::vector<std::string> root_dirs;                           // created in order: /dev, /proc, /tmp, dir's parents
  std::string root_proc, root_dir, root_scratch;
  bool writable_dir = false, drop_uid = false;
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
  // A copy of dir's mount as it is now (read-only, nothing under it yet), moved into the new root below.
  const int dir_tree = int(syscall(SYS_open_tree, AT_FDCWD, p.dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (dir_tree < 0) die(rf, "open_tree (the sandbox directory)");
  const char* root = p.new_root.c_str();
  if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=1024,mode=0755") != 0)
    die(rf, "mounting the new root");
  for (const std::string& d : p.root_dirs)
    if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) die(rf, "creating a directory of the new root");
  for (const auto& [host, target] : p.root_binds) {  // read-only: the host mounts already are
    if (mkdir(target.c_str(), 0755) != 0) die(rf, "creating a mount point in the new root");
    if (mount(host.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      die(rf, "bind-mounting a system directory");
  }
  for (const auto& [text, link] : p.root_links)
    if (symlink(text.c_str(), link.c_str()) != 0) die(rf, "creating a symlink in the new root");
  for (const auto& [host, target] : p.dev_binds) {
    const int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) die(rf, "creating a device mount point");
    close(fd);
    if (mount(host.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) die(rf, "bind-mounting a device");
  }
  for (const auto& [text, link] : p.dev_links)
    if (symlink(text.c_str(), link.c_str()) != 0) die(rf, "creating a /dev symlink");
  // The namespace's own /proc; where that is refused (a container masking /proc), the host's.
  if (mount("proc", p.root_proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0 &&
      mount("/proc", p.root_proc.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    die(rf, "mounting /proc");
  if (syscall(SYS_move_mount, dir_tree, "", AT_FDCWD, p.root_dir.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    die(rf, "moving the sandbox directory into the new root");
  close(dir_tree);
  if (p.writable_dir &&
      mount(nullptr, p.root_dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, nullptr) != 0)
    die(rf, "remounting the directory writable");
  if (mount("tmpfs", p.root_scratch.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, p.tmpfs_options.c_str()) != 0)
    die(rf, "mounting the scratch tmpfs");
  if (syscall(SYS_pivot_root, root, p.old_root.c_str()) != 0) die(rf, "pivot_root");
  if (chdir("/") != 0) die(rf, "chdir /");
  if (umount2("/.old-root", MNT_DETACH) != 0) die(rf, "detaching the host's file system");
  if (rmdir("/.old-root") != 0) die(rf, "removing the old root's mount point");
  mount_attr root_ro{};
  root_ro.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &root_ro, sizeof root_ro) != 0)
    die(rf, "making the new root read-only");
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
    for (const std::string& procs : p.cgroup_procs)
      if (!write_file_raw(procs.c_str(), pid)) die(rf, "joining the sandbox's cgroup");
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

// The programs see a root holding only the system directories an interpreter or compiler needs (read-only),
// a few device nodes, their own /proc, the sandbox directory and its scratch tmpfs: no host /tmp, /run,
// /home, /var or project directory, so no unix socket or user file of the host is reachable by path.
void prepare_view(ChildPlan& plan) {
  const std::string root = plan.scratch;  // the root's tmpfs is mounted here, then pivot_root'ed into
  plan.new_root = root;
  plan.old_root = root + "/.old-root";
  plan.root_dirs = {root + "/dev", root + "/proc", root + "/tmp", plan.old_root};
  std::string prefix;
  for (const auto& part : fs::path(plan.dir).relative_path()) {
    prefix += '/';
    prefix += part.string();
    plan.root_dirs.push_back(root + prefix);
  }
  for (const char* name : {"usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
    const std::string host = std::string("/") + name;
    struct stat st {};
    if (lstat(host.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      const fs::path text = fs::read_symlink(host, ec);
      if (!ec) plan.root_links.emplace_back(text.string(), root + host);
    } else if (S_ISDIR(st.st_mode)) {
      plan.root_binds.emplace_back(host, root + host);
    }
  }
  for (const char* name : {"null", "zero", "full", "random", "urandom"}) {
    const std::string host = std::string("/dev/") + name;
    struct stat st {};
    if (stat(host.c_str(), &st) == 0 && S_ISCHR(st.st_mode)) plan.dev_binds.emplace_back(host, root + host);
  }
  plan.dev_links = {{"/proc/self/fd", root + "/dev/fd"},
                    {"/proc/self/fd/0", root + "/dev/stdin"},
                    {"/proc/self/fd/1", root + "/dev/stdout"},
                    {"/proc/self/fd/2", root + "/dev/stderr"}};
  plan.root_proc = root + "/proc";
  plan.root_dir = root + plan.dir;
  plan.root_scratch = root + plan.scratch;
}

// The run's own cgroups: pids.max (every process of the run together) and the memory limit for all of them
// together with swap off (v2: memory.max + memory.swap.max = 0; v1: memory.limit_in_bytes and, where swap is
// accounted, memory.memsw.limit_in_bytes). One directory under cgroup v2; under v1, one per hierarchy. A limit
// whose controller is not available or not writable here is left out and named in *missing.
std::vector<std::string> make_cgroups(const SandboxLimits& limits, const std::string& name, std::string* missing) {
  std::ifstream in("/proc/self/cgroup");
  std::string line, pids_base, memory_base, unified_base;
  while (std::getline(in, line)) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = fmt::format(",{},", line.substr(a + 1, b - a - 1)), path = line.substr(b + 1);
    if (controllers.find(",pids,") != std::string::npos) pids_base = "/sys/fs/cgroup/pids" + path;
    if (controllers.find(",memory,") != std::string::npos) memory_base = "/sys/fs/cgroup/memory" + path;
    if (controllers == ",," && line.compare(0, 2, "0:") == 0) unified_base = "/sys/fs/cgroup" + path;
  }
  if (!unified_base.empty()) {  // v2 controllers that the v1 hierarchies do not hold
    std::ifstream ctl(unified_base + "/cgroup.controllers");
    const std::string available((std::istreambuf_iterator<char>(ctl)), {});
    if (pids_base.empty() && available.find("pids") != std::string::npos) pids_base = unified_base;
    if (memory_base.empty() && available.find("memory") != std::string::npos) memory_base = unified_base;
  }
  std::vector<std::string> dirs;
  auto make = [&](const std::string& base) -> std::string {
    if (base.empty()) return "";
    const std::string dir = base + (base.back() == '/' ? "" : "/") + name;
    if (std::find(dirs.begin(), dirs.end(), dir) != dirs.end()) return dir;
    if (mkdir(dir.c_str(), 0700) != 0) return "";
    dirs.push_back(dir);
    return dir;
  };
  std::vector<std::string> absent;
  const std::string pids = make(pids_base);
  if (pids.empty() || !write_file_raw((pids + "/pids.max").c_str(), std::to_string(limits.max_processes).c_str()))
    absent.push_back("pids");
  const std::string memory = make(memory_base);
  const std::string bytes = std::to_string(limits.memory_bytes);
  if (memory.empty() || !(write_file_raw((memory + "/memory.max").c_str(), bytes.c_str()) ||
                          write_file_raw((memory + "/memory.limit_in_bytes").c_str(), bytes.c_str()))) {
    absent.push_back("memory");
  } else {  // swap off where the kernel accounts it (v1 needs memsw >= the memory limit, so the same value)
    write_file_raw((memory + "/memory.swap.max").c_str(), "0");
    write_file_raw((memory + "/memory.memsw.limit_in_bytes").c_str(), bytes.c_str());
  }
  if (missing) *missing = absent.empty() ? "" : fmt::format("{}", fmt::join(absent, " and "));
  return dirs;
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

std::string Sandbox::unavailable_cgroup_limits() {
  if (geteuid() != 0) return "pids and memory";
  std::string missing;
  SandboxLimits probe;
  for (const std::string& dir :
       make_cgroups(probe, fmt::format("r1-probe-{}-{}", getpid(), next_sandbox.fetch_add(1)), &missing))
    rmdir(dir.c_str());
  return missing;
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
  prepare_view(plan);
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

  std::vector<std::string> cgroups;
  if (drop_uid_) {
    std::string missing;
    cgroups = make_cgroups(
        limits, fs::path(plan.dir).filename().string() + "-" + std::to_string(next_sandbox.fetch_add(1)), &missing);
    for (const std::string& dir : cgroups) plan.cgroup_procs.push_back(dir + "/cgroup.procs");
    static std::atomic<bool> said{false};
    if (!missing.empty() && !said.exchange(true))
      fmt::print(stderr,
                 "note: sandbox: no {} cgroup can be made here (cgroup delegation), so {} limited per "
                 "process only (RLIMIT_NPROC / RLIMIT_AS)\n",
                 missing,
                 missing == "pids"     ? "processes are"
                 : missing == "memory" ? "memory is"
                                       : "processes and memory are");
  }
  auto remove_cgroups = [&] {
    for (const std::string& dir : cgroups) remove_cgroup(dir);
  };

  const pid_t self = getpid();
  const auto start = std::chrono::steady_clock::now();
  pid_t a = fork();
  if (a < 0) {
    remove_cgroups();
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
  remove_cgroups();
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
