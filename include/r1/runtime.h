// Process start-up for fast LibTorch on CPU: environment that must be set before the BLAS and OpenMP
// runtimes load, thread counts, and the device choice. Every r1 binary (the CLI, tests, benchmarks)
// calls bootstrap_process() first thing in main and configure_runtime() after parsing its options.
//
// Why a re-exec: OpenBLAS picks its kernels and libgomp its wait policy in their library constructors,
// which run before main. On the reference machine OMP_WAIT_POLICY=PASSIVE made training 1.4x and batched
// decode 4.5x faster (busy-waiting OpenMP threads starve OpenBLAS's threads), and Debian's OpenBLAS 0.3.21
// misdetects Intel Sapphire/Emerald Rapids (SSE3 kernels, 66 vs 306 GFLOP/s). So when the environment lacks
// these settings bootstrap_process() sets them and execs the same binary once. R1_NO_REEXEC=1 disables it.
//
// The BLAS policy (choose_openblas_coretype, tested as a pure function):
//   1. A value the user set is never replaced: OMP_WAIT_POLICY, OPENBLAS_CORETYPE, and when OPENBLAS_L2_SIZE
//      is set (a sign someone is working around OpenBLAS on this CPU) r1 makes no kernel choice either.
//   2. r1 chooses kernels only where the choice is known to be safe: an Intel CPU with AVX-512, an OpenBLAS
//      release in kValidatedOpenBlas, and OpenBLAS's own detection below AVX-512 kernels -> SkylakeX.
//   3. Everywhere else (AMD included: older OpenBLAS releases compute wrong results or crash on some new AMD
//      CPUs, which is why such machines set OPENBLAS_CORETYPE themselves) OpenBLAS's own detection stands.
// `r1 --version` says which kernels run and who chose them.
//
// The allocator policy (choose_malloc_settings, tested as a pure function): glibc's malloc hands every freed
// block above its mmap threshold back to the kernel and trims the heap's free top above 128 KiB, so the
// activations a training or decode step frees and allocates again cost fresh page faults every step. r1 raises
// the mmap threshold to 64 MiB, the trim threshold to 512 MiB and the top pad to 64 MiB with mallopt() at start
// (measured on AMD EPYC Zen 5, 2 threads: tiny-model training 1.15-1.34x, bf16 batch-64 decode 1.08x; memory
// stays reusable by the process, not returned to the kernel until more than 512 MiB is free at the heap top).
// A value the user gave glibc (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_ or the same
// tunable in GLIBC_TUNABLES) is never replaced, each setting on its own.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace r1 {

// Sets OMP_WAIT_POLICY=PASSIVE (unless the user set it) and OPENBLAS_CORETYPE when
// choose_openblas_coretype() says so; then re-executes argv once. Returns normally when nothing needed
// changing (or re-exec is disabled or failed).
void bootstrap_process(int argc, char** argv);

// Number of physical cores available to this process (hyper-threads counted once; honours the affinity mask).
int physical_core_count();

struct RuntimeOptions {
  int threads = 0;             // intra-op threads; 0 = physical_core_count()
  std::string device = "cpu";  // "cpu" | "cuda" | "cuda:N"
  int64_t seed = -1;           // < 0: leave the generators as they are
};

// Applies thread count and seed, validates the device (UsageError if unknown or unavailable).
void configure_runtime(const RuntimeOptions& options);

// Kernel tiers used to decide whether OpenBLAS picked weaker kernels than the CPU supports:
// 2 = AVX-512 (SkylakeX, Cooperlake, SapphireRapids), 1 = AVX2+FMA (Haswell, Zen, Skylake), 0 = older.
int openblas_core_tier(const std::string& openblas_corename);
int cpu_kernel_tier();  // the best tier this CPU runs

// What the BLAS policy looks at. Strings are empty when unknown / unset.
struct BlasSituation {
  bool user_coretype_set = false;  // OPENBLAS_CORETYPE in the environment (and not put there by r1)
  bool user_l2_size_set = false;   // OPENBLAS_L2_SIZE in the environment
  std::string cpu_vendor;          // CPUID vendor: "GenuineIntel", "AuthenticAMD", ...
  int cpu_tier = 0;                // cpu_kernel_tier()
  std::string openblas_version;    // "0.3.21" (from openblas_get_config), empty when the BLAS is not OpenBLAS
  std::string openblas_core;       // the kernels OpenBLAS detected ("Prescott", "Haswell", "SkylakeX", ...)
};
struct BlasChoice {
  std::string coretype;  // the OPENBLAS_CORETYPE r1 sets; empty = r1 sets nothing
  std::string reason;    // why, in a few words (printed by --version)
};
// OpenBLAS releases whose SkylakeX kernels r1 has validated on Intel AVX-512 CPUs it misdetects.
inline constexpr const char* kValidatedOpenBlas[] = {"0.3.21"};
BlasChoice choose_openblas_coretype(const BlasSituation& situation);
BlasSituation current_blas_situation();  // this process: environment, CPUID, the loaded OpenBLAS

// One mallopt() r1 makes: its parameter (M_MMAP_THRESHOLD, ...), its value, and the environment variable a user
// sets to choose it instead.
struct MallocSetting {
  int parameter = 0;
  int64_t value = 0;
  std::string variable;  // "MALLOC_MMAP_THRESHOLD_"
};
// `environment` maps variable names to values (only the ones that are set).
std::vector<MallocSetting> choose_malloc_settings(const std::map<std::string, std::string>& environment);

// One line describing the compute back-end: LibTorch version, threads, BLAS and its kernels, CUDA.
std::string runtime_summary();

}  // namespace r1
