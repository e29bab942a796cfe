// Connection limits for the HTTP server (http.cpp). cpp-httplib 0.11.4 serves a connection on one thread
// from accept to close and bounds reading only per recv() (a client that sends a byte every few seconds is
// never timed out), and its ThreadPool queues connections beyond its threads without limit: 64 clients
// trickling a header line every 2 s left every other client, /health included, unanswered. Here:
//   1. ConnectionQueue (an httplib::TaskQueue): `pool_threads` warm threads, then up to `max_connections`
//      in all on short-lived overflow threads (each serves one request: it answers `Connection: close`),
//      then an immediate 503 with an OpenAI-style JSON error from one rejecting thread. A new connection
//      never waits for another to finish.
//   2. serve_connection: httplib's keep-alive loop (its Server::process_and_close_socket is a private
//      virtual; Server::process_request is protected, so the server overrides the one and calls the other)
//      over DeadlineStream, whose reads also stop at a deadline for the whole request (request line,
//      headers and body), set afresh for each request; handlers never read, so only reading is bounded.
//      It also keeps the request's head as received (current_raw_header).
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace r1::server {

using Clock = std::chrono::steady_clock;

struct ConnectionLimits {
  int pool_threads = 64;      // --http-threads: warm threads
  int max_connections = 256;  // --limit-concurrency: connections served at once; beyond: 503
  Clock::duration request_read_timeout = std::chrono::seconds(30);  // whole request, headers + body
  Clock::duration io_timeout = std::chrono::seconds(5);             // each recv() / send() (httplib's default)
  Clock::duration keep_alive_timeout = std::chrono::seconds(5);     // --timeout-keep-alive: idle between requests
  int keep_alive_max_requests = 100;                                // requests on one connection before it is closed
  // --max-request-bytes. httplib checks a Content-Length against it but reads a chunked body whole, so the
  // stream also caps the bytes one request may send: head + body + 1/4 of it for chunk framing.
  size_t max_request_bytes = 1 << 20;
};

// How the thread serving a connection got it (thread_local, set by ConnectionQueue's threads).
enum class ConnectionKind { kNone, kPool, kOverflow, kReject };
ConnectionKind current_connection_kind();
// Whether the calling thread's current request missed its read deadline (the error page says so: 408).
bool current_request_timed_out();
// Whether the calling thread's current request sent more bytes than its limit allows (a chunked body past
// --max-request-bytes; the error page says so: 413).
bool current_request_too_large();
// The values of header `name` (case-insensitive) in the calling thread's current request exactly as they
// were received, without the optional whitespace around them: httplib's Request percent-decodes header values
// and hands them out through C strings, so a check over exact bytes (the API key) reads them here. Empty
// outside a request served by serve_connection.
std::vector<std::string> current_raw_header(std::string_view name);

class ConnectionQueue : public httplib::TaskQueue {
 public:
  explicit ConnectionQueue(const ConnectionLimits& limits);
  void enqueue(std::function<void()> fn) override;  // on the accepting thread
  void shutdown() override;                         // serves what was accepted, then joins every thread

 private:
  void pool_loop();
  void reject_loop();

  const int pool_threads_, max_connections_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> pool_jobs_, reject_jobs_;
  int pool_busy_ = 0, overflow_running_ = 0;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;  // the pool and the rejecting thread
};

// A socket as httplib::Stream whose reads fail once `deadline` passes or the server stops listening
// (`listening` becomes invalid), and whose reads and writes each wait at most io_timeout.
class DeadlineStream : public httplib::Stream {
 public:
  DeadlineStream(int sock, Clock::duration io_timeout, const std::atomic<int>& listening, size_t max_request_bytes)
      : sock_(sock), io_timeout_(io_timeout), listening_(listening), max_request_bytes_(max_request_bytes) {}
  // A new request: its deadline, and the record of its head starts afresh.
  void begin_request(Clock::time_point deadline);
  const std::string& head() const { return head_; }  // request line and headers as received, so far
  bool timed_out() const { return timed_out_; }
  bool too_large() const { return too_large_; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return sock_; }

 private:
  bool wait(short events, bool bounded_by_deadline) const;

  int sock_;
  Clock::duration io_timeout_;
  const std::atomic<int>& listening_;
  Clock::time_point deadline_ = Clock::time_point::max();
  mutable bool timed_out_ = false;
  size_t max_request_bytes_;
  size_t request_bytes_ = 0;  // received since begin_request
  bool too_large_ = false;
  std::string head_;
  bool head_done_ = false;  // the blank line that ends the head was read (or the head is too long to keep)
};

// Serves requests on `sock` until the client closes, keep-alive ends or a request misses its deadline;
// `process` is Server::process_request. One request only when `one_request` (overflow connections).
// Does not close `sock`.
using ProcessRequest = std::function<bool(httplib::Stream&, bool close_connection, bool& connection_closed)>;
void serve_connection(int sock, const ConnectionLimits& limits, const std::atomic<int>& listening, bool one_request,
                      const ProcessRequest& process);

// The 503 a connection beyond the limit gets, on the rejecting thread: written at once, then the socket
// lingers there, drained, until the client closes or 200 ms pass (closing with unread request bytes would
// reset the connection, and the client could lose the answer). That thread closes `sock`.
void reject_connection(int sock, int max_connections);

// httplib::Server with these connection rules (r1 serve, r1 dashboard): each connection served by
// serve_connection on a ConnectionQueue, or rejected with a 503 beyond the limit; the listening socket exposed,
// to raise its backlog after binding. set_limits before listening.
class HttpServer : public httplib::Server {
 public:
  void set_limits(const ConnectionLimits& limits);
  const ConnectionLimits& limits() const { return limits_; }
  socket_t listening_socket() const { return svr_sock_; }

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionLimits limits_;
};

}  // namespace r1::server
