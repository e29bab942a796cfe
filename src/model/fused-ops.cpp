// The fused ops of fused-ops.h as autograd functions: rows are split over the intra-op threads and each row goes
// through the row kernels of kernels/transformer-rows.h (formulas there), bf16 rows widened into fp32 scratch
// rows where a kernel takes fp32 only. CUDA tensors and other dtypes take the equivalent ATen expressions.
#include "model/fused-ops.h"

#include "kernels/transformer-rows.h"
#include "r1/error.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/types.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace r1::model::detail {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using namespace r1::kernels;  // the row kernels (kernels/transformer-rows.h)

bool fusable(const at::Tensor& t) {
  return t.is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
}

// Row r of an fp32 tensor, or of a bf16 one widened into `scratch` (n floats).
const float* fp32_row(const at::Tensor& t, int64_t r, int64_t n, float* scratch) {
  if (t.scalar_type() == at::kFloat) return t.data_ptr<float>() + r * n;
  widen_row(static_cast<const uint16_t*>(t.data_ptr()) + r * n, n, scratch);
  return scratch;
}

struct RmsNormFn : torch::autograd::Function<RmsNormFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& weight, double eps,
                            at::ScalarType out_dtype) {
    const at::Tensor x = x_in.contiguous();
    const int64_t C = x.size(-1), rows = x.numel() / C;
    const at::Tensor w = weight.to(at::kFloat).contiguous();
    at::Tensor rstd = torch::empty({rows}, x.options().dtype(at::kFloat));  // (rows)
    at::Tensor y = torch::empty(x.sizes(), x.options().dtype(out_dtype));   // (..., C)
    const float* wp = w.data_ptr<float>();
    float* rp = rstd.data_ptr<float>();
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      std::vector<float> scratch(C);
      for (int64_t r = begin; r < end; ++r) {
        const float* xr = fp32_row(x, r, C, scratch.data());
        const float inv = float(1.0 / std::sqrt(row_sum_squares(xr, C) / double(C) + eps));
        rp[r] = inv;
        if (out_dtype == at::kFloat)
          rms_scale_row(xr, wp, inv, y.data_ptr<float>() + r * C, C);
        else
          rms_scale_row(xr, wp, inv, static_cast<uint16_t*>(y.data_ptr()) + r * C, C);
      }
    });
    ctx->save_for_backward({x, weight, rstd});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1], &rstd = saved[2];
    const at::Tensor dy = grad_out[0].contiguous();
    const int64_t C = x.size(-1), rows = x.numel() / C;
    const at::Tensor w = weight.to(at::kFloat).contiguous();
    at::Tensor dx = torch::empty_like(x);  // (..., C)
    const int threads = at::get_num_threads();
    at::Tensor dw_parts = torch::zeros({threads, C}, x.options().dtype(at::kFloat));  // per-thread partial dw
    const float* wp = w.data_ptr<float>();
    const float* rp = rstd.data_ptr<float>();
    const bool dx_fp32 = x.scalar_type() == at::kFloat;
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      std::vector<float> x_scratch(C), dy_scratch(C), dx_scratch(dx_fp32 ? 0 : C);
      float* dwp = dw_parts.data_ptr<float>() + at::get_thread_num() * C;
      for (int64_t r = begin; r < end; ++r) {
        float* dxr = dx_fp32 ? dx.data_ptr<float>() + r * C : dx_scratch.data();
        rms_backward_row(fp32_row(x, r, C, x_scratch.data()), fp32_row(dy, r, C, dy_scratch.data()), wp, rp[r], dwp,
                         dxr, C);
        if (!dx_fp32) narrow_row(dxr, C, static_cast<uint16_t*>(dx.data_ptr()) + r * C);
      }
    });
    at::Tensor dw = dw_parts.sum(0).to(weight.scalar_type());
    return {dx, dw, at::Tensor(), at::Tensor()};
  }
};

// fp32 tensors as float*, bf16 ones as their raw bits.
template <class T>
T* raw(const at::Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}
template <class Fn>
void dispatch_raw(at::ScalarType dtype, const Fn& fn) {
  if (dtype == at::kFloat)
    fn(float());
  else
    fn(uint16_t());
}

// y = silu(g) * u over rows; g and u rows start g_stride / u_stride elements apart (one [g | u] buffer, or
// two separate tensors). dy has y's dtype.
struct SwigluKernel {
  template <class T>
  static void forward(const T* g, int64_t g_stride, const T* u, int64_t u_stride, T* y, int64_t rows, int64_t I) {
    at::parallel_for(0, rows, 8, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) swiglu_row(g + r * g_stride, u + r * u_stride, y + r * I, I);
    });
  }
  template <class T>
  static void backward(const T* g, int64_t g_stride, const T* u, int64_t u_stride, const T* dy, T* dg,
                       int64_t dg_stride, T* du, int64_t du_stride, int64_t rows, int64_t I) {
    at::parallel_for(0, rows, 8, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        swiglu_row_backward(g + r * g_stride, u + r * u_stride, dy + r * I, dg + r * dg_stride, du + r * du_stride, I);
    });
  }
};

std::vector<int64_t> with_last(at::IntArrayRef sizes, int64_t last) {
  std::vector<int64_t> shape(sizes.begin(), sizes.end());
  shape.back() = last;
  return shape;
}

// gate_up (..., 2I) -> (..., I); backward yields d(gate_up) in one buffer (no cat).
struct SwigluFn : torch::autograd::Function<SwigluFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate_up_in) {
    const at::Tensor gu = gate_up_in.contiguous();
    const int64_t I = gu.size(-1) / 2, rows = gu.numel() / (2 * I);
    at::Tensor y = torch::empty(with_last(gu.sizes(), I), gu.options());  // (..., I)
    dispatch_raw(gu.scalar_type(), [&](auto tag) {
      using T = decltype(tag);
      const T* p = raw<T>(gu);
      SwigluKernel::forward(p, 2 * I, p + I, 2 * I, raw<T>(y), rows, I);
    });
    ctx->save_for_backward({gu});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const at::Tensor gu = ctx->get_saved_variables()[0];
    const at::Tensor dy = grad_out[0].to(gu.scalar_type()).contiguous();
    const int64_t I = gu.size(-1) / 2, rows = gu.numel() / (2 * I);
    at::Tensor dgu = torch::empty_like(gu);  // (..., 2I)
    dispatch_raw(gu.scalar_type(), [&](auto tag) {
      using T = decltype(tag);
      const T* p = raw<T>(gu);
      T* d = raw<T>(dgu);
      SwigluKernel::backward(p, 2 * I, p + I, 2 * I, raw<T>(dy), d, 2 * I, d + I, 2 * I, rows, I);
    });
    return {dgu};
  }
};

// gate (..., I), up (..., I) -> (..., I).
struct SwigluPairFn : torch::autograd::Function<SwigluPairFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate_in, const at::Tensor& up_in) {
    const at::Tensor g = gate_in.contiguous(), u = up_in.contiguous();
    const int64_t I = g.size(-1), rows = g.numel() / I;
    at::Tensor y = torch::empty(g.sizes(), g.options());
    dispatch_raw(g.scalar_type(), [&](auto tag) {
      using T = decltype(tag);
      SwigluKernel::forward(raw<T>(g), I, raw<T>(u), I, raw<T>(y), rows, I);
    });
    ctx->save_for_backward({g, u});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &g = saved[0], &u = saved[1];
    const at::Tensor dy = grad_out[0].to(g.scalar_type()).contiguous();
    const int64_t I = g.size(-1), rows = g.numel() / I;
    at::Tensor dg = torch::empty_like(g), du = torch::empty_like(u);
    dispatch_raw(g.scalar_type(), [&](auto tag) {
      using T = decltype(tag);
      SwigluKernel::backward(raw<T>(g), I, raw<T>(u), I, raw<T>(dy), raw<T>(dg), I, raw<T>(du), I, rows, I);
    });
    return {dg, du};
  }
};

// ---- rotary embedding ----------------------------------------------------------------------------------
// Applies fn(in_row, out_row) to each (b, t) row of NH * D elements of x (B, T, NH, D) (last two dims
// dense), writing a dense (B, T, NH, D) result of x's dtype; bf16 rows pass through fp32 scratch rows.
template <class Fn>
at::Tensor map_token_rows(const at::Tensor& x, const Fn& fn) {
  const int64_t B = x.size(0), T = x.size(1), W = x.size(2) * x.size(3);
  at::Tensor y = torch::empty(x.sizes(), x.options());  // (B, T, NH, D)
  const bool fp32 = x.scalar_type() == at::kFloat;
  const int64_t s0 = x.stride(0), s1 = x.stride(1);
  at::parallel_for(0, B * T, 8, [&](int64_t begin, int64_t end) {
    std::vector<float> in(fp32 ? 0 : W), out(fp32 ? 0 : W);
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / T, t = r % T, offset = b * s0 + t * s1;
      if (fp32) {
        fn(b, t, x.data_ptr<float>() + offset, y.data_ptr<float>() + r * W);
      } else {
        widen_row(static_cast<const uint16_t*>(x.data_ptr()) + offset, W, in.data());
        fn(b, t, in.data(), out.data());
        narrow_row(out.data(), W, static_cast<uint16_t*>(y.data_ptr()) + r * W);
      }
    }
  });
  return y;
}

bool dense_rows(const at::Tensor& x) { return x.stride(3) == 1 && x.stride(2) == x.size(3); }

struct RopeFn : torch::autograd::Function<RopeFn> {
  // x (B, T, NH, D); cos, sin (B or 1, T, D) fp32
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& cos,
                            const at::Tensor& sin) {
    const at::Tensor x = dense_rows(x_in) ? x_in : x_in.contiguous();
    ctx->save_for_backward({cos, sin});
    return rotate(x, cos, sin, false);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor dy = dense_rows(grad_out[0]) ? grad_out[0] : grad_out[0].contiguous();
    return {rotate(dy, saved[0], saved[1], true), at::Tensor(), at::Tensor()};
  }
  static at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, bool transpose) {
    const int64_t T = x.size(1), NH = x.size(2), D = x.size(3);
    const bool per_row = cos.size(0) > 1;
    const float* cp = cos.data_ptr<float>();
    const float* sp = sin.data_ptr<float>();
    return map_token_rows(x, [&](int64_t b, int64_t t, const float* in, float* out) {
      const int64_t at = ((per_row ? b * T : 0) + t) * D;
      for (int64_t h = 0; h < NH; ++h) {
        if (transpose)
          rope_row_backward(in + h * D, cp + at, sp + at, out + h * D, D);
        else
          rope_row(in + h * D, cp + at, sp + at, out + h * D, D);
      }
    });
  }
};

// ---- softmax over the last dimension ----------------------------------------------------------------------
// A dense fp32 or bf16 row written from an fp32 row.
void store_row(const float* row, int64_t n, at::Tensor& t, int64_t r) {
  if (t.scalar_type() == at::kFloat)
    std::copy_n(row, n, t.data_ptr<float>() + r * n);
  else
    narrow_row(row, n, static_cast<uint16_t*>(t.data_ptr()) + r * n);
}

struct SoftmaxFn : torch::autograd::Function<SoftmaxFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x_in, at::ScalarType out_dtype) {
    const at::Tensor x = x_in.contiguous();
    const int64_t S = x.size(-1), rows = x.numel() / S;
    at::Tensor y = torch::empty(x.sizes(), x.options().dtype(out_dtype));  // (..., S)
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      std::vector<float> scratch(S), e(S);
      for (int64_t r = begin; r < end; ++r) {
        const float* xr = fp32_row(x, r, S, scratch.data());
        const float m = row_max(xr, S);
        const float sum = row_exp_sum(xr, S, m, e.data());
        if (out_dtype == at::kFloat)
          scale_row(e.data(), S, 1.0f / sum, y.data_ptr<float>() + r * S);
        else
          scale_row(e.data(), S, 1.0f / sum, static_cast<uint16_t*>(y.data_ptr()) + r * S);
      }
    });
    ctx->save_for_backward({y});
    ctx->saved_data["in_dtype"] = int64_t(x.scalar_type());
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const at::Tensor y = ctx->get_saved_variables()[0];
    const at::Tensor dy = grad_out[0].to(y.scalar_type()).contiguous();
    const int64_t S = y.size(-1), rows = y.numel() / S;
    at::Tensor dx = torch::empty(y.sizes(), y.options().dtype(at::ScalarType(ctx->saved_data["in_dtype"].toInt())));
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      std::vector<float> y_scratch(S), dy_scratch(S), dx_row(S);
      for (int64_t r = begin; r < end; ++r) {
        const float* yr = fp32_row(y, r, S, y_scratch.data());
        const float* gr = fp32_row(dy, r, S, dy_scratch.data());
        softmax_backward_row(yr, gr, row_dot(yr, gr, S), S, dx_row.data());
        store_row(dx_row.data(), S, dx, r);
      }
    });
    return {dx, at::Tensor()};
  }
};

}  // namespace

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, at::ScalarType out_dtype) {
  if (!fusable(x) || !fusable(weight) || (out_dtype != at::kFloat && out_dtype != at::kBFloat16)) {
    at::Tensor h = x.to(at::kFloat);
    h = h * at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return (weight * h.to(x.scalar_type())).to(out_dtype);
  }
  return RmsNormFn::apply(x, weight, eps, out_dtype);
}

at::Tensor swiglu(const at::Tensor& gate_up) {
  if (!fusable(gate_up)) {
    std::vector<at::Tensor> halves = gate_up.chunk(2, -1);
    return at::silu(halves[0]) * halves[1];
  }
  return SwigluFn::apply(gate_up);
}

at::Tensor rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const bool shapes = x.dim() == 4 && cos.dim() == 3 && cos.sizes() == sin.sizes() && cos.size(1) == x.size(1) &&
                      cos.size(2) == x.size(3) && (cos.size(0) == 1 || cos.size(0) == x.size(0)) && x.size(3) % 2 == 0;
  if (!shapes) fail("rope: x [{}] and cos [{}] do not match", fmt::join(x.sizes(), ", "), fmt::join(cos.sizes(), ", "));
  if (!fusable(x) || !cos.is_cpu() || cos.scalar_type() != at::kFloat || sin.scalar_type() != at::kFloat) {
    std::vector<at::Tensor> halves = x.chunk(2, -1);
    const at::Tensor c = cos.unsqueeze(2).to(x.scalar_type()), s = sin.unsqueeze(2).to(x.scalar_type());
    return x * c + at::cat({-halves[1], halves[0]}, -1) * s;
  }
  return RopeFn::apply(x, cos.contiguous(), sin.contiguous());
}

at::Tensor softmax_last_dim(const at::Tensor& scores, at::ScalarType out_dtype) {
  if (!fusable(scores) || (out_dtype != at::kFloat && out_dtype != at::kBFloat16))
    // fp32 math, or fp64 for fp64 scores (a float cast would turn their masked lowest values into -inf: NaN rows)
    return at::softmax(scores, -1, scores.scalar_type() == at::kDouble ? at::kDouble : at::kFloat).to(out_dtype);
  return SoftmaxFn::apply(scores, out_dtype);
}

at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up) {
  if (!fusable(gate) || gate.scalar_type() != up.scalar_type() || gate.sizes() != up.sizes())
    return at::silu(gate) * up;
  return SwigluPairFn::apply(gate, up);
}

}  // namespace r1::model::detail
