// GRPO's rollouts (src/train/grpo.cpp): a sampled completion with its log-probs and advantage, a generation
// round's completions with their scores, their JSON in checkpoints (trainer_state.json's data_state), and the
// data-parallel pieces: which share of a round a rank samples and the gather that makes every rank's shares the
// whole round again (include/r1/distributed.h). Internal to src/train.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "r1/distributed.h"
#include "r1/rewards.h"

namespace r1::train::rl {

struct Rollout {
  size_t row = 0;                    // dataset row
  std::vector<int32_t> completion;   // sampled ids (eos included when it ended the sample)
  std::vector<float> old_logp;       // engine: log_softmax(logits / temperature) of each sampled id; with the
                                     // sampler correction off-policy: the learner's at generation time
  std::vector<float> sampling_logp;  // sampler correction: the engine's sampling distribution's log-probs
  std::vector<float> ref_logp;       // beta > 0: the reference model's, same scaling
  double advantage = 0;
  bool truncated = false;  // finished by length
};

// Completions of one or more generation rounds with their scores, index-aligned.
struct Generated {
  std::vector<Rollout> rollouts;
  std::vector<std::string> texts;
  std::vector<std::vector<rewards::Score>> per_reward;  // [reward][completion]
  std::vector<double> total;                            // weighted sum (TRL's nansum of all-NaN is 0)
  int64_t generated = 0;                                // tokens sampled (every round, kept or not)
  double sampling = 0, scoring = 0;                     // seconds
};

nlohmann::json rollout_to_json(const Rollout& r);
// A buffered rollout from a checkpoint, checked against the dataset (rows) and itself (one log-prob per token).
Rollout rollout_from_json(const nlohmann::json& j, size_t rows, int64_t vocab_size, bool needs_ref,
                          bool needs_sampling);
// Every rank's share of a generation round (sampled and scored), concatenated in rank order: the whole round.
Generated gather_generated(const dist::World& world, Generated mine);
// [begin, end) of `n` items that rank `rank` of `world_size` takes (contiguous shares, the first ones shorter).
std::pair<size_t, size_t> share_of(size_t n, int rank, int world_size);

}  // namespace r1::train::rl
