// Evaluation of language models. This header so far: perplexity and bits per byte over token windows
// (shared by `r1 eval ppl` and the trainers' evaluation). Bits per byte = total negative log-likelihood in
// bits / UTF-8 bytes of the text the predicted tokens encode, comparable across tokenizers.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "r1/model.h"

namespace r1::eval {

struct LikelihoodTotals {
  double nll_sum = 0;        // natural-log negative log-likelihood summed over predicted tokens
  int64_t predicted = 0;     // tokens predicted (each window of n tokens predicts n - 1)
  double loss() const { return predicted ? nll_sum / double(predicted) : 0.0; }
  double perplexity() const;
  double bits_per_byte(double text_bytes) const;  // nll in bits / bytes
};

// Scores `count` windows (window(i) returns up to seq_len + 1 token ids; tokens 1.. are predicted from the
// ones before), batching windows of equal length `batch_size` at a time, without gradients.
LikelihoodTotals score_windows(model::TransformerImpl& model, size_t count,
                               const std::function<std::vector<int64_t>(size_t)>& window, int64_t batch_size);

// Non-overlapping windows of seq_len + 1 tokens over `tokens` (consecutive windows share one token, so every
// token but the first is predicted exactly once), scored with score_windows.
LikelihoodTotals score_tokens(model::TransformerImpl& model, const std::vector<int64_t>& tokens, int64_t seq_len,
                              int64_t batch_size);

}  // namespace r1::eval
