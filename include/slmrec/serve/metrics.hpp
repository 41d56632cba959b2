#pragma once
// What a service counts, rendered in Prometheus' text exposition format
// (version 0.0.4) for GET /metrics: requests by path and status, errors by
// kind, users per batch and request latency as histograms, reloads by
// outcome. What every request updates (its path and status, its latency)
// is lock-free, so 64 connections' threads do not queue on one lock twice
// per request; the rare updates (errors, reloads) and the rendering take one
// short lock.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace slmrec::serve {

// A cumulative histogram: counts of observations at or below each bound,
// their sum and count; lock-free. The count is raised before the buckets and
// read after them, so a rendering never shows a bucket above the total.
class histogram {
 public:
  explicit histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size()) {}

  void observe(double v) {
    count_.fetch_add(1);
    for (std::size_t i = 0; i < bounds_.size(); ++i)
      if (v <= bounds_[i]) counts_[i].fetch_add(1);
    sum_.fetch_add(v);
  }

  // The metric's lines: name_bucket{le=...}, name_sum, name_count.
  void render(std::string& out, const std::string& name) const {
    for (std::size_t i = 0; i < bounds_.size(); ++i)
      out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], counts_[i].load());
    const auto n = count_.load();
    out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, n, name, sum_.load(), name, n);
  }

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> counts_;
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

// Requests by path and status: a counter per (known path or "other", status
// 100..599), lock-free; a status outside that range (none that HTTP defines)
// is counted as 599 rather than lost.
class request_counts {
 public:
  static constexpr std::array<const char*, 6> paths = {"/v1/recommend", "/v1/reload", "/health",
                                                       "/v1/model",     "/metrics",   "other"};
  void add(const std::string& path, int status) {
    std::size_t p = 0;
    while (p + 1 < paths.size() && path != paths[p]) ++p;
    counts_[p][std::size_t(std::clamp(status, 100, 599) - 100)].fetch_add(1, std::memory_order_relaxed);
  }
  void render(std::string& out) const {
    for (std::size_t p = 0; p < paths.size(); ++p)
      for (std::size_t s = 0; s < statuses; ++s)
        if (const auto n = counts_[p][s].load(std::memory_order_relaxed); n > 0)
          out += fmt::format("slmrec_requests_total{{path=\"{}\",code=\"{}\"}} {}\n", paths[p], s + 100, n);
  }

 private:
  static constexpr std::size_t statuses = 500;
  std::array<std::array<std::atomic<std::uint64_t>, statuses>, paths.size()> counts_{};
};

class metrics {
 public:
  explicit metrics(std::int64_t max_batch)
      : batch_users_(powers_of_two(max_batch)),
        latency_({0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}) {}

  // One answered request: its path, its status, and (recommendations only) its latency in seconds.
  // path: one of request_counts::paths; any other counts as "other".
  void request(const std::string& path, int status) { requests_.add(path, status); }
  void recommend_latency(double seconds) { latency_.observe(seconds); }
  // kind: bad_request, too_large, overload, not_found, method_not_allowed, internal, loading.
  void error(const std::string& kind) {
    std::lock_guard lock(mutex_);
    ++errors_[kind];
  }
  void batch(std::int64_t users) { batch_users_.observe(double(users)); }
  void reload(bool ok) {
    std::lock_guard lock(mutex_);
    ++reloads_[ok ? "ok" : "failed"];
  }

  // queued_users, ready: gauges read at render time.
  [[nodiscard]] std::string render(std::int64_t queued_users, bool ready) const {
    std::lock_guard lock(mutex_);
    std::string out;
    out +=
        "# HELP slmrec_requests_total HTTP requests answered, by path and status.\n"
        "# TYPE slmrec_requests_total counter\n";
    requests_.render(out);
    out += "# HELP slmrec_errors_total Requests refused or failed, by kind.\n# TYPE slmrec_errors_total counter\n";
    for (const auto& [kind, n] : errors_) out += fmt::format("slmrec_errors_total{{kind=\"{}\"}} {}\n", kind, n);
    out += "# HELP slmrec_batch_users Users per model batch.\n# TYPE slmrec_batch_users histogram\n";
    batch_users_.render(out, "slmrec_batch_users");
    out +=
        "# HELP slmrec_request_seconds Latency of POST /v1/recommend answered 200, from its body read to its answer.\n"
        "# TYPE slmrec_request_seconds histogram\n";
    latency_.render(out, "slmrec_request_seconds");
    out += "# HELP slmrec_reloads_total Model reloads, by outcome.\n# TYPE slmrec_reloads_total counter\n";
    for (const auto& [outcome, n] : reloads_)
      out += fmt::format("slmrec_reloads_total{{result=\"{}\"}} {}\n", outcome, n);
    out += fmt::format(
        "# HELP slmrec_queued_users Users waiting for a batch.\n# TYPE slmrec_queued_users gauge\n"
        "slmrec_queued_users {}\n"
        "# HELP slmrec_ready Whether a model is loaded and serving.\n# TYPE slmrec_ready gauge\n"
        "slmrec_ready {}\n",
        queued_users, ready ? 1 : 0);
    return out;
  }

 private:
  static std::vector<double> powers_of_two(std::int64_t max) {
    std::vector<double> b;
    for (std::int64_t p = 1; p < max; p *= 2) b.push_back(double(p));
    b.push_back(double(max));
    return b;
  }

  mutable std::mutex mutex_;
  request_counts requests_;
  std::map<std::string, std::uint64_t> errors_, reloads_;
  histogram batch_users_, latency_;
};

}  // namespace slmrec::serve
