// Checkpoint directories (see checkpoint.h): atomic directory write (temp dir + fsync'd files + rename),
// manifest verification (missing, truncated or altered files are named), the weights, and the files the
// run's Stateful parts (optimizer, RNG, counters, objective) fill and read. A model with LoRA adapters
// checkpoints (and restores) its adapter only, in PEFT's files.
#include "train/checkpoint.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <signal.h>
#include <torch/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "common/checksum.h"
#include "r1/error.h"
#include "r1/io.h"
#include "r1/lora.h"
#include "r1/safetensors.h"

namespace r1::train {
namespace fs = std::filesystem;
namespace {
constexpr const char* kManifest = "manifest.json";
constexpr const char* kOptimizer = "optimizer.safetensors";
constexpr const char* kState = "trainer_state.json";

std::optional<int64_t> checkpoint_step(const fs::path& dir) {
  static const std::regex pattern("checkpoint-([0-9]+)");
  std::smatch m;
  std::string name = dir.filename().string();
  if (!std::regex_match(name, m, pattern)) return std::nullopt;
  return std::stoll(m[1].str());
}

std::vector<std::pair<int64_t, fs::path>> list_checkpoints(const fs::path& output_dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(output_dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(output_dir)) {
    if (!entry.is_directory()) continue;
    auto step = checkpoint_step(entry.path());
    if (step && fs::exists(entry.path() / kManifest)) out.emplace_back(*step, entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

std::optional<fs::path> latest_checkpoint(const fs::path& output_dir) {
  auto all = list_checkpoints(output_dir);
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

std::optional<fs::path> resolve_resume_checkpoint(const TrainingArguments& args) {
  if (!args.resume_from_checkpoint) return std::nullopt;
  std::string value = *args.resume_from_checkpoint;
  if (value == "false" || value.empty()) return std::nullopt;
  fs::path dir;
  if (value == "true" || value == "latest") {
    auto latest = latest_checkpoint(args.output_dir);
    if (!latest) fail_usage("resume_from_checkpoint: no checkpoint-* with a manifest in '{}'", args.output_dir);
    dir = *latest;
  } else {
    dir = value;
    if (!fs::is_directory(dir)) fail_usage("resume_from_checkpoint: '{}' is not a directory", value);
  }
  verify_checkpoint(dir);
  return dir;
}

int64_t verify_checkpoint(const fs::path& dir) {
  const fs::path manifest_path = dir / kManifest;
  if (!fs::exists(manifest_path))
    fail("checkpoint '{}' has no {} (incomplete or not a checkpoint)", dir.string(), kManifest);
  nlohmann::json manifest;
  std::string error;
  if (!parse_json_bounded(read_file(manifest_path), manifest, &error))
    fail("{}: corrupt manifest: {}", manifest_path.string(), error);
  const std::string where = manifest_path.string();
  if (!manifest.is_object() || !manifest.contains("format") || manifest["format"] != "r1-checkpoint")
    fail("{}: not an r1 checkpoint manifest (\"format\" is not \"r1-checkpoint\")", where);
  json_integer(manifest, "version", 1, 1, where);
  const int64_t step = json_integer(manifest, "step", 0, INT64_MAX, where);
  if (auto named = checkpoint_step(dir); named && *named != step)
    fail("{}: \"step\" is {} in a directory named for step {}", where, step, *named);
  if (!manifest.contains("files") || !manifest["files"].is_object())
    fail("{}: \"files\" must be an object of file name -> {{bytes, checksum}}", where);
  const nlohmann::json& files = manifest["files"];
  // A checkpoint that verifies nothing is not a checkpoint: the state a resume reads must be listed.
  for (const char* required : {kState, kOptimizer})
    if (!files.contains(required)) fail("{}: \"files\" does not list {}", where, required);
  for (const auto& [name, entry] : files.items()) {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
      fail("{}: \"files\" names '{}', not a file of this directory", where, name);
    if (!entry.is_object() || !entry.contains("bytes") || !entry["bytes"].is_number_unsigned() ||
        !entry.contains("checksum") || !entry["checksum"].is_string())
      fail("{}: \"files\".\"{}\" must be {{\"bytes\": <unsigned integer>, \"checksum\": <string>}}, found {}", where,
           name, entry.dump());
    const fs::path file = dir / name;
    if (!fs::exists(file)) fail("checkpoint file '{}' is missing", file.string());
    require_regular_file(file);
    const uint64_t size = fs::file_size(file), expected = entry["bytes"].get<uint64_t>();
    if (size != expected)
      fail("checkpoint file '{}' has {} bytes, the manifest says {} (truncated?)", file.string(), size, expected);
    if (checksum_file(file) != entry["checksum"].get<std::string>())
      fail("checkpoint file '{}' does not match its checksum in the manifest (corrupted)", file.string());
  }
  // Files the manifest does not vouch for would be read unverified (a planted trainer state, extra weights).
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name != kManifest && !files.contains(name))
      fail("checkpoint '{}' holds '{}', which its {} does not list", dir.string(), name, kManifest);
  }
  return step;
}

void detail::remove_stale_checkpoint_temps(const fs::path& output_dir) {
  // .checkpoint-<step>.tmp-<pid> / .old-<pid>: left by a save that was killed. A live process's own is kept.
  static const std::regex pattern(R"(\.checkpoint-[0-9]+\.(tmp|old)-([0-9]+))");
  std::error_code ec;
  if (!fs::is_directory(output_dir, ec)) return;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(output_dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (!std::regex_match(name, m, pattern)) continue;
    const long pid = std::stol(m[2].str());
    if (pid == long(::getpid()) || (::kill(pid_t(pid), 0) != 0 && errno == ESRCH)) stale.push_back(entry.path());
  }
  for (const fs::path& path : stale) {
    fs::remove_all(path, ec);
    if (ec)
      fmt::print("note: could not remove {} (left by an interrupted checkpoint save): {}\n", path.string(),
                 ec.message());
    else
      fmt::print("removed {} (left by an interrupted checkpoint save)\n", path.string());
  }
}

namespace detail {

fs::path save_checkpoint(const fs::path& output_dir, int64_t step, model::TransformerImpl& model,
                         const std::vector<Stateful*>& parts, const TrainerHooks& hooks) {
  const fs::path final_dir = output_dir / fmt::format("checkpoint-{}", step);
  const fs::path temp = output_dir / fmt::format(".checkpoint-{}.tmp-{}", step, ::getpid());
  fs::remove_all(temp);
  fs::create_directories(temp);
  model::SaveOptions save;
  save.overwrite = true;
  model::save_pretrained(model, temp, save);
  if (hooks.save_extra) hooks.save_extra(temp);
  CheckpointWriter out{temp};
  for (const Stateful* part : parts) part->save_state(out);
  out.metadata["format"] = "pt";
  safetensors::save(temp / kOptimizer, out.tensors, out.metadata);
  write_file_atomic(temp / kState, out.state.dump(2) + "\n");
  if (!hooks.run_config_yaml.empty()) write_file_atomic(temp / "run_config.yaml", hooks.run_config_yaml);

  nlohmann::json manifest = {{"format", "r1-checkpoint"}, {"version", 1}, {"step", step}};
  manifest["files"] = nlohmann::json::object();
  for (const auto& entry : fs::directory_iterator(temp)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    manifest["files"][name] = {{"bytes", fs::file_size(entry.path())}, {"checksum", checksum_file(entry.path())}};
  }
  write_file_atomic(temp / kManifest, manifest.dump(2) + "\n");
  if (fs::exists(final_dir)) {  // re-saving a step (e.g. the final save right after a periodic one)
    const fs::path old = output_dir / fmt::format(".checkpoint-{}.old-{}", step, ::getpid());
    fs::rename(final_dir, old);
    fs::rename(temp, final_dir);
    fs::remove_all(old);
  } else {
    fs::rename(temp, final_dir);
  }
  return final_dir;
}

void load_checkpoint(const fs::path& dir, model::TransformerImpl& model, const std::vector<Stateful*>& parts) {
  const int64_t step = verify_checkpoint(dir);
  CheckpointReader in{dir, (dir / kState).string(), (dir / kOptimizer).string()};
  const std::string& state_path = in.state_path;
  in.state = parse_json(read_file(dir / kState), state_path);
  const nlohmann::json& state = in.state;
  // A global_step of the wrong type or range is reported by the trainer, which knows max_steps.
  if (state.is_object() && state.contains("global_step") && state["global_step"].is_number_unsigned() &&
      state["global_step"] != step)
    fail("{}: \"global_step\" is {} but the checkpoint's manifest says step {}", state_path,
         state["global_step"].dump(), step);
  torch::NoGradGuard no_grad;
  if (model.has_lora()) {  // the checkpoint holds the adapter only (the base is frozen)
    model::load_adapter_weights(model, dir);
  } else {
    // The weights fit the model being trained only if the architecture they were trained under is its own:
    // a changed rope_theta, norm epsilon or activation keeps every shape and would resume silently.
    const fs::path config_path = dir / "config.json";
    if (fs::exists(config_path)) {
      const nlohmann::json saved = parse_json(model::ModelConfig::load(config_path).to_json(), config_path.string());
      const nlohmann::json current = parse_json(model.config().to_json(), "the model's config");
      for (const auto& [key, value] : current.items())
        if (!saved.contains(key) || saved[key] != value)
          fail("{}: \"{}\" is {} in the checkpoint, {} in the model being trained (another model?)",
               config_path.string(), key, saved.contains(key) ? saved[key].dump() : "absent", value.dump());
    }
    auto weights = safetensors::TensorCollection::open_directory(dir);
    for (auto& [name, tensor] : model::named_tensors(model)) {
      if (!weights.contains(name)) fail("checkpoint '{}' lacks tensor '{}'", dir.string(), name);
      at::Tensor stored = weights.view(name);
      if (stored.sizes() != tensor.sizes()) fail("checkpoint '{}': tensor '{}' has another shape", dir.string(), name);
      tensor.copy_(stored);
    }
  }
  safetensors::File opt(dir / kOptimizer);
  for (const auto& info : opt.tensors()) in.tensors.emplace(info.name, opt.get(info.name));
  in.metadata = opt.metadata();
  for (Stateful* part : parts) part->load_state(in);
  if (!in.tensors.empty())
    fail("{}: tensor '{}' is not restored by any part of this run (another model?)", in.tensors_path,
         in.tensors.begin()->first);
}

void rotate_checkpoints(const fs::path& output_dir, int64_t limit, const fs::path& keep) {
  auto all = list_checkpoints(output_dir);
  int64_t excess = int64_t(all.size()) - limit;
  for (const auto& [step, path] : all) {
    if (excess <= 0) break;
    if (!keep.empty() && fs::equivalent(path, keep)) continue;
    fs::remove_all(path);
    --excess;
  }
}

void truncate_step_log(const fs::path& path, int64_t step) {
  if (!fs::exists(path)) return;
  std::istringstream in(read_file(path));
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json row;
    if (!parse_json_bounded(line, row, nullptr) || !row.is_object()) continue;  // a line cut by the kill
    const auto it = row.find("step");
    if (it != row.end() && it->is_number() && it->get<double>() > double(step)) continue;
    kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

}  // namespace detail
}  // namespace r1::train
