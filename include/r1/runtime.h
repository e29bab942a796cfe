// Process start-up for fast LibTorch on CPU: environment that must be set before the BLAS and OpenMP
// runtimes load, thread counts, and the device choice. Every r1 binary (the CLI, tests, benchmarks)
// calls bootstrap_process() first thing in main and configure_runtime() after parsing its options.
//
// Why a re-exec: OpenBLAS picks its kernels and libgomp its wait policy in their library constructors,
// which run before main. On the reference machine OMP_WAIT_POLICY=PASSIVE made training 1.4x and batched
// decode 4.5x faster (busy-waiting OpenMP threads starve OpenBLAS's threads), and Debian's OpenBLAS 0.3.21
// misdetects some new CPUs (SSE3 kernels, 66 vs 306 GFLOP/s). So when the environment lacks these settings
// bootstrap_process() sets them and execs the same binary once. R1_NO_REEXEC=1 disables it (debuggers).
#pragma once

#include <cstdint>
#include <string>

namespace r1 {

// Sets OMP_WAIT_POLICY=PASSIVE (unless the user set it) and, when OpenBLAS chose weaker kernels than the
// CPU supports and OPENBLAS_CORETYPE is unset, OPENBLAS_CORETYPE; then re-executes argv once. Returns
// normally when nothing needed changing (or re-exec is disabled or failed).
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

// One line describing the compute back-end: LibTorch version, threads, BLAS and its kernels, CUDA.
std::string runtime_summary();

}  // namespace r1
