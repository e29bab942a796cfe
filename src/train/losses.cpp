// Losses shared by the trainers. causal_lm_loss_sum is cross-entropy summed over the labelled tokens, as
// F.cross_entropy(logits.float(), labels, ignore_index=-100, reduction="sum"), computed by a fused autograd
// function: forward keeps only the per-row log-sum-exp (not a (N, V) log-softmax), backward writes
// softmax - onehot straight into the gradient. fp32 CPU logits take vectorised row kernels (one pass for
// the max, one for the sum of exponentials, one for the gradient); other dtypes and devices run ATen ops on
// cache-sized row blocks. On the tiny model's 2048 x 8192 logits: log_softmax + nll_loss + backward 230 ms,
// ATen blocks ~70 ms, row kernels less again (bench-train-step --profile).
#include <ATen/ATen.h>
#include <cmath>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/types.h>

#include "common/simd.h"
#include "r1/error.h"
#include "r1/train.h"

namespace r1::train {
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

// fp32 row kernels (vectorised: 16 independent lanes per reduction, exp_approx; see common/simd.h).
constexpr int kLanes = 16;

R1_VECTOR_CLONES float row_log_sum_exp(const float* __restrict x, int64_t n) {
  float lane_max[kLanes];
  for (int l = 0; l < kLanes; ++l) lane_max[l] = -3.4e38f;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane_max[l] = x[i + l] > lane_max[l] ? x[i + l] : lane_max[l];
  float m = -3.4e38f;
  for (int l = 0; l < kLanes; ++l) m = lane_max[l] > m ? lane_max[l] : m;
  for (int64_t j = i; j < n; ++j) m = x[j] > m ? x[j] : m;
  float lane_sum[kLanes] = {};
  for (i = 0; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane_sum[l] += exp_approx(x[i + l] - m);
  float sum = 0;
  for (int l = 0; l < kLanes; ++l) sum += lane_sum[l];
  for (int64_t j = i; j < n; ++j) sum += exp_approx(x[j] - m);
  return m + std::log(sum);
}

R1_VECTOR_CLONES void row_softmax_scaled(const float* __restrict x, int64_t n, float lse, float scale,
                                         float* __restrict out) {
  for (int64_t j = 0; j < n; ++j) out[j] = exp_approx(x[j] - lse) * scale;
}

bool fast_path(const at::Tensor& logits) {
  return logits.is_cpu() && logits.scalar_type() == at::kFloat && logits.is_contiguous();
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
      const float* x = logits.data_ptr<float>();
      const int64_t* label = safe.data_ptr<int64_t>();
      float* lp = lse.data_ptr<float>();
      float* pp = picked.data_ptr<float>();
      at::parallel_for(0, N, 8, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          lp[r] = row_log_sum_exp(x + r * V, V);
          pp[r] = x[r * V + label[r]];
        }
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
    at::Tensor grad = torch::empty_like(logits);                             // (N, V)
    if (fast_path(logits)) {
      const int64_t V = logits.size(1);
      const float* x = logits.data_ptr<float>();
      const int64_t* label = safe.data_ptr<int64_t>();
      const float* lp = lse.data_ptr<float>();
      const float* sp = scale.data_ptr<float>();
      float* gp = grad.data_ptr<float>();
      at::parallel_for(0, N, 8, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          row_softmax_scaled(x + r * V, V, lp[r], sp[r], gp + r * V);
          gp[r * V + label[r]] -= sp[r];
        }
      });
      return {grad, at::Tensor()};
    }
    const bool fp32 = logits.scalar_type() == at::kFloat;
    for_each_block(N, [&](int64_t begin, int64_t n) {
      at::Tensor out = grad.narrow(0, begin, n);                              // (n, V)
      at::Tensor p = fp32 ? out : torch::empty(out.sizes(), out.options().dtype(at::kFloat));
      at::sub_out(p, logits.narrow(0, begin, n), lse.narrow(0, begin, n).unsqueeze(1)).exp_();  // softmax
      at::Tensor rows = safe.narrow(0, begin, n).unsqueeze(1);                // (n, 1)
      p.scatter_add_(1, rows, torch::full({n, 1}, -1.0, p.options()));      // - onehot
      p.mul_(scale.narrow(0, begin, n).unsqueeze(1));
      if (!fp32) out.copy_(p);
    });
    return {grad, at::Tensor()};
  }
};

}  // namespace

std::pair<at::Tensor, int64_t> causal_lm_loss_sum(const at::Tensor& logits, const at::Tensor& labels) {
  const int64_t V = logits.size(-1);
  at::Tensor flat = logits.reshape({-1, V});  // (B*T, V)
  at::Tensor target = labels.reshape({-1});   // (B*T)
  if (flat.size(0) != target.size(0))
    fail("loss: {} logit rows but {} labels", flat.size(0), target.size(0));
  at::Tensor valid = target != -100;
  const int64_t count = valid.sum().item<int64_t>();
  if (count > 0 && (target.masked_select(valid).min().item<int64_t>() < 0 || target.max().item<int64_t>() >= V))
    fail("loss: a label is outside the vocabulary [0, {})", V);
  return {CrossEntropySum::apply(flat, target), count};
}

}  // namespace r1::train
