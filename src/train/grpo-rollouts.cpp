// GRPO's rollouts (see grpo-rollouts.h): checkpoint JSON and the data-parallel gather.
#include "train/grpo-rollouts.h"

#include <algorithm>
#include <cmath>

#include "r1/error.h"
#include "r1/io.h"

namespace r1::train::rl {

nlohmann::json rollout_to_json(const Rollout& r) {
  return {{"row", r.row},
          {"completion", r.completion},
          {"old_logp", r.old_logp},
          {"ref_logp", r.ref_logp},
          {"advantage", r.advantage},
          {"truncated", r.truncated},
          {"sampling_logp", r.sampling_logp}};
}

// A buffered rollout from a checkpoint, checked against the dataset (rows) and itself (one log-prob per token).
Rollout rollout_from_json(const nlohmann::json& j, size_t rows, int64_t vocab_size, bool needs_ref,
                          bool needs_sampling) {
  Rollout r;
  r.row = size_t(json_integer(j, "row", 0, int64_t(rows) - 1, "GRPO rollout"));
  r.completion = j.at("completion").get<std::vector<int32_t>>();
  r.old_logp = j.at("old_logp").get<std::vector<float>>();
  r.ref_logp = j.at("ref_logp").get<std::vector<float>>();
  if (j.contains("sampling_logp")) r.sampling_logp = j.at("sampling_logp").get<std::vector<float>>();
  r.advantage = j.at("advantage").get<double>();
  r.truncated = j.at("truncated").get<bool>();
  for (int32_t id : r.completion)
    if (id < 0 || id >= vocab_size)
      fail("GRPO rollout: completion token {} is outside the vocabulary [0, {})", id, vocab_size);
  if (r.old_logp.size() != r.completion.size() || (needs_ref && r.ref_logp.size() != r.completion.size()) ||
      (needs_sampling && r.sampling_logp.size() != r.completion.size()))
    fail("GRPO rollout: {} completion tokens but {} old, {} reference and {} sampling log-probs", r.completion.size(),
         r.old_logp.size(), r.ref_logp.size(), r.sampling_logp.size());
  if (!std::isfinite(r.advantage)) fail("GRPO rollout: advantage {} is not finite", r.advantage);
  return r;
}

// Every rank's share of a generation round (sampled and scored), concatenated in rank order: the whole round.
Generated gather_generated(const dist::World& world, Generated mine) {
  nlohmann::json per_reward = nlohmann::json::array();
  for (const auto& scores : mine.per_reward) {
    nlohmann::json column = nlohmann::json::array();
    for (const rewards::Score& v : scores) column.push_back(v ? nlohmann::json(*v) : nlohmann::json(nullptr));
    per_reward.push_back(std::move(column));
  }
  nlohmann::json rollouts = nlohmann::json::array();
  for (const Rollout& r : mine.rollouts) rollouts.push_back(rollout_to_json(r));
  const nlohmann::json j = {{"rollouts", rollouts},   {"texts", mine.texts},         {"per_reward", per_reward},
                            {"total", mine.total},    {"generated", mine.generated}, {"sampling", mine.sampling},
                            {"scoring", mine.scoring}};
  Generated all;
  all.per_reward.resize(mine.per_reward.size());
  // a sampled text may end inside a UTF-8 sequence: such bytes travel as U+FFFD, as the completion logs write them
  for (const std::string& bytes : world.all_gather(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))) {
    const nlohmann::json rank = nlohmann::json::parse(bytes);
    for (const nlohmann::json& x : rank["rollouts"]) {
      Rollout r;
      r.row = x["row"].get<size_t>();
      r.completion = x["completion"].get<std::vector<int32_t>>();
      r.old_logp = x["old_logp"].get<std::vector<float>>();
      r.sampling_logp = x["sampling_logp"].get<std::vector<float>>();
      r.truncated = x["truncated"].get<bool>();
      all.rollouts.push_back(std::move(r));
    }
    for (const nlohmann::json& t : rank["texts"]) all.texts.push_back(t.get<std::string>());
    for (size_t f = 0; f < all.per_reward.size(); ++f)
      for (const nlohmann::json& v : rank["per_reward"][f])
        all.per_reward[f].push_back(v.is_null() ? rewards::Score() : rewards::Score(v.get<double>()));
    for (const nlohmann::json& t : rank["total"]) all.total.push_back(t.get<double>());
    all.generated += rank["generated"].get<int64_t>();
    all.sampling = std::max(all.sampling, rank["sampling"].get<double>());  // wall time: the slowest rank's
    all.scoring = std::max(all.scoring, rank["scoring"].get<double>());
  }
  return all;
}

// [begin, end) of `n` items that rank `rank` of `world_size` takes (contiguous shares, the first ones shorter).
std::pair<size_t, size_t> share_of(size_t n, int rank, int world_size) {
  return {n * size_t(rank) / size_t(world_size), n * size_t(rank + 1) / size_t(world_size)};
}

}  // namespace r1::train::rl
