// Process start-up: kernel/threading environment before the libraries load (see include/r1/runtime.h),
// physical core detection, thread and seed configuration, and the one-line back-end summary.
// Not here: anything model- or command-specific.
#include "r1/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <sched.h>
#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>
#include <utility>

#include "r1/error.h"

namespace r1 {
namespace {

// OpenBLAS exports these when it is the BLAS LibTorch was linked against (Debian: through libblas.so.3).
const char* openblas_corename() {
  using Fn = char* (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return fn ? fn() : nullptr;
}

}  // namespace

int openblas_core_tier(const std::string& corename) {
  std::string name = corename;
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* n : {"skylakex", "cooperlake", "sapphirerapids"})
    if (name == n) return 2;
  for (const char* n : {"haswell", "zen", "skylake"})
    if (name == n) return 1;
  return 0;
}

int cpu_kernel_tier() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return 2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
  return 0;
}

namespace {

int read_int_file(const std::string& path, int fallback) {
  std::ifstream in(path);
  int value = fallback;
  if (!(in >> value)) return fallback;
  return value;
}

// Runs from the executable's .preinit_array: after the shared libraries are mapped but BEFORE any of their
// constructors, which is where libgomp reads OMP_WAIT_POLICY. libc is not initialised yet (setenv would be
// undone by libc's own start-up), so it re-executes with an extended environment array via execve: 0.13 s
// here instead of the 0.3 s a re-exec from main costs (libtorch's constructors are the bulk of start-up).
// Only an executable's .preinit_array is honoured, so this is inert when r1lib is linked into a shared object.
void preinit_environment(int, char** argv, char** envp) {
  if (envp == nullptr || argv == nullptr) return;
  size_t n = 0;
  for (; envp[n] != nullptr; ++n) {
    if (std::strncmp(envp[n], "OMP_WAIT_POLICY=", 16) == 0 || std::strncmp(envp[n], "R1_NO_REEXEC=", 13) == 0 ||
        std::strncmp(envp[n], "R1_BOOTSTRAPPED=", 16) == 0)
      return;
  }
  constexpr size_t kMaxEnv = 8192;
  static char* env[kMaxEnv + 3];
  if (n > kMaxEnv) return;
  for (size_t i = 0; i < n; ++i) env[i] = envp[i];
  env[n] = const_cast<char*>("OMP_WAIT_POLICY=PASSIVE");
  env[n + 1] = const_cast<char*>("R1_BOOTSTRAPPED=1");
  env[n + 2] = nullptr;
  execve("/proc/self/exe", argv, env);  // on failure: carry on; bootstrap_process() tries again from main
}

}  // namespace

__attribute__((section(".preinit_array"), used)) static void (*const r1_preinit_entry)(int, char**,
                                                                                       char**) = preinit_environment;

void bootstrap_process(int argc, char** argv) {
  (void)argc;
  if (std::getenv("R1_NO_REEXEC") != nullptr) return;
  bool changed = false;
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {  // the pre-init step did not run or could not exec
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changed = true;
  }
  const char* core = openblas_corename();
  if (core != nullptr && std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    int want = cpu_kernel_tier();
    if (openblas_core_tier(core) < want) {
      setenv("OPENBLAS_CORETYPE", want == 2 ? "SkylakeX" : "Haswell", 1);
      changed = true;
    }
  }
  // R1_BOOTSTRAPPED=2 marks a re-exec from main: never loop, even if the settings did not take effect.
  const char* done = std::getenv("R1_BOOTSTRAPPED");
  if (!changed || (done != nullptr && std::strcmp(done, "2") == 0)) return;
  setenv("R1_BOOTSTRAPPED", "2", 1);
  execv("/proc/self/exe", argv);
  // exec failed (no /proc?): carry on with the settings the libraries already read.
}

int physical_core_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return std::max(1u, std::thread::hardware_concurrency());
  std::set<std::pair<int, int>> cores;  // (package, core) pairs
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    std::string base = fmt::format("/sys/devices/system/cpu/cpu{}/topology/", cpu);
    int package = read_int_file(base + "physical_package_id", 0);
    int core = read_int_file(base + "core_id", cpu);
    cores.emplace(package, core);
  }
  return cores.empty() ? 1 : static_cast<int>(cores.size());
}

void configure_runtime(const RuntimeOptions& options) {
  if (options.threads < 0) fail_usage("--threads must be >= 0 (0 = one per physical core), got {}", options.threads);
  at::set_num_threads(options.threads > 0 ? options.threads : physical_core_count());
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(options.device);
  } catch (const std::exception&) {
    fail_usage("--device: expected cpu, cuda or cuda:N, got '{}'", options.device);
  }
  if (!device.is_cpu() && !device.is_cuda())
    fail_usage("--device: expected cpu, cuda or cuda:N, got '{}'", options.device);
  if (device.is_cuda()) {
    if (!torch::cuda::is_available())
      fail_usage("--device {}: this LibTorch ({}) has no CUDA support or no GPU is visible", options.device,
                 TORCH_VERSION);
    if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count()))
      fail_usage("--device {}: only {} GPU(s) visible", options.device, torch::cuda::device_count());
  }
  if (options.seed >= 0) torch::manual_seed(static_cast<uint64_t>(options.seed));
}

std::string runtime_summary() {
  const char* core = openblas_corename();
  std::string blas = core ? fmt::format("OpenBLAS ({} kernels)", core) : "not OpenBLAS (fp32 matmuls may be slow)";
  std::string cuda = torch::cuda::is_available() ? fmt::format("{} GPU(s)", torch::cuda::device_count()) : "none";
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  return fmt::format(
      "LibTorch {}, {} intra-op thread(s) on {} physical core(s), BLAS: {}, OMP_WAIT_POLICY={}, CUDA: {}",
      TORCH_VERSION, at::get_num_threads(), physical_core_count(), blas, wait ? wait : "(unset)", cuda);
}

}  // namespace r1
