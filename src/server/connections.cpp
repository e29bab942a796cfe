// Connection limits (see connections.h): the connection queue (pool, overflow, 503), the deadline stream
// and the keep-alive loop (as httplib 0.11.4's process_server_socket_core, over DeadlineStream).
#include "server/connections.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "server/protocol.h"

namespace r1::server {

namespace {
thread_local ConnectionKind t_kind = ConnectionKind::kNone;
thread_local bool t_read_timed_out = false;             // the calling thread's request missed its read deadline
thread_local bool t_too_large = false;                  // the calling thread's request sent more than its limit
thread_local const DeadlineStream* t_stream = nullptr;  // the calling thread's connection, in serve_connection
// A head longer than this is not kept whole (httplib refuses far shorter header lines).
constexpr size_t kMaxHeadBytes = 64 * 1024;
// Waits are cut in slices this long to notice that the server stopped listening.
constexpr auto kStopCheck = std::chrono::milliseconds(100);

// Rejected sockets (on the rejecting thread), each drained until its client closes or its time is up.
struct Lingering {
  int fd;
  Clock::time_point until;
};
constexpr auto kLinger = std::chrono::milliseconds(200);
thread_local std::vector<Lingering> t_lingering;

// Reads what rejected clients still send; closes those that closed, or are past their time (all if `all`).
void drain_lingering(bool all) {
  char buffer[4096];
  Clock::time_point now = Clock::now();
  std::vector<Lingering> kept;
  for (const Lingering& l : t_lingering) {
    ssize_t n;
    do n = ::recv(l.fd, buffer, sizeof buffer, MSG_DONTWAIT);
    while (n > 0);
    bool client_closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    if (all || client_closed || now >= l.until)
      ::close(l.fd);
    else
      kept.push_back(l);
  }
  t_lingering.swap(kept);
}
}  // namespace

ConnectionKind current_connection_kind() { return t_kind; }
bool current_request_timed_out() { return t_read_timed_out; }
bool current_request_too_large() { return t_too_large; }

std::vector<std::string> current_raw_header(std::string_view name) {
  std::vector<std::string> values;
  if (!t_stream) return values;
  const std::string& head = t_stream->head();
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  const std::string wanted = lower(name);
  size_t pos = head.find('\n');  // past the request line
  while (pos != std::string::npos && pos + 1 < head.size()) {
    size_t start = pos + 1, end = head.find('\n', start);
    std::string_view line(head.data() + start, (end == std::string::npos ? head.size() : end) - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the end of the head
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && lower(line.substr(0, colon)) == wanted) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      values.emplace_back(value);
    }
    pos = end;
  }
  return values;
}

// ---- the queue ---------------------------------------------------------------------------------------------

ConnectionQueue::ConnectionQueue(const ConnectionLimits& limits)
    : pool_threads_(limits.pool_threads), max_connections_(limits.max_connections) {
  for (int i = 0; i < pool_threads_; ++i) threads_.emplace_back([this] { pool_loop(); });
  threads_.emplace_back([this] { reject_loop(); });
}

// On the accepting thread. A pool thread if one is free, else an overflow thread while the total stays
// within max_connections, else the rejecting thread: no connection waits for another to finish.
void ConnectionQueue::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mu_);
  int pool_free = pool_threads_ - pool_busy_ - int(pool_jobs_.size());
  if (pool_free > 0) {
    pool_jobs_.push_back(std::move(fn));
  } else if (pool_threads_ + overflow_running_ < max_connections_) {
    ++overflow_running_;
    lock.unlock();
    std::thread([this, fn = std::move(fn)] {
      t_kind = ConnectionKind::kOverflow;
      fn();
      std::lock_guard<std::mutex> done(mu_);
      --overflow_running_;
      cv_.notify_all();  // under the lock: shutdown() cannot return (and free this) before it is released
    }).detach();
    return;
  } else {
    reject_jobs_.push_back(std::move(fn));
  }
  cv_.notify_all();
}

void ConnectionQueue::pool_loop() {
  t_kind = ConnectionKind::kPool;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return !pool_jobs_.empty() || shutdown_; });
    if (pool_jobs_.empty()) return;
    auto fn = std::move(pool_jobs_.front());
    pool_jobs_.pop_front();
    ++pool_busy_;
    lock.unlock();
    fn();
    lock.lock();
    --pool_busy_;
  }
}

// Rejected connections linger (their request drained) until the client closes or 200 ms pass, all at once
// on this thread, so a burst of them is answered at once rather than one after another.
void ConnectionQueue::reject_loop() {
  t_kind = ConnectionKind::kReject;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto ready = [this] { return !reject_jobs_.empty() || shutdown_; };
    if (t_lingering.empty())
      cv_.wait(lock, ready);
    else
      cv_.wait_for(lock, std::chrono::milliseconds(10), ready);
    if (shutdown_ && reject_jobs_.empty()) break;
    std::deque<std::function<void()>> jobs;
    jobs.swap(reject_jobs_);
    lock.unlock();
    for (auto& fn : jobs) fn();  // reject_connection: the 503, then the socket lingers
    drain_lingering(false);
    lock.lock();
  }
  drain_lingering(true);
}

void ConnectionQueue::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return overflow_running_ == 0; });
}

// ---- the stream -------------------------------------------------------------------------------------------

// Polls for `events` for at most io_timeout (and, for reads, until the deadline), in slices that notice
// the server stopping. False on timeout, stop or error.
bool DeadlineStream::wait(short events, bool bounded_by_deadline) const {
  Clock::time_point until = Clock::now() + io_timeout_;
  bool deadline_binds = bounded_by_deadline && deadline_ <= until;
  if (deadline_binds) until = deadline_;
  for (;;) {
    if (listening_.load() == INVALID_SOCKET) return false;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) {
      if (deadline_binds) timed_out_ = t_read_timed_out = true;
      return false;
    }
    pollfd p{sock_, events, 0};
    int n = ::poll(&p, 1, int(std::min<int64_t>(left.count(), kStopCheck.count())));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

bool DeadlineStream::is_readable() const { return wait(POLLIN, true); }
// As httplib's SocketStream: writable and not closed by the client, which a streaming handler asks between
// events so that a client that left cancels its generation at once (a send() to it could still succeed).
bool DeadlineStream::is_writable() const {
  if (!wait(POLLOUT, false)) return false;
  pollfd p{sock_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return true;
  char byte;
  ssize_t n = ::recv(sock_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

void DeadlineStream::begin_request(Clock::time_point deadline) {
  deadline_ = deadline;
  timed_out_ = t_read_timed_out = false;
  too_large_ = t_too_large = false;
  request_bytes_ = 0;
  head_.clear();
  head_done_ = false;
}

ssize_t DeadlineStream::read(char* ptr, size_t size) {
  // A chunked body is read by httplib without a length check: past head + body + framing, the request ends.
  if (request_bytes_ > kMaxHeadBytes + max_request_bytes_ + max_request_bytes_ / 4) {
    too_large_ = t_too_large = true;
    return -1;
  }
  if (!wait(POLLIN, true)) return -1;
  ssize_t n;
  do n = ::recv(sock_, ptr, size, 0);
  while (n < 0 && errno == EINTR);
  if (n > 0) request_bytes_ += size_t(n);
  if (n > 0 && !head_done_) {
    size_t from = head_.size() < 3 ? 0 : head_.size() - 3;
    head_.append(ptr, size_t(n));
    size_t end = head_.find("\n\r\n", from), bare = head_.find("\n\n", from);
    if (end != std::string::npos || bare != std::string::npos) {
      head_.resize(std::min(end == std::string::npos ? head_.size() : end + 3,
                            bare == std::string::npos ? head_.size() : bare + 2));  // the body is not kept
      head_done_ = true;
    } else if (head_.size() > kMaxHeadBytes) {
      head_done_ = true;
    }
  }
  return n;
}

ssize_t DeadlineStream::write(const char* ptr, size_t size) {
  if (!wait(POLLOUT, false)) return -1;
  ssize_t n;
  do n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

namespace {
void address_and_port(const sockaddr_storage& addr, std::string& ip, int& port) {
  char host[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  ip = host;
}
}  // namespace

void DeadlineStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address_and_port(addr, ip, port);
}

void DeadlineStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address_and_port(addr, ip, port);
}

// ---- the keep-alive loop -----------------------------------------------------------------------------------

namespace {
// Waits up to the keep-alive timeout for the first byte of the next request (false: none came, or the
// server is stopping).
bool next_request_arrives(int sock, Clock::duration keep_alive_timeout, const std::atomic<int>& listening) {
  Clock::time_point until = Clock::now() + keep_alive_timeout;
  while (listening.load() != INVALID_SOCKET) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{sock, POLLIN, 0};
    int n = ::poll(&p, 1, int(std::min<int64_t>(left.count(), kStopCheck.count())));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
  return false;
}
}  // namespace

void serve_connection(int sock, const ConnectionLimits& limits, const std::atomic<int>& listening, bool one_request,
                      const ProcessRequest& process) {
  DeadlineStream stream(sock, limits.io_timeout, listening, limits.max_request_bytes);
  t_stream = &stream;
  int left = one_request ? 1 : limits.keep_alive_max_requests;
  while (left > 0 && next_request_arrives(sock, limits.keep_alive_timeout, listening)) {
    // The deadline starts with the request's first byte: a client may read one answer slowly, then idle.
    stream.begin_request(Clock::now() + limits.request_read_timeout);
    bool connection_closed = false;
    if (!process(stream, left == 1, connection_closed) || connection_closed || stream.timed_out() || stream.too_large())
      break;
    --left;
  }
  t_stream = nullptr;
}

// ---- the 503 -----------------------------------------------------------------------------------------------

void reject_connection(int sock, int max_connections) {
  std::string body = dump(error_body(ApiError(503,
                                              fmt::format("The server is serving its limit of {} connections "
                                                          "(--limit-concurrency); retry later.",
                                                          max_connections),
                                              "server_error", "", "too_many_connections")));
  std::string response = fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Retry-After: 1\r\nConnection: close\r\n\r\n{}",
      body.size(), body);
  // A new socket's send buffer is empty, so this does not block; a client that is gone just errs.
  [[maybe_unused]] ssize_t n = ::send(sock, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(sock, SHUT_WR);
  t_lingering.push_back({sock, Clock::now() + kLinger});
}

void HttpServer::set_limits(const ConnectionLimits& limits) {
  limits_ = limits;
  new_task_queue = [this] { return new ConnectionQueue(limits_); };
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  ConnectionKind kind = current_connection_kind();
  if (kind == ConnectionKind::kReject) {
    reject_connection(sock, limits_.max_connections);
    return false;
  }
  serve_connection(sock, limits_, svr_sock_, kind == ConnectionKind::kOverflow,
                   [this](httplib::Stream& stream, bool close_connection, bool& connection_closed) {
                     return process_request(stream, close_connection, connection_closed, nullptr);
                   });
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return true;
}

}  // namespace r1::server
