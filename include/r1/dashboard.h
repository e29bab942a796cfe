// `r1 dashboard`: a local web page with live curves of every numeric metric of every run under some directories
// (a run: a directory with metrics.jsonl, found recursively), runs overlaid one colour each, TensorBoard's EMA
// smoothing, and a browser of the completions GRPO and PPO log (completions.jsonl, eval_completions.jsonl) by step
// and reward range. The page (web/, embedded in the binary at build time) polls a JSON API that reads the logs
// incrementally while the runs train, notices new runs and logs cut back by a resume:
//   GET /api/runs                                    the runs: id, rows, metric keys, last step, completions
//   GET /api/metrics?run=ID&since=N&gen=G            metrics rows from index N (gen: see dashboard-runs.h)
//   GET /api/completions?run=ID&kind=train|eval&step=S&key=reward&min=A&max=B&order=file|asc|desc&offset=&limit=
// Safe defaults: binds 127.0.0.1, serves only its own assets and the runs' logs, reads nothing else.
//
// Usage:
//   r1::server::DashboardOptions options{.run_dirs = {"runs"}, .port = 0};  // 0: any free port
//   r1::server::Dashboard dashboard(options);  // r1::UsageError for a directory that does not exist
//   dashboard.start();                         // serves on background threads
//   int port = dashboard.port();               // http://127.0.0.1:<port>/
//   dashboard.stop();                          // or r1::server::run_dashboard(options): until SIGINT / SIGTERM
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace r1::server {

struct DashboardOptions {
  std::vector<std::filesystem::path> run_dirs;  // searched recursively for runs; empty: "runs"
  std::string host = "127.0.0.1";
  int port = 6006;               // TensorBoard's; 0: any free port (Dashboard::port() tells which)
  double reload_interval = 1.0;  // seconds between the page's polls for new rows
  double rescan_interval = 2.0;  // at most one search for new runs this often (seconds)
  bool log_requests = false;     // one line per request on stderr
};

class Dashboard {
 public:
  explicit Dashboard(DashboardOptions options);  // r1::UsageError: a missing directory, a bad option
  ~Dashboard();                                  // stop()
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  void start();      // binds (r1::Error if it cannot) and serves on background threads
  int port() const;  // the bound port (after start)
  const std::vector<std::filesystem::path>& run_dirs() const;  // the directories searched, absolute
  size_t run_count();                                          // runs found under the directories now
  void stop();                                                 // stops serving and joins every thread; idempotent
  void wait();                                                 // blocks until stopped

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Starts a Dashboard, prints its address, serves until SIGINT or SIGTERM, then stops it cleanly.
int run_dashboard(const DashboardOptions& options);

}  // namespace r1::server
