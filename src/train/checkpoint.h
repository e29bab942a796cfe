// Training checkpoints: output_dir/checkpoint-<step>/ holding the HF model directory files (config.json,
// model.safetensors, generation_config.json, tokenizer via hooks), optimizer.safetensors (AdamW moments and
// the CPU RNG state), trainer_state.json (step, schedule, data position, counters), any file of an objective's
// own state (GRPO: ref_model.safetensors) and manifest.json (every file with its size and checksum), written
// into a temp directory and renamed into place, so a checkpoint directory either is complete or does not exist.
// What goes in optimizer.safetensors and trainer_state.json is written and read by the Stateful parts of the run
// (r1/train.h); this file owns the directory, the model and the manifest. Internal to src/train.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

#include "r1/train.h"

namespace r1::train::detail {

// Writes checkpoint-<step> under output_dir and returns its path: the model (config.json, weights; a LoRA
// model its adapter), hooks.save_extra's files, then every part's state (see Stateful in r1/train.h), the run
// config and the manifest.
std::filesystem::path save_checkpoint(const std::filesystem::path& output_dir, int64_t step,
                                      model::TransformerImpl& model, const std::vector<Stateful*>& parts,
                                      const TrainerHooks& hooks);

// Resume in one call: verifies the manifest and trainer_state.json's step against it, copies the weights into
// `model` (its config must be the checkpoint's), then restores every part in order. r1::Error naming the file
// when anything does not fit, including a tensor of optimizer.safetensors that no part restores.
void load_checkpoint(const std::filesystem::path& dir, model::TransformerImpl& model,
                     const std::vector<Stateful*>& parts);

// Removes the .checkpoint-*.tmp-<pid> / .old-<pid> directories a killed save left in output_dir (not those
// of a live process), printing a line for each.
void remove_stale_checkpoint_temps(const std::filesystem::path& output_dir);

// Removes the oldest checkpoint-* directories (those with a manifest) beyond `limit`, never `keep`.
void rotate_checkpoints(const std::filesystem::path& output_dir, int64_t limit, const std::filesystem::path& keep);

// On resume: keeps the lines of a JSONL log (metrics.jsonl, GRPO's and PPO's completions.jsonl) whose "step" is <=
// `step` (the resumed checkpoint's) and lines without a step; drops lines cut by a kill.
void truncate_step_log(const std::filesystem::path& path, int64_t step);

}  // namespace r1::train::detail
