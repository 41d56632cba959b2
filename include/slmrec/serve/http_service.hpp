#pragma once
// slmrec's recommendation service over HTTP, on one event loop
// (event_server.hpp: GNU libmicrohttpd with epoll; link libmicrohttpd, which
// pkg-config's module of that name gives). Endpoints:
//
//   POST /v1/recommend  request.hpp's body -> {"items": ..., "scores": ...}
//   GET  /health        200 {"status":"ok"} once a model is loaded, 503 {"status":"loading"} before
//   GET  /v1/model      the serving checkpoint: config, items, identity, index, id map, load time
//   GET  /metrics       Prometheus text (metrics.hpp)
//   POST /v1/reload     body {} or {"checkpoint": DIR}: load it (default: the serving one again)
//                       beside the current model and switch; a failed load answers 500 and keeps serving
//
// An unknown path answers 404, a known path with another method 405 (with
// Allow), a body over max_body_bytes 413, a full batch queue 503 with
// Retry-After; every error body is {"error": "..."} naming what was wrong,
// and an exception inside a handler becomes a 500, never a crash.
//
// A recommendation is parsed on the loop's thread, parked (its connection
// suspended, no thread waiting on it) while the batcher runs it with others,
// and written by the loop once the batch is done; a reload is parked the same
// way while a worker thread loads the checkpoint, so the loop never blocks.
//
// run() serves until stop(); stop() makes run() stop accepting, answer every
// request already begun (the batcher keeps running until the last is
// answered), then stop the batcher and return: a graceful shutdown.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/serve/batcher.hpp>
#include <slmrec/serve/engine.hpp>
#include <slmrec/serve/event_server.hpp>
#include <slmrec/serve/metrics.hpp>
#include <slmrec/serve/model_slot.hpp>
#include <slmrec/serve/recommend_job.hpp>
#include <slmrec/serve/request.hpp>

namespace slmrec::serve {

struct service_options {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0: a free port the system picks (bind() returns it)
  int connections = 1024;                // open connections at most (a keep-alive client holds one)
  int io_threads = 1;                    // event-loop threads reading requests and writing answers
  int backlog = 1024;                    // connections waiting to be accepted (the kernel caps it at somaxconn)
  std::size_t max_body_bytes = 1 << 20;  // larger bodies answer 413
  std::chrono::milliseconds drain_patience{10'000};  // a stop waits this long for a body still arriving
  request_limits limits;
  batcher_options batching;
  engine_options engine;
};

namespace detail {

// One thread running slow work (checkpoint loads) in order, off the event loop.
class serial_worker {
 public:
  serial_worker() : thread_([this] { work(); }) {}
  ~serial_worker() { stop(); }
  serial_worker(const serial_worker&) = delete;
  serial_worker& operator=(const serial_worker&) = delete;
  void post(std::function<void()> f) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(f));
    }
    changed_.notify_one();
  }
  // Runs what is queued, then ends the thread.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;
      auto f = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      f();  // posted work catches its own errors
      lock.lock();
    }
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace detail

class service {
 public:
  using clock = std::chrono::steady_clock;

  explicit service(service_options o)
      : options_(std::move(o)),
        slot_([e = options_.engine](const std::filesystem::path& dir) { return load_engine(dir, e); }),
        metrics_(options_.batching.max_batch),
        batcher_(options_.batching,
                 [this](std::span<recommend_job* const> jobs) { metrics_.batch(run_recommend_batch(jobs, scratch_)); }),
        http_({.connection_limit = options_.connections,
               .io_threads = options_.io_threads,
               .max_body_bytes = options_.max_body_bytes},
              [this](http::exchange& ex) { route(ex); },
              [this](const http::exchange&, std::exception_ptr e) { return internal_error(e); },
              [this](const http::exchange& ex, int status) { metrics_.request(ex.path(), status); }) {}
  ~service() {
    stop();
    slow_.stop();
  }
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  // Binds the listening socket (port 0: any free one); returns the port.
  // Connections made before run() wait in the kernel's queue.
  int bind() { return port_ = http_.listen(options_.host, options_.port, options_.backlog); }

  // Serves until stop(); returns once every request begun is answered.
  void run() {
    require(port_ > 0, "run: bind() first");
    std::unique_lock lock(state_mutex_);
    if (stopped_) return;
    http_.start();
    stop_requested_.wait(lock, [&] { return stopped_; });
    lock.unlock();
    http_.stop_and_drain(options_.drain_patience);
    batcher_.stop();
  }

  // Stops serving (any thread; idempotent): run() returns after in-flight requests finish.
  void stop() {
    {
      std::lock_guard lock(state_mutex_);
      stopped_ = true;
    }
    stop_requested_.notify_all();
  }

  // Loads a checkpoint beside the current model and switches to it (the first
  // load, POST /v1/reload, SIGHUP); throws, still serving the old model, if it fails.
  nlohmann::json load(const std::filesystem::path& dir) {
    try {
      auto e = slot_.load(dir);
      metrics_.reload(true);
      return e->info().to_json();
    } catch (...) {
      metrics_.reload(false);
      throw;
    }
  }
  // The same for the checkpoint serving now (read again from disk).
  nlohmann::json reload() {
    const auto now = slot_.current();
    require(now != nullptr, "reload: no model loaded yet");
    return load(now->info().checkpoint);
  }

  [[nodiscard]] bool ready() const { return slot_.current() != nullptr; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::shared_ptr<engine> current() const { return slot_.current(); }
  [[nodiscard]] std::string metrics_text() const { return metrics_.render(batcher_.queued_users(), ready()); }

 private:
  static http::response json_answer(std::string body) { return {200, std::move(body)}; }
  http::response refuse(int status, const char* kind, const std::string& message) {
    metrics_.error(kind);
    return {status, nlohmann::json{{"error", message}}.dump()};
  }
  http::response internal_error(std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    return refuse(500, "internal", "internal error: " + what);
  }

  enum class endpoint { recommend, reload, health, model, metrics };
  struct route_entry {
    const char* path;
    const char* method;
    endpoint what;
  };
  static constexpr route_entry routes_[] = {{"/v1/recommend", "POST", endpoint::recommend},
                                            {"/v1/reload", "POST", endpoint::reload},
                                            {"/health", "GET", endpoint::health},
                                            {"/v1/model", "GET", endpoint::model},
                                            {"/metrics", "GET", endpoint::metrics}};

  void route(http::exchange& ex) {
    const route_entry* r = nullptr;
    for (const auto& e : routes_)
      if (ex.path() == e.path) r = &e;
    if (!r) return ex.respond(refuse(404, "not_found", fmt::format("{} {}: no such endpoint", ex.method(), ex.path())));
    if (ex.method() != r->method) {
      auto res = refuse(405, "method_not_allowed",
                        fmt::format("{} {}: method not allowed (use {})", ex.method(), ex.path(), r->method));
      res.headers.emplace_back("Allow", r->method);
      return ex.respond(std::move(res));
    }
    if (ex.body_too_large())
      return ex.respond(
          refuse(413, "too_large", fmt::format("the body is larger than the limit of {} bytes", options_.max_body_bytes)));
    switch (r->what) {
      case endpoint::recommend:
        return recommend(ex);
      case endpoint::reload:
        return reload(ex);
      case endpoint::health:
        if (ready()) return ex.respond(json_answer(R"({"status":"ok"})"));
        return ex.respond({503, R"({"status":"loading"})"});
      case endpoint::model:
        return ex.respond(model_info());
      case endpoint::metrics:
        return ex.respond({200, metrics_text(), "text/plain; version=0.0.4"});
    }
  }

  http::response model_info() {
    const auto e = slot_.current();
    if (!e) return refuse(503, "loading", "no model loaded yet");
    auto j = e->info().to_json();
    j["batching"] = {{"max_batch", options_.batching.max_batch},
                     {"max_wait_us", options_.batching.max_wait.count()},
                     {"max_queue", options_.batching.max_queue}};
    j["limits"] = {{"max_k", options_.limits.max_k},
                   {"max_users", options_.limits.max_users},
                   {"max_history", options_.limits.max_history},
                   {"max_body_bytes", options_.max_body_bytes}};
    return json_answer(j.dump());
  }

  // A recommendation in flight: the batcher's job, and whether the queue refused it.
  struct pending {
    recommend_job job;
    bool refused = false;
  };

  void recommend(http::exchange& ex) {
    typename batcher<recommend_job>::arrival coming(batcher_);
    auto p = std::make_shared<pending>();
    p->job.model = slot_.current();
    if (!p->job.model) return ex.respond(refuse(503, "loading", "no model loaded yet (GET /health says when)"));
    try {
      p->job.request = parse_recommend_request(ex.body(), options_.limits, p->job.model->items());
    } catch (const request_error& e) {
      return ex.respond(refuse(e.status(), e.status() == 413 ? "too_large" : "bad_request", e.what()));
    }
    // Parked before it is queued: the batcher may answer it before this returns.
    p->job.done = [&ex] { ex.resume(); };
    ex.defer([this, p, &ex]() -> http::response {
      if (p->refused) {
        auto res = refuse(503, "overload",
                          fmt::format("overloaded: the queue holds its limit of {} users (or the service is stopping); "
                                      "retry",
                                      options_.batching.max_queue));
        res.headers.emplace_back("Retry-After", "1");
        return res;
      }
      if (p->job.error) std::rethrow_exception(p->job.error);  // the model's error: a 500
      auto res = json_answer(
          format_recommend_response(p->job.request, p->job.items, p->job.scores, p->job.model->items()));
      metrics_.recommend_latency(std::chrono::duration<double>(clock::now() - ex.started()).count());
      return res;
    });
    if (!batcher_.submit(p->job)) {
      p->refused = true;
      ex.resume();
    }
  }

  void reload(http::exchange& ex) {
    std::filesystem::path dir;
    if (!ex.body().empty()) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(ex.body());
      } catch (const nlohmann::json::parse_error& e) {
        return ex.respond(refuse(400, "bad_request", fmt::format("malformed JSON: {}", e.what())));
      }
      if (!j.is_object()) return ex.respond(refuse(400, "bad_request", "the body must be a JSON object"));
      for (const auto& [key, value] : j.items())
        if (key != "checkpoint")
          return ex.respond(
              refuse(400, "bad_request", fmt::format("unknown field '{}' (expected checkpoint)", key)));
      if (j.contains("checkpoint")) {
        if (!j["checkpoint"].is_string())
          return ex.respond(refuse(400, "bad_request", "'checkpoint' must be a directory path"));
        dir = j["checkpoint"].get<std::string>();
      }
    }
    // Loading takes as long as reading the checkpoint: on the worker, not the loop.
    auto answer = std::make_shared<http::response>();
    ex.defer([answer] { return std::move(*answer); });
    slow_.post([this, dir, answer, &ex] {
      try {
        const auto info = dir.empty() ? reload() : load(dir);
        *answer = json_answer(nlohmann::json{{"reloaded", true}, {"model", info}}.dump());
      } catch (...) {
        const auto now = slot_.current();
        std::string what = "unknown error";
        try {
          throw;
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        *answer = refuse(500, "reload_failed",
                         fmt::format("reload failed: {}; still serving {}", what,
                                     now ? now->info().checkpoint.string() : std::string("no model")));
      }
      ex.resume();
    });
  }

  service_options options_;
  model_slot<engine> slot_;
  metrics metrics_;
  batch_scratch scratch_;  // the batcher's thread only
  batcher<recommend_job> batcher_;
  detail::serial_worker slow_;  // reloads
  http::server http_;           // last: its loop's handlers use everything above
  std::mutex state_mutex_;
  std::condition_variable stop_requested_;
  bool stopped_ = false;
  int port_ = 0;
};

}  // namespace slmrec::serve
