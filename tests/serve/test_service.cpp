// The HTTP service end to end (serve/http_service.hpp), in this process on a
// free loopback port, through httplib's client: every endpoint, each kind of
// bad request, answers equal to the in-process model::server's, 10,000
// requests from 16 clients with 10% malformed and hot reloads during the
// run, and a graceful stop under load.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <slmrec/model/quantize.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/serve/http_service.hpp>
#include <slmrec/serve/httplib.hpp>
#include <slmrec/train/checkpoint.hpp>

#include "support/model_configs.hpp"
#include "support/temp_dir.hpp"

namespace slmrec {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
constexpr index num_items = 500, max_len = 20, max_k = 20;

// A one-layer llama checkpoint with weights spread wide enough that scores rarely tie.
std::filesystem::path write_checkpoint(const std::filesystem::path& dir) {
  auto cfg = test::small_llama("tied", num_items, max_len);
  cfg.init_std = 0.2;
  model::recommender<backend::eigen_cpu, arch::llama> m(cfg, false);
  m.initialize(11);
  train::save_model(dir, {{"model", m.config()}}, m.parameters());
  return dir;
}

// Histories of 1..2 max_len items (longer ones exercise the one-user path's exclusion).
std::vector<std::vector<std::int32_t>> make_histories(std::size_t n) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> len(1, int(2 * max_len)), id(1, int(num_items));
  std::vector<std::vector<std::int32_t>> out(n);
  for (auto& h : out) {
    h.resize(std::size_t(len(rng)));
    for (auto& x : h) x = id(rng);
  }
  return out;
}

struct answer {
  std::vector<std::int32_t> items;
  std::vector<float> scores;
};

// The in-process answers (model::server's one-user path) for k = max_k, with and without the history excluded.
std::vector<answer> reference(const std::filesystem::path& dir, const std::vector<std::vector<std::int32_t>>& hs,
                              bool exclude) {
  std::vector<answer> out;
  model::with_any_checkpoint<backend::eigen_cpu>(dir, [&](auto& m) {
    model::server s(m, 1);
    for (const auto& h : hs) {
      answer a{std::vector<std::int32_t>(max_k), std::vector<float>(max_k)};
      s.recommend(h, max_k, exclude, a.items, a.scores);
      out.push_back(std::move(a));
    }
  });
  return out;
}

// Whether the service's k items and scores are the in-process answer's first k:
// scores equal to float rounding (a batch computes a user's vector in
// another shape, which may change its last bits), ids equal wherever the
// reference's score is apart from its neighbours' (not a near tie).
bool same_answer(const json& items, const json& scores, const answer& want, index k) {
  if (!items.is_array() || index(items.size()) != k || !scores.is_array() || index(scores.size()) != k) return false;
  constexpr float tol = 1e-4f;
  for (index i = 0; i < k; ++i) {
    const float w = want.scores[std::size_t(i)];
    if (std::abs(scores[std::size_t(i)].get<float>() - w) > tol * std::max(1.0f, std::abs(w))) return false;
    const bool tied_above = i > 0 && std::abs(want.scores[std::size_t(i - 1)] - w) <= tol;
    const bool tied_below = i + 1 < max_k && std::abs(want.scores[std::size_t(i + 1)] - w) <= tol;
    if (!tied_above && !tied_below && items[std::size_t(i)].get<std::int32_t>() != want.items[std::size_t(i)])
      return false;
  }
  return true;
}

// A service on a free loopback port, serving `dir`, stopped at the end.
struct running_service {
  serve::service svc;
  int port = 0;
  std::thread thread;
  running_service(const serve::service_options& o, const std::filesystem::path& dir) : svc(o) {
    port = svc.bind();
    thread = std::thread([this] { svc.run(); });
    svc.load(dir);
  }
  ~running_service() {
    svc.stop();
    if (thread.joinable()) thread.join();
  }
  [[nodiscard]] httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_tcp_nodelay(true);
    c.set_keep_alive(true);
    c.set_read_timeout(30, 0);
    return c;
  }
};

serve::service_options small_options() {
  serve::service_options o;
  o.port = 0;
  o.connections = 32;
  o.max_body_bytes = 64 * 1024;
  o.limits = {.max_k = max_k, .max_users = 8, .max_history = 200};
  o.batching = {.max_batch = 16, .max_wait = 500us, .max_queue = 256};
  o.engine.threads = 1;
  return o;
}

json body_of(const httplib::Result& r) {
  return json::parse(r->body);
}

std::string recommend_body(const std::vector<std::int32_t>& h, index k, bool exclude) {
  return json{{"history", h}, {"k", k}, {"exclude_history", exclude}}.dump();
}

// The scores model::server returns beside its ids are the model's own
// scores of those items (score_last's row), on each of its paths.
template <class Model>
void check_scores(Model& m, index workers) {
  const index rows = 64, columns = max_len, k = 7, v = num_items + 1;  // 64 rows: two workers get a share each
  std::vector<std::int32_t> items(std::size_t(rows * columns), 0);
  const auto hs = make_histories(std::size_t(rows));
  for (index r = 0; r < rows; ++r) {
    const auto& h = hs[std::size_t(r)];
    const index kept = std::min(index(h.size()), columns);
    std::copy(h.end() - kept, h.end(), items.begin() + (r + 1) * columns - kept);
  }
  std::vector<float> all(std::size_t(rows * v));
  m.score_last(items, rows, columns, all);
  model::server s(m, int(workers));
  std::vector<std::int32_t> top(std::size_t(rows * k));
  std::vector<float> scores(top.size());
  s.recommend(items, rows, columns, k, true, top, scores);
  for (index r = 0; r < rows; ++r)
    for (index i = 0; i < k; ++i) {
      const float want = all[std::size_t(r * v + top[std::size_t(r * k + i)])];
      CHECK(scores[std::size_t(r * k + i)] == Approx(want).margin(1e-4));
    }
  // One user: the same scores for the same ids.
  std::vector<std::int32_t> one(static_cast<std::size_t>(k));
  std::vector<float> one_scores(static_cast<std::size_t>(k));
  s.recommend(std::span(items).first(std::size_t(columns)), k, true, one, one_scores);
  for (index i = 0; i < k; ++i)
    CHECK(one_scores[std::size_t(i)] == Approx(all[std::size_t(one[std::size_t(i)])]).margin(1e-4));
}

TEST_CASE("model::server: the scores beside the ids are the model's scores of those items", "[serve][model]") {
  auto cfg = test::small_llama("tied", num_items, max_len);
  cfg.init_std = 0.2;
  model::recommender<backend::eigen_cpu, arch::llama> m(cfg, false);
  m.initialize(3);
  for (index workers : {index(1), index(2)}) {
    INFO("float, " << workers << " workers");
    check_scores(m, workers);  // streamed: the catalog in blocks, users split over workers
  }
  auto q = model::quantize<quant::int4_block<32>>(m);
  for (index workers : {index(1), index(2)}) {
    INFO("int4, " << workers << " workers");
    check_scores(*q, workers);  // whole score rows, top-k on each worker
  }
}

TEST_CASE("service: endpoints, good answers equal to model::server's, and each bad request's status", "[serve]") {
  test::temp_dir tmp;
  const auto dir = write_checkpoint(tmp.path() / "ckpt");
  const auto hs = make_histories(12);
  const auto want = reference(dir, hs, true), want_kept = reference(dir, hs, false);
  running_service s(small_options(), dir);
  auto c = s.client();

  auto health = c.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(body_of(health)["status"] == "ok");
  auto info = c.Get("/v1/model");
  REQUIRE(info);
  CHECK(info->status == 200);
  const auto model = body_of(info);
  CHECK(model["items"] == num_items);
  CHECK(model["model"]["arch"] == "llama");
  CHECK(model["scheme"] == "none");
  CHECK(model["identity"]["digest"].get<std::string>().size() == 16);
  CHECK(model["checkpoint"] == dir.string());

  for (std::size_t u = 0; u < hs.size(); ++u) {
    INFO("user " << u);
    auto r = c.Post("/v1/recommend", recommend_body(hs[u], 10, true), "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(same_answer(body_of(r)["items"], body_of(r)["scores"], want[u], 10));
    auto kept = c.Post("/v1/recommend", recommend_body(hs[u], 7, false), "application/json");
    REQUIRE(kept);
    CHECK(same_answer(body_of(kept)["items"], body_of(kept)["scores"], want_kept[u], 7));
  }
  // A batch: one list per user, each the user's own answer.
  auto batch = c.Post("/v1/recommend", json{{"histories", {hs[0], hs[1], hs[2]}}, {"k", 5}}.dump(), "application/json");
  REQUIRE(batch);
  REQUIRE(batch->status == 200);
  const auto b = body_of(batch);
  REQUIRE(b["items"].size() == 3);
  for (std::size_t u = 0; u < 3; ++u) CHECK(same_answer(b["items"][u], b["scores"][u], want[u], 5));

  // Refusals: status and a JSON error naming the problem.
  const auto refused = [&](httplib::Result r, int status, const std::string& says) {
    REQUIRE(r);
    CHECK(r->status == status);
    CHECK_THAT(body_of(r)["error"].get<std::string>(), Catch::Contains(says));
  };
  refused(c.Post("/v1/recommend", "{\"history\": [1,", "application/json"), 400, "malformed JSON");
  refused(c.Post("/v1/recommend", R"({"history": [1, 501]})", "application/json"), 400, "unknown item id 501");
  refused(c.Post("/v1/recommend", R"({"history": [1], "k": 21})", "application/json"), 400, "'k' = 21");
  refused(c.Post("/v1/recommend", json{{"histories", std::vector(9, std::vector{1})}}.dump(), "application/json"), 413,
          "9 users");
  refused(c.Post("/v1/recommend", std::string(70 * 1024, ' '), "application/json"), 413, "65536 bytes");
  refused(c.Get("/v1/recommend"), 405, "use POST");
  refused(c.Delete("/health"), 405, "use GET");
  refused(c.Get("/v2/recommend"), 404, "no such endpoint");
  CHECK(c.Get("/v1/recommend")->get_header_value("Allow") == "POST");

  auto metrics = c.Get("/metrics");
  REQUIRE(metrics);
  CHECK_THAT(metrics->body, Catch::Contains(fmt::format(
                                "slmrec_requests_total{{path=\"/v1/recommend\",code=\"200\"}} {}", 2 * hs.size() + 1)));
  CHECK_THAT(metrics->body, Catch::Contains("slmrec_errors_total{kind=\"bad_request\"} 3"));
  CHECK_THAT(metrics->body, Catch::Contains("slmrec_errors_total{kind=\"too_large\"} 2"));
  CHECK_THAT(metrics->body, Catch::Contains("slmrec_request_seconds_count " + std::to_string(2 * hs.size() + 1)));
  CHECK_THAT(metrics->body, Catch::Contains("slmrec_ready 1"));
}

// Bytes sent as they are on a fresh connection; the status line of whatever comes back ("" if nothing).
std::string raw_exchange(int port, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(std::uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  for (std::size_t sent = 0; sent < bytes.size();) {
    const auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer and close before taking it all
    sent += std::size_t(n);
  }
  std::string in;
  char buf[4096];
  while (in.find("\r\n") == std::string::npos) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, std::size_t(n));
  }
  ::close(fd);
  return in.substr(0, in.find("\r\n"));
}

TEST_CASE("service: broken HTTP is answered by the server (4xx, 505), and the service goes on", "[serve]") {
  test::temp_dir tmp;
  const auto dir = write_checkpoint(tmp.path() / "ckpt");
  running_service s(small_options(), dir);
  const std::string big_header(64 * 1024, 'x');
  const std::vector<std::pair<std::string, std::string>> broken = {
      {"GARBAGE LINE\r\n\r\n", "HTTP/1.1 400"},                                      // no HTTP version
      {"GET /health HTTP/9.9\r\n\r\n", "HTTP/1.1 505"},                                // an HTTP we do not speak
      {"GET /health HTTP/1.1\r\nNoColonHere\r\n\r\n", "HTTP/1.1 400"},               // a header without ':'
      {"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + big_header + "\r\n\r\n", "HTTP/1.1 4"},  // header too large
      {"GET /" + big_header + " HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 4"},           // request line too long
      {"POST /v1/recommend HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{", "HTTP/1.1 413"},
      {"POST /v1/recommend HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "HTTP/1.1 400"},
  };
  for (const auto& [bytes, status] : broken) {
    INFO(bytes.substr(0, 60));
    CHECK_THAT(raw_exchange(s.port, bytes), Catch::StartsWith(status));
  }
  // A first line that is not a request line at all (no space in it): libmicrohttpd closes the connection
  // without an answer, as there is no request to answer.
  CHECK(raw_exchange(s.port, "GARBAGE\r\n\r\n").empty());
  auto c = s.client();
  auto r = c.Post("/v1/recommend", recommend_body({1, 2, 3}, 5, true), "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("service: /health says loading until a model is loaded; requests meanwhile answer 503", "[serve]") {
  test::temp_dir tmp;
  const auto dir = write_checkpoint(tmp.path() / "ckpt");
  serve::service svc(small_options());
  const int port = svc.bind();
  std::thread server([&] { svc.run(); });
  httplib::Client c("127.0.0.1", port);
  auto before = c.Get("/health");
  REQUIRE(before);
  CHECK(before->status == 503);
  CHECK(body_of(before)["status"] == "loading");
  auto early = c.Post("/v1/recommend", R"({"history": [1]})", "application/json");
  REQUIRE(early);
  CHECK(early->status == 503);
  CHECK_THAT(body_of(early)["error"].get<std::string>(), Catch::Contains("no model loaded yet"));
  svc.load(dir);
  CHECK(c.Get("/health")->status == 200);
  CHECK(c.Post("/v1/recommend", R"({"history": [1]})", "application/json")->status == 200);
  svc.stop();
  server.join();
}

TEST_CASE("service: a checkpoint's id map makes its item names the ids, in requests and answers", "[serve]") {
  test::temp_dir tmp;
  const auto dir = write_checkpoint(tmp.path() / "ckpt");
  json names = json::array();
  for (index i = 1; i <= num_items; ++i) names.push_back(fmt::format("item-{}", i));
  std::ofstream(dir / serve::id_map_file_name) << json{{"slmrec_id_map", 1},     {"source", "test"}, {"num_users", 0},
                                                       {"num_items", num_items}, {"users", nullptr}, {"items", names}}
                                                      .dump();
  const std::vector<std::int32_t> h = {3, 40, 7};
  const auto want = reference(dir, {h}, true);
  running_service s(small_options(), dir);
  auto c = s.client();
  auto r = c.Post("/v1/recommend", R"({"history": ["item-3", "item-40", "item-7"], "k": 5})", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const auto got = body_of(r);
  for (index i = 0; i < 5; ++i)
    CHECK(got["items"][std::size_t(i)] == fmt::format("item-{}", want[0].items[std::size_t(i)]));
  auto unknown = c.Post("/v1/recommend", R"({"history": [3]})", "application/json");  // internal ids are not ids
  REQUIRE(unknown);
  CHECK(unknown->status == 400);
  CHECK_THAT(body_of(unknown)["error"].get<std::string>(), Catch::Contains("not in this model's id map"));
  CHECK(body_of(c.Get("/v1/model"))["id_map"] == true);
}

TEST_CASE("service: 10,000 requests from 16 clients, 10% malformed, hot reloads during the run", "[serve]") {
  test::temp_dir tmp;
  const auto a = write_checkpoint(tmp.path() / "a");
  const auto b = tmp.path() / "b";
  std::filesystem::copy(a, b, std::filesystem::copy_options::recursive);  // the same weights: answers must not change
  const auto hs = make_histories(200);
  const auto want = reference(a, hs, true), want_kept = reference(a, hs, false);
  running_service s(small_options(), a);

  // The malformed kinds, each with the status it must get.
  struct bad_kind {
    const char* method;
    const char* path;
    std::string body;
    int status;
  };
  const std::vector<bad_kind> bad = {
      {"POST", "/v1/recommend", "{\"history\": [1, 2", 400},                                       // malformed JSON
      {"POST", "/v1/recommend", R"({"history": [3, 99999]})", 400},                                // unknown id
      {"POST", "/v1/recommend", R"({"history": [3], "k": 0})", 400},                               // k out of range
      {"POST", "/v1/recommend", R"({"history": []})", 400},                                        // empty history
      {"POST", "/v1/recommend", R"({"history": [3], "k": "ten"})", 400},                           // wrong type
      {"POST", "/v1/recommend", R"({"history": [3], "user": 1})", 400},                            // unknown field
      {"POST", "/v1/recommend", json{{"histories", std::vector(9, std::vector{1})}}.dump(), 413},  // too many users
      {"GET", "/v1/recommend", "", 405},                                                           // wrong method
      {"POST", "/v1/recommendations", R"({"history": [3]})", 404},                                 // wrong path
  };

  constexpr int total = 10'000, clients = 16;
  std::atomic<int> next{0}, good_ok{0}, bad_ok{0}, mismatched{0}, other{0};
  std::mutex log_mutex;
  std::vector<std::string> log;  // the first few failures, reported on the main thread
  const auto note = [&](std::string s) {
    std::lock_guard lock(log_mutex);
    if (log.size() < 5) log.push_back(std::move(s));
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < clients; ++t)
    pool.emplace_back([&] {
      auto c = s.client();
      for (int i; (i = next++) < total;) {
        if (i % 10 == 0) {
          const auto& kind = bad[std::size_t(i / 10) % bad.size()];
          auto r =
              std::string(kind.method) == "GET" ? c.Get(kind.path) : c.Post(kind.path, kind.body, "application/json");
          if (r && r->status == kind.status) {
            ++bad_ok;
          } else {
            ++other;
            note(fmt::format("bad request {} {}: status {}", kind.method, kind.path, r ? r->status : -1));
          }
          continue;
        }
        const std::size_t u = std::size_t(i) % hs.size();
        const index k = 1 + i % max_k;
        const bool exclude = i % 3 != 0;
        const bool as_batch = i % 7 == 0;
        const auto body =
            as_batch
                ? json{{"histories", {hs[u], hs[(u + 1) % hs.size()]}}, {"k", k}, {"exclude_history", exclude}}.dump()
                : recommend_body(hs[u], k, exclude);
        auto r = c.Post("/v1/recommend", body, "application/json");
        if (!r || r->status != 200) {
          ++other;
          note(fmt::format("request {}: {}", i, r ? fmt::format("status {} {}", r->status, r->body) : "no answer"));
          continue;
        }
        const auto j = json::parse(r->body);
        const auto& ref = exclude ? want : want_kept;
        const bool same = as_batch ? same_answer(j["items"][0], j["scores"][0], ref[u], k) &&
                                         same_answer(j["items"][1], j["scores"][1], ref[(u + 1) % hs.size()], k)
                                   : same_answer(j["items"], j["scores"], ref[u], k);
        if (same) {
          ++good_ok;
        } else {
          ++mismatched;
          note(fmt::format("request {}: answer {} differs from model::server's", i, r->body));
        }
      }
    });

  // Hot reloads while the clients run: b, a, b, ... and one that fails.
  int reloads = 0;
  bool failed_reload_kept_serving = false;
  {
    auto c = s.client();
    while (next.load() < total) {
      std::this_thread::sleep_for(30ms);
      if (next.load() >= total) break;
      const auto dir = reloads % 2 == 0 ? b : a;
      auto r = c.Post("/v1/reload", json{{"checkpoint", dir.string()}}.dump(), "application/json");
      if (r && r->status == 200 && body_of(r)["model"]["checkpoint"] == dir.string()) ++reloads;
      if (reloads == 2 && !failed_reload_kept_serving) {
        auto f =
            c.Post("/v1/reload", json{{"checkpoint", (tmp.path() / "missing").string()}}.dump(), "application/json");
        failed_reload_kept_serving =
            f && f->status == 500 &&
            body_of(f)["error"].get<std::string>().find("still serving") != std::string::npos &&
            s.svc.current()->info().checkpoint == a;
      }
    }
  }
  for (auto& t : pool) t.join();
  for (const auto& line : log) UNSCOPED_INFO(line);
  CHECK(good_ok.load() == total - total / 10);
  CHECK(bad_ok.load() == total / 10);
  CHECK(mismatched.load() == 0);
  CHECK(other.load() == 0);
  CHECK(reloads >= 3);
  CHECK(failed_reload_kept_serving);
  const auto metrics = s.client().Get("/metrics")->body;
  CHECK_THAT(metrics, Catch::Contains(fmt::format("slmrec_reloads_total{{result=\"ok\"}} {}", reloads + 1)));
  CHECK_THAT(metrics, Catch::Contains("slmrec_reloads_total{result=\"failed\"} 1"));
}

TEST_CASE("service: a graceful stop under load answers every request in flight, then refuses connections", "[serve]") {
  test::temp_dir tmp;
  const auto dir = write_checkpoint(tmp.path() / "ckpt");
  const auto hs = make_histories(64);
  auto o = small_options();
  o.limits.max_users = 16;
  auto s = std::make_unique<running_service>(o, dir);
  const std::string body = json{{"histories", std::vector(hs.begin(), hs.begin() + 16)}, {"k", 10}}.dump();

  using clock = std::chrono::steady_clock;
  std::atomic<bool> stopping{false};
  std::atomic<int> ok{0}, ok_after_stop{0}, refused{0}, bad_status{0};
  clock::time_point stop_at{};
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t)
    pool.emplace_back([&] {
      auto c = s->client();
      for (;;) {
        auto r = c.Post("/v1/recommend", body, "application/json");
        if (!r) {  // the connection was closed or refused: the service is stopping
          ++refused;
          if (stopping.load()) return;
          continue;
        }
        if (r->status != 200 || json::parse(r->body)["items"].size() != 16) {
          ++bad_status;
          continue;
        }
        ++ok;
        if (stopping.load()) ++ok_after_stop;
      }
    });
  std::this_thread::sleep_for(300ms);
  const int before = ok.load();
  stop_at = clock::now();
  stopping = true;
  s->svc.stop();
  s->thread.join();  // run() returns once every request in flight is answered
  const double stop_seconds = std::chrono::duration<double>(clock::now() - stop_at).count();
  for (auto& t : pool) t.join();
  CHECK(before > 0);
  CHECK(bad_status.load() == 0);     // no request was cut off or failed: in flight means answered
  CHECK(ok_after_stop.load() >= 1);  // requests in flight at stop() were still answered
  CHECK(stop_seconds < 10.0);
  httplib::Client late("127.0.0.1", s->port);
  late.set_connection_timeout(1, 0);
  CHECK_FALSE(late.Get("/health"));  // nobody listens any more
}

}  // namespace
}  // namespace slmrec
