// GoogleTest main for every test binary: the same process start-up as the r1 CLI (kernel and thread
// settings, see r1/runtime.h), so tests exercise the configuration users get.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include "r1/runtime.h"

int main(int argc, char** argv) {
  r1::bootstrap_process(argc, argv);
  at::set_num_threads(r1::physical_core_count());
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
