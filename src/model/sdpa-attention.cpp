// fused_attention (layers.h): attention through at::scaled_dot_product_attention for CUDA tensors. Compiled where
// the LibTorch at hand has the function (>= 2.0, from <torch/version.h>; Debian 12's 1.13 has only a private
// variant); -DR1_NO_FUSED_ATTENTION compiles it out (scripts/gpu-check.sh's fallback should a LibTorch reject this
// file). Its own translation unit, so that fallback recompiles one file.
#include <ATen/ATen.h>
#include <torch/version.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "model/autocast-state.h"
#include "model/layers.h"
#include "r1/error.h"

#if TORCH_VERSION_MAJOR >= 2 && !defined(R1_NO_FUSED_ATTENTION)
#define R1_FUSED_ATTENTION 1
#else
#define R1_FUSED_ATTENTION 0
#endif

namespace r1::model::detail {
namespace {

std::atomic<bool>& fused_switch() {
  static std::atomic<bool> on{[] {
    const char* mode = std::getenv("R1_ATTENTION");
    return mode == nullptr || std::strcmp(mode, "explicit") != 0;
  }()};
  return on;
}

}  // namespace

bool fused_attention_compiled() { return R1_FUSED_ATTENTION != 0; }

bool fused_attention_enabled() { return fused_attention_compiled() && fused_switch().load(std::memory_order_relaxed); }

void set_fused_attention(bool enabled) { fused_switch().store(enabled); }

at::Tensor fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const AttentionInputs& ctx) {
#if R1_FUSED_ATTENTION
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3), Hkv = k.size(1), S = k.size(2);
  const int64_t G = H / Hkv;
  // The products' dtype: autocast's (the function is on its lower-precision list), else q's. Everything is cast to
  // it here, the mask included, so the kernel reads the mask values written below.
  const at::ScalarType dtype = autocast_dtype_for(q);
  at::Tensor query = q.to(dtype), key = k.to(dtype), value = v.to(dtype);
  if (G > 1) {  // query head h reads kv head h / G (HF's repeat_kv)
    key = key.unsqueeze(2).expand({B, Hkv, G, S, D}).reshape({B, H, S, D});
    value = value.unsqueeze(2).expand({B, Hkv, G, S, D}).reshape({B, H, S, D});
  }
  // Masked scores get -1e30 (fp16: its lowest): finite in bf16, and still finite once a kernel scales scores by
  // log2(e), where the lowest float would overflow to -inf and make a fully masked padding row NaN.
  const double masked = dtype == at::kHalf ? -65504.0 : -1e30;
  at::Tensor mask;  // additive, broadcast against (B, H, T, S)
  bool causal = false;
  if (ctx.causal_bias.defined()) {  // causality alone: (1, G*T, S), whose first T rows are the (T, S) bias
    if (S == T)
      causal = true;  // no cache: the kernel's own (top-left) causal mask is this one
    else
      mask = ctx.causal_bias.narrow(1, 0, T).unsqueeze(1).to(dtype);  // (1, 1, T, S)
  } else {
    if (ctx.alibi.defined()) mask = ctx.alibi.reshape({1, H, T, S}).to(dtype);  // (1, H, T, S)
    if (ctx.allowed.defined()) {
      const at::Tensor allowed = ctx.allowed.reshape({ctx.allowed.size(0), 1, T, S});  // (B or 1, 1, T, S)
      const at::Tensor open = mask.defined() ? mask : at::zeros({1, 1, T, S}, query.options());
      mask = at::where(allowed, open, at::scalar_tensor(masked, query.options()));
    }
  }
  if (mask.defined()) return at::scaled_dot_product_attention(query, key, value, mask, 0.0, false);
  return at::scaled_dot_product_attention(query, key, value, {}, 0.0, causal);
#else
  fail("attention: this build has no fused attention (LibTorch {}.{}, or R1_NO_FUSED_ATTENTION)", TORCH_VERSION_MAJOR,
       TORCH_VERSION_MINOR);
#endif
}

}  // namespace r1::model::detail
