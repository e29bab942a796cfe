// Perplexity and bits per byte: windows are batched by length and scored with one forward each (no KV
// cache, no gradients); the loss of a window sums -log p(token_t | tokens_<t) over its predicted tokens in
// fp32, as HF's perplexity guide does with stride = window length.
#include <ATen/ATen.h>
#include <torch/types.h>

#include <cmath>

#include "r1/error.h"
#include "r1/eval.h"
#include "r1/model.h"

namespace r1::eval {

double LikelihoodTotals::perplexity() const { return std::exp(loss()); }

double LikelihoodTotals::bits_per_byte(double text_bytes) const {
  return text_bytes > 0 ? nll_sum / std::log(2.0) / text_bytes : 0.0;
}

LikelihoodTotals score_windows(model::TransformerImpl& model, size_t count,
                               const std::function<std::vector<int64_t>(size_t)>& window, int64_t batch_size) {
  if (batch_size < 1) fail_usage("batch size must be >= 1, got {}", batch_size);
  torch::NoGradGuard no_grad;
  const at::Device device = model.parameters().front().device();
  LikelihoodTotals totals;
  std::vector<std::vector<int64_t>> pending;
  auto flush = [&] {
    if (pending.empty()) return;
    const int64_t B = int64_t(pending.size()), n = int64_t(pending[0].size());
    at::Tensor ids = torch::empty({B, n}, torch::kLong);  // (B, T+1)
    for (int64_t b = 0; b < B; ++b) std::copy(pending[b].begin(), pending[b].end(), ids[b].data_ptr<int64_t>());
    ids = ids.to(device);
    at::Tensor logits = model.forward(ids.narrow(1, 0, n - 1));  // (B, T, V)
    auto [loss, predicted] = model::causal_lm_loss_sum(logits, ids.narrow(1, 1, n - 1));
    totals.nll_sum += loss.item<double>();
    totals.predicted += predicted;
    pending.clear();
  };
  for (size_t i = 0; i < count; ++i) {
    std::vector<int64_t> w = window(i);
    if (w.size() < 2) continue;  // nothing to predict
    if (!pending.empty() && pending[0].size() != w.size()) flush();
    pending.push_back(std::move(w));
    if (int64_t(pending.size()) == batch_size) flush();
  }
  flush();
  return totals;
}

LikelihoodTotals score_tokens(model::TransformerImpl& model, const std::vector<int64_t>& tokens, int64_t seq_len,
                              int64_t batch_size) {
  if (seq_len < 1) fail_usage("sequence length must be >= 1, got {}", seq_len);
  const size_t n = tokens.size();
  const size_t count = n < 2 ? 0 : (n - 2) / size_t(seq_len) + 1;
  return score_windows(
      model, count,
      [&](size_t i) {
        const size_t begin = i * size_t(seq_len), end = std::min(n, begin + size_t(seq_len) + 1);
        return std::vector<int64_t>(tokens.begin() + long(begin), tokens.begin() + long(end));
      },
      batch_size);
}

}  // namespace r1::eval
