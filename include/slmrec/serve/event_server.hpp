#pragma once
// An HTTP/1.1 server on one event loop: GNU libmicrohttpd (Debian's
// libmicrohttpd-dev) polling its sockets with epoll from `io_threads`
// threads, instead of a thread per connection. A request reaches the handler
// once its body is in; the handler answers at once (respond) or defers: the
// connection is suspended (no thread waits on it), another thread resumes it
// when the answer is ready, and the answer is written on the loop's thread.
// That is what the service's batching needs: thousands of requests a second
// parked on one batch worker without waking a thread each (cpp-httplib's
// thread per connection cost ~60 us of CPU a request: docs/serving.md).
//
// Bodies over max_body_bytes are read and dropped (the request then says
// body_too_large(), for the handler's 413) unless they announce more than
// refuse_body_bytes, which is refused at once, closing the connection. A
// malformed request line or header never reaches the handler: the library
// answers it (400, 414, 431) itself.
//
// Stopping (stop_and_drain): the listening socket stops accepting, a request
// that starts afterwards on a kept-alive connection is dropped with its
// connection (the client sees it unanswered, as with a closed port), and every
// request already begun is answered before the loop ends.
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <slmrec/core/error.hpp>

namespace slmrec::serve::http {

struct response {
  response() = default;
  response(int s, std::string b, std::string type = "application/json")
      : status(s), body(std::move(b)), content_type(std::move(type)) {}
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // beside Content-Type
};

struct server_options {
  int connection_limit = 1024;                    // open connections at once; beyond, new ones are closed
  int io_threads = 1;                             // event-loop threads (each with its own epoll and connections)
  unsigned idle_timeout_s = 60;                   // a connection idle this long is closed
  std::size_t max_body_bytes = 1 << 20;           // larger bodies are read, dropped and flagged
  std::size_t refuse_body_bytes = 64ull << 20;    // a body announcing more is refused unread
};

class server;

// One request, from its headers to its answer. Owned by the server; valid
// until its answer is written (or its connection fails).
class exchange {
 public:
  using clock = std::chrono::steady_clock;

  [[nodiscard]] const std::string& method() const { return method_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const std::string& body() const { return body_; }
  [[nodiscard]] bool body_too_large() const { return too_large_; }
  [[nodiscard]] clock::time_point started() const { return started_; }

  // Answers now (on the loop's thread, inside the handler).
  void respond(response r) {
    answer_ = std::move(r);
    state_ = state::answered;
  }
  // Parks the request (inside the handler): `then` makes the answer, on the
  // loop's thread, after resume() is called, once, from any thread (even
  // before the handler returns). A handler that throws after deferring must
  // not have handed the exchange on: the server resumes it with the error.
  void defer(std::function<response()> then) {
    then_ = std::move(then);
    state_ = state::deferred;
    ++*parked_;  // counted before the suspension, so that no stop can miss it
    MHD_suspend_connection(connection_);
  }
  void resume() noexcept { MHD_resume_connection(connection_); }

 private:
  friend class server;
  enum class state { reading, handling, deferred, answered };
  MHD_Connection* connection_ = nullptr;
  std::atomic<long long>* parked_ = nullptr;  // the server's count of deferred exchanges
  std::string method_, path_, body_;
  bool too_large_ = false;
  clock::time_point started_ = clock::now();
  state state_ = state::reading;
  std::function<response()> then_;
  response answer_;
};

class server {
 public:
  using handler = std::function<void(exchange&)>;
  // Called when a handler (or a deferred answer) throws: the answer to send instead.
  using on_error = std::function<response(const exchange&, std::exception_ptr)>;
  // Called with each answer as it is queued (metrics).
  using on_answer = std::function<void(const exchange&, int status)>;

  server(server_options o, handler h, on_error e, on_answer a)
      : options_(o), handler_(std::move(h)), on_error_(std::move(e)), on_answer_(std::move(a)) {
    require(options_.io_threads >= 1, "io_threads = {}, expected at least 1", options_.io_threads);
    require(options_.connection_limit >= 1, "connection_limit = {}, expected at least 1", options_.connection_limit);
  }
  ~server() {
    stop_and_drain(std::chrono::seconds(0));
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Opens the listening socket (port 0: a free one); returns the port.
  // Connections wait in the kernel's queue (backlog) until start().
  int listen(const std::string& host, int port, int backlog) {
    require(listen_fd_ < 0, "listen: already listening on port {}", port_);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const auto service = std::to_string(port);
    const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
    require(rc == 0 && found, "cannot listen on {}:{}: {}", host, port, rc ? ::gai_strerror(rc) : "no address");
    std::string why;
    for (auto* a = found; a && listen_fd_ < 0; a = a->ai_next) {
      const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      const int yes = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, backlog) == 0) {
        listen_fd_ = fd;
      } else {
        why = std::strerror(errno);
        ::close(fd);
      }
    }
    ::freeaddrinfo(found);
    require(listen_fd_ >= 0, "cannot listen on {}:{} ({})", host, port, why.empty() ? "no usable address" : why);
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                                : reinterpret_cast<sockaddr_in&>(bound).sin_port);
    return port_;
  }

  // Starts the event loop on the listening socket.
  void start() {
    require(listen_fd_ >= 0, "start: listen() first");
    std::vector<MHD_OptionItem> opts = {
        {MHD_OPTION_LISTEN_SOCKET, listen_fd_, nullptr},
        {MHD_OPTION_CONNECTION_LIMIT, options_.connection_limit, nullptr},
        {MHD_OPTION_CONNECTION_TIMEOUT, options_.idle_timeout_s, nullptr},
        {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&server::completed), this},
    };
    if (options_.io_threads > 1) opts.push_back({MHD_OPTION_THREAD_POOL_SIZE, options_.io_threads, nullptr});
    opts.push_back({MHD_OPTION_END, 0, nullptr});
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                                   MHD_USE_TURBO,
                               0, nullptr, nullptr, &server::access, this, MHD_OPTION_ARRAY, opts.data(),
                               MHD_OPTION_END);
    require(daemon_ != nullptr, "cannot start the HTTP event loop on port {} (libmicrohttpd refused its options)",
            port_);
  }

  // Stops accepting, drops requests that start from now on, waits until every
  // begun request is answered (one still sending its body: up to `patience`),
  // then ends the loop and closes the listening socket. Idempotent.
  void stop_and_drain(std::chrono::milliseconds patience) {
    if (!daemon_) return;
    stopping_ = true;
    MHD_quiesce_daemon(daemon_);
    {
      // A parked request must be resumed before the loop ends (libmicrohttpd's
      // rule), and one always is: its answer comes from a thread that finishes.
      std::unique_lock lock(mutex_);
      const auto deadline = std::chrono::steady_clock::now() + patience;
      drained_.wait_until(lock, deadline, [&] { return begun_ == 0; });
      drained_.wait(lock, [&] { return parked_ == 0; });
    }
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
    ::close(listen_fd_);
    listen_fd_ = -1;
  }

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] bool stopping() const { return stopping_; }

 private:
  static MHD_Result access(void* self, MHD_Connection* c, const char* url, const char* method, const char*,
                           const char* upload, std::size_t* upload_size, void** slot) {
    return static_cast<server*>(self)->on_access(c, url, method, upload, upload_size, slot);
  }
  static void completed(void* self, MHD_Connection*, void** slot, MHD_RequestTerminationCode) {
    static_cast<server*>(self)->on_completed(slot);
  }

  MHD_Result on_access(MHD_Connection* c, const char* url, const char* method, const char* upload,
                       std::size_t* upload_size, void** slot) {
    auto* ex = static_cast<exchange*>(*slot);
    if (!ex) {  // the headers are in
      if (stopping_) return MHD_NO;  // begun after the stop: dropped with its connection
      try {
        ex = new exchange;
      } catch (...) {
        return MHD_NO;
      }
      ex->connection_ = c;
      ex->parked_ = &parked_;
      ex->method_ = method;
      ex->path_ = url;
      *slot = ex;
      ++begun_;
      const char* declared = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      if (declared) {
        const unsigned long long n = std::strtoull(declared, nullptr, 10);
        if (n > options_.refuse_body_bytes) {  // not worth reading: answered now, the connection closes after
          ex->too_large_ = true;
          return run_handler(*ex);
        }
        if (n > options_.max_body_bytes) ex->too_large_ = true;
      }
      return MHD_YES;
    }
    if (*upload_size != 0) {  // a part of the body
      if (!ex->too_large_) {
        if (ex->body_.size() + *upload_size > options_.max_body_bytes) {
          ex->too_large_ = true;
          ex->body_.clear();
          ex->body_.shrink_to_fit();
        } else {
          ex->body_.append(upload, *upload_size);
        }
      }
      *upload_size = 0;
      return MHD_YES;
    }
    switch (ex->state_) {
      case exchange::state::reading:
        return run_handler(*ex);
      case exchange::state::deferred:  // resumed: its answer is ready to be made
        return finish_deferred(*ex);
      default:
        return MHD_NO;  // cannot happen: answered exchanges are not called again
    }
  }

  MHD_Result run_handler(exchange& ex) {
    ex.state_ = exchange::state::handling;
    try {
      handler_(ex);
    } catch (...) {
      auto e = std::current_exception();
      if (ex.state_ == exchange::state::deferred) {  // parked already: the answer is the error, after a resume
        ex.then_ = [e]() -> response { std::rethrow_exception(e); };
        ex.resume();
        return MHD_YES;
      }
      ex.respond(on_error_(ex, e));
    }
    if (ex.state_ == exchange::state::deferred) return MHD_YES;
    if (ex.state_ != exchange::state::answered)
      ex.respond(on_error_(ex, std::make_exception_ptr(error("the handler neither answered nor deferred"))));
    return queue(ex);
  }

  MHD_Result finish_deferred(exchange& ex) {
    --parked_;
    notify_drain();
    try {
      ex.respond(ex.then_());
    } catch (...) {
      ex.respond(on_error_(ex, std::current_exception()));
    }
    ex.then_ = nullptr;
    return queue(ex);
  }

  MHD_Result queue(exchange& ex) {
    auto& a = ex.answer_;
    MHD_Response* r = MHD_create_response_from_buffer(a.body.size(), a.body.data(), MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a.content_type.c_str());
    for (const auto& [name, value] : a.headers) MHD_add_response_header(r, name.c_str(), value.c_str());
    if (stopping_) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    const MHD_Result ok = MHD_queue_response(ex.connection_, unsigned(a.status), r);
    MHD_destroy_response(r);
    if (on_answer_) on_answer_(ex, a.status);
    return ok;
  }

  void on_completed(void** slot) {
    auto* ex = static_cast<exchange*>(*slot);
    if (!ex) return;
    *slot = nullptr;
    delete ex;
    --begun_;
    notify_drain();
  }

  // The counters are atomics so that a request takes no lock; a stop waits on
  // them under mutex_, and a change after stopping_ is set passes through it,
  // so the waiter cannot check, miss the change and sleep.
  void notify_drain() {
    if (!stopping_) return;
    { std::lock_guard lock(mutex_); }
    drained_.notify_all();
  }

  server_options options_;
  handler handler_;
  on_error on_error_;
  on_answer on_answer_;
  int listen_fd_ = -1, port_ = 0;
  MHD_Daemon* daemon_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable drained_;
  std::atomic<long long> begun_{0}, parked_{0};  // requests begun and not completed; deferred ones among them
};

}  // namespace slmrec::serve::http
