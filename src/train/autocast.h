// Autocast scope of the training forwards (trainer.cpp's micro-batches and evaluation; GRPO's forwards at
// generation time that must see the learner's arithmetic).
#pragma once

#include <ATen/autocast_mode.h>
#include <c10/core/Device.h>

namespace r1::train {

// Autocast for the forward passes (bf16 matmuls, fp32 elsewhere); restores the previous state on exit.
class AutocastScope {
 public:
  AutocastScope(bool enabled, at::Device device) : enabled_(enabled), cuda_(device.is_cuda()) {
    if (!enabled_) return;
    if (cuda_) {
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    } else {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
  }
  ~AutocastScope() {
    if (!enabled_) return;
    if (cuda_)
      at::autocast::set_enabled(false);
    else
      at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }

 private:
  bool enabled_, cuda_;
};

}  // namespace r1::train
