// A load test of `slmrec serve` over loopback, beside the in-process
// model::server on the same checkpoint and machine:
//   in-process  batch throughput (users/s, batches of --batch users, top-k with
//               scores) and one user's latency (median), before any load
//   service     for each client count: closed-loop clients, each on its own
//               keep-alive connection (driven by epoll from --client-threads
//               threads, http_load_client.hpp), sending one user's history per request
//               until --requests answers or --duration seconds; throughput,
//               p50 and p99 latency, errors, and the service's mean batch
//               (from its /metrics)
// Each client count's ratio is against the in-process throughput measured just
// before and just after it (their geometric mean), and --repeat R runs the
// whole sequence R times and ends with the medians over the repeats: on a
// shared machine whose speed drifts from minute to minute, a ratio of two
// numbers taken apart in time measures the drift as much as the service.
// Start the service first (same checkpoint), then:
//   load_serve --checkpoint runs/student --data Beauty.txt --port 8080 --clients 1,8,64
// Histories are the dataset's users, each without its last item (the held-out one).
#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/data/read_dataset.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>
#include <slmrec/model/serving.hpp>
#include <slmrec/serve/httplib.hpp>

#include "http_load_client.hpp"
#include "timing.hpp"

namespace {

using slmrec::index;
using clock_type = std::chrono::steady_clock;

struct options {
  std::string checkpoint, data, host = "127.0.0.1", clients = "1,8,64";
  int port = 8080, threads = 0, rounds = 5, server_pid = 0, client_threads = 1, repeat = 1;
  index batch = 64, k = 10, users = 4096;
  long long requests = 20000;
  double duration = 20;
};

struct in_process {
  double batch_users_per_s = 0, one_user_ms = 0;
};

// model::server on the same histories: the batch path's throughput and one
// user's latency. Made once (the checkpoint loaded, the batch laid out), then
// measured as often as the load test asks.
template <class Server>
class in_process_bench {
 public:
  in_process_bench(const options& o, Server& serve, index max_len, const std::vector<std::vector<std::int32_t>>& hs)
      : o_(o),
        serve_(serve),
        max_len_(max_len),
        hs_(hs),
        n_(std::min<index>(index(hs.size()), 1024) / o.batch * o.batch),
        items_(std::size_t(n_ * max_len), 0),
        top_(std::size_t(o.batch * o.k)),
        scores_(top_.size()) {
    for (index u = 0; u < n_; ++u) {
      const auto& h = hs[std::size_t(u)];
      const index kept = std::min<index>(index(h.size()), max_len);
      std::copy(h.end() - kept, h.end(), items_.begin() + (u + 1) * max_len - kept);
    }
  }

  in_process operator()() {
    in_process r;
    std::vector<double> rates;
    for (int round = 0; round < o_.rounds; ++round) {
      const auto t = slmrec::bench::time_calls(
          [&] {
            for (index u0 = 0; u0 < n_; u0 += o_.batch)
              serve_.recommend(std::span(items_).subspan(std::size_t(u0 * max_len_), std::size_t(o_.batch * max_len_)),
                               o_.batch, max_len_, o_.k, true, top_, scores_);
          },
          1, 3);
      rates.push_back(double(n_) / (t.median / 1000.0));
    }
    r.batch_users_per_s = slmrec::bench::median(rates);
    std::size_t next = 0;
    r.one_user_ms =
        slmrec::bench::time_calls(
            [&] {
              serve_.recommend(hs_[next++ % hs_.size()], o_.k, true, std::span(top_).first(std::size_t(o_.k)),
                               std::span(scores_).first(std::size_t(o_.k)));
            },
            50, 1000)
            .median;
    return r;
  }

 private:
  const options& o_;
  Server& serve_;
  index max_len_;
  const std::vector<std::vector<std::int32_t>>& hs_;
  index n_;
  std::vector<std::int32_t> items_, top_;
  std::vector<float> scores_;
};

// CPU seconds (user + system) a process has used so far, from /proc (0 if unknown).
double cpu_seconds(int pid) {
  if (pid <= 0) return 0;
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {  // fields 14 and 15: utime, stime in clock ticks
    if (i == 14) utime = std::stod(f);
    if (i == 15) stime = std::stod(f);
  }
  return (utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// The service's batch histogram totals (users, batches) from /metrics.
std::pair<double, double> batch_totals(httplib::Client& c) {
  auto r = c.Get("/metrics");
  double sum = 0, count = 0;
  if (!r) return {0, 0};
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("slmrec_batch_users_sum ", 0) == 0) sum = std::stod(line.substr(23));
    if (line.rfind("slmrec_batch_users_count ", 0) == 0) count = std::stod(line.substr(25));
  }
  return {sum, count};
}

struct load_result {
  int clients = 0;
  long long answered = 0, errors = 0;
  double seconds = 0, p50_ms = 0, p99_ms = 0, mean_batch = 0, server_cpu_us = 0, client_cpu_us = 0;
};

load_result run_load(const options& o, int clients, const std::vector<std::string>& requests) {
  httplib::Client probe(o.host, o.port);
  const auto before = batch_totals(probe);
  const double server_cpu0 = cpu_seconds(o.server_pid), client_cpu0 = cpu_seconds(int(getpid()));
  std::atomic<long long> next{0};
  const auto t0 = clock_type::now();
  const auto until = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.duration));
  const int threads = std::clamp(o.client_threads, 1, clients);
  std::vector<slmrec::bench::load_outcome> outcomes(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const int mine = clients / threads + (t < clients % threads ? 1 : 0);
      outcomes[std::size_t(t)] =
          slmrec::bench::run_connections(o.host, o.port, mine, requests, next, o.requests, until);
    });
  for (auto& th : pool) th.join();
  load_result r;
  r.clients = clients;
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::vector<double> all;
  std::string first_error;
  for (const auto& v : outcomes) {
    all.insert(all.end(), v.latency_ms.begin(), v.latency_ms.end());
    r.errors += v.errors;
    if (first_error.empty()) first_error = v.first_error;
  }
  std::sort(all.begin(), all.end());
  r.answered = (long long)all.size();
  if (!all.empty()) {
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  if (!first_error.empty()) fmt::print(stderr, "{} clients: first error: {}\n", clients, first_error);
  const auto after = batch_totals(probe);
  if (after.second > before.second) r.mean_batch = (after.first - before.first) / (after.second - before.second);
  if (r.answered > 0) {
    r.server_cpu_us = 1e6 * (cpu_seconds(o.server_pid) - server_cpu0) / double(r.answered);
    r.client_cpu_us = 1e6 * (cpu_seconds(int(getpid())) - client_cpu0) / double(r.answered);
  }
  return r;
}

// The load test's sequence, --repeat times: for each repeat the batch path
// (measure, unless empty), then every client count, each followed by the
// batch path again; then the medians.
void run_series(const options& o, const std::vector<std::string>& requests,
                const std::function<in_process()>& measure) {
  struct row {
    double rate, ratio, p50_ms, p99_ms, mean_batch;
  };
  std::vector<std::pair<int, std::vector<row>>> by_clients;  // client count -> one row per repeat
  std::istringstream list(o.clients);
  for (std::string item; std::getline(list, item, ',');) by_clients.push_back({std::stoi(item), {}});
  for (int rep = 0; rep < o.repeat; ++rep) {
    in_process ip;
    if (measure) {
      ip = measure();
      fmt::print("{}in-process model::server: batch of {} users {:.0f} users/s; one user {:.3f} ms (median)\n",
                 o.repeat > 1 ? fmt::format("repeat {}: ", rep + 1) : "", o.batch, ip.batch_users_per_s,
                 ip.one_user_ms);
    }
    fmt::print(
        "\n| clients | answered | errors | seconds | requests/s | batch path before / after, users/s | vs batch path "
        "| p50 ms | p99 ms | mean batch | server CPU us/req | client CPU us/req |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (auto& [clients, rows] : by_clients) {
      const auto r = run_load(o, clients, requests);
      const double rate = double(r.answered) / r.seconds;
      // The batch path measured again after the load: the ratio is against the
      // geometric mean of the two measurements that bracket it.
      const double before = ip.batch_users_per_s;
      if (measure) ip = measure();
      const double ratio = !measure ? 0.0 : rate / std::sqrt(before * ip.batch_users_per_s);
      rows.push_back({rate, ratio, r.p50_ms, r.p99_ms, r.mean_batch});
      fmt::print("| {} | {} | {} | {:.1f} | {:.0f} | {} | {} | {:.3f} | {:.3f} | {:.1f} | {} | {:.0f} |\n", r.clients,
                 r.answered, r.errors, r.seconds, rate,
                 !measure ? "-" : fmt::format("{:.0f} / {:.0f}", before, ip.batch_users_per_s),
                 !measure ? "-" : fmt::format("{:.2f}", ratio), r.p50_ms, r.p99_ms, r.mean_batch,
                 o.server_pid > 0 ? fmt::format("{:.0f}", r.server_cpu_us) : "-", r.client_cpu_us);
      std::fflush(stdout);
    }
    fmt::print("\n");
  }
  if (o.repeat > 1) {
    const auto median_of = [](const std::vector<row>& rows, double row::*field) {
      std::vector<double> v;
      for (const auto& r : rows) v.push_back(r.*field);
      return slmrec::bench::median(v);
    };
    fmt::print(
        "medians over {} repeats\n\n| clients | requests/s | vs batch path | p50 ms | p99 ms | mean batch |\n"
        "|---|---|---|---|---|---|\n",
        o.repeat);
    for (const auto& [clients, rows] : by_clients)
      fmt::print("| {} | {:.0f} | {} | {:.3f} | {:.3f} | {:.1f} |\n", clients, median_of(rows, &row::rate),
                 !measure ? "-" : fmt::format("{:.2f}", median_of(rows, &row::ratio)), median_of(rows, &row::p50_ms),
                 median_of(rows, &row::p99_ms), median_of(rows, &row::mean_batch));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load test of slmrec serve over loopback, beside the in-process model::server"};
  options o;
  app.add_option("--checkpoint", o.checkpoint, "the checkpoint the service serves (for the in-process numbers)")
      ->required();
  app.add_option("--data", o.data, "dataset whose users' histories are sent")->required();
  app.add_option("--host", o.host)->capture_default_str();
  app.add_option("--port", o.port)->capture_default_str();
  app.add_option("--clients", o.clients, "client counts to run, comma-separated")->capture_default_str();
  app.add_option("--requests", o.requests, "answers per client count at most")->capture_default_str();
  app.add_option("--duration", o.duration, "seconds per client count at most")->capture_default_str();
  app.add_option("--users", o.users, "distinct histories sent (the first users of --data)")->capture_default_str();
  app.add_option("-k", o.k, "items per answer")->capture_default_str();
  app.add_option("--batch", o.batch, "in-process batch size (the service's --max-batch)")->capture_default_str();
  app.add_option("--threads", o.threads, "in-process server threads (the service's --threads; 0: OpenMP's)")
      ->capture_default_str();
  app.add_option("--rounds", o.rounds, "in-process timing rounds")->capture_default_str();
  app.add_option("--client-threads", o.client_threads,
                 "threads driving the clients' connections (epoll; each thread holds clients / threads)")
      ->capture_default_str();
  app.add_option("--repeat", o.repeat, "times to run the whole sequence (medians at the end)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--server-pid", o.server_pid, "the service's process id: report its CPU time per request");
  bool skip_in_process = false;
  app.add_flag("--no-in-process", skip_in_process, "only the load test");
  CLI11_PARSE(app, argc, argv);

  const auto ds = slmrec::data::read_dataset(o.data, {});
  std::vector<std::vector<std::int32_t>> hs;
  for (const auto& s : ds.sequences) {
    if (slmrec::index(hs.size()) >= o.users) break;
    if (s.size() >= 2) hs.emplace_back(s.begin(), s.end() - 1);
  }
  std::vector<std::string> requests;  // whole HTTP requests, made before the clock starts
  for (const auto& h : hs)
    requests.push_back(
        slmrec::bench::http_post(o.host, o.port, "/v1/recommend", nlohmann::json{{"history", h}, {"k", o.k}}.dump()));

  if (skip_in_process) {
    run_series(o, requests, nullptr);
  } else {
    slmrec::model::with_any_checkpoint<slmrec::backend::eigen_cpu>(o.checkpoint, [&](auto& m) {
      slmrec::model::server serve(m, o.threads);
      in_process_bench bench(o, serve, m.config().max_len, hs);
      run_series(o, requests, [&] { return bench(); });
    });
  }
  return 0;
}
