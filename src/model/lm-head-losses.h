// Internal additions to the LM-head losses of r1/model.h (src/model/lm-head-losses.cpp).
#pragma once

#include <ATen/ATen.h>

#include "r1/model.h"

namespace r1::model {

// token_logprobs(model, hidden, targets, temperature, /*with_entropy=*/true) whose entropy keeps its graph: the
// gradient d H / d logits = -p (log p + H) / temperature reaches the hidden states and the LM head (GRPO's
// entropy_coef). The logp's values and gradients are those of token_logprobs.
TokenLogprobs token_logprobs_with_entropy_grad(TransformerImpl& model, const at::Tensor& hidden,
                                               const at::Tensor& targets, double temperature);

}  // namespace r1::model
