// The trainer's own checkpointed parts (see state.h), the objective's default part (its data position) and
// CheckpointReader::take. Each reads its fields with type and range checked, naming the file and key.
#include "train/state.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "r1/error.h"
#include "r1/io.h"

namespace r1::train {

at::Tensor CheckpointReader::take(const std::string& name) {
  auto it = tensors.find(name);
  if (it == tensors.end()) return {};
  at::Tensor out = std::move(it->second);
  tensors.erase(it);
  return out;
}

void Objective::set_data_shard(const DataShard& shard) {
  if (shard.world_size > 1)
    fail_usage("this trainer does not train data-parallel yet (WORLD_SIZE {}): run it as one process",
               shard.world_size);
}

void Objective::save_state(CheckpointWriter& out) const { out.state["data_state"] = data_state(); }

void Objective::load_state(CheckpointReader& in) {
  if (!in.state.contains("data_state")) fail("{}: no \"data_state\"", in.state_path);
  try {  // each objective checks its own fields; the file is named here
    load_data_state(in.state.at("data_state"));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: \"data_state\": {}", in.state_path, json_error_text(e));
  } catch (const Error& e) {
    fail("{}: \"data_state\": {}", in.state_path, e.what());
  }
}

namespace detail {

double TrainState::elapsed() const {
  return elapsed_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void TrainState::save_state(CheckpointWriter& out) const {
  out.state.update({{"global_step", global_step},
                    {"max_steps", schedule_.total_steps()},
                    {"skipped_steps", skipped_steps},
                    {"consecutive_nonfinite", consecutive_nonfinite},
                    {"elapsed", elapsed()},
                    {"learning_rate", args_.learning_rate},
                    {"lr_scheduler_type", args_.lr_scheduler_type},
                    {"warmup_steps", schedule_.warmup_steps()}});
}

void TrainState::load_state(CheckpointReader& in) {
  const nlohmann::json& state = in.state;
  auto integer = [&](const char* key, std::optional<int64_t> fallback, int64_t low, int64_t high) -> int64_t {
    if (fallback && !(state.is_object() && state.contains(key))) return *fallback;
    return json_integer(state, key, low, high, in.state_path);
  };
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t total_steps = schedule_.total_steps();
  global_step = integer("global_step", std::nullopt, 0, total_steps);
  const int64_t written_for = integer("max_steps", total_steps, 1, kMax);
  if (written_for != total_steps)
    fmt::print("note: the checkpoint was written by a run of {} steps; continuing to {}\n", written_for, total_steps);
  skipped_steps = integer("skipped_steps", 0, 0, kMax);
  consecutive_nonfinite = integer("consecutive_nonfinite", 0, 0, kMax);
  if (state.contains("elapsed") && !state["elapsed"].is_number())
    fail("{}: \"elapsed\" must be a number, found {}", in.state_path, state["elapsed"].dump());
  elapsed_before_ = state.value("elapsed", 0.0);
}

void CpuRngState::save_state(CheckpointWriter& out) const {
  out.tensors.emplace_back("rng.cpu", at::detail::getDefaultCPUGenerator().get_state());
}

void CpuRngState::load_state(CheckpointReader& in) {
  at::Tensor state = in.take("rng.cpu");
  if (!state.defined()) fail("{}: no tensor 'rng.cpu' (the CPU random generator's state)", in.tensors_path);
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  gen.set_state(state);
}

}  // namespace detail
}  // namespace r1::train
