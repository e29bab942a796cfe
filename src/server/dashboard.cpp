// r1::server::Dashboard (include/r1/dashboard.h): cpp-httplib serving the embedded page (dashboard-assets.h) and
// the JSON API over the runs (dashboard-runs.h), with `r1 serve`'s connection handling (connections.h) and clean
// shutdown on SIGINT / SIGTERM (stop-signals.h). A bad query parameter is a JSON 400 naming it, an unknown run a
// 404; every API answer is `Cache-Control: no-store`, so a polling page always sees the file as it is now.
#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "r1/dashboard.h"
#include "r1/error.h"
#include "server/connections.h"
#include "server/dashboard-assets.h"
#include "server/dashboard-runs.h"
#include "server/stop-signals.h"

namespace r1::server {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
constexpr size_t kMaxRowsPerAnswer = 20000;  // a page catching up on a long run asks again for the rest
constexpr size_t kMaxCompletionsPerAnswer = 500;

// A query parameter the API cannot use: answered 400 with the message.
struct BadParameter {
  std::string message;
};

std::optional<std::string> param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.get_param_value(name);
}

uint64_t parse_count(const std::string& text, const char* name) {
  uint64_t value = 0;
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    throw BadParameter{fmt::format("'{}' must be a non-negative integer, got '{}'", name, text)};
  for (char c : text) value = value * 10 + uint64_t(c - '0');
  return value;
}

int64_t parse_integer(const std::string& text, const char* name) {
  if (!text.empty() && text[0] == '-') return -int64_t(parse_count(text.substr(1), name));
  return int64_t(parse_count(text, name));
}

double parse_number(const std::string& text, const char* name) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || !std::isfinite(value))
    throw BadParameter{fmt::format("'{}' must be a finite number, got '{}'", name, text)};
  return value;
}

void send_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body, "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace));
}

const EmbeddedAsset* find_asset(std::string_view name) {
  for (const EmbeddedAsset& a : dashboard_assets())
    if (a.name == name) return &a;
  return nullptr;
}

// Runs `handler`, turning BadParameter into a 400.
template <typename Handler>
httplib::Server::Handler api(Handler handler) {
  return [handler](const httplib::Request& req, httplib::Response& res) {
    try {
      handler(req, res);
    } catch (const BadParameter& e) {
      send_error(res, 400, e.message);
    }
  };
}
}  // namespace

struct Dashboard::Impl {
  DashboardOptions options;
  std::unique_ptr<RunRegistry> registry;
  HttpServer http;  // r1 serve's connection handling (connections.h): bounded reads, a quick stop
  std::thread listener;
  std::atomic<bool> listener_done{false};
  int port = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool started = false, stopped = false, finished = false;
  // This process's start: a page that sees it change (the dashboard restarted) reads every run again, since
  // generations and row indices start over.
  std::string instance = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());

  std::shared_ptr<Run> run_of(const httplib::Request& req) {
    std::optional<std::string> id = param(req, "run");
    if (!id) throw BadParameter{"'run' is required (GET /api/runs lists the runs)"};
    std::shared_ptr<Run> run = registry->find(*id);
    if (!run) throw BadParameter{fmt::format("no run '{}' under {}", *id, roots_text())};
    return run;
  }

  std::string roots_text() const {
    std::string text;
    for (const fs::path& root : registry->roots()) text += (text.empty() ? "" : ", ") + root.string();
    return text;
  }

  void add_routes();
};

void Dashboard::Impl::add_routes() {
  http.Get("/api/runs", api([this](const httplib::Request&, httplib::Response& res) {
             json runs = json::array();
             for (const std::shared_ptr<Run>& run : registry->runs()) runs.push_back(run->summary());
             json roots = json::array();
             for (const fs::path& root : registry->roots()) roots.push_back(root.string());
             json body = {{"runs", std::move(runs)},
                          {"roots", std::move(roots)},
                          {"reload_interval", options.reload_interval},
                          {"instance", instance}};
             send_json(res, 200, body.dump(-1, ' ', false, json::error_handler_t::replace));
           }));
  http.Get("/api/metrics", api([this](const httplib::Request& req, httplib::Response& res) {
             std::shared_ptr<Run> run;
             try {
               run = run_of(req);
             } catch (const BadParameter& e) {
               send_error(res, req.has_param("run") ? 404 : 400, e.message);
               return;
             }
             const uint64_t since = req.has_param("since") ? parse_count(req.get_param_value("since"), "since") : 0;
             std::optional<uint64_t> gen;
             if (req.has_param("gen")) gen = parse_count(req.get_param_value("gen"), "gen");
             send_json(res, 200, run->metrics_body(since, gen, kMaxRowsPerAnswer));
           }));
  http.Get("/api/completions", api([this](const httplib::Request& req, httplib::Response& res) {
             std::shared_ptr<Run> run;
             try {
               run = run_of(req);
             } catch (const BadParameter& e) {
               send_error(res, req.has_param("run") ? 404 : 400, e.message);
               return;
             }
             const std::string kind = param(req, "kind").value_or("train");
             if (kind != "train" && kind != "eval")
               throw BadParameter{fmt::format("'kind' must be train or eval, got '{}'", kind)};
             CompletionsQuery q;
             if (auto v = param(req, "step"); v && !v->empty() && *v != "last") q.step = parse_integer(*v, "step");
             q.key = param(req, "key").value_or("");
             if (auto v = param(req, "min"); v && !v->empty()) q.min = parse_number(*v, "min");
             if (auto v = param(req, "max"); v && !v->empty()) q.max = parse_number(*v, "max");
             q.order = param(req, "order").value_or("file");
             if (q.order != "file" && q.order != "asc" && q.order != "desc")
               throw BadParameter{fmt::format("'order' must be file, asc or desc, got '{}'", q.order)};
             if (auto v = param(req, "offset")) q.offset = size_t(parse_count(*v, "offset"));
             if (auto v = param(req, "limit")) q.limit = size_t(parse_count(*v, "limit"));
             if (q.limit < 1 || q.limit > kMaxCompletionsPerAnswer)
               throw BadParameter{fmt::format("'limit' must be in 1..{}, got {}", kMaxCompletionsPerAnswer, q.limit)};
             send_json(
                 res, 200,
                 run->completions_body(kind, q).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
           }));
  auto serve_asset = [](const std::string& name, httplib::Response& res) {
    const EmbeddedAsset* asset = find_asset(name);
    if (!asset) {
      res.status = 404;
      res.set_content("Not found: /" + name + "\n", "text/plain; charset=utf-8");
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(std::string(asset->bytes), std::string(asset->mime).c_str());
  };
  http.Get("/", [serve_asset](const httplib::Request&, httplib::Response& res) { serve_asset("index.html", res); });
  http.Get(R"(/([A-Za-z0-9][A-Za-z0-9._-]*))", [serve_asset](const httplib::Request& req, httplib::Response& res) {
    serve_asset(req.matches[1].str(), res);
  });
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (req.path.rfind("/api/", 0) == 0)
      send_error(res, res.status, fmt::format("{} {}: HTTP error {}", req.method, req.path, res.status));
    else
      res.set_content(fmt::format("HTTP error {}\n", res.status), "text/plain; charset=utf-8");
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, 500, "internal error: " + what);
  });
  if (options.log_requests)
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      fmt::print(stderr, "r1 dashboard: {} {} {} {}\n", req.remote_addr, req.method, req.path, res.status);
    });
}

Dashboard::Dashboard(DashboardOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.options = std::move(options);
  const DashboardOptions& o = d.options;
  if (o.port < 0 || o.port > 65535) fail_usage("--port must be in 0..65535, got {}", o.port);
  if (!(o.reload_interval >= 0.05 && o.reload_interval <= 3600))
    fail_usage("--reload-interval must be in 0.05..3600 seconds, got {}", o.reload_interval);
  if (!(o.rescan_interval >= 0 && o.rescan_interval <= 3600))
    fail_usage("the rescan interval must be in 0..3600 seconds, got {}", o.rescan_interval);
  d.registry = std::make_unique<RunRegistry>(o.run_dirs, o.rescan_interval);
  // A few browser tabs and scripts: a handful of warm threads; requests are small and the API takes no bodies.
  // Keep-alive connections end within 100 ms of stop() (serve_connection), so Ctrl-C never waits on a tab.
  ConnectionLimits limits;
  limits.pool_threads = 8;
  limits.max_connections = 64;
  limits.request_read_timeout = std::chrono::seconds(10);
  limits.keep_alive_timeout = std::chrono::seconds(5);
  limits.keep_alive_max_requests = 1000;
  limits.max_request_bytes = 64 * 1024;
  d.http.set_limits(limits);
  d.http.set_keep_alive_timeout(5);
  d.http.set_keep_alive_max_count(1000);
  d.http.set_payload_max_length(limits.max_request_bytes);
  d.add_routes();
}

Dashboard::~Dashboard() { stop(); }

void Dashboard::start() {
  Impl& d = *impl_;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    if (d.started) fail("the dashboard is already started");
    d.started = true;
  }
  const DashboardOptions& o = d.options;
  if (o.port == 0) {
    d.port = d.http.bind_to_any_port(o.host);
    if (d.port <= 0) fail("cannot listen on {} (any port)", o.host);
  } else {
    if (!d.http.bind_to_port(o.host, o.port))
      fail(
          "cannot listen on {}:{} (address in use — another dashboard? try --port — or not an address of this "
          "machine)",
          o.host, o.port);
    d.port = o.port;
  }
  if (::listen(d.http.listening_socket(), SOMAXCONN) != 0) fail("cannot listen on {}:{}", o.host, d.port);
  d.registry->scan(true);
  d.listener = std::thread([&d] {
    d.http.listen_after_bind();
    d.listener_done = true;
  });
}

int Dashboard::port() const { return impl_->port; }

const std::vector<fs::path>& Dashboard::run_dirs() const { return impl_->registry->roots(); }

size_t Dashboard::run_count() { return impl_->registry->runs().size(); }

void Dashboard::stop() {
  Impl& d = *impl_;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    if (d.stopped) return;
    d.stopped = true;
  }
  if (d.listener.joinable()) {
    // httplib's stop() does nothing until the listening thread has begun listening: wait for it
    while (!d.http.is_running() && !d.listener_done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    d.http.stop();
    d.listener.join();
  }
  {
    std::lock_guard<std::mutex> lock(d.mu);
    d.finished = true;
  }
  d.cv.notify_all();
}

void Dashboard::wait() {
  Impl& d = *impl_;
  std::unique_lock<std::mutex> lock(d.mu);
  d.cv.wait(lock, [&] { return d.finished; });
}

int run_dashboard(const DashboardOptions& options) {
  Dashboard dashboard(options);
  {
    StopOnSignals signals([&dashboard] { dashboard.stop(); });
    dashboard.start();
    std::string dirs;
    for (const fs::path& root : dashboard.run_dirs()) dirs += (dirs.empty() ? "" : ", ") + root.string();
    fmt::print(stderr, "r1 dashboard: {} run(s) under {} on http://{}:{}/ (Ctrl-C to stop)\n", dashboard.run_count(),
               dirs, options.host, dashboard.port());
    dashboard.wait();
  }
  fmt::print(stderr, "r1 dashboard: stopped\n");
  return 0;
}

}  // namespace r1::server
