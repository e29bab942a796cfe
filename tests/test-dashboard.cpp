// `r1 dashboard` without a browser (r1/dashboard.h): the JSON API over hand-written logs through httplib's client —
// runs found recursively (checkpoints and hidden directories skipped) and new ones noticed, metrics read
// incrementally (only the new rows; a last line without its newline waits), malformed lines skipped and counted,
// a log cut back (rewritten by a resume, or truncated in place and grown again) read again from 0 under a new
// generation, completions by step and reward range, bad parameters answered 400 / 404; the embedded page; the
// CLI's errors for a missing directory and its clean exit on SIGTERM. The page itself is tested in Chromium by
// tests/browser/dashboard-browser-test.py.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "r1/dashboard.h"
#include "r1/error.h"
#include "r1/io.h"
#include "server/jsonl-tail.h"
#include "test-helpers.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using r1::server::Dashboard;
using r1::server::DashboardOptions;

namespace {

void append(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::app);
  out << text;
}

std::string row(int64_t step, double loss, double reward) {
  return json{{"step", step}, {"loss", loss}, {"reward", reward}}.dump() + "\n";
}

class DashboardApi : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dir_ / "a"); }

  void start() {
    DashboardOptions o;
    o.run_dirs = {dir_.path()};
    o.port = 0;
    o.rescan_interval = 0;  // every /api/runs searches again
    dashboard_ = std::make_unique<Dashboard>(o);
    dashboard_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", dashboard_->port());
  }

  json get(const std::string& path, int expected_status = 200) {
    auto res = client_->Get(path.c_str());
    EXPECT_TRUE(res) << path;
    if (!res) return json();
    EXPECT_EQ(res->status, expected_status) << path << ": " << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << path;
    return json::parse(res->body);
  }

  json runs() { return get("/api/runs")["runs"]; }

  std::vector<std::string> run_ids() {
    std::vector<std::string> ids;
    for (const json& r : runs()) ids.push_back(r["id"]);
    return ids;
  }

  r1::test::TempDir dir_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(DashboardApi, FindsRunsRecursivelyAndServesTheEmbeddedPage) {
  append(dir_ / "a" / "metrics.jsonl", row(1, 2.0, 0.1));
  fs::create_directories(dir_ / "b" / "c" / "checkpoint-2");
  append(dir_ / "b" / "c" / "metrics.jsonl", row(1, 3.0, 0.2));
  append(dir_ / "b" / "c" / "checkpoint-2" / "metrics.jsonl", row(1, 3.0, 0.2));  // a checkpoint: not a run
  fs::create_directories(dir_ / ".hidden" / "x");
  append(dir_ / ".hidden" / "x" / "metrics.jsonl", row(1, 3.0, 0.2));
  fs::create_directories(dir_ / "empty");
  start();
  EXPECT_EQ(run_ids(), (std::vector<std::string>{"a", "b/c"}));
  EXPECT_EQ(dashboard_->run_count(), 2u);
  EXPECT_TRUE(get("/api/runs")["instance"].is_string());
  json a = runs()[0];
  EXPECT_EQ(a["rows"], 1);
  EXPECT_EQ(a["keys"], json({"loss", "reward"}));
  EXPECT_EQ(a["last_step"], 1.0);
  EXPECT_EQ(a["dir"], fs::canonical(dir_ / "a").string());

  // A run made while the dashboard runs is found at the next poll.
  fs::create_directories(dir_ / "late");
  append(dir_ / "late" / "metrics.jsonl", row(1, 1.0, 0.0));
  EXPECT_EQ(run_ids(), (std::vector<std::string>{"a", "b/c", "late"}));
  // A run whose log is gone is dropped.
  fs::remove(dir_ / "late" / "metrics.jsonl");
  EXPECT_EQ(run_ids(), (std::vector<std::string>{"a", "b/c"}));

  // The page: HTML, script and style sheet, compiled in (web/).
  auto page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script src=\"dashboard.js\">"), std::string::npos);
  EXPECT_EQ(page->body, r1::test::read_bytes(fs::path(R1_SOURCE_DIR) / "web" / "index.html"));
  auto script = client_->Get("/dashboard.js");
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200);
  EXPECT_EQ(script->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(script->body, r1::test::read_bytes(fs::path(R1_SOURCE_DIR) / "web" / "dashboard.js"));
  auto style = client_->Get("/dashboard.css");
  ASSERT_TRUE(style);
  EXPECT_EQ(style->get_header_value("Content-Type"), "text/css; charset=utf-8");
  for (const char* missing : {"/nothing.js", "/../CMakeLists.txt", "/api/nothing"}) {
    auto res = client_->Get(missing);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << missing;
  }
}

TEST_F(DashboardApi, MetricsAreReadIncrementallyAndBadLinesAreCounted) {
  const fs::path log = dir_ / "a" / "metrics.jsonl";
  append(log, row(1, 2.5, 0.25) + row(2, 2.0, 0.5));
  start();
  json m = get("/api/metrics?run=a");
  EXPECT_EQ(m["gen"], 0);
  EXPECT_EQ(m["reset"], false);
  EXPECT_EQ(m["next"], 2);
  ASSERT_EQ(m["rows"].size(), 2u);
  EXPECT_EQ(m["rows"][0], json({{"step", 1}, {"loss", 2.5}, {"reward", 0.25}}));
  EXPECT_EQ(m["rows"][1]["loss"], 2.0);

  // Only the new rows; a last line still being written waits for its newline.
  const std::string third = row(3, 1.5, 0.75);
  append(log, third.substr(0, 10));
  m = get("/api/metrics?run=a&since=2&gen=0");
  EXPECT_EQ(m["rows"].size(), 0u);
  EXPECT_EQ(m["next"], 2);
  append(log, third.substr(10));
  m = get("/api/metrics?run=a&since=2&gen=0");
  ASSERT_EQ(m["rows"].size(), 1u);
  EXPECT_EQ(m["rows"][0]["step"], 3);
  EXPECT_EQ(m["rows"][0]["loss"], 1.5);
  EXPECT_EQ(m["next"], 3);

  // Not JSON, not an object, cut short: skipped and counted, never an error. Blank lines are nothing.
  // Values: numbers kept (nested objects flattened with '/'), strings and booleans left out; Python's NaN is null.
  append(log, "garbage\n[1, 2]\n{\"step\": 4, \"loss\"\n\n\r\n");
  append(log, R"({"step": 5, "loss": NaN, "name": "x", "skipped_nonfinite": true, "rewards": {"acc": {"mean": 0.5}}})"
              "\n");
  append(log, R"({"loss": 9})"
              "\r\n");  // no step: its index among the rows
  m = get("/api/metrics?run=a&since=3&gen=0");
  EXPECT_EQ(m["skipped"], 3);
  ASSERT_EQ(m["rows"].size(), 2u);
  EXPECT_EQ(m["rows"][0], json({{"step", 5}, {"rewards/acc/mean", 0.5}}));
  EXPECT_EQ(m["rows"][1], json({{"step", 4}, {"loss", 9}}));
  json a = runs()[0];
  EXPECT_EQ(a["skipped"], 3);
  EXPECT_EQ(a["keys"], json({"loss", "reward", "rewards/acc/mean"}));

  // Exact values: what the trainer wrote is what the page gets.
  append(log, R"({"step": 6, "learning_rate": 3.0000000000000004e-05, "loss": 0.1})"
              "\n");
  m = get("/api/metrics?run=a&since=5&gen=0");
  ASSERT_EQ(m["rows"].size(), 1u);
  EXPECT_EQ(m["rows"][0]["learning_rate"].get<double>(), 3.0000000000000004e-05);
}

TEST_F(DashboardApi, ALogCutBackIsReadAgainFromTheStart) {
  const fs::path log = dir_ / "a" / "metrics.jsonl";
  append(log, row(1, 4.0, 0.0) + row(2, 3.0, 0.1) + row(3, 2.0, 0.2));
  start();
  json m = get("/api/metrics?run=a");
  ASSERT_EQ(m["next"], 3);
  EXPECT_EQ(m["gen"], 0);

  // A resume rewrites the log without the steps after its checkpoint (a new file renamed over the old one).
  r1::write_file_atomic(log, row(1, 4.0, 0.0));
  m = get("/api/metrics?run=a&since=3&gen=0");
  EXPECT_EQ(m["reset"], true);
  EXPECT_EQ(m["gen"], 1);
  EXPECT_EQ(m["since"], 0);
  ASSERT_EQ(m["rows"].size(), 1u);
  EXPECT_EQ(m["rows"][0]["loss"], 4.0);
  // ... then the resumed run logs again.
  append(log, row(2, 3.5, 0.3));
  m = get("/api/metrics?run=a&since=1&gen=1");
  EXPECT_EQ(m["reset"], false);
  ASSERT_EQ(m["rows"].size(), 1u);
  EXPECT_EQ(m["rows"][0]["loss"], 3.5);

  // Cut back in place and grown past the old end between two polls: the bytes last read differ.
  {
    std::ofstream out(log, std::ios::binary | std::ios::trunc);
    out << row(1, 7.0, 0.0) << row(2, 6.0, 0.0) << row(3, 5.0, 0.0) << row(4, 4.5, 0.0);
  }
  m = get("/api/metrics?run=a&since=2&gen=1");
  EXPECT_EQ(m["reset"], true);
  EXPECT_EQ(m["gen"], 2);
  ASSERT_EQ(m["rows"].size(), 4u);
  EXPECT_EQ(m["rows"][0]["loss"], 7.0);

  // Shorter in place: the same.
  {
    std::ofstream out(log, std::ios::binary | std::ios::trunc);
    out << row(1, 8.0, 0.0);
  }
  m = get("/api/metrics?run=a&since=4&gen=2");
  EXPECT_EQ(m["reset"], true);
  ASSERT_EQ(m["rows"].size(), 1u);
  EXPECT_EQ(m["rows"][0]["loss"], 8.0);
  // A client that asks past the end (it missed a generation) starts again too.
  m = get("/api/metrics?run=a&since=9");
  EXPECT_EQ(m["reset"], true);
  EXPECT_EQ(m["rows"].size(), 1u);
}

TEST_F(DashboardApi, CompletionsByStepAndRewardRange) {
  append(dir_ / "a" / "metrics.jsonl", row(1, 1.0, 0.0));
  const fs::path log = dir_ / "a" / "completions.jsonl";
  for (int step = 1; step <= 2; ++step)  // as append_scored_completions writes them: step, prompt, completion, ...
    for (int i = 0; i < 4; ++i)
      append(log, nlohmann::ordered_json{{"step", step},
                                         {"prompt", fmt::format("p{}", i / 2)},
                                         {"completion", fmt::format("c{}{}", step, i)},
                                         {"accuracy", i % 2 ? json(1.0) : json(nullptr)},
                                         {"reward", 0.25 * i},
                                         {"advantage", 0.5 - 0.25 * i}}
                          .dump() +
                      "\n");
  append(log, "not json\n");
  start();
  json a = runs()[0];
  EXPECT_EQ(a["completions"], json({{"train", 8}}));

  json c = get("/api/completions?run=a");
  EXPECT_EQ(c["steps"], json({1, 2}));
  EXPECT_EQ(c["step"], 2);  // the last step by default
  EXPECT_EQ(c["total"], 4);
  EXPECT_EQ(c["matched"], 4);
  EXPECT_EQ(c["skipped"], 1);
  EXPECT_EQ(c["key"], "reward");
  EXPECT_EQ(c["keys"], json({"reward", "advantage", "accuracy"}));  // first seen first
  ASSERT_EQ(c["rows"].size(), 4u);
  EXPECT_EQ(c["rows"][3]["completion"], "c23");
  EXPECT_EQ(c["rows"][3]["index"], 3);
  auto raw = client_->Get("/api/completions?run=a");  // each line's fields in its own order
  ASSERT_TRUE(raw);
  EXPECT_NE(raw->body.find(R"({"step":2,"prompt":"p0","completion":"c20","accuracy":null,"reward":0.0,)"),
            std::string::npos)
      << raw->body;

  c = get("/api/completions?run=a&step=1&min=0.3&max=0.75&order=desc");
  EXPECT_EQ(c["step"], 1);
  EXPECT_EQ(c["matched"], 2);
  ASSERT_EQ(c["rows"].size(), 2u);
  EXPECT_EQ(c["rows"][0]["reward"], 0.75);
  EXPECT_EQ(c["rows"][1]["reward"], 0.5);
  c = get("/api/completions?run=a&step=1&key=accuracy&min=1");  // null (not applicable) is out of any range
  EXPECT_EQ(c["matched"], 2);
  c = get("/api/completions?run=a&step=1&order=asc&key=advantage&limit=1&offset=1");
  ASSERT_EQ(c["rows"].size(), 1u);
  EXPECT_EQ(c["rows"][0]["advantage"], 0.0);
  c = get("/api/completions?run=a&step=7");
  EXPECT_EQ(c["total"], 0);
  c = get("/api/completions?run=a&kind=eval");
  EXPECT_EQ(c["exists"], false);
  EXPECT_EQ(c["rows"].size(), 0u);

  // Appended lines join their step.
  append(log, json{{"step", 3}, {"prompt", "p"}, {"completion", "new"}, {"reward", 1.0}}.dump() + "\n");
  c = get("/api/completions?run=a");
  EXPECT_EQ(c["step"], 3);
  EXPECT_EQ(c["rows"][0]["completion"], "new");
}

TEST_F(DashboardApi, BadRequestsAreAnsweredWithJsonErrors) {
  append(dir_ / "a" / "metrics.jsonl", row(1, 1.0, 0.0));
  start();
  EXPECT_NE(get("/api/metrics", 400)["error"].get<std::string>().find("'run' is required"), std::string::npos);
  EXPECT_NE(get("/api/metrics?run=zzz", 404)["error"].get<std::string>().find("no run 'zzz'"), std::string::npos);
  EXPECT_NE(get("/api/metrics?run=a&since=-1", 400)["error"].get<std::string>().find("'since'"), std::string::npos);
  EXPECT_NE(get("/api/metrics?run=a&gen=x", 400)["error"].get<std::string>().find("'gen'"), std::string::npos);
  EXPECT_NE(get("/api/completions?run=a&kind=x", 400)["error"].get<std::string>().find("'kind'"), std::string::npos);
  EXPECT_NE(get("/api/completions?run=a&min=abc", 400)["error"].get<std::string>().find("'min'"), std::string::npos);
  EXPECT_NE(get("/api/completions?run=a&limit=0", 400)["error"].get<std::string>().find("'limit'"), std::string::npos);
  EXPECT_NE(get("/api/completions?run=a&order=up", 400)["error"].get<std::string>().find("'order'"), std::string::npos);
}

// A browser tab keeps its connection open between polls (keep-alive, 5 s): stopping must not wait for it.
TEST_F(DashboardApi, StopDoesNotWaitForOpenConnections) {
  append(dir_ / "a" / "metrics.jsonl", row(1, 1.0, 0.0));
  start();
  client_->set_keep_alive(true);
  ASSERT_EQ(runs().size(), 1u);
  const auto begin = std::chrono::steady_clock::now();
  dashboard_->stop();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  EXPECT_LT(seconds, 4.0) << "stop() waited for the idle keep-alive connection";
  dashboard_->wait();  // returns at once once stopped
}

TEST(DashboardOptionsCheck, MissingDirectoriesAndBadOptionsAreUsageErrors) {
  r1::test::TempDir dir;
  DashboardOptions o;
  o.run_dirs = {dir / "nope"};
  R1_EXPECT_THROW_WITH(Dashboard{o}, r1::UsageError, "nope': no such directory");
  r1::test::write_bytes(dir / "file", "x");
  o.run_dirs = {dir / "file"};
  R1_EXPECT_THROW_WITH(Dashboard{o}, r1::UsageError, "is not a directory");
  o.run_dirs = {dir.path()};
  o.port = 70000;
  R1_EXPECT_THROW_WITH(Dashboard{o}, r1::UsageError, "--port");
  o.port = 0;
  o.reload_interval = 0;
  R1_EXPECT_THROW_WITH(Dashboard{o}, r1::UsageError, "--reload-interval");
}

// The reader alone: lines over the limit are skipped and counted, never held whole; "\r\n" ends a line too.
TEST(JsonlTail, LongLinesAreSkippedAndCounted) {
  r1::test::TempDir dir;
  const fs::path p = dir / "log.jsonl";
  r1::server::JsonlTail tail(p, 16);
  std::vector<std::pair<uint64_t, std::string>> lines;
  auto sink = [&](uint64_t offset, std::string_view line) { lines.emplace_back(offset, std::string(line)); };
  EXPECT_FALSE(tail.poll({}, sink));
  append(p, "short\r\n" + std::string(40, 'x'));
  EXPECT_TRUE(tail.poll({}, sink));
  append(p, "y\nlast\n");
  EXPECT_TRUE(tail.poll({}, sink));
  EXPECT_EQ(lines, (std::vector<std::pair<uint64_t, std::string>>{{0, "short"}, {49, "last"}}));
  EXPECT_EQ(tail.lines_too_long(), 1u);
  EXPECT_EQ(tail.generation(), 0u);
  int resets = 0;
  fs::remove(p);
  EXPECT_FALSE(tail.poll([&] { ++resets; }, sink));
  EXPECT_EQ(resets, 1);
  EXPECT_EQ(tail.generation(), 1u);
}

// ---- The command ----------------------------------------------------------------------------------------------------

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

TEST(DashboardCli, MissingDirectoryIsAClearUsageError) {
  auto r = r1::test::run_r1("dashboard /nonexistent/runs");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("r1: usage error: '/nonexistent/runs': no such directory"), std::string::npos) << r.output;
  r = r1::test::run_r1("dashboard --help");
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* part : {"RUNS_DIR", "--port", "--host", "metrics.jsonl", "6006"})
    EXPECT_NE(r.output.find(part), std::string::npos) << part << " in:\n" << r.output;
}

TEST(DashboardCli, ServesAndStopsCleanlyOnSigterm) {
  r1::test::TempDir dir;
  fs::create_directories(dir / "run");
  append(dir / "run" / "metrics.jsonl", row(1, 1.0, 0.5));
  const int port = free_port();
  ASSERT_GT(port, 0);
  const std::string log = (dir / "dashboard.log").string();
  FILE* pipe = popen((std::string(R1_CLI) + " dashboard " + dir.path().string() + " --port " + std::to_string(port) +
                      " > " + log + " 2>&1 & echo $!")
                         .c_str(),
                     "r");
  ASSERT_NE(pipe, nullptr);
  int pid = 0;
  ASSERT_EQ(fscanf(pipe, "%d", &pid), 1);
  pclose(pipe);
  struct KillOnFailure {
    int pid;
    ~KillOnFailure() {
      if (pid > 0) kill(pid, SIGKILL);
    }
  } guard{pid};
  httplib::Client cli("127.0.0.1", port);
  json listed;
  for (int i = 0; i < 300 && listed.is_null(); ++i) {
    auto res = cli.Get("/api/runs");
    if (res && res->status == 200)
      listed = json::parse(res->body);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(listed.is_null()) << r1::test::read_bytes(log);
  EXPECT_EQ(listed["runs"][0]["id"], "run");
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  bool exited = false;
  for (int i = 0; i < 100 && !exited; ++i) {
    exited = kill(pid, 0) != 0;
    if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(exited) << "still running after SIGTERM";
  if (exited) guard.pid = 0;
  const std::string out = r1::test::read_bytes(log);
  EXPECT_NE(out.find("r1 dashboard: 1 run(s) under " + fs::canonical(dir.path()).string() +
                     " on http://127.0.0.1:" + std::to_string(port) + "/"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("r1 dashboard: stopped"), std::string::npos) << out;
}

}  // namespace
