// Bucketed gradient all-reduce overlapped with the backward pass: DDP's Reducer design (PyTorch's
// torch/csrc/distributed/c10d/reducer.cpp) on r1's parameter list. Parameters go into buckets of about
// bucket_bytes in reverse order (the order backward produces their gradients); a post-hook on each parameter's
// gradient accumulator counts its gradient in, and a full bucket is flattened and all-reduced asynchronously
// (Gloo's threads) while autograd goes on. Buckets start strictly in index order on every rank, so the ranks issue
// the same collectives in the same order. Only the backward after arm() (a step's last micro-batch: gradient
// accumulation is DDP's no_sync) is synchronised; finish() sums what is left and writes the sums back.
// Departures from DDP:
//   1. Sum, not mean: the trainer divides every loss by the global normaliser (tokens of the global batch).
//   2. Unused parameters need no find_unused_parameters: each bucket carries one "has a gradient" flag per
//      parameter; a parameter that no rank gave a gradient keeps none (AdamW skips it, as in one process).
//   3. Hooks that fire more often than on the first synchronised backward (a graph that changed) are caught: the
//      ranks agree on the stale buckets in one small all-reduce and reduce those again, so results stay exact.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "r1/distributed.h"

namespace r1::dist {

class GradientSync {
 public:
  GradientSync(const World& world, std::vector<at::Tensor> params, int64_t bucket_bytes = 25 << 20);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // The next backward is a step's last: full buckets start their all-reduce during it.
  void arm();
  // After that backward: starts the buckets still waiting, waits for every one and writes the sums into the
  // parameters' .grad. Returns the seconds spent waiting for communication after the backward.
  double finish();
  size_t num_buckets() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace r1::dist
