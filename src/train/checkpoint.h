// Training checkpoints: output_dir/checkpoint-<step>/ holding the HF model directory files (config.json,
// model.safetensors, generation_config.json, tokenizer via hooks), optimizer.safetensors (AdamW moments and
// the CPU RNG state), trainer_state.json (step, schedule, data position, counters) and manifest.json (every
// file with its size and checksum), written into a temp directory and renamed into place, so a checkpoint
// directory either is complete or does not exist. Internal to src/train.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>

#include "r1/train.h"

namespace r1::train::detail {

// Writes checkpoint-<step> under output_dir and returns its path.
std::filesystem::path save_checkpoint(const std::filesystem::path& output_dir, int64_t step,
                                      model::TransformerImpl& model, const AdamW& optimizer,
                                      const nlohmann::json& trainer_state, const TrainerHooks& hooks);

// Verifies the manifest, copies the weights into `model` and the moments into `optimizer`, restores the CPU
// RNG, and returns trainer_state.json.
nlohmann::json load_checkpoint(const std::filesystem::path& dir, model::TransformerImpl& model, AdamW& optimizer);

// Removes the .checkpoint-*.tmp-<pid> / .old-<pid> directories a killed save left in output_dir (not those
// of a live process), printing a line for each.
void remove_stale_checkpoint_temps(const std::filesystem::path& output_dir);

// Removes the oldest checkpoint-* directories (those with a manifest) beyond `limit`, never `keep`.
void rotate_checkpoints(const std::filesystem::path& output_dir, int64_t limit, const std::filesystem::path& keep);

}  // namespace r1::train::detail
