#pragma once
// The load generator's clients: closed-loop HTTP/1.1 keep-alive connections
// driven by epoll, many per thread, as wrk does. A thread per connection (the
// first version, on httplib's client) spent ~50 us of CPU per request on the
// same two cores as the service, mostly waking 64 threads; the measurement was
// of the client as much as of the service. Each connection sends one request
// (prepared bytes, nothing formatted in the loop), reads the whole answer
// (status line, Content-Length, body), records the latency and sends the next.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace slmrec::bench {

// One POST with its body, as bytes on the wire.
inline std::string http_post(const std::string& host, int port, std::string_view path, std::string_view body) {
  return fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}", path,
      host, port, body.size(), body);
}

// A whole HTTP/1.1 answer at the front of `in`: its status and length in bytes
// (0 while incomplete; -1 when the head cannot be an answer of ours).
struct http_answer {
  int status = 0;
  long long bytes = 0;
};
inline http_answer parse_http_answer(std::string_view in) {
  const auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return {};
  if (in.size() < 12 || in.substr(0, 9) != "HTTP/1.1 ") return {0, -1};
  int status = 0;
  std::from_chars(in.data() + 9, in.data() + 12, status);
  long long length = -1;
  for (std::size_t line = in.find("\r\n") + 2; line < head_end;) {
    const auto end = in.find("\r\n", line);
    const auto field = in.substr(line, end - line);
    constexpr std::string_view name = "content-length:";
    if (field.size() > name.size() &&
        std::equal(name.begin(), name.end(), field.begin(), [](char a, char b) { return a == std::tolower(b); })) {
      auto value = field.substr(name.size());
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (std::from_chars(value.data(), value.data() + value.size(), length).ec != std::errc{}) length = -1;
    }
    line = end + 2;
  }
  if (length < 0) return {status, -1};  // the service always sends Content-Length
  const long long total = (long long)head_end + 4 + length;
  return {status, (long long)in.size() >= total ? total : 0};
}

struct load_outcome {
  std::vector<double> latency_ms;  // answers with status 200
  long long errors = 0;
  std::string first_error;
};

// Runs `connections` closed-loop connections on one thread until `next`
// reaches `requests` or `until` passes; request i sends requests_bytes[i % n].
// Connection failures and non-200 answers are errors (a failed connection is
// opened again).
inline load_outcome run_connections(const std::string& host, int port, int connections,
                                    const std::vector<std::string>& request_bytes, std::atomic<long long>& next,
                                    long long requests, std::chrono::steady_clock::time_point until) {
  using clock = std::chrono::steady_clock;
  struct conn {
    int fd = -1;
    std::string_view out;  // what is left to send of the request in flight
    std::string in;
    clock::time_point started;
    bool busy = false;
  };
  load_outcome r;
  const auto fail = [&](std::string what) {
    ++r.errors;
    if (r.first_error.empty()) r.first_error = std::move(what);
  };
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(std::uint16_t(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    fail(fmt::format("{} is not an IPv4 address (the load test is loopback only)", host));
    return r;
  }
  const int ep = epoll_create1(0);
  std::vector<conn> cs(static_cast<std::size_t>(connections));
  const auto open = [&](conn& c, std::size_t id) {
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      fail(fmt::format("connect: {}", std::strerror(errno)));
      ::close(c.fd);
      c.fd = -1;
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = id;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    return true;
  };
  const auto set_writing = [&](conn& c, std::size_t id, bool writing) {
    epoll_event ev{};
    ev.events = EPOLLIN | (writing ? EPOLLOUT : 0u);
    ev.data.u64 = id;
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
  };
  // Sends what is left; false if the connection broke.
  const auto flush = [&](conn& c, std::size_t id) {
    while (!c.out.empty()) {
      const auto n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return set_writing(c, id, true), true;
      if (n <= 0) return false;
      c.out.remove_prefix(std::size_t(n));
    }
    return true;
  };
  const auto start = [&](conn& c, std::size_t id) {
    const long long i = next++;
    if (i >= requests || clock::now() >= until) return false;
    c.out = request_bytes[std::size_t(i) % request_bytes.size()];
    c.in.clear();
    c.busy = true;
    c.started = clock::now();
    return flush(c, id);
  };
  const auto reopen = [&](conn& c, std::size_t id, std::string why) {
    fail(std::move(why));
    if (c.fd >= 0) ::close(c.fd);
    c.busy = false;
    return open(c, id) && start(c, id);
  };
  int active = 0;
  for (std::size_t id = 0; id < cs.size(); ++id)
    if (open(cs[id], id) && (start(cs[id], id) || (cs[id].busy && reopen(cs[id], id, "send failed"))))
      ++active;
  std::vector<epoll_event> events(cs.size());
  char buffer[65536];
  const auto give_up = until + std::chrono::seconds(60);  // an answer still missing a minute after the end
  while (active > 0 && clock::now() < give_up) {
    const int n = epoll_wait(ep, events.data(), int(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      const std::size_t id = events[std::size_t(e)].data.u64;
      conn& c = cs[id];
      bool alive = true;
      if (events[std::size_t(e)].events & EPOLLOUT) {
        alive = flush(c, id);
        if (alive && c.out.empty()) set_writing(c, id, false);
      }
      if (alive && (events[std::size_t(e)].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        const auto got = ::recv(c.fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (got > 0) c.in.append(buffer, std::size_t(got));
        alive = got > 0 || (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
      }
      bool again = true;
      if (!alive) {
        again = reopen(c, id, "the connection closed before the answer");
      } else if (c.busy) {
        const auto a = parse_http_answer(c.in);
        if (a.bytes < 0) {
          again = reopen(c, id, "an answer without a status line or Content-Length");
        } else if (a.bytes > 0) {
          c.busy = false;
          if (a.status == 200)
            r.latency_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - c.started).count());
          else
            fail(fmt::format("status {}: {}", a.status, c.in.substr(c.in.find("\r\n\r\n") + 4)));
          again = start(c, id) || (c.busy && reopen(c, id, "send failed"));
        }
      }
      if (!again && !c.busy) {  // done: closed, so that its end raises no event
        if (c.fd >= 0) ::close(c.fd);
        c.fd = -1;
        --active;
      }
    }
  }
  for (auto& c : cs) {
    if (c.busy) fail("no answer a minute after the end of the run");
    if (c.fd >= 0) ::close(c.fd);
  }
  ::close(ep);
  return r;
}

}  // namespace slmrec::bench
