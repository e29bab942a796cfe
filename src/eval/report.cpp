// Evaluation results at the edge: Results <-> JSON (lighteval-like: config, counts, then per metric the
// value, its standard error and the bootstrap interval), a markdown table, a side-by-side comparison of two
// result files, and the atomic writing of results.json / results.md / per-record JSONL into an output dir.
// Non-finite numbers (an empty metric, no bootstrap) are written as JSON null and read back as NaN.
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "r1/error.h"
#include "r1/eval.h"
#include "r1/io.h"

namespace r1::eval {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

Json number(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

double read_number(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (!it->is_number()) fail("'{}' must be a number", key);
  return it->get<double>();
}

std::string format_value(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : "-"; }

std::string format_ci(const Estimate& e) {
  if (!std::isfinite(e.ci_low)) return "-";
  return fmt::format("[{:.4f}, {:.4f}]", e.ci_low, e.ci_high);
}

}  // namespace

const Metric* Results::find(const std::string& name) const {
  for (const Metric& m : metrics)
    if (m.name == name) return &m;
  return nullptr;
}

std::string results_to_json(const Results& r) {
  Json j = {{"kind", r.kind}, {"task", r.task}, {"model", r.model}};
  Json config = Json::object(), counts = Json::object(), metrics = Json::object();
  for (const auto& [k, v] : r.config) config[k] = v;
  for (const auto& [k, v] : r.counts) counts[k] = v;
  for (const Metric& m : r.metrics)
    metrics[m.name] = {{"value", number(m.estimate.value)},
                       {"stderr", number(m.estimate.std_error)},
                       {"ci_low", number(m.estimate.ci_low)},
                       {"ci_high", number(m.estimate.ci_high)},
                       {"count", m.estimate.count}};
  j["config"] = config;
  j["counts"] = counts;
  j["bootstrap"] = {
      {"resamples", r.bootstrap.resamples}, {"confidence", r.bootstrap.confidence}, {"seed", r.bootstrap.seed}};
  j["metrics"] = metrics;
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Results results_from_json(const std::string& text, const std::string& source) {
  Json j;
  if (!parse_json_bounded(text, j, nullptr) || !j.is_object() || !j.contains("metrics") || !j["metrics"].is_object())
    fail("{}: not an r1 eval results file (a JSON object with \"metrics\")", source);
  Results r;
  try {
    r.kind = j.value("kind", "");
    r.task = j.value("task", "");
    r.model = j.value("model", "");
    if (j.contains("config") && j["config"].is_object())
      for (const auto& [k, v] : j["config"].items())
        r.config.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
    if (j.contains("counts") && j["counts"].is_object())
      for (const auto& [k, v] : j["counts"].items()) r.counts.emplace_back(k, v.get<int64_t>());
    if (j.contains("bootstrap") && j["bootstrap"].is_object()) {
      r.bootstrap.resamples = j["bootstrap"].value("resamples", int64_t(0));
      r.bootstrap.confidence = j["bootstrap"].value("confidence", 0.95);
      r.bootstrap.seed = j["bootstrap"].value("seed", uint64_t(0));
    }
    for (const auto& [name, m] : j["metrics"].items()) {
      if (!m.is_object()) fail("metric '{}' is not an object", name);
      Estimate e;
      e.value = read_number(m, "value");
      e.std_error = read_number(m, "stderr");
      e.ci_low = read_number(m, "ci_low");
      e.ci_high = read_number(m, "ci_high");
      e.count = m.value("count", int64_t(0));
      r.metrics.push_back({name, e});
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed results file: {}", source, json_error_text(e));
  } catch (const Error& e) {
    fail("{}: {}", source, e.what());
  }
  return r;
}

std::string results_markdown(const Results& r) {
  const int level = int(std::lround(r.bootstrap.confidence * 100));
  std::string out = fmt::format("| {} | metric | value | stderr | {}% CI |\n|---|---|---:|---:|---|\n",
                                r.kind.empty() ? "task" : r.kind, level);
  for (const Metric& m : r.metrics)
    out += fmt::format("| {} | {} | {} | {} | {} |\n", fs::path(r.task).filename().string(), m.name,
                       format_value(m.estimate.value), format_value(m.estimate.std_error), format_ci(m.estimate));
  return out;
}

std::string compare_markdown(const Results& a, const Results& b, const std::string& name_a, const std::string& name_b) {
  std::string out =
      fmt::format("| metric | {} | {} | {} - {} |\n|---|---:|---:|---:|\n", name_a, name_b, name_b, name_a);
  auto cell = [](const Metric* m) {
    if (m == nullptr) return std::string("-");
    return format_value(m->estimate.value) + " ± " + format_value(m->estimate.std_error);
  };
  std::vector<std::string> names;
  for (const Metric& m : a.metrics) names.push_back(m.name);
  for (const Metric& m : b.metrics)
    if (a.find(m.name) == nullptr) names.push_back(m.name);
  for (const std::string& name : names) {
    const Metric *ma = a.find(name), *mb = b.find(name);
    std::string diff = "-";
    if (ma != nullptr && mb != nullptr && std::isfinite(ma->estimate.value) && std::isfinite(mb->estimate.value)) {
      // Independent samples: the standard errors add in quadrature (a paired test needs the per-item records).
      const double se = std::hypot(ma->estimate.std_error, mb->estimate.std_error);
      diff = fmt::format("{:+.4f} ± {:.4f}", mb->estimate.value - ma->estimate.value, se);
    }
    out += fmt::format("| {} | {} | {} | {} |\n", name, cell(ma), cell(mb), diff);
  }
  return out;
}

void write_results(const fs::path& dir, const Results& results, const std::vector<std::string>& records,
                   const std::string& records_name, bool overwrite) {
  const fs::path json_path = dir / "results.json";
  if (fs::exists(json_path) && !overwrite)
    fail_usage("{} exists: pass --overwrite to replace it, or choose another --output-dir", json_path.string());
  fs::create_directories(dir);
  if (!records.empty()) {
    AtomicFile f(dir / records_name);
    for (const std::string& line : records) {
      f.write(line);
      f.write("\n");
    }
    f.commit();
  }
  write_file_atomic(dir / "results.md", results_markdown(results));
  write_file_atomic(json_path, results_to_json(results));
}

}  // namespace r1::eval
