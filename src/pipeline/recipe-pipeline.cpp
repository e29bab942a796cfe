// `r1 pipeline` (see r1/pipeline.h): the recipe is read and every reference resolved before anything runs, so a
// typo in the last stage fails at once, not after hours of training. Training stages get their `with` keys as a
// recipe file under <output_dir>/.pipeline/ (types kept exactly) and resume from their newest checkpoint; the
// other commands get them as --flags (underscores read as dashes, lists joined with commas, objects as JSON).
#include "r1/pipeline.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "r1/distributed.h"
#include "r1/error.h"
#include "r1/eval.h"
#include "r1/io.h"
#include "r1/recipe.h"
#include "r1/train.h"

namespace r1::pipeline {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

const std::set<std::string> kTraining = {"pretrain", "sft", "dpo", "grpo", "distill"};
const std::set<std::string> kGeneration = {"generate", "rejection-sample"};
const std::set<std::string> kEval = {"eval", "eval-mc"};

bool is_training(const std::string& run) { return kTraining.count(run) > 0; }

std::string where(const PipelineRecipe& r, const std::string& stage) {
  return fmt::format("{}: stage '{}'", r.source.string(), stage);
}

// The key holding a stage's output, and its default under the pipeline's output_dir.
std::string output_key(const std::string& run) { return kGeneration.count(run) ? "output" : "output_dir"; }
std::string default_output(const fs::path& out, const std::string& name, const std::string& run) {
  if (run == "generate") return (out / name / "generations.jsonl").string();
  if (run == "rejection-sample") return (out / name / "sft.jsonl").string();
  return (out / name).string();
}

// Replaces ${output_dir} and ${stages.NAME.KEY} in every string of `value`; `done` holds the earlier stages.
Json resolve(const Json& value, const PipelineRecipe& r, const std::map<std::string, Json>& done,
             const std::string& stage) {
  if (value.is_object() || value.is_array()) {
    Json out = value;
    for (auto& item : out) item = resolve(item, r, done, stage);
    return out;
  }
  if (!value.is_string()) return value;
  const std::string& text = value.get_ref<const std::string&>();
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("${", pos);
    if (open == std::string::npos) break;
    const size_t close = text.find('}', open);
    if (close == std::string::npos) fail_usage("{}: an unclosed '${{' in '{}'", where(r, stage), text);
    out += text.substr(pos, open - pos);
    const std::string ref = text.substr(open + 2, close - open - 2);
    if (ref == "output_dir") {
      out += r.output_dir.string();
    } else if (ref.rfind("stages.", 0) == 0 && ref.find('.', 7) != std::string::npos) {
      const size_t dot = ref.find('.', 7);
      const std::string name = ref.substr(7, dot - 7), key = ref.substr(dot + 1);
      auto it = done.find(name);
      if (it == done.end())
        fail_usage("{}: '${{{}}}' names no earlier stage '{}' (a stage can use the stages before it)", where(r, stage),
                   ref, name);
      auto k = it->second.find(key);
      if (k == it->second.end())
        fail_usage("{}: '${{{}}}': stage '{}' has no key '{}'", where(r, stage), ref, name, key);
      out += k->is_string() ? k->get<std::string>() : k->dump();
    } else {
      fail_usage("{}: '${{{}}}' is not ${{output_dir}} or ${{stages.NAME.KEY}}", where(r, stage), ref);
    }
    pos = close + 1;
  }
  out += text.substr(pos);
  return out;
}

std::string flag_value(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const Json& x : v) parts.push_back(flag_value(x));
    return fmt::format("{}", fmt::join(parts, ","));
  }
  return v.dump();
}

fs::path marker(const PipelineRecipe& r, const std::string& name) {
  return r.output_dir / ".pipeline" / (name + ".done");
}

Json stage_metrics(const StageResult& s) {
  const fs::path results = s.output / "results.json";
  Json metrics = Json::object();
  if (!kEval.count(s.run) || !fs::exists(results)) return metrics;
  for (const eval::Metric& m : eval::results_from_json(read_file(results), results.string()).metrics)
    metrics[m.name] = m.estimate.value;
  return metrics;
}

}  // namespace

std::vector<std::string> pipeline_runs() {
  return {"pretrain", "sft", "dpo", "grpo", "distill", "generate", "rejection-sample", "eval", "eval-mc"};
}

PipelineRecipe parse_pipeline(const std::string& yaml_text, const std::string& source) {
  const Recipe recipe = Recipe::parse(yaml_text, source);
  PipelineRecipe r;
  r.source = source;
  for (const auto& [key, value] : recipe.values().items())
    if (key != "output_dir" && key != "stages")
      fail_usage("{} ({}): unknown key '{}' (a pipeline has output_dir and stages)", source, recipe.origin(key), key);
  const nlohmann::json* out = recipe.find("output_dir");
  if (out != nullptr && !out->is_string()) fail_usage("{}: output_dir must be a path", source);
  r.output_dir = out != nullptr ? fs::path(out->get<std::string>()) : fs::path("runs") / fs::path(source).stem();
  const nlohmann::json* stages = recipe.find("stages");
  if (stages == nullptr || !stages->is_array() || stages->empty())
    fail_usage("{}: 'stages' must be a non-empty list of {{name, run, with}}", source);
  std::map<std::string, Json> done;  // resolved keys of the stages so far, with their output key filled in
  const std::vector<std::string> runs = pipeline_runs();
  for (size_t i = 0; i < stages->size(); ++i) {
    const nlohmann::json& s = (*stages)[i];
    if (!s.is_object() || !s.contains("name") || !s["name"].is_string() || s["name"].get<std::string>().empty())
      fail_usage("{}: stage {} needs a 'name'", source, i + 1);
    PipelineStage stage;
    stage.name = s["name"].get<std::string>();
    if (stage.name.find_first_of("/\\. ${}") != std::string::npos)
      fail_usage("{}: a stage name is a plain word (letters, digits, _ and -)", where(r, stage.name));
    if (done.count(stage.name)) fail_usage("{}: a second stage of that name", where(r, stage.name));
    for (const auto& [key, value] : s.items())
      if (key != "name" && key != "run" && key != "with")
        fail_usage("{}: unknown key '{}' (a stage has name, run and with)", where(r, stage.name), key);
    if (!s.contains("run") || !s["run"].is_string() ||
        std::find(runs.begin(), runs.end(), s["run"].get<std::string>()) == runs.end())
      fail_usage("{}: 'run' must be one of {}", where(r, stage.name), fmt::join(runs, ", "));
    stage.run = s["run"].get<std::string>();
    const Json with = s.contains("with") ? Json::parse(s["with"].dump()) : Json::object();
    if (!with.is_object()) fail_usage("{}: 'with' must be a mapping of the command's keys", where(r, stage.name));
    stage.with = resolve(with, r, done, stage.name);
    const std::string key = output_key(stage.run);
    if (!stage.with.contains(key)) stage.with[key] = default_output(r.output_dir, stage.name, stage.run);
    done[stage.name] = stage.with;
    r.stages.push_back(std::move(stage));
  }
  return r;
}

PipelineRecipe load_pipeline(const fs::path& yaml_file) {
  if (!fs::is_regular_file(yaml_file)) fail_usage("pipeline recipe '{}' does not exist", yaml_file.string());
  return parse_pipeline(read_file(yaml_file), yaml_file.string());
}

StageCommand stage_command(const PipelineRecipe& r, size_t index) {
  const PipelineStage& s = r.stages.at(index);
  StageCommand c;
  c.output = s.with[output_key(s.run)].get<std::string>();
  if (is_training(s.run)) {
    Json with = s.with;
    // An interrupted stage resumes from its newest checkpoint; a stage that died before its first checkpoint
    // starts again in its own directory.
    if (!with.contains("overwrite_output_dir")) with["overwrite_output_dir"] = true;
    if (!with.contains("resume_from_checkpoint") && train::latest_checkpoint(c.output))
      with["resume_from_checkpoint"] = "true";
    c.config_file = r.output_dir / ".pipeline" / (s.name + ".yaml");
    c.config_text = to_yaml(with);
    c.argv = {s.run, "--config", c.config_file.string()};
    return c;
  }
  if (s.run == "eval")
    c.argv = {"eval", "gen"};
  else if (s.run == "eval-mc")
    c.argv = {"eval", "mc"};
  else
    c.argv = {s.run};
  for (const auto& [key, value] : s.with.items()) {
    std::string flag = key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    flag = (flag.size() == 1 ? "-" : "--") + flag;
    if (value.is_boolean()) {
      if (value.get<bool>()) c.argv.push_back(flag);
      continue;
    }
    if (value.is_null()) continue;
    c.argv.push_back(flag);
    c.argv.push_back(flag_value(value));
  }
  // A generation continues its output file; an evaluation is done again (results.json replaced).
  if (kGeneration.count(s.run) && !s.with.contains("resume") && !s.with.contains("overwrite"))
    c.argv.push_back("--resume");
  if (kEval.count(s.run) && !s.with.contains("overwrite")) c.argv.push_back("--overwrite");
  return c;
}

std::string PipelineSummary::table() const {
  std::string out = "| stage | run | status | seconds | metrics |\n|---|---|---|---|---|\n";
  for (const StageResult& s : stages) {
    std::vector<std::string> metrics;
    for (const auto& [name, value] : s.metrics.items())
      metrics.push_back(
          fmt::format("{} {}", name, value.is_number() ? fmt::format("{:.4g}", value.get<double>()) : value.dump()));
    out +=
        fmt::format("| {} | {} | {} | {:.1f} | {} |\n", s.name, s.run, s.status, s.seconds, fmt::join(metrics, ", "));
  }
  return out;
}

Json PipelineSummary::to_json() const {
  Json stages_json = Json::array();
  for (const StageResult& s : stages)
    stages_json.push_back({{"name", s.name},
                           {"run", s.run},
                           {"status", s.status},
                           {"seconds", s.seconds},
                           {"output", s.output.string()},
                           {"metrics", s.metrics}});
  return {{"complete", complete}, {"stages", stages_json}};
}

PipelineSummary run_pipeline(const PipelineRecipe& r, const StageRunner& runner) {
  // Its generation, filtering and evaluation stages would run once per rank, writing the same files.
  if (const int ranks = dist::read_launch_env().world_size; ranks > 1)
    fail_usage(
        "r1 pipeline runs its stages in one process, not on {} ranks: launch the training stages (r1 pretrain, sft, "
        "dpo, grpo, ...) with r1 launch or torchrun one by one",
        ranks);
  PipelineSummary summary;
  for (const PipelineStage& s : r.stages) summary.stages.push_back({s.name, s.run, "not run", 0, {}, Json::object()});
  fs::create_directories(r.output_dir / ".pipeline");
  auto save = [&] { write_file_atomic(r.output_dir / "summary.json", summary.to_json().dump(2) + "\n"); };
  for (size_t i = 0; i < r.stages.size(); ++i) {
    const PipelineStage& s = r.stages[i];
    StageResult& result = summary.stages[i];
    const StageCommand c = stage_command(r, i);
    result.output = c.output;
    const fs::path done_file = marker(r, s.name);
    if (fs::exists(done_file)) {
      const Json mark = parse_ordered_json(read_file(done_file), done_file.string());
      if (mark.value("with", Json()) != s.with)
        fail_usage(
            "{}: it finished with other settings than the recipe has now ({}); to run it again with these, "
            "remove {} (and the stages after it that used its output)",
            where(r, s.name), done_file.string(), done_file.string());
      result.status = "done earlier";
      result.seconds = mark.value("seconds", 0.0);
      result.metrics = stage_metrics(result);
      fmt::print("== stage {} ({}): done earlier, skipped\n", s.name, s.run);
      continue;
    }
    if (!c.config_file.empty()) write_file_atomic(c.config_file, c.config_text);
    fmt::print("== stage {} ({}): r1 {}\n", s.name, s.run, fmt::join(c.argv, " "));
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    const int status = runner(c.argv);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (status != 0) {
      result.status = "failed";
      save();
      fail("{}: r1 {} exited with status {}; run the pipeline again to resume this stage", where(r, s.name),
           c.argv.front(), status);
    }
    result.status = "ran";
    result.metrics = stage_metrics(result);
    write_file_atomic(done_file, Json{{"with", s.with}, {"seconds", result.seconds}}.dump(2) + "\n");
    save();
  }
  summary.complete = true;
  save();
  return summary;
}

}  // namespace r1::pipeline
