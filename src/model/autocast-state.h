// The autocast state of a device type through the API of the LibTorch at hand. LibTorch >= 2.4 takes the
// device type (at::autocast::is_autocast_enabled(at::kCUDA)); its older per-device functions (is_enabled,
// is_cpu_enabled, get_autocast_gpu_dtype, ...) are deprecated there and print a warning at every call, which
// the model would make several times per layer. Before 2.4 only those exist (CPU, and CUDA as "gpu").
// Internal to src/model.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace r1::model::detail {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
inline bool autocast_enabled(at::DeviceType device) { return at::autocast::is_autocast_enabled(device); }
inline at::ScalarType autocast_dtype(at::DeviceType device) { return at::autocast::get_autocast_dtype(device); }
inline void set_autocast(at::DeviceType device, bool enabled, at::ScalarType dtype) {
  at::autocast::set_autocast_enabled(device, enabled);
  at::autocast::set_autocast_dtype(device, dtype);
}
#else
inline bool autocast_enabled(at::DeviceType device) {
  return device == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
}
inline at::ScalarType autocast_dtype(at::DeviceType device) {
  return device == at::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
}
inline void set_autocast(at::DeviceType device, bool enabled, at::ScalarType dtype) {
  if (device == at::kCPU) {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
}
#endif

// The dtype autocast gives x's products: the autocast dtype of x's device type when autocast is on there,
// else x's own.
inline at::ScalarType autocast_dtype_for(const at::Tensor& x) {
  const at::DeviceType device = x.device().type();
  return autocast_enabled(device) ? autocast_dtype(device) : x.scalar_type();
}

}  // namespace r1::model::detail
