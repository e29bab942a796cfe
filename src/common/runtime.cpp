// Process start-up: kernel/threading environment before the libraries load (see include/r1/runtime.h, which
// states the BLAS policy), physical core detection, thread and seed configuration, and the one-line back-end
// summary.
// Not here: anything model- or command-specific.
#include "r1/runtime.h"

#include <ATen/Parallel.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <sched.h>
#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <torch/version.h>
#include <unistd.h>

#include <malloc.h>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
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

// "0.3.21" from openblas_get_config() ("OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64").
std::string openblas_version() {
  using Fn = char* (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  const char* config = fn ? fn() : nullptr;
  if (config == nullptr || std::strncmp(config, "OpenBLAS ", 9) != 0) return "";
  std::string rest = config + 9;
  return rest.substr(0, rest.find(' '));
}

// Set beside OPENBLAS_CORETYPE when r1 chose it, so the re-executed process (and r1 processes it starts) can
// tell r1's choice from the user's.
constexpr const char* kChoiceMarker = "R1_OPENBLAS_CORETYPE";

bool coretype_from_user() {
  const char* value = std::getenv("OPENBLAS_CORETYPE");
  if (value == nullptr) return false;
  const char* marker = std::getenv(kChoiceMarker);
  return marker == nullptr || std::strcmp(marker, value) != 0;
}

std::string cpu_vendor() {
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return "";
  char vendor[13];
  std::memcpy(vendor, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  vendor[12] = 0;
  return vendor;
#else
  return "";
#endif
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

BlasChoice choose_openblas_coretype(const BlasSituation& s) {
  if (s.openblas_version.empty()) return {"", "the BLAS is not OpenBLAS"};
  if (s.user_coretype_set) return {"", "chosen by the user: OPENBLAS_CORETYPE is set"};
  if (s.user_l2_size_set) return {"", "OpenBLAS's own detection; r1 chooses nothing while OPENBLAS_L2_SIZE is set"};
  if (openblas_core_tier(s.openblas_core) >= s.cpu_tier) return {"", "OpenBLAS's own detection"};
  const bool validated = std::find_if(std::begin(kValidatedOpenBlas), std::end(kValidatedOpenBlas), [&](const char* v) {
                           return s.openblas_version == v;
                         }) != std::end(kValidatedOpenBlas);
  if (s.cpu_vendor == "GenuineIntel" && s.cpu_tier == 2 && validated)
    return {"SkylakeX", fmt::format("chosen by r1: OpenBLAS {} detects this Intel AVX-512 CPU as {}",
                                    s.openblas_version, s.openblas_core)};
  return {"", fmt::format("OpenBLAS's own detection; weaker than this CPU allows, but r1 does not override it on {} "
                          "with OpenBLAS {} (not validated; set OPENBLAS_CORETYPE to choose)",
                          s.cpu_vendor.empty() ? "this CPU" : s.cpu_vendor, s.openblas_version)};
}

BlasSituation current_blas_situation() {
  BlasSituation s;
  s.user_coretype_set = coretype_from_user();
  s.user_l2_size_set = std::getenv("OPENBLAS_L2_SIZE") != nullptr;
  s.cpu_vendor = cpu_vendor();
  s.cpu_tier = cpu_kernel_tier();
  s.openblas_version = openblas_version();
  const char* core = openblas_corename();
  s.openblas_core = core ? core : "";
  return s;
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

std::vector<MallocSetting> choose_malloc_settings(const std::map<std::string, std::string>& environment) {
  struct Candidate {
    int parameter;
    int64_t value;
    const char* variable;
    const char* tunable;
  };
  static const Candidate kCandidates[] = {
      {M_MMAP_THRESHOLD, int64_t{64} << 20, "MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold"},
      {M_TRIM_THRESHOLD, int64_t{512} << 20, "MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold"},
      {M_TOP_PAD, int64_t{64} << 20, "MALLOC_TOP_PAD_", "glibc.malloc.top_pad"},
  };
  const auto tunables = environment.find("GLIBC_TUNABLES");
  std::vector<MallocSetting> chosen;
  for (const Candidate& c : kCandidates) {
    if (environment.count(c.variable) != 0) continue;
    if (tunables != environment.end() && tunables->second.find(c.tunable) != std::string::npos) continue;
    chosen.push_back({c.parameter, c.value, c.variable});
  }
  return chosen;
}

namespace {

std::map<std::string, std::string> malloc_environment() {
  std::map<std::string, std::string> env;
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"})
    if (const char* value = std::getenv(name)) env[name] = value;
  return env;
}

}  // namespace

void bootstrap_process(int argc, char** argv) {
  (void)argc;
  // Before anything large is allocated; in the re-executed process too (mallopt is per process).
  for (const MallocSetting& setting : choose_malloc_settings(malloc_environment()))
    mallopt(setting.parameter, static_cast<int>(setting.value));
  if (std::getenv("R1_NO_REEXEC") != nullptr) return;
  bool changed = false;
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {  // the pre-init step did not run or could not exec
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changed = true;
  }
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    const BlasChoice choice = choose_openblas_coretype(current_blas_situation());
    if (!choice.coretype.empty()) {
      setenv("OPENBLAS_CORETYPE", choice.coretype.c_str(), 1);
      setenv(kChoiceMarker, choice.coretype.c_str(), 1);
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
  const BlasSituation s = current_blas_situation();
  std::string blas = "not OpenBLAS (fp32 matmuls may be slow)";
  if (!s.openblas_version.empty()) {
    std::string who;
    const char* env = std::getenv("OPENBLAS_CORETYPE");
    if (s.user_coretype_set)
      who = fmt::format("chosen by the user: OPENBLAS_CORETYPE={}", env);
    else if (env != nullptr)
      who = fmt::format("chosen by r1: OPENBLAS_CORETYPE={}", env);
    else
      who = choose_openblas_coretype(s).reason;
    blas = fmt::format("OpenBLAS {} ({} kernels, {})", s.openblas_version, s.openblas_core, who);
  }
  std::string cuda = torch::cuda::is_available() ? fmt::format("{} GPU(s)", torch::cuda::device_count()) : "none";
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  const size_t ours = choose_malloc_settings(malloc_environment()).size();
  const char* allocator = ours == 3   ? "malloc: mmap/trim thresholds 64/512 MiB, top pad 64 MiB (r1)"
                          : ours == 0 ? "malloc: the user's settings"
                                      : "malloc: partly the user's settings, the rest r1's";
  return fmt::format(
      "LibTorch {}, {} intra-op thread(s) on {} physical core(s), BLAS: {}, OMP_WAIT_POLICY={}, {}, CUDA: {}",
      TORCH_VERSION, at::get_num_threads(), physical_core_count(), blas, wait ? wait : "(unset)", allocator, cuda);
}

}  // namespace r1
