// Process start-up: thread defaults, device validation, seeding, and the OpenBLAS kernel-tier decision that
// chooses whether to force OPENBLAS_CORETYPE.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <thread>
#include <vector>

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
}

// The policy, not the machine: r1 never replaces what the user set, and chooses kernels only for an Intel
// AVX-512 CPU that a validated OpenBLAS release misdetects.
TEST(Runtime, BlasPolicyRespectsTheUserAndChoosesOnlyWhereValidated) {
  r1::BlasSituation emerald_rapids{
      .cpu_vendor = "GenuineIntel", .cpu_tier = 2, .openblas_version = "0.3.21", .openblas_core = "Prescott"};
  r1::BlasChoice choice = r1::choose_openblas_coretype(emerald_rapids);
  EXPECT_EQ(choice.coretype, "SkylakeX");
  EXPECT_NE(choice.reason.find("chosen by r1"), std::string::npos) << choice.reason;

  r1::BlasSituation s = emerald_rapids;
  s.user_coretype_set = true;  // the user's value stands, whatever it is
  EXPECT_EQ(r1::choose_openblas_coretype(s).coretype, "");
  EXPECT_NE(r1::choose_openblas_coretype(s).reason.find("user"), std::string::npos);
  s = emerald_rapids;
  s.user_l2_size_set = true;  // someone is working around OpenBLAS on this machine: hands off
  EXPECT_EQ(r1::choose_openblas_coretype(s).coretype, "");
  s = emerald_rapids;
  s.openblas_version = "0.3.13";  // a release r1 has not validated
  EXPECT_EQ(r1::choose_openblas_coretype(s).coretype, "");
  s = emerald_rapids;
  s.openblas_core = "SkylakeX";  // OpenBLAS detected the CPU correctly
  EXPECT_EQ(r1::choose_openblas_coretype(s).coretype, "");
  EXPECT_EQ(r1::choose_openblas_coretype(s).reason, "OpenBLAS's own detection");
  s = emerald_rapids;
  s.openblas_version = "";  // not OpenBLAS at all
  EXPECT_EQ(r1::choose_openblas_coretype(s).coretype, "");

  // AMD Zen 4/5 (AVX-512): older OpenBLAS releases misbehave on some of them, so r1 never overrides there.
  r1::BlasSituation zen{
      .cpu_vendor = "AuthenticAMD", .cpu_tier = 2, .openblas_version = "0.3.21", .openblas_core = "Zen"};
  choice = r1::choose_openblas_coretype(zen);
  EXPECT_EQ(choice.coretype, "");
  EXPECT_NE(choice.reason.find("AuthenticAMD"), std::string::npos) << choice.reason;
  zen.openblas_core = "Prescott";
  EXPECT_EQ(r1::choose_openblas_coretype(zen).coretype, "");
  // An AVX2-only Intel CPU misdetected: not a validated case either.
  r1::BlasSituation avx2{
      .cpu_vendor = "GenuineIntel", .cpu_tier = 1, .openblas_version = "0.3.21", .openblas_core = "Prescott"};
  EXPECT_EQ(r1::choose_openblas_coretype(avx2).coretype, "");
}

TEST(Runtime, AllocatorPolicyRespectsEachValueTheUserGaveGlibc) {
  auto variables = [](const std::vector<r1::MallocSetting>& settings) {
    std::vector<std::string> names;
    for (const auto& s : settings) names.push_back(s.variable);
    return names;
  };
  using Names = std::vector<std::string>;
  const auto all = r1::choose_malloc_settings({});
  EXPECT_EQ(variables(all), (Names{"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"}));
  for (const auto& s : all) EXPECT_GE(s.value, int64_t{64} << 20) << s.variable;
  EXPECT_EQ(variables(r1::choose_malloc_settings({{"MALLOC_MMAP_THRESHOLD_", "131072"}})),
            (Names{"MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"}));
  EXPECT_EQ(variables(r1::choose_malloc_settings({{"MALLOC_TOP_PAD_", ""}})),  // set, even if empty
            (Names{"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}));
  EXPECT_EQ(variables(r1::choose_malloc_settings({{"GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0"}})),
            (Names{"MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_"}));
  EXPECT_EQ(variables(r1::choose_malloc_settings({{"GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX512F"}})).size(), 3u);
}

// This process: whatever the environment says about OPENBLAS_CORETYPE is what OpenBLAS runs, and the summary
// names the kernels and who chose them.
TEST(Runtime, SummarySaysWhichKernelsRunAndWhoChose) {
  const r1::BlasSituation s = r1::current_blas_situation();
  const std::string summary = r1::runtime_summary();
  if (s.openblas_version.empty()) {
    EXPECT_NE(summary.find("not OpenBLAS"), std::string::npos) << summary;
    return;
  }
  EXPECT_NE(summary.find("OpenBLAS " + s.openblas_version + " (" + s.openblas_core + " kernels, "), std::string::npos)
      << summary;
  if (const char* env = std::getenv("OPENBLAS_CORETYPE")) {
    std::string lower_env = env, lower_core = s.openblas_core;
    for (std::string* t : {&lower_env, &lower_core})
      std::transform(t->begin(), t->end(), t->begin(), [](unsigned char c) { return std::tolower(c); });
    EXPECT_EQ(lower_core, lower_env) << "OpenBLAS runs other kernels than OPENBLAS_CORETYPE asks for";
    EXPECT_NE(summary.find(s.user_coretype_set ? "chosen by the user" : "chosen by r1"), std::string::npos) << summary;
  }
}
