// `slmrec serve --checkpoint DIR [--index [--ef 100]] [--host 127.0.0.1]
//   [--port 8080] [--threads N] [--max-batch B] [--max-wait-us U] ...`:
// the recommendation service (include/slmrec/serve/http_service.hpp,
// docs/serving.md). It listens first (GET /health answers 503 while the model
// loads), prints "listening on http://HOST:PORT" (port 0: a free one), loads
// the checkpoint and prints "ready". SIGHUP reloads the checkpoint (a failed
// load keeps the old model); SIGTERM or SIGINT stop it gracefully: no new
// connections, every request in flight answered, exit 0.
#include "commands.hpp"

#include <fmt/core.h>
#include <pthread.h>
#include <signal.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <thread>

#include <slmrec/core/error.hpp>
#include <slmrec/serve/http_service.hpp>

namespace slmrec::cli {

void add_serve(CLI::App& app) {
  struct options {
    std::string checkpoint;
    serve::service_options service;
    long long max_wait_us = 500;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("serve", "An HTTP recommendation service with dynamic batching (docs/serving.md)");
  auto& s = o->service;
  cmd->add_option("--checkpoint", o->checkpoint, "checkpoint directory (float or quantized)")->required();
  cmd->add_flag("--index", s.engine.use_index,
                "candidates from the checkpoint's HNSW index (slmrec index), re-scored exactly");
  cmd->add_option("--ef", s.engine.ef, "with --index: the search's candidate list")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--exact-head", s.engine.exact_head,
                  "with --index: the items of largest norm scored exactly beside the graph (default: 2% of the "
                  "catalog, at most 20,000; 0: the graph alone; docs/index.md)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--host", s.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", s.port, "port to listen on (0: a free one, printed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--threads", s.engine.threads, "threads that share a model batch (0: OpenMP's count)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--connections", s.connections, "open connections at most (beyond, new ones are closed)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--io-threads", s.io_threads, "event-loop threads that read requests and write answers")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-batch", s.batching.max_batch, "users per model batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-wait-us", o->max_wait_us, "longest a request waits for others to batch with (microseconds)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-queue", s.batching.max_queue, "users queued at most; beyond, requests answer 503")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-k", s.limits.max_k, "largest k a request may ask")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-users", s.limits.max_users, "users per request at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-body", s.max_body_bytes, "largest request body in bytes")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([o] {
    o->service.batching.max_wait = std::chrono::microseconds(o->max_wait_us);
    // Signals go to one thread that waits for them (sigwait), so a handler
    // never runs inside a request: block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, sig);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    serve::service svc(o->service);
    const int port = svc.bind();
    fmt::print("slmrec serve: listening on http://{}:{}\n", o->service.host, port);
    std::fflush(stdout);

    std::exception_ptr load_error;
    std::atomic<bool> served{false};
    std::thread loader([&] {
      try {
        const auto info = svc.load(o->checkpoint);
        fmt::print("slmrec serve: ready: {} ({} items, {}{})\n", o->checkpoint, info["items"].get<long long>(),
                   info["scheme"].get<std::string>(), o->service.engine.use_index ? ", HNSW index" : "");
        std::fflush(stdout);
      } catch (const std::exception& e) {
        load_error = std::make_exception_ptr(error(fmt::format("cannot serve {}: {}", o->checkpoint, e.what())));
        svc.stop();
      }
    });
    std::thread signal_waiter([&] {
      for (;;) {
        int sig = 0;
        if (sigwait(&signals, &sig) != 0) continue;
        if (sig == SIGHUP) {
          try {
            svc.reload();
            fmt::print("slmrec serve: SIGHUP: reloaded {}\n", svc.current()->info().checkpoint.string());
          } catch (const std::exception& e) {
            fmt::print(stderr, "slmrec serve: SIGHUP: reload failed, still serving the old model: {}\n", e.what());
          }
          std::fflush(stdout);
          continue;
        }
        if (served) return;  // run() has returned (a failed load stopped it): nothing to stop
        fmt::print("slmrec serve: {}: stopping (finishing requests in flight)\n",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
        std::fflush(stdout);
        svc.stop();
        return;
      }
    });
    svc.run();
    served = true;
    loader.join();
    pthread_kill(signal_waiter.native_handle(), SIGTERM);  // if it is still waiting (a failed load stopped us)
    signal_waiter.join();
    if (load_error) std::rethrow_exception(load_error);
    fmt::print("slmrec serve: stopped\n");
  });
}

}  // namespace slmrec::cli
