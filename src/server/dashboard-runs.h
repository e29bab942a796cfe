// What `r1 dashboard` serves, without the HTTP: the runs found under the given directories (a run is a directory
// holding metrics.jsonl, found recursively, as TensorBoard finds event files under --logdir) and, per run, its
// logs read incrementally (jsonl-tail.h) into the bodies of the JSON API:
//   metrics      every numeric value of every metrics.jsonl row (nested objects flattened with '/'), served from
//                a row index on (`since`), so a page that polls gets only the new rows; a `gen` that changes
//                tells it the file was cut back (a resumed run) and the rows start again from 0.
//   completions  completions.jsonl / eval_completions.jsonl (GRPO, PPO: train/reward-funcs.h
//                append_scored_completions) indexed by step — byte offsets only, the lines are read from the
//                file when asked for — filtered by a numeric field's range and ordered by it.
// Lines that are not JSON objects are skipped and counted (never an error); Python's NaN / Infinity literals
// read as null.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/jsonl-tail.h"

namespace r1::server {

// metrics.jsonl: each row's numeric values as a compact JSON object (always with "step"; a row without one gets
// its index among the rows), in file order.
class MetricsLog {
 public:
  explicit MetricsLog(std::filesystem::path path) : tail_(std::move(path)) {}
  void refresh();  // reads the appended lines (all again after a cut-back)

  const std::vector<std::string>& rows() const { return rows_; }
  const std::set<std::string>& keys() const { return keys_; }             // numeric keys seen, "step" not among them
  uint64_t skipped() const { return skipped_ + tail_.lines_too_long(); }  // lines that are not JSON objects
  uint64_t generation() const { return tail_.generation(); }
  std::optional<double> last_step() const { return last_step_; }

 private:
  JsonlTail tail_;
  std::vector<std::string> rows_;
  std::set<std::string> keys_;
  uint64_t skipped_ = 0;
  std::optional<double> last_step_;
};

// Which completions to return (GET /api/completions).
struct CompletionsQuery {
  std::optional<int64_t> step;     // none: the last step
  std::string key;                 // the field filtered and ordered on; "": "reward", else "score", else the first
  std::optional<double> min, max;  // inclusive range of `key` (rows without a number there are left out)
  std::string order = "file";      // file | asc | desc (by `key`)
  size_t offset = 0, limit = 50;
};

// completions.jsonl or eval_completions.jsonl: where each step's lines are.
class CompletionsLog {
 public:
  explicit CompletionsLog(std::filesystem::path path) : tail_(std::move(path)) {}
  void refresh();
  bool exists() const { return exists_; }
  uint64_t lines() const { return lines_; }
  nlohmann::ordered_json query(const CompletionsQuery& q) const;  // the body of GET /api/completions (after refresh)

 private:
  struct LineRef {
    uint64_t offset;
    uint32_t size;
  };
  JsonlTail tail_;
  bool exists_ = false;
  std::map<int64_t, std::vector<LineRef>> steps_;
  uint64_t lines_ = 0, skipped_ = 0;
};

// One run: a directory with metrics.jsonl. Thread-safe (one lock per run).
class Run {
 public:
  Run(std::string id, std::filesystem::path dir);
  const std::string& id() const { return id_; }
  const std::filesystem::path& dir() const { return dir_; }

  nlohmann::json summary();  // for GET /api/runs: rows, keys, last step, skipped lines, completions, mtime
  // The body of GET /api/metrics: the rows from `since` on (at most max_rows), or from 0 with "reset": true
  // when `gen` is not the log's generation (the file was cut back since the client's last read).
  std::string metrics_body(uint64_t since, std::optional<uint64_t> gen, size_t max_rows);
  // The body of GET /api/completions; kind "train" (completions.jsonl) or "eval" (eval_completions.jsonl).
  nlohmann::ordered_json completions_body(const std::string& kind, const CompletionsQuery& q);

 private:
  std::string id_;
  std::filesystem::path dir_;
  std::mutex mu_;
  MetricsLog metrics_;
  CompletionsLog train_, eval_;
};

// The directories searched and the runs found in them. Thread-safe.
class RunRegistry {
 public:
  // r1::UsageError naming a directory that does not exist or is not a directory (none given: the same for
  // "runs"). `rescan_seconds`: the least time between two searches for new runs.
  RunRegistry(std::vector<std::filesystem::path> roots, double rescan_seconds);

  // Searches the directories again unless the last search is more recent than rescan_seconds (or `force`).
  void scan(bool force = false);
  std::vector<std::shared_ptr<Run>> runs();          // by id
  std::shared_ptr<Run> find(const std::string& id);  // searches again once before answering null
  const std::vector<std::filesystem::path>& roots() const { return roots_; }

 private:
  std::vector<std::filesystem::path> roots_;  // canonical
  std::vector<std::string> labels_;           // one per root, unique: the directory's name
  std::chrono::duration<double> rescan_interval_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_scan_{};
  bool scanned_ = false;
  std::map<std::string, std::shared_ptr<Run>> runs_;
};

}  // namespace r1::server
