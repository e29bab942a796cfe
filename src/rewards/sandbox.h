// A sandbox for running untrusted programs (the "code" reward's test runs): a private temporary directory, and
// each run in its own child process tree with Linux namespaces, resource limits and an unprivileged identity.
// What is contained, and how, is listed in sandbox.cpp's header. Isolation that cannot be set up (no network
// namespace, no read-only remount) is an r1::Error: a program never runs unsandboxed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace r1::rewards {

struct SandboxLimits {
  double timeout_seconds = 10;                  // wall clock; then the whole sandbox is SIGKILLed
  double cpu_seconds = 0;                       // RLIMIT_CPU per process; 0: ceil(timeout_seconds)
  int64_t memory_bytes = int64_t(512) << 20;    // RLIMIT_AS per process
  int64_t max_output_bytes = int64_t(1) << 20;  // per stream; past it the sandbox is killed and the output cut
  int64_t max_file_bytes = int64_t(16) << 20;   // RLIMIT_FSIZE and the size of the scratch tmpfs
  int max_processes = 16;                       // processes + threads: pids cgroup, and RLIMIT_NPROC of the sandbox uid
  int max_open_files = 64;                      // RLIMIT_NOFILE
};

struct SandboxResult {
  int exit_code = -1;  // the exit status; -1 when a signal ended the program
  int signal = 0;      // the terminating signal (SIGKILL after a timeout or the output cap, SIGXCPU, ...)
  bool timed_out = false;
  bool output_truncated = false;
  std::string out, err;  // stdout and stderr, each at most max_output_bytes
  double wall_seconds = 0;
  bool ok() const { return exit_code == 0 && !timed_out && !output_truncated; }
};

class Sandbox {
 public:
  Sandbox();   // makes the private directory (r1::Error if it cannot)
  ~Sandbox();  // removes it and everything in it
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  unsigned uid() const { return uid_; }  // the uid programs run as
  void write_file(const std::string& name, const std::string& content) const;

  // Runs argv (argv[0] an absolute path) with `input` on stdin. The program sees dir() read-only, or read-write
  // when writable_dir (e.g. a compiler's output), and its working directory and TMPDIR are a fresh tmpfs of
  // max_file_bytes (dir() when writable_dir). r1::Error when the sandbox cannot be set up or argv[0] not executed.
  SandboxResult run(const std::vector<std::string>& argv, const std::string& input, const SandboxLimits& limits,
                    bool writable_dir = false) const;

  // The cgroup limits this process cannot apply here ("pids", "memory", "pids and memory"; "" when both hold,
  // i.e. as root with a writable pids and memory controller); those limits then hold per process only.
  static std::string unavailable_cgroup_limits();

 private:
  std::filesystem::path dir_;
  unsigned uid_ = 0;
  bool drop_uid_ = false;  // running as root: programs run as uid_, a uid of their own
};

}  // namespace r1::rewards
