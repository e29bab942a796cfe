// The batched sampler: one call turns the next-token logits of every active sequence (B, V) into sampled
// ids and their log-probabilities, with each row's own SamplingParams, in one pass of tensor ops and one
// host copy. Chain (vLLM / HF generate order): penalties -> temperature -> top-k -> top-p -> min-p -> draw.
//   repetition (CTRL, HF RepetitionPenaltyLogitsProcessor): l > 0 ? l / r : l * r for tokens in prompt or output;
//   presence / frequency (OpenAI): l -= presence * [count > 0] + frequency * count over the output;
//   top-p keeps the smallest most-probable set whose mass reaches p (always the top token); min-p keeps
//   p >= min_p * max p. Draws are by inverse CDF with one uniform per row from the row's own counter-based
//   stream (SplitMix64), so a sequence's samples do not depend on what else is in the batch.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "r1/engine.h"

namespace r1::engine {

// SplitMix64 (Steele et al. 2014): the per-sample random stream.
struct SplitMix64 {
  uint64_t state = 0;
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits
};
uint64_t mix_seed(uint64_t seed, uint64_t stream);  // a well-mixed seed for sub-stream `stream` of `seed`

// Per-row occurrence counts of generated tokens and the set of prompt tokens, for the penalties.
struct PenaltyState {
  at::Tensor counts;       // (B, V) float: occurrences of each id in the output so far
  at::Tensor prompt_mask;  // (B, V) bool: id occurs in the prompt
};

// The processed logits the row's token is drawn from: penalties, temperature (rows with temperature <= 0
// keep scale 1), top-k, top-p, min-p; removed entries are -inf. `penalties` may be null when no row uses
// any. Rows of `params` correspond to rows of `logits` (B, V) float.
at::Tensor process_logits(const at::Tensor& logits, const std::vector<const SamplingParams*>& params,
                          const PenaltyState* penalties);

struct StepOutput {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;      // log p under the processed distribution (greedy: penalised log_softmax)
  std::vector<float> raw_logprobs;  // log_softmax(logits / logprob_temperature)
  std::vector<std::vector<TokenLogprob>> top_logprobs;  // per row, SamplingParams::top_logprobs entries
};

// Samples one token per row. `uniforms` holds one draw in [0, 1) per row (ignored for greedy rows).
// The only device -> host transfer is the final copy of the packed results.
StepOutput sample(const at::Tensor& logits, const std::vector<const SamplingParams*>& params,
                  const std::vector<double>& uniforms, const PenaltyState* penalties);

bool uses_penalties(const SamplingParams& p);
bool is_greedy(const SamplingParams& p);

}  // namespace r1::engine
