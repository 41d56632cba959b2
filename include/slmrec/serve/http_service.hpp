#pragma once
// slmrec's recommendation service over HTTP (cpp-httplib, Debian's
// libcpp-httplib-dev: link its library and use its compile flags, which
// pkg-config's cpp-httplib module gives). Endpoints:
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
// run() serves until stop(); stop() closes the listening socket, lets every
// request in flight finish (the batcher keeps running until the last
// connection's thread is done), then stops the batcher: a graceful shutdown.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
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
#include <slmrec/serve/httplib.hpp>
#include <slmrec/serve/metrics.hpp>
#include <slmrec/serve/model_slot.hpp>
#include <slmrec/serve/recommend_job.hpp>
#include <slmrec/serve/request.hpp>

namespace slmrec::serve {

struct service_options {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0: a free port the system picks (bind() returns it)
  int connections = 128;                 // HTTP threads: connections served at once (a keep-alive client holds one)
  int backlog = 1024;                    // connections waiting to be accepted (the kernel caps it at somaxconn)
  std::size_t max_body_bytes = 1 << 20;  // larger bodies answer 413
  request_limits limits;
  batcher_options batching;
  engine_options engine;
};

class service {
 public:
  using clock = std::chrono::steady_clock;

  explicit service(service_options o)
      : options_(std::move(o)),
        slot_([e = options_.engine](const std::filesystem::path& dir) { return load_engine(dir, e); }),
        metrics_(options_.batching.max_batch),
        batcher_(options_.batching, [this](std::span<recommend_job* const> jobs) {
          metrics_.batch(run_recommend_batch(jobs, scratch_));
        }) {
    require(options_.connections >= 1, "connections = {}, expected at least 1", options_.connections);
    routes();
  }
  ~service() { stop(); }
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  // Binds the listening socket (port 0: any free one); returns the port.
  int bind() {
    if (options_.port == 0) {
      port_ = http_.bind_to_any_port(options_.host);
      require(port_ > 0, "cannot listen on {}: no free port", options_.host);
    } else {
      require(http_.bind_to_port(options_.host, options_.port),
              "cannot listen on {}:{} (in use, or not an address here?)", options_.host, options_.port);
      port_ = options_.port;
    }
    http_.set_backlog(options_.backlog);
    return port_;
  }

  // Serves until stop(); returns once every request in flight is answered.
  void run() {
    require(port_ > 0, "run: bind() first");
    {
      std::lock_guard lock(state_mutex_);
      if (stopped_) return;
      in_run_ = true;
    }
    http_.listen_after_bind();
    run_done_ = true;
    batcher_.stop();
  }

  // Stops serving (any thread; idempotent): run() returns after in-flight requests finish.
  void stop() {
    bool started = false;
    {
      std::lock_guard lock(state_mutex_);
      stopped_ = true;
      started = in_run_;
    }
    // httplib's stop() does nothing before its loop runs: a stop that comes
    // while run() is on its way there (a signal, a failed first load) waits for it.
    if (started)
      while (!http_.is_running() && !run_done_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    http_.stop();
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
  static void answer_error(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(nlohmann::json{{"error", message}}.dump(), "application/json");
  }
  void refuse(httplib::Response& res, int status, const char* kind, const std::string& message) {
    metrics_.error(kind);
    answer_error(res, status, message);
  }

  void routes() {
    http_.set_tcp_nodelay(true);
    http_.set_keep_alive_max_count(std::size_t(1) << 30);  // a client may keep its connection for its whole life
    http_.set_payload_max_length(options_.max_body_bytes);
    http_.new_task_queue = [n = options_.connections] { return new httplib::ThreadPool(std::size_t(n)); };

    http_.Post("/v1/recommend", [this](const httplib::Request& req, httplib::Response& res) { recommend(req, res); });
    http_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      if (ready()) return res.set_content(R"({"status":"ok"})", "application/json");
      res.status = 503;
      res.set_content(R"({"status":"loading"})", "application/json");
    });
    http_.Get("/v1/model", [this](const httplib::Request&, httplib::Response& res) {
      const auto e = slot_.current();
      if (!e) return refuse(res, 503, "loading", "no model loaded yet");
      auto j = e->info().to_json();
      j["batching"] = {{"max_batch", options_.batching.max_batch},
                       {"max_wait_us", options_.batching.max_wait.count()},
                       {"max_queue", options_.batching.max_queue}};
      j["limits"] = {{"max_k", options_.limits.max_k},
                     {"max_users", options_.limits.max_users},
                     {"max_history", options_.limits.max_history},
                     {"max_body_bytes", options_.max_body_bytes}};
      res.set_content(j.dump(), "application/json");
    });
    http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_text(), "text/plain; version=0.0.4");
    });
    http_.Post("/v1/reload", [this](const httplib::Request& req, httplib::Response& res) { reload(req, res); });

    // Known paths, other methods: 405 with the method that works.
    for (const auto& [path, allowed] : {std::pair<std::string, std::string>{"/v1/recommend", "POST"},
                                        {"/v1/reload", "POST"},
                                        {"/health", "GET"},
                                        {"/v1/model", "GET"},
                                        {"/metrics", "GET"}}) {
      const auto wrong = [this, path, allowed](const httplib::Request& req, httplib::Response& res) {
        res.set_header("Allow", allowed);
        refuse(res, 405, "method_not_allowed",
               fmt::format("{} {}: method not allowed (use {})", req.method, path, allowed));
      };
      if (allowed == "POST") http_.Get(path, wrong);
      if (allowed == "GET") http_.Post(path, wrong);
      http_.Put(path, wrong);
      http_.Patch(path, wrong);
      http_.Delete(path, wrong);
      http_.Options(path, wrong);
    }

    // httplib's own refusals (no route: 404; a body too large: 413) get a JSON body too.
    http_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404)
        return refuse(res, 404, "not_found", fmt::format("{} {}: no such endpoint", req.method, req.path));
      if (res.status == 413)
        return refuse(res, 413, "too_large",
                      fmt::format("the body is larger than the limit of {} bytes", options_.max_body_bytes));
      refuse(res, res.status, "bad_request",
             fmt::format("{} {}: refused with status {}", req.method, req.path, res.status));
    });
    http_.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      refuse(res, 500, "internal", "internal error: " + what);
    });
    http_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      metrics_.request(req.path, res.status);  // a path not ours counts as "other"
    });
  }

  void recommend(const httplib::Request& req, httplib::Response& res) {
    const auto t0 = clock::now();
    typename batcher<recommend_job>::arrival coming(batcher_);
    recommend_job job;
    job.model = slot_.current();
    if (!job.model) return refuse(res, 503, "loading", "no model loaded yet (GET /health says when)");
    try {
      job.request = parse_recommend_request(req.body, options_.limits, job.model->items());
    } catch (const request_error& e) {
      return refuse(res, e.status(), e.status() == 413 ? "too_large" : "bad_request", e.what());
    }
    auto done = job.done.get_future();
    if (!batcher_.submit(job)) {
      res.set_header("Retry-After", "1");
      return refuse(res, 503, "overload",
                    fmt::format("overloaded: the queue holds its limit of {} users (or the service is stopping); retry",
                                options_.batching.max_queue));
    }
    coming.release();
    done.get();  // the model's error, if any, goes to the exception handler (500)
    res.set_content(format_recommend_response(job.request, job.items, job.scores, job.model->items()),
                    "application/json");
    metrics_.recommend_latency(std::chrono::duration<double>(clock::now() - t0).count());
  }

  void reload(const httplib::Request& req, httplib::Response& res) {
    std::filesystem::path dir;
    if (!req.body.empty()) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(req.body);
      } catch (const nlohmann::json::parse_error& e) {
        return refuse(res, 400, "bad_request", fmt::format("malformed JSON: {}", e.what()));
      }
      if (!j.is_object()) return refuse(res, 400, "bad_request", "the body must be a JSON object");
      for (const auto& [key, value] : j.items())
        if (key != "checkpoint")
          return refuse(res, 400, "bad_request", fmt::format("unknown field '{}' (expected checkpoint)", key));
      if (j.contains("checkpoint")) {
        if (!j["checkpoint"].is_string())
          return refuse(res, 400, "bad_request", "'checkpoint' must be a directory path");
        dir = j["checkpoint"].get<std::string>();
      }
    }
    try {
      const auto info = dir.empty() ? reload() : load(dir);
      res.set_content(nlohmann::json{{"reloaded", true}, {"model", info}}.dump(), "application/json");
    } catch (const std::exception& e) {
      const auto now = slot_.current();
      refuse(res, 500, "reload_failed",
             fmt::format("reload failed: {}; still serving {}", e.what(),
                         now ? now->info().checkpoint.string() : std::string("no model")));
    }
  }

  service_options options_;
  detail::http_server http_;
  model_slot<engine> slot_;
  metrics metrics_;
  batch_scratch scratch_;  // the batcher's thread only
  batcher<recommend_job> batcher_;
  std::mutex state_mutex_;
  bool stopped_ = false, in_run_ = false;
  std::atomic<bool> run_done_{false};
  int port_ = 0;
};

}  // namespace slmrec::serve
