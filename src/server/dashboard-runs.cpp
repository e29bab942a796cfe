// The dashboard's runs and logs (dashboard-runs.h): finding runs under the directories, reading metrics rows
// and indexing completions incrementally, and the JSON bodies of /api/runs, /api/metrics and /api/completions.
#include "server/dashboard-runs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "r1/error.h"
#include "r1/io.h"

namespace r1::server {
namespace fs = std::filesystem;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {
constexpr int kMaxFlattenDepth = 4;  // {"a": {"b": {"c": 1}}} -> "a/b/c"; deeper objects are ignored
constexpr int kMaxSearchDepth = 8;   // directory levels searched below each root

// Python's json module writes NaN, Infinity and -Infinity, which are not JSON; outside strings they become null.
std::string null_non_finite(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  bool in_string = false;
  size_t i = 0;
  while (i < line.size()) {
    const char c = line[i++];
    if (in_string) {
      out += c;
      if (c == '\\' && i < line.size())
        out += line[i++];
      else if (c == '"')
        in_string = false;
      continue;
    }
    bool replaced = false;
    for (std::string_view word : {"NaN", "-Infinity", "Infinity"})
      if (line.substr(i - 1, word.size()) == word) {
        out += "null";
        i += word.size() - 1;
        replaced = true;
        break;
      }
    if (replaced) continue;
    if (c == '"') in_string = true;
    out += c;
  }
  return out;
}

// A line as a JSON object, or false (not JSON, not an object, nested too deep).
template <typename Json>
bool parse_row(std::string_view line, Json& row) {
  if (parse_json_bounded(line, row, nullptr) && row.is_object()) return true;
  if (line.find("NaN") == std::string_view::npos && line.find("Infinity") == std::string_view::npos) return false;
  return parse_json_bounded(null_non_finite(line), row, nullptr) && row.is_object();
}

void flatten_numbers(const json& value, const std::string& name, json& out, int depth) {
  if (value.is_number() && !name.empty()) {
    out[name] = value;
  } else if (value.is_object() && depth < kMaxFlattenDepth) {
    for (const auto& [k, v] : value.items()) flatten_numbers(v, name.empty() ? k : name + "/" + k, out, depth + 1);
  }
}

// A step: an integer, or a float with an integral value (3.0).
std::optional<int64_t> step_of(const json& row) {
  auto it = row.find("step");
  if (it == row.end() || !it->is_number()) return std::nullopt;
  if (it->is_number_integer() || it->is_number_unsigned()) return it->get<int64_t>();
  const double v = it->get<double>();
  if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9e15) return std::nullopt;
  return int64_t(v);
}

std::optional<double> number_at(const ordered_json& row, const std::string& key) {
  auto it = row.find(key);
  if (it == row.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

double seconds_since_epoch(fs::file_time_type t) {
  // file_clock's epoch is not the system clock's before C++20's clock_cast; the difference from now does it.
  const auto now_file = fs::file_time_type::clock::now();
  const auto now_system = std::chrono::system_clock::now();
  const auto age = std::chrono::duration_cast<std::chrono::duration<double>>(now_file - t);
  return std::chrono::duration<double>(now_system.time_since_epoch()).count() - age.count();
}
}  // namespace

// ---- metrics.jsonl --------------------------------------------------------------------------------------------------

void MetricsLog::refresh() {
  tail_.poll(
      [this] {
        rows_.clear();
        keys_.clear();
        skipped_ = 0;
        last_step_.reset();
      },
      [this](uint64_t, std::string_view line) {
        json row;
        if (!parse_row(line, row)) {
          ++skipped_;
          return;
        }
        json numbers = json::object();
        flatten_numbers(row, "", numbers, 0);
        if (!numbers.contains("step")) numbers["step"] = rows_.size();
        for (const auto& [k, v] : numbers.items())
          if (k != "step") keys_.insert(k);
        const double step = numbers["step"].get<double>();
        if (!last_step_ || step > *last_step_) last_step_ = step;
        rows_.push_back(numbers.dump());
      });
}

// ---- completions.jsonl ----------------------------------------------------------------------------------------------

void CompletionsLog::refresh() {
  exists_ = tail_.poll(
      [this] {
        steps_.clear();
        lines_ = skipped_ = 0;
      },
      [this](uint64_t offset, std::string_view line) {
        json row;
        std::optional<int64_t> step;
        if (!parse_row(line, row) || !(step = step_of(row))) {
          ++skipped_;
          return;
        }
        steps_[*step].push_back({offset, uint32_t(line.size())});
        ++lines_;
      });
}

ordered_json CompletionsLog::query(const CompletionsQuery& q) const {
  ordered_json out = {{"exists", exists_}, {"lines", lines_}, {"skipped", skipped_ + tail_.lines_too_long()}};
  ordered_json steps = ordered_json::array();
  for (const auto& [step, refs] : steps_) steps.push_back(step);
  out["steps"] = std::move(steps);
  out["step"] = nullptr;
  out["keys"] = ordered_json::array();
  out["key"] = q.key;
  out["total"] = out["matched"] = 0;
  out["rows"] = ordered_json::array();
  if (q.step) out["step"] = *q.step;
  auto it = q.step ? steps_.find(*q.step) : (steps_.empty() ? steps_.end() : std::prev(steps_.end()));
  if (it == steps_.end()) return out;
  out["step"] = it->first;

  std::vector<ordered_json> rows;
  uint64_t unreadable = 0;
  {
    const int fd = ::open(tail_.path().c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    std::string line;
    for (size_t i = 0; i < it->second.size(); ++i) {
      const LineRef& ref = it->second[i];
      line.resize(ref.size);
      ssize_t n = fd < 0 ? -1 : ::pread(fd, line.data(), ref.size, off_t(ref.offset));
      ordered_json row;
      if (n != ssize_t(ref.size) || !parse_row(line, row)) {
        ++unreadable;  // the file changed since it was indexed: the next refresh reads it again
        continue;
      }
      row["index"] = i;  // the line's place in its step
      rows.push_back(std::move(row));
    }
    if (fd >= 0) ::close(fd);
  }
  std::vector<std::string> keys;
  for (const ordered_json& row : rows)
    for (const auto& [k, v] : row.items())
      if (k != "step" && k != "index" && v.is_number() && std::find(keys.begin(), keys.end(), k) == keys.end())
        keys.push_back(k);
  std::string key = q.key;
  if (key.empty()) {
    for (const char* preferred : {"reward", "score"})
      if (key.empty() && std::find(keys.begin(), keys.end(), preferred) != keys.end()) key = preferred;
    if (key.empty() && !keys.empty()) key = keys.front();
  }
  out["keys"] = keys;
  out["key"] = key;
  out["total"] = rows.size();
  out["unreadable"] = unreadable;

  std::vector<const ordered_json*> kept;
  for (const ordered_json& row : rows) {
    if (q.min || q.max) {
      const std::optional<double> v = number_at(row, key);
      if (!v || (q.min && *v < *q.min) || (q.max && *v > *q.max)) continue;
    }
    kept.push_back(&row);
  }
  if (q.order == "asc" || q.order == "desc") {
    const bool desc = q.order == "desc";
    std::stable_sort(kept.begin(), kept.end(), [&](const ordered_json* a, const ordered_json* b) {
      const std::optional<double> x = number_at(*a, key), y = number_at(*b, key);
      if (!x || !y) return bool(x) && !y;  // rows without the value last
      return desc ? *x > *y : *x < *y;
    });
  }
  out["matched"] = kept.size();
  ordered_json page = ordered_json::array();
  for (size_t i = q.offset; i < kept.size() && page.size() < q.limit; ++i) page.push_back(*kept[i]);
  out["rows"] = std::move(page);
  return out;
}

// ---- A run ----------------------------------------------------------------------------------------------------------

Run::Run(std::string id, fs::path dir)
    : id_(std::move(id)),
      dir_(std::move(dir)),
      metrics_(dir_ / "metrics.jsonl"),
      train_(dir_ / "completions.jsonl"),
      eval_(dir_ / "eval_completions.jsonl") {}

json Run::summary() {
  std::lock_guard<std::mutex> lock(mu_);
  metrics_.refresh();
  train_.refresh();
  eval_.refresh();
  std::error_code ec;
  const auto mtime = fs::last_write_time(dir_ / "metrics.jsonl", ec);
  json completions = json::object();
  if (train_.exists()) completions["train"] = train_.lines();
  if (eval_.exists()) completions["eval"] = eval_.lines();
  return {{"id", id_},
          {"dir", dir_.string()},
          {"rows", metrics_.rows().size()},
          {"gen", metrics_.generation()},
          {"skipped", metrics_.skipped()},
          {"keys", metrics_.keys()},
          {"last_step", metrics_.last_step() ? json(*metrics_.last_step()) : json(nullptr)},
          {"updated", ec ? json(nullptr) : json(seconds_since_epoch(mtime))},
          {"completions", completions}};
}

std::string Run::metrics_body(uint64_t since, std::optional<uint64_t> gen, size_t max_rows) {
  std::lock_guard<std::mutex> lock(mu_);
  metrics_.refresh();
  const std::vector<std::string>& rows = metrics_.rows();
  const bool reset = (gen && *gen != metrics_.generation()) || since > rows.size();
  if (reset) since = 0;
  const size_t end = size_t(std::min<uint64_t>(rows.size(), since + max_rows));
  json head = {
      {"run", id_},           {"gen", metrics_.generation()}, {"reset", reset}, {"since", since}, {"next", end},
      {"total", rows.size()}, {"skipped", metrics_.skipped()}};
  std::string body = head.dump();
  body.pop_back();  // the closing brace: the rows are spliced in as they are stored
  body += ",\"rows\":[";
  for (size_t i = since; i < end; ++i) {
    if (i > since) body += ',';
    body += rows[i];
  }
  body += "]}";
  return body;
}

ordered_json Run::completions_body(const std::string& kind, const CompletionsQuery& q) {
  std::lock_guard<std::mutex> lock(mu_);
  CompletionsLog& log = kind == "eval" ? eval_ : train_;
  log.refresh();
  ordered_json out = log.query(q);
  out["run"] = id_;
  out["kind"] = kind;
  return out;
}

// ---- Finding runs ---------------------------------------------------------------------------------------------------

RunRegistry::RunRegistry(std::vector<fs::path> roots, double rescan_seconds) : rescan_interval_(rescan_seconds) {
  if (roots.empty()) roots.push_back("runs");
  for (const fs::path& root : roots) {
    std::error_code ec;
    const fs::file_status st = fs::status(root, ec);
    if (!fs::exists(st))
      fail_usage("'{}': no such directory (give the directories that hold your runs: r1 dashboard DIR...)",
                 root.string());
    if (!fs::is_directory(st))
      fail_usage("'{}' is not a directory (give the directories that hold your runs, e.g. the output_dir's parent)",
                 root.string());
    fs::path canonical = fs::canonical(root, ec);
    roots_.push_back(ec ? fs::absolute(root) : canonical);
  }
  for (const fs::path& root : roots_) {
    std::string label = root.filename().string();
    if (label.empty()) label = root.string();  // "/"
    const std::string base = label;
    for (int n = 2; std::find(labels_.begin(), labels_.end(), label) != labels_.end(); ++n)
      label = base + "~" + std::to_string(n);
    labels_.push_back(label);
  }
}

void RunRegistry::scan(bool force) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (scanned_ && !force && now - last_scan_ < rescan_interval_) return;
  scanned_ = true;
  last_scan_ = now;
  std::map<std::string, fs::path> found;
  auto add = [&](size_t r, const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_regular_file(dir / "metrics.jsonl", ec)) return;
    std::string rel = dir.lexically_relative(roots_[r]).generic_string();
    std::string id;
    if (roots_.size() == 1)
      id = rel == "." ? labels_[r] : rel;
    else
      id = rel == "." ? labels_[r] : labels_[r] + "/" + rel;
    found.emplace(id, dir);
  };
  for (size_t r = 0; r < roots_.size(); ++r) {
    add(r, roots_[r]);
    std::error_code ec;
    fs::recursive_directory_iterator it(roots_[r], fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      std::error_code type_ec;
      if (!it->is_directory(type_ec) || it->is_symlink(type_ec)) continue;
      const std::string name = it->path().filename().string();
      // checkpoints and hidden directories (a checkpoint being written) hold no runs of their own
      if (name.empty() || name[0] == '.' || name.rfind("checkpoint-", 0) == 0 || it.depth() >= kMaxSearchDepth) {
        it.disable_recursion_pending();
        if (name.empty() || name[0] == '.' || name.rfind("checkpoint-", 0) == 0) continue;
      }
      add(r, it->path());
    }
  }
  std::map<std::string, std::shared_ptr<Run>> runs;
  for (const auto& [id, dir] : found) {
    auto old = runs_.find(id);
    runs[id] = old != runs_.end() && old->second->dir() == dir ? old->second : std::make_shared<Run>(id, dir);
  }
  runs_.swap(runs);
}

std::vector<std::shared_ptr<Run>> RunRegistry::runs() {
  scan();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Run>> out;
  for (const auto& [id, run] : runs_) out.push_back(run);
  return out;
}

std::shared_ptr<Run> RunRegistry::find(const std::string& id) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    scan(attempt == 1);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(id);
    if (it != runs_.end()) return it->second;
  }
  return nullptr;
}

}  // namespace r1::server
