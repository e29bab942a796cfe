// The LM-head losses every trainer and `eval ppl` use (in the model part, so eval needs no trainer). causal_lm_loss_sum
// is cross-entropy summed over the labelled tokens, as F.cross_entropy(logits.float(), labels, ignore_index=-100,
// reduction="sum"), computed by fused autograd functions:
//   1. from logits: forward keeps only the per-row log-sum-exp (not a (N, V) log-softmax), backward writes
//      softmax - onehot straight into the gradient;
//   2. from final hidden states and the LM head (Liger-Kernel's fused linear cross-entropy): row chunks of
//      logits are computed, turned into their gradient in place and multiplied back into d hidden and
//      d weight during the forward, so the (N, V) logits never exist whole and unlabelled rows cost nothing.
// token_logprobs (GRPO's policy and reference log-probs) is the same chunking for per-token log-probs and
// entropies; its backward recomputes each chunk's logits, since d loss / d logp is known only after the loss.
// generalized_jsd_sum (GKD's distillation loss, TRL's generalized_jsd_loss) chunks the student's and the teacher's
// logits together over the full vocabulary and forms the student's gradients in the forward, as the cross-entropy.
// CPU fp32 and bf16 logits take vectorised row kernels (bf16 read as raw bits, fp32 arithmetic); other
// devices run ATen ops on cache-sized row blocks. Tiny model, 2048 x 8192 logits: log_softmax + nll_loss +
// backward 230 ms, ATen blocks ~70 ms, row kernels less again (bench-train-step --profile).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <type_traits>
#include <vector>

#include <torch/csrc/autograd/custom_function.h>
#include <torch/types.h>

#include "kernels/cpu-kernels.h"
#include "kernels/row-math.h"
#include "kernels/simd.h"
#include "kernels/transformer-rows.h"
#include "model/autocast-state.h"
#include "model/exact-ops.h"
#include "model/lm-head-losses.h"
#include "r1/error.h"
#include "r1/model.h"

namespace r1::model {
namespace {

constexpr int64_t kRowsPerBlock = 32;  // 32 x V fp32 rows: 1 MB at V = 8192, L2-resident

// Calls fn(begin, n) on consecutive row blocks of at most kRowsPerBlock rows, the blocks shared among the
// intra-op threads (at::parallel_for hands each thread one contiguous range; the blocking is ours).
template <class Fn>
void for_each_block(int64_t rows, const Fn& fn) {
  at::parallel_for(0, rows, kRowsPerBlock, [&](int64_t begin, int64_t end) {
    torch::NoGradGuard no_grad;  // OpenMP workers start with grad mode on; these ATen ops must not record
    for (int64_t b = begin; b < end; b += kRowsPerBlock) fn(b, std::min(kRowsPerBlock, end - b));
  });
}

// Logits of row chunks against one LM head weight (V, C): through r1's packed product kernels where the model's
// forward uses them (model/exact-ops.h), so these log-probs carry the bits of the engine's sampled ones
// (GRPO's on-policy check); a BLAS GEMM otherwise. The weight is packed once per call.
class HeadProduct {
 public:
  explicit HeadProduct(const at::Tensor& w) : w_(w) {
    if (model::detail::exact_products(w)) packed_.pack({w}, {at::Tensor()});
  }
  void logits(const at::Tensor& rows, at::Tensor& out) const {  // rows (n, C) contiguous -> out (n, V)
    if (!packed_.panels.defined()) {
      at::mm_out(out, rows, w_.t());
      return;
    }
    kernels::linear(rows.data_ptr<float>(), rows.size(0), rows.size(1), packed_, out.data_ptr<float>(), out.size(1),
                    false);
  }

 private:
  at::Tensor w_;
  kernels::PackedLinear packed_;
};

// Row kernels over fp32 rows (vectorised: 16 independent lanes per reduction, exp_approx; see
// kernels/simd.h). bf16 rows are first widened into an fp32 scratch row (a reduction that converts on the fly
// does not vectorise) and written back as bf16 with one rounding.
constexpr int kLanes = 16;

R1_INLINE float as_float(float v) { return v; }
R1_INLINE float as_float(uint16_t v) { return bf16_bits_to_float(v); }
R1_INLINE void store(float* p, float v) { *p = v; }
R1_INLINE void store(uint16_t* p, float v) { *p = float_to_bf16_bits(v); }

using kernels::widen_row;  // bf16 bits -> fp32, the fused ops' (kernels/transformer-rows.h)

// out[j] = exp(x[j] - lse) * scale
R1_VECTOR_CLONES void row_softmax_scaled(const float* __restrict x, int64_t n, float lse, float scale,
                                         float* __restrict out) {
  for (int64_t j = 0; j < n; ++j) out[j] = exp_approx(x[j] - lse) * scale;
}
R1_VECTOR_CLONES void row_softmax_scaled(const float* __restrict x, int64_t n, float lse, float scale,
                                         uint16_t* __restrict out) {
  for (int64_t j = 0; j < n; ++j) out[j] = float_to_bf16_bits(exp_approx(x[j] - lse) * scale);
}
// In place, for fp32 rows.
R1_VECTOR_CLONES void row_softmax_scaled_inplace(float* x, int64_t n, float lse, float scale) {
  for (int64_t j = 0; j < n; ++j) x[j] = exp_approx(x[j] - lse) * scale;
}

// A row as fp32: the row itself, or its widened copy in `scratch` (n floats) for bf16.
R1_INLINE const float* fp32_row(const float* x, int64_t, float*) { return x; }
R1_INLINE const float* fp32_row(const uint16_t* x, int64_t n, float* scratch) {
  widen_row(x, n, scratch);
  return scratch;
}

// Calls fn(tag) with tag = float for fp32 tensors and uint16_t (raw bits) for bf16 ones.
template <class Fn>
void dispatch_raw(at::ScalarType dtype, const Fn& fn) {
  if (dtype == at::kFloat)
    fn(float());
  else
    fn(uint16_t());
}

bool fast_path(const at::Tensor& logits) {
  return logits.is_cpu() && (logits.scalar_type() == at::kFloat || logits.scalar_type() == at::kBFloat16) &&
         logits.is_contiguous();
}

struct CrossEntropySum : torch::autograd::Function<CrossEntropySum> {
  // logits (N, V) any float dtype, labels (N) int64 -> scalar fp32 sum over rows with label != -100
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& labels) {
    const int64_t N = logits.size(0);
    at::Tensor lse = torch::empty({N}, logits.options().dtype(at::kFloat));  // (N)
    at::Tensor picked = torch::zeros({N}, lse.options());                    // (N) logit of the label
    at::Tensor valid = labels != -100;                                       // (N)
    at::Tensor safe = labels.masked_fill(valid.logical_not(), 0);
    if (fast_path(logits)) {
      const int64_t V = logits.size(1);
      const int64_t* label = safe.data_ptr<int64_t>();
      float* lp = lse.data_ptr<float>();
      float* pp = picked.data_ptr<float>();
      dispatch_raw(logits.scalar_type(), [&](auto tag) {
        const auto* x = static_cast<const decltype(tag)*>(logits.data_ptr());
        at::parallel_for(0, N, 8, [&](int64_t begin, int64_t end) {
          std::vector<float> scratch(std::is_same_v<decltype(tag), float> ? 0 : V);
          for (int64_t r = begin; r < end; ++r) {
            lp[r] = row_log_sum_exp(fp32_row(x + r * V, V, scratch.data()), V);
            pp[r] = as_float(x[r * V + label[r]]);
          }
        });
      });
      at::Tensor loss = ((lse - picked) * valid).sum();
      ctx->save_for_backward({logits, safe, valid, lse});
      return loss;
    }
    for_each_block(N, [&](int64_t begin, int64_t n) {
      at::Tensor block = logits.narrow(0, begin, n).to(at::kFloat);  // (n, V)
      lse.narrow(0, begin, n).copy_(block.logsumexp(-1));
      picked.narrow(0, begin, n).copy_(block.gather(1, safe.narrow(0, begin, n).unsqueeze(1)).squeeze(1));
    });
    at::Tensor loss = ((lse - picked) * valid).sum();
    ctx->save_for_backward({logits, safe, valid, lse});
    return loss;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &logits = saved[0], &safe = saved[1], &valid = saved[2], &lse = saved[3];
    const int64_t N = logits.size(0);
    at::Tensor scale = grad_out[0].to(at::kFloat) * valid.to(at::kFloat);  // (N) d loss / d row
    at::Tensor grad = torch::empty_like(logits);                           // (N, V)
    if (fast_path(logits)) {
      const int64_t V = logits.size(1);
      const int64_t* label = safe.data_ptr<int64_t>();
      const float* lp = lse.data_ptr<float>();
      const float* sp = scale.data_ptr<float>();
      dispatch_raw(logits.scalar_type(), [&](auto tag) {
        using T = decltype(tag);
        const T* x = static_cast<const T*>(logits.data_ptr());
        T* gp = static_cast<T*>(grad.data_ptr());
        at::parallel_for(0, N, 8, [&](int64_t begin, int64_t end) {
          std::vector<float> scratch(std::is_same_v<T, float> ? 0 : V);
          for (int64_t r = begin; r < end; ++r) {
            const int64_t at_label = r * V + label[r];
            const float label_grad = exp_approx(as_float(x[at_label]) - lp[r]) * sp[r] - sp[r];
            row_softmax_scaled(fp32_row(x + r * V, V, scratch.data()), V, lp[r], sp[r], gp + r * V);
            store(gp + at_label, label_grad);  // one rounding of softmax - 1 in bf16
          }
        });
      });
      return {grad, at::Tensor()};
    }
    const bool fp32 = logits.scalar_type() == at::kFloat;
    for_each_block(N, [&](int64_t begin, int64_t n) {
      at::Tensor out = grad.narrow(0, begin, n);  // (n, V)
      at::Tensor p = fp32 ? out : torch::empty(out.sizes(), out.options().dtype(at::kFloat));
      at::sub_out(p, logits.narrow(0, begin, n), lse.narrow(0, begin, n).unsqueeze(1)).exp_();  // softmax
      at::Tensor rows = safe.narrow(0, begin, n).unsqueeze(1);                                  // (n, 1)
      p.scatter_add_(1, rows, torch::full({n, 1}, -1.0, p.options()));                          // - onehot
      p.mul_(scale.narrow(0, begin, n).unsqueeze(1));
      if (!fp32) out.copy_(p);
    });
    return {grad, at::Tensor()};
  }
};

// Calls fn(r, row, raw) for each logit row r of lg (n, V) (CPU, fp32 or bf16) with `row` its fp32 values
// divided by T (fp32 rows in place, bf16 ones in a scratch row) and `raw` the row itself (float or uint16_t).
template <class Fn>
void for_each_scaled_row(at::Tensor& lg, float temperature, const Fn& fn) {
  const int64_t n = lg.size(0), V = lg.size(1);
  dispatch_raw(lg.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    T* x = static_cast<T*>(lg.data_ptr());
    at::parallel_for(0, n, 4, [&](int64_t begin, int64_t end) {
      std::vector<float> scratch(std::is_same_v<T, float> ? 0 : V);
      for (int64_t r = begin; r < end; ++r) {
        float* row = std::is_same_v<T, float> ? reinterpret_cast<float*>(x + r * V) : scratch.data();
        if constexpr (!std::is_same_v<T, float>) widen_row(x + r * V, V, row);
        if (temperature != 1.0f) row_divide(row, V, temperature);
        fn(r, row, x + r * V);
      }
    });
  });
}

// Turns logit rows lg (n, V) in place into softmax - onehot(labels) and writes each row's log-sum-exp and
// label logit: what cross-entropy's forward needs and its gradient, in one visit of the chunk.
void softmax_minus_onehot_(at::Tensor& lg, const at::Tensor& labels, float* lse, float* picked) {
  const int64_t n = lg.size(0), V = lg.size(1);
  if (fast_path(lg)) {
    const int64_t* label = labels.data_ptr<int64_t>();
    for_each_scaled_row(lg, 1.0f, [&](int64_t r, float* row, auto* raw) {
      using T = std::remove_pointer_t<decltype(raw)>;
      lse[r] = row_log_sum_exp(row, V);
      picked[r] = row[label[r]];
      if constexpr (std::is_same_v<T, float>)
        row_softmax_scaled_inplace(row, V, lse[r], 1.0f);
      else
        row_softmax_scaled(row, V, lse[r], 1.0f, raw);
      store(raw + label[r], exp_approx(picked[r] - lse[r]) - 1.0f);
    });
    return;
  }
  at::Tensor f = lg.to(at::kFloat);  // (n, V)
  at::Tensor l = f.logsumexp(-1);    // (n)
  at::Tensor p = f.gather(1, labels.unsqueeze(1)).squeeze(1);
  f.sub_(l.unsqueeze(1)).exp_().scatter_add_(1, labels.unsqueeze(1), torch::full({n, 1}, -1.0, f.options()));
  lg.copy_(f);
  at::Tensor l_cpu = l.cpu(), p_cpu = p.cpu();
  std::copy_n(l_cpu.data_ptr<float>(), n, lse);
  std::copy_n(p_cpu.data_ptr<float>(), n, picked);
}

// Rows of logits per chunk: about 8 MB of them, a multiple of 16, 256..1024 rows. Fewer rows would keep the
// chunk smaller at large vocabularies but halve the GEMMs' speed (V = 50257, d = 768, 2 threads: 64-row chunks
// run the three products at 140-170 GFLOP/s, 256-row ones at 275-330).
int64_t chunk_rows(int64_t V, int64_t element_size) {
  const int64_t rows = (int64_t(8) << 20) / std::max<int64_t>(1, V * element_size);
  return std::clamp<int64_t>(rows / 16 * 16, 256, 1024);
}

// hidden (N, C), weight (V, C), labels (N) all in [0, V) -> scalar fp32 sum of cross-entropy over the rows.
// The logits hidden @ weight^T are formed chunk by chunk in `dtype` (the autocast dtype, else hidden's);
// the gradients (of the inputs that need one) are formed in the forward and scaled by the incoming gradient
// in backward.
struct LinearCrossEntropySum : torch::autograd::Function<LinearCrossEntropySum> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                            const at::Tensor& labels, at::ScalarType dtype, bool grad_hidden, bool grad_weight) {
    const at::Tensor h = hidden.to(dtype).contiguous();  // (N, C)
    const at::Tensor w = weight.to(dtype).contiguous();  // (V, C)
    const int64_t N = h.size(0), C = h.size(1), V = w.size(0);
    const int64_t chunk = chunk_rows(V, w.element_size());
    at::Tensor buffer = torch::empty({std::min(chunk, N), V}, w.options());  // (chunk, V) logits, then their grad
    at::Tensor d_hidden = grad_hidden ? torch::empty({N, C}, h.options()) : at::Tensor();                    // (N, C)
    at::Tensor d_weight = grad_weight ? torch::zeros({V, C}, w.options().dtype(at::kFloat)) : at::Tensor();  // (V, C)
    std::vector<float> lse(N), picked(N);
    for (int64_t begin = 0; begin < N; begin += chunk) {
      const int64_t n = std::min(chunk, N - begin);
      const at::Tensor h_rows = h.narrow(0, begin, n);  // (n, C)
      at::Tensor lg = buffer.narrow(0, 0, n);           // (n, V)
      at::mm_out(lg, h_rows, w.t());
      softmax_minus_onehot_(lg, labels.narrow(0, begin, n), lse.data() + begin, picked.data() + begin);
      if (grad_hidden) {
        at::Tensor dh_rows = d_hidden.narrow(0, begin, n);
        at::mm_out(dh_rows, lg, w);  // (n, C)
      }
      if (grad_weight && dtype == at::kFloat)
        d_weight.addmm_(lg.t(), h_rows);  // (V, C), accumulated in fp32
      else if (grad_weight)
        d_weight.add_(at::mm(lg.t(), h_rows));
    }
    double loss = 0;
    for (int64_t r = 0; r < N; ++r) loss += double(lse[r]) - double(picked[r]);
    ctx->save_for_backward({d_hidden, d_weight});
    ctx->saved_data["hidden_dtype"] = int64_t(hidden.scalar_type());
    ctx->saved_data["weight_dtype"] = int64_t(weight.scalar_type());
    return torch::full({}, loss, hidden.options().dtype(at::kFloat));
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor g = grad_out[0].to(at::kFloat);  // scalar
    const auto hidden_dtype = at::ScalarType(ctx->saved_data["hidden_dtype"].toInt());
    const auto weight_dtype = at::ScalarType(ctx->saved_data["weight_dtype"].toInt());
    const at::Tensor &d_hidden = saved[0], &d_weight = saved[1];
    return {d_hidden.defined() ? (d_hidden.to(at::kFloat) * g).to(hidden_dtype) : at::Tensor(),
            d_weight.defined() ? (d_weight * g).to(weight_dtype) : at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

// Per-token log-probabilities log_softmax(hidden @ weight^T / T)[target] and entropies, chunk by chunk. The
// backward cannot be formed in the forward (d loss / d logp is not known yet), so it recomputes each chunk's
// logits (one more GEMM) instead of keeping (N, V) probabilities: GRPO's 8192 x 8192 logits would be 268 MB.
struct LinearTokenLogprobs : torch::autograd::Function<LinearTokenLogprobs> {
  // Row statistics of the logit rows lg (n, V) of one chunk; lg is overwritten (fp32: divided by T).
  static void row_stats(at::Tensor& lg, const int64_t* target, float temperature, float* lse, float* logp,
                        float* entropy) {
    const int64_t n = lg.size(0), V = lg.size(1);
    if (fast_path(lg)) {
      for_each_scaled_row(lg, temperature, [&](int64_t r, const float* row, auto*) {
        lse[r] = row_log_sum_exp(row, V);
        logp[r] = row[target[r]] - lse[r];
        if (entropy != nullptr) entropy[r] = row_entropy(row, V, lse[r]);
      });
      return;
    }
    at::Tensor f = lg.to(at::kFloat) / temperature;  // (n, V)
    at::Tensor l = f.logsumexp(-1);                  // (n)
    at::Tensor t = torch::from_blob(const_cast<int64_t*>(target), {n}, torch::kLong).to(f.device());
    at::Tensor p = f.gather(1, t.unsqueeze(1)).squeeze(1) - l;
    at::Tensor l_cpu = l.cpu(), p_cpu = p.cpu();
    std::copy_n(l_cpu.data_ptr<float>(), n, lse);
    std::copy_n(p_cpu.data_ptr<float>(), n, logp);
    if (entropy != nullptr) {
      at::Tensor e = (l - (at::softmax(f, -1) * f).sum(-1)).cpu();
      std::copy_n(e.data_ptr<float>(), n, entropy);
    }
  }

  // lg (n, V) logits -> d loss / d logits = s_r (softmax - onehot(target)) with s_r = -g_r / T, in place. With
  // entropy gradients gh (n) (entropy h of each row, else null), plus -gh_r / T p (log p + h_r) (d h / d logits).
  static void row_grads(at::Tensor& lg, const int64_t* target, float temperature, const float* lse, const float* g,
                        const float* gh = nullptr, const float* h = nullptr) {
    const int64_t n = lg.size(0), V = lg.size(1);
    if (gh != nullptr) {
      const at::TensorOptions f32 = lg.options().dtype(at::kFloat);
      auto column = [&](const float* v) {
        return torch::from_blob(const_cast<float*>(v), {n, 1}, torch::kFloat).to(lg.device());
      };
      at::Tensor t = torch::from_blob(const_cast<int64_t*>(target), {n, 1}, torch::kLong).to(lg.device());
      at::Tensor s = -column(g) / temperature;
      at::Tensor log_p = lg.to(at::kFloat) / temperature - column(lse);  // (n, V)
      at::Tensor p = log_p.exp();
      at::Tensor d = p * s;
      d.scatter_add_(1, t, -s.to(f32));
      d.sub_(p * (log_p + column(h)) * (column(gh) / temperature));
      lg.copy_(d);
      return;
    }
    if (fast_path(lg)) {
      for_each_scaled_row(lg, temperature, [&](int64_t r, float* row, auto* raw) {
        const float s = -g[r] / temperature;
        const float label_grad = exp_approx(row[target[r]] - lse[r]) * s - s;
        using T = std::remove_pointer_t<decltype(raw)>;
        if constexpr (std::is_same_v<T, float>)
          row_softmax_scaled_inplace(row, V, lse[r], s);
        else
          row_softmax_scaled(row, V, lse[r], s, raw);
        store(raw + target[r], label_grad);
      });
      return;
    }
    const at::TensorOptions f32 = lg.options().dtype(at::kFloat);
    at::Tensor t = torch::from_blob(const_cast<int64_t*>(target), {n, 1}, torch::kLong).to(lg.device());
    at::Tensor l = torch::from_blob(const_cast<float*>(lse), {n, 1}, torch::kFloat).to(lg.device());
    at::Tensor s = -torch::from_blob(const_cast<float*>(g), {n, 1}, torch::kFloat).to(lg.device()) / temperature;
    at::Tensor p = (lg.to(at::kFloat) / temperature - l).exp_();
    p.scatter_add_(1, t, torch::full({n, 1}, -1.0, f32)).mul_(s);
    lg.copy_(p);
  }

  // hidden (N, C), weight (V, C), targets (N) in [0, V) -> {logp (N), entropy (N) or undefined} fp32.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& hidden,
                                                const at::Tensor& weight, const at::Tensor& targets, double temperature,
                                                at::ScalarType dtype, bool with_entropy, bool entropy_grad,
                                                bool grad_hidden, bool grad_weight) {
    const at::Tensor h = hidden.to(dtype).contiguous();  // (N, C)
    const at::Tensor w = weight.to(dtype).contiguous();  // (V, C)
    const at::Tensor t = targets.to(at::kCPU).contiguous();
    const int64_t N = h.size(0), V = w.size(0);
    const int64_t chunk = chunk_rows(V, w.element_size());
    at::Tensor buffer = torch::empty({std::min(chunk, N), V}, w.options());  // (chunk, V)
    at::Tensor lse = torch::empty({N}, torch::kFloat), logp = torch::empty({N}, torch::kFloat);
    at::Tensor entropy = with_entropy ? torch::empty({N}, torch::kFloat) : at::Tensor();
    const HeadProduct head(w);
    for (int64_t begin = 0; begin < N; begin += chunk) {
      const int64_t n = std::min(chunk, N - begin);
      at::Tensor lg = buffer.narrow(0, 0, n);  // (n, V)
      head.logits(h.narrow(0, begin, n), lg);
      row_stats(lg, t.data_ptr<int64_t>() + begin, float(temperature), lse.data_ptr<float>() + begin,
                logp.data_ptr<float>() + begin, with_entropy ? entropy.data_ptr<float>() + begin : nullptr);
    }
    ctx->save_for_backward({h, w, t, lse, with_entropy ? entropy : torch::empty({0}, torch::kFloat)});
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["hidden_dtype"] = int64_t(hidden.scalar_type());
    ctx->saved_data["weight_dtype"] = int64_t(weight.scalar_type());
    ctx->saved_data["grad_hidden"] = grad_hidden;
    ctx->saved_data["grad_weight"] = grad_weight;
    const at::Device device = hidden.device();
    at::Tensor e = with_entropy ? entropy.to(device) : torch::empty({0}, torch::TensorOptions().device(device));
    if (!entropy_grad) ctx->mark_non_differentiable({e});  // an output must be a tensor: (0) when not asked for
    return {logp.to(device), e};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &h = saved[0], &w = saved[1], &t = saved[2], &lse = saved[3], &entropy = saved[4];
    const float temperature = float(ctx->saved_data["temperature"].toDouble());
    const bool grad_hidden = ctx->saved_data["grad_hidden"].toBool(),
               grad_weight = ctx->saved_data["grad_weight"].toBool();
    const int64_t N = h.size(0), C = h.size(1), V = w.size(0);
    const at::Tensor g = grad_out[0].defined() ? grad_out[0].to(at::kCPU, at::kFloat).contiguous()
                                               : torch::zeros({N}, torch::kFloat);  // (N) d loss / d logp
    const bool entropy_grad = grad_out.size() > 1 && grad_out[1].defined() && entropy.numel() == N && N > 0;
    const at::Tensor gh = entropy_grad ? grad_out[1].to(at::kCPU, at::kFloat).contiguous() : at::Tensor();  // (N)
    const int64_t chunk = chunk_rows(V, w.element_size());
    at::Tensor buffer = torch::empty({std::min(chunk, N), V}, w.options());                // (chunk, V)
    at::Tensor d_hidden = grad_hidden ? torch::empty({N, C}, h.options()) : at::Tensor();  // (N, C)
    at::Tensor d_weight = grad_weight ? torch::zeros({V, C}, w.options().dtype(at::kFloat)) : at::Tensor();  // (V, C)
    const HeadProduct head(w);
    for (int64_t begin = 0; begin < N; begin += chunk) {
      const int64_t n = std::min(chunk, N - begin);
      const at::Tensor h_rows = h.narrow(0, begin, n);  // (n, C)
      at::Tensor lg = buffer.narrow(0, 0, n);           // (n, V)
      head.logits(h_rows, lg);
      row_grads(lg, t.data_ptr<int64_t>() + begin, temperature, lse.data_ptr<float>() + begin,
                g.data_ptr<float>() + begin, entropy_grad ? gh.data_ptr<float>() + begin : nullptr,
                entropy_grad ? entropy.data_ptr<float>() + begin : nullptr);
      if (grad_hidden) {
        at::Tensor dh_rows = d_hidden.narrow(0, begin, n);
        at::mm_out(dh_rows, lg, w);  // (n, C)
      }
      if (grad_weight && lg.scalar_type() == at::kFloat)
        d_weight.addmm_(lg.t(), h_rows);  // (V, C) in fp32
      else if (grad_weight)
        d_weight.add_(at::mm(lg.t(), h_rows));
    }
    const auto hidden_dtype = at::ScalarType(ctx->saved_data["hidden_dtype"].toInt());
    const auto weight_dtype = at::ScalarType(ctx->saved_data["weight_dtype"].toInt());
    return {grad_hidden ? d_hidden.to(hidden_dtype) : at::Tensor(),
            grad_weight ? d_weight.to(weight_dtype) : at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

at::Tensor flat_labels(const at::Tensor& labels, int64_t rows, int64_t V) {
  at::Tensor target = labels.reshape({-1});  // (N)
  if (target.size(0) != rows) fail("loss: {} rows to score but {} labels", rows, target.size(0));
  at::Tensor valid = target != -100;
  if (valid.any().item<bool>() &&
      (target.masked_select(valid).min().item<int64_t>() < 0 || target.max().item<int64_t>() >= V))
    fail("loss: a label is outside the vocabulary [0, {})", V);
  return target;
}

// ---- Generalized Jensen-Shannon divergence (GKD) --------------------------------------------------------------------

// The divergences of logit rows student, teacher (n, V) (any float dtype; computed in fp32, fp64 for fp64 logits),
// as TRL's GKDTrainer.generalized_jsd_loss at temperature 1: with s, t their log-softmaxes and p = exp,
//   beta 0: sum_v p_t (t - s)      beta 1: sum_v p_s (s - t)
//   else:   m = logsumexp(s + log(1 - beta), t + log(beta)),  beta sum_v p_t (t - m) + (1 - beta) sum_v p_s (s - m)
// Returns them (n). With `grad` defined (n, V) it receives d divergence / d student logits = a - p_s sum_v a, with
// a = d divergence / d s = -p_t | p_s (s - t) | (1 - beta) p_s (s - m) (the mixture's own terms cancel); grad may be
// `student` itself (read before it is written).
at::Tensor jsd_rows(const at::Tensor& student, const at::Tensor& teacher, double beta, at::Tensor grad) {
  const at::ScalarType compute = student.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor s = at::log_softmax(student.to(compute), -1);  // (n, V)
  const at::Tensor t = at::log_softmax(teacher.to(compute), -1);  // (n, V)
  const at::Tensor ps = s.exp();
  at::Tensor rows, a;
  if (beta == 0) {
    const at::Tensor pt = t.exp();
    rows = (pt * (t - s)).sum(-1);
    a = -pt;
  } else if (beta == 1) {
    a = ps * (s - t);
    rows = a.sum(-1);
  } else {
    const at::Tensor m = at::logaddexp(s + std::log1p(-beta), t + std::log(beta));  // log of the mixture
    const at::Tensor student_terms = ps * (s - m);
    rows = beta * (t.exp() * (t - m)).sum(-1) + (1 - beta) * student_terms.sum(-1);
    a = (1 - beta) * student_terms;
  }
  if (grad.defined()) grad.copy_(a - ps * a.sum(-1, /*keepdim=*/true));
  return rows;
}

void check_beta(double beta) {
  if (!(beta >= 0 && beta <= 1)) fail("generalized JSD: beta must be in [0, 1], found {}", beta);
}

// student (N, V) -> scalar sum of the rows' divergences from teacher (N, V), which gets no gradient. Row blocks
// keep the fp32 temporaries small; the backward recomputes each block's gradient from the saved logits.
struct GeneralizedJsdSum : torch::autograd::Function<GeneralizedJsdSum> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& student, const at::Tensor& teacher,
                            double beta) {
    const int64_t N = student.size(0), chunk = chunk_rows(student.size(1), 4);
    at::Tensor total =
        torch::zeros({}, student.options().dtype(student.scalar_type() == at::kDouble ? at::kDouble : at::kFloat));
    for (int64_t begin = 0; begin < N; begin += chunk) {
      const int64_t n = std::min(chunk, N - begin);
      total += jsd_rows(student.narrow(0, begin, n), teacher.narrow(0, begin, n), beta, at::Tensor()).sum();
    }
    ctx->save_for_backward({student, teacher});
    ctx->saved_data["beta"] = beta;
    return total;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &student = saved[0], &teacher = saved[1];
    const double beta = ctx->saved_data["beta"].toDouble();
    const int64_t N = student.size(0), chunk = chunk_rows(student.size(1), 4);
    at::Tensor grad = torch::empty(student.sizes(), student.options());  // (N, V)
    for (int64_t begin = 0; begin < N; begin += chunk) {
      const int64_t n = std::min(chunk, N - begin);
      jsd_rows(student.narrow(0, begin, n), teacher.narrow(0, begin, n), beta, grad.narrow(0, begin, n));
    }
    return {grad.mul_(grad_out[0].to(grad.scalar_type())), at::Tensor(), at::Tensor()};
  }
};

// hidden (N, C) and weight (Vs, C) of the student, teacher_hidden (N, Ct) and teacher_weight (Vt, Ct) -> scalar sum
// of the rows' divergences over the first V = min(Vs, Vt) ids. Chunk by chunk both models' logits are formed in
// `dtype` (the autocast dtype, else hidden's), turned into the student logits' gradient in place and multiplied
// back into d hidden and d weight during the forward (as LinearCrossEntropySum); the backward scales them.
struct LinearGeneralizedJsdSum : torch::autograd::Function<LinearGeneralizedJsdSum> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                            const at::Tensor& teacher_hidden, const at::Tensor& teacher_weight, double beta,
                            at::ScalarType dtype, bool grad_hidden, bool grad_weight) {
    const int64_t V = std::min(weight.size(0), teacher_weight.size(0));
    const at::Tensor h = hidden.to(dtype).contiguous();                                 // (N, C)
    const at::Tensor w = weight.to(dtype).narrow(0, 0, V).contiguous();                 // (V, C)
    const at::Tensor th = teacher_hidden.to(dtype).contiguous();                        // (N, Ct)
    const at::Tensor tw = teacher_weight.to(dtype).narrow(0, 0, V).contiguous();        // (V, Ct)
    const at::ScalarType accumulate = dtype == at::kDouble ? at::kDouble : at::kFloat;  // d weight, the sum
    const int64_t N = h.size(0), C = h.size(1);
    const int64_t chunk = chunk_rows(V, w.element_size());
    at::Tensor student_buffer = torch::empty({std::min(chunk, N), V}, w.options());  // logits, then their grad
    at::Tensor teacher_buffer = torch::empty({std::min(chunk, N), V}, w.options());
    at::Tensor d_hidden = grad_hidden ? torch::empty({N, C}, h.options()) : at::Tensor();  // (N, C)
    at::Tensor d_weight =
        grad_weight ? torch::zeros({weight.size(0), C}, w.options().dtype(accumulate)) : at::Tensor();  // (Vs, C)
    at::Tensor total = torch::zeros({}, h.options().dtype(accumulate));
    for (int64_t begin = 0; begin < N; begin += chunk) {
      const int64_t n = std::min(chunk, N - begin);
      const at::Tensor h_rows = h.narrow(0, begin, n);  // (n, C)
      at::Tensor lg = student_buffer.narrow(0, 0, n);   // (n, V)
      at::Tensor tl = teacher_buffer.narrow(0, 0, n);   // (n, V)
      at::mm_out(lg, h_rows, w.t());
      at::mm_out(tl, th.narrow(0, begin, n), tw.t());
      total += jsd_rows(lg, tl, beta, grad_hidden || grad_weight ? lg : at::Tensor()).sum();
      if (grad_hidden) {
        at::Tensor dh_rows = d_hidden.narrow(0, begin, n);
        at::mm_out(dh_rows, lg, w);  // (n, C)
      }
      if (grad_weight && dtype == accumulate)
        d_weight.narrow(0, 0, V).addmm_(lg.t(), h_rows);  // (V, C)
      else if (grad_weight)
        d_weight.narrow(0, 0, V).add_(at::mm(lg.t(), h_rows));
    }
    ctx->save_for_backward({d_hidden, d_weight});
    ctx->saved_data["hidden_dtype"] = int64_t(hidden.scalar_type());
    ctx->saved_data["weight_dtype"] = int64_t(weight.scalar_type());
    return total;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &d_hidden = saved[0], &d_weight = saved[1];
    const at::Tensor g = grad_out[0];  // scalar
    const auto hidden_dtype = at::ScalarType(ctx->saved_data["hidden_dtype"].toInt());
    const auto weight_dtype = at::ScalarType(ctx->saved_data["weight_dtype"].toInt());
    auto scaled = [&](const at::Tensor& d, at::ScalarType to) {
      return d.defined() ? (d.to(g.scalar_type()) * g).to(to) : at::Tensor();
    };
    return {scaled(d_hidden, hidden_dtype),
            scaled(d_weight, weight_dtype),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

std::pair<at::Tensor, int64_t> causal_lm_loss_sum(const at::Tensor& logits, const at::Tensor& labels) {
  const int64_t V = logits.size(-1);
  at::Tensor flat = logits.reshape({-1, V});  // (B*T, V)
  at::Tensor target = flat_labels(labels, flat.size(0), V);
  const int64_t count = (target != -100).sum().item<int64_t>();
  return {CrossEntropySum::apply(flat, target), count};
}

std::pair<at::Tensor, int64_t> causal_lm_loss_sum(TransformerImpl& model, const at::Tensor& hidden,
                                                  const at::Tensor& labels) {
  if (!model.lm_head_is_plain()) return causal_lm_loss_sum(model.logits(hidden), labels);  // LoRA on lm_head
  const at::Tensor weight = model.lm_head_weight();                                        // (V, C)
  const int64_t V = weight.size(0), C = weight.size(1);
  if (hidden.size(-1) != C) fail("loss: hidden states have {} features, the LM head {}", hidden.size(-1), C);
  at::Tensor flat = hidden.reshape({-1, C});  // (B*T, C)
  at::Tensor target = flat_labels(labels, flat.size(0), V);
  at::Tensor rows = (target != -100).nonzero().squeeze(1);  // (count)
  const int64_t count = rows.size(0);
  if (count == 0) return {(flat.sum() * 0.0).to(at::kFloat), 0};  // keeps the graph; gradients are zero
  if (count < flat.size(0)) {                                     // only labelled rows reach the LM head
    flat = flat.index_select(0, rows);
    target = target.index_select(0, rows);
  }
  const at::ScalarType dtype = detail::autocast_dtype_for(flat);
  const bool grad = torch::GradMode::is_enabled();
  return {LinearCrossEntropySum::apply(flat, weight, target, dtype, grad && flat.requires_grad(),
                                       grad && weight.requires_grad()),
          count};
}

namespace {

TokenLogprobs token_logprobs_impl(TransformerImpl& model, const at::Tensor& hidden, const at::Tensor& targets,
                                  double temperature, bool with_entropy, bool entropy_grad) {
  const at::Tensor weight = model.lm_head_weight();  // (V, C)
  const int64_t V = weight.size(0), C = weight.size(1);
  if (hidden.dim() != 2 || hidden.size(1) != C)
    fail("token log-probs: hidden states must be (rows, {}), found {} dimensions of which the last is {}", C,
         hidden.dim(), hidden.size(-1));
  if (targets.dim() != 1 || targets.size(0) != hidden.size(0))
    fail("token log-probs: {} rows but targets of {} dimensions and {} elements", hidden.size(0), targets.dim(),
         targets.numel());
  if (!(temperature > 0)) fail("token log-probs: temperature must be > 0, found {}", temperature);
  if (targets.numel() > 0 && (targets.min().item<int64_t>() < 0 || targets.max().item<int64_t>() >= V))
    fail("token log-probs: a target is outside the vocabulary [0, {})", V);
  TokenLogprobs out;
  if (!model.lm_head_is_plain() || hidden.size(0) == 0) {  // LoRA on lm_head: through the module's logits
    at::Tensor logits = model.logits(hidden).to(at::kFloat) / temperature;  // (N, V)
    at::Tensor lse = at::logsumexp(logits, -1);
    out.logp = logits.gather(1, targets.unsqueeze(1)).squeeze(1) - lse;
    if (with_entropy) {
      std::optional<torch::NoGradGuard> no_grad;
      if (!entropy_grad) no_grad.emplace();
      at::Tensor l = entropy_grad ? logits : logits.detach();
      out.entropy = (entropy_grad ? lse : lse.detach()) - (at::softmax(l, -1) * l).sum(-1);
    }
    return out;
  }
  const at::ScalarType dtype = detail::autocast_dtype_for(hidden);
  const bool grad = torch::GradMode::is_enabled();
  auto result = LinearTokenLogprobs::apply(hidden, weight, targets, temperature, dtype, with_entropy,
                                           with_entropy && entropy_grad, grad && hidden.requires_grad(),
                                           grad && weight.requires_grad());
  out.logp = result[0];
  if (with_entropy) out.entropy = result[1];
  return out;
}

}  // namespace

TokenLogprobs token_logprobs(TransformerImpl& model, const at::Tensor& hidden, const at::Tensor& targets,
                             double temperature, bool with_entropy) {
  return token_logprobs_impl(model, hidden, targets, temperature, with_entropy, /*entropy_grad=*/false);
}

TokenLogprobs token_logprobs_with_entropy_grad(TransformerImpl& model, const at::Tensor& hidden,
                                               const at::Tensor& targets, double temperature) {
  return token_logprobs_impl(model, hidden, targets, temperature, /*with_entropy=*/true, /*entropy_grad=*/true);
}

at::Tensor generalized_jsd_sum(const at::Tensor& student_logits, const at::Tensor& teacher_logits, double beta,
                               const at::Tensor& labels) {
  check_beta(beta);
  const int64_t Vs = student_logits.size(-1), Vt = teacher_logits.size(-1), V = std::min(Vs, Vt);
  at::Tensor student = student_logits.reshape({-1, Vs}).narrow(1, 0, V);           // (N, V)
  at::Tensor teacher = teacher_logits.detach().reshape({-1, Vt}).narrow(1, 0, V);  // (N, V)
  if (student.size(0) != teacher.size(0))
    fail("generalized JSD: {} student rows but {} teacher rows", student.size(0), teacher.size(0));
  if (labels.defined()) {
    if (labels.numel() != student.size(0))
      fail("generalized JSD: {} rows but {} labels", student.size(0), labels.numel());
    const at::Tensor rows = (labels.reshape({-1}) != -100).nonzero().squeeze(1);  // (count)
    student = student.index_select(0, rows);
    teacher = teacher.index_select(0, rows);
  }
  return GeneralizedJsdSum::apply(student, teacher, beta);
}

at::Tensor generalized_jsd_sum(TransformerImpl& student, const at::Tensor& student_hidden, TransformerImpl& teacher,
                               const at::Tensor& teacher_hidden, double beta) {
  check_beta(beta);
  if (student_hidden.dim() != 2 || teacher_hidden.dim() != 2 || student_hidden.size(0) != teacher_hidden.size(0))
    fail("generalized JSD: hidden states must be (rows, features) for the same rows, found [{}] and [{}]",
         fmt::join(student_hidden.sizes(), ", "), fmt::join(teacher_hidden.sizes(), ", "));
  if (!student.lm_head_is_plain() || !teacher.lm_head_is_plain())  // LoRA on lm_head: through the module's logits
    return generalized_jsd_sum(student.logits(student_hidden), teacher.logits(teacher_hidden), beta);
  const at::Tensor weight = student.lm_head_weight(), teacher_weight = teacher.lm_head_weight().detach();
  if (student_hidden.size(1) != weight.size(1) || teacher_hidden.size(1) != teacher_weight.size(1))
    fail("generalized JSD: hidden states have {} and {} features, the LM heads {} and {}", student_hidden.size(1),
         teacher_hidden.size(1), weight.size(1), teacher_weight.size(1));
  const bool grad = torch::GradMode::is_enabled();
  return LinearGeneralizedJsdSum::apply(student_hidden, weight, teacher_hidden.detach(), teacher_weight, beta,
                                        detail::autocast_dtype_for(student_hidden),
                                        grad && student_hidden.requires_grad(), grad && weight.requires_grad());
}

}  // namespace r1::model
