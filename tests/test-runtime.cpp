// Process start-up: thread defaults, device validation, seeding, and the OpenBLAS kernel-tier decision that
// chooses whether to force OPENBLAS_CORETYPE.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <thread>

#include "r1/error.h"
#include "r1/runtime.h"
#include "test-helpers.h"

TEST(Runtime, ThreadsDefaultToPhysicalCores) {
  int cores = r1::physical_core_count();
  EXPECT_GE(cores, 1);
  EXPECT_LE(cores, int(std::thread::hardware_concurrency()));
  r1::configure_runtime({.threads = 1});
  EXPECT_EQ(at::get_num_threads(), 1);
  r1::configure_runtime({});
  EXPECT_EQ(at::get_num_threads(), cores);
  R1_EXPECT_THROW_WITH(r1::configure_runtime({.threads = -2}), r1::UsageError, "--threads");
}

TEST(Runtime, DeviceIsValidated) {
  R1_EXPECT_THROW_WITH(r1::configure_runtime({.device = "tpu"}), r1::UsageError, "--device", "'tpu'");
  if (!torch::cuda::is_available())
    R1_EXPECT_THROW_WITH(r1::configure_runtime({.device = "cuda"}), r1::UsageError, "--device cuda", "no CUDA");
  EXPECT_NO_THROW(r1::configure_runtime({.device = "cpu"}));
}

TEST(Runtime, SeedMakesRandomnessReproducible) {
  r1::configure_runtime({.seed = 5});
  at::Tensor a = torch::randn({4});
  r1::configure_runtime({.seed = 5});
  EXPECT_TRUE(torch::equal(a, torch::randn({4})));
}

TEST(Runtime, OpenBlasKernelTiers) {
  EXPECT_EQ(r1::openblas_core_tier("SkylakeX"), 2);
  EXPECT_EQ(r1::openblas_core_tier("Cooperlake"), 2);
  EXPECT_EQ(r1::openblas_core_tier("Haswell"), 1);
  EXPECT_EQ(r1::openblas_core_tier("Zen"), 1);
  EXPECT_EQ(r1::openblas_core_tier("Prescott"), 0);  // what 0.3.21 falls back to on CPUs it does not know
  EXPECT_EQ(r1::openblas_core_tier("Sandybridge"), 0);
  int cpu = r1::cpu_kernel_tier();
  EXPECT_GE(cpu, 0);
  EXPECT_LE(cpu, 2);
  // After start-up, OpenBLAS (when it is the BLAS) runs kernels as good as the CPU allows.
  std::string summary = r1::runtime_summary();
  auto open = summary.find("OpenBLAS (");
  if (open != std::string::npos) {
    std::string core = summary.substr(open + 10, summary.find(' ', open + 10) - open - 10);
    EXPECT_GE(r1::openblas_core_tier(core), cpu) << summary;
  }
}
