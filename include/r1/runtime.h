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
//
// Usage:
//   int main(int argc, char** argv) {
//     r1::bootstrap_process(argc, argv);  // first thing: may set the environment and re-exec once
//     // ... parse the command line ...
//     r1::configure_runtime({.threads = 0, .device = "cpu", .seed = 42});
//     r1::parallel_for(items.size(), /*threads=*/0, [&](size_t i) { results[i] = work(items[i]); });
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace r1 {

// ---- Process start-up (every main) ----------------------------------------------------------------------------------
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

// ---- The BLAS and allocator policies, and what --version prints -----------------------------------------------------
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

// ---- parallel_for: the one pool of batch work -----------------------------------------------------------------------
// parallel_for: fn(i) for every i in [0, count) on a few threads of its own, the one pool of r1's batch work
// (math verification, tokenization, tokenizer training, data preparation, sandboxed programs, HTTP requests).
// Not here: LibTorch's intra-op threads (at::parallel_for, the model's compute), the decode compute team
// (kernels/thread-team.h) and the server's threads. Each call starts and joins its threads; no state outlives it.
//
// Contract:
//   1. threads <= 0 means physical_core_count() (above: the cores this process's affinity mask allows,
//      hyper-threads counted once); the call runs parallel_workers(count, threads) workers, never more than
//      count. count 0 calls nothing.
//   2. One worker runs every item inline on the caller's thread in index order (no thread is created). With
//      more, the caller's thread is worker 0 and the rest are new threads.
//   3. Items are handed out one at a time from a shared cursor (dynamic load balance): each index runs exactly
//      once, in no particular order and on no particular worker; a caller that needs a deterministic result
//      writes it by index or merges per-worker state in a way that does not depend on which worker ran what.
//   4. The first exception caught (the first in time, not in index order) stops the handing out of items; items
//      already running finish; every worker is joined; then that exception is rethrown in the caller's thread
//      with its type (std::rethrow_exception), so r1::UsageError stays a usage error. Later ones are dropped.
//      If a thread cannot be created, that std::system_error is the exception.

// threads > 0: threads; else physical_core_count(). At least 1.
size_t resolve_threads(int threads);

// The number of workers parallel_for(count, threads, ...) runs: min(resolve_threads(threads), count).
size_t parallel_workers(size_t count, int threads);

void parallel_for(size_t count, int threads, const std::function<void(size_t i)>& fn);

// The same, also passing the worker that runs item i (w in [0, parallel_workers(count, threads))), for
// per-worker state such as partial counts; one worker runs its items one at a time.
void parallel_for_workers(size_t count, int threads, const std::function<void(size_t worker, size_t i)>& fn);

}  // namespace r1
