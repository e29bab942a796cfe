// What the RL trainers (GRPO, PPO) compute on a batch of rollouts: prompt + completion rows, right-padded into one
// (B, T) batch, and per completion token (B, L) the policy's temperature-scaled log-probs or a value model's
// values, both read at the position that predicts the token.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "r1/model.h"

namespace r1::train::rl {

using TokenRows = std::vector<const std::vector<int32_t>*>;

// Log-probs of the completion tokens of a right-padded batch of prompt + completion rows.
struct Scored {
  at::Tensor logp;     // (B, L) log_softmax(logits / T) at the sampled ids, 0 where masked
  at::Tensor entropy;  // (B, L) graph only with entropy_grad; undefined unless asked for
  at::Tensor mask;     // (B, L) 1 for completion tokens
  int64_t tokens = 0;  // positions processed: B * T, or packed rows * T
};
// packed: the sequences packed best-fit decreasing into rows no longer than the longest, end to end within a row,
// attention and positions kept inside each (ForwardArgs::segment_ids): the same values as the padded batch, with
// fewer rows (linear layers cost per real token, attention per row).
Scored score_completions(model::TransformerImpl& model, const TokenRows& prompts, const TokenRows& completions,
                         double temperature, int32_t pad_id, bool with_entropy, bool entropy_grad = false,
                         bool packed = false);

// A value model's (a sequence classifier with one label) value of each completion token's state: score() of the
// hidden state at the position that predicts the token, (B, L), 0 where masked (TRL PPOTrainer's
// full_value[:, context_length - 1 : -1]).
at::Tensor completion_values(model::TransformerImpl& value_model, const TokenRows& prompts,
                             const TokenRows& completions, int32_t pad_id);

// The sampling seed of generation batch `generation` of a run seeded `run_seed` (GRPO, PPO); prompt p of the batch
// samples with this + p, so a resumed run (which saves the generation count) samples the same completions.
inline uint64_t generation_seed(int64_t run_seed, int64_t generation) {
  return uint64_t(run_seed) * 0x9E3779B97F4A7C15ULL + uint64_t(generation) * 65537ULL;
}

// Rows of floats (each at most L long) as a zero-padded (B, L) CPU tensor.
at::Tensor floats_to_tensor(const std::vector<const std::vector<float>*>& rows, int64_t L);

// Row b of a (B, L) tensor, its first n values, as floats.
std::vector<float> row_prefix(const at::Tensor& t, int64_t b, size_t n);

// Copies every tensor of `model` from a safetensors file holding model::named_tensors of the same architecture (a
// checkpoint's extra model: GRPO's synced reference, PPO's value model). r1::Error naming the file and tensor.
void load_model_tensors(const std::filesystem::path& file, model::TransformerImpl& model);

}  // namespace r1::train::rl
