// The dynamic batcher (serve/batcher.hpp): gathering, the wait, the bounded
// queue, keys, errors and stopping, with jobs that only count users.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <slmrec/serve/batcher.hpp>

namespace slmrec {
namespace {

using namespace std::chrono_literals;
using serve::batcher;
using serve::batcher_options;

struct fake_job {
  index n = 1;
  int group = 0;
  std::promise<void> done;
  [[nodiscard]] index users() const { return n; }
  [[nodiscard]] int key() const { return group; }
  void fail(std::exception_ptr e) { done.set_exception(std::move(e)); }
};

// Records each batch's users and keys, answers every job.
struct recorder {
  std::mutex mutex;
  std::vector<index> sizes;
  std::vector<std::vector<int>> keys;
  void operator()(std::span<fake_job* const> jobs) {
    index users = 0;
    std::vector<int> k;
    for (auto* j : jobs) {
      users += j->users();
      k.push_back(j->key());
    }
    {
      std::lock_guard lock(mutex);
      sizes.push_back(users);
      keys.push_back(k);
    }
    for (auto* j : jobs) j->done.set_value();
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST_CASE("batcher: requests on their way are gathered into batches of at most max_batch users", "[serve]") {
  recorder rec;
  batcher<fake_job> b({.max_batch = 8, .max_wait = 2s, .max_queue = 64}, [&](auto jobs) { rec(jobs); });
  std::vector<fake_job> jobs(20);
  {
    // 20 requests announced at once (as 20 connections reading their bodies), then queued one by one.
    std::vector<std::unique_ptr<batcher<fake_job>::arrival>> coming;
    for (int i = 0; i < 20; ++i) coming.push_back(std::make_unique<batcher<fake_job>::arrival>(b));
    for (int i = 0; i < 20; ++i) {
      REQUIRE(b.submit(jobs[std::size_t(i)]));
      coming[std::size_t(i)]->release();
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& j : jobs) j.done.get_future().get();
  CHECK(seconds_since(t0) < 1.0);  // full batches run without waiting out max_wait
  std::lock_guard lock(rec.mutex);
  CHECK(rec.sizes == std::vector<index>{8, 8, 4});
}

TEST_CASE("batcher: a lone request runs at once instead of waiting out max_wait", "[serve]") {
  recorder rec;
  batcher<fake_job> b({.max_batch = 64, .max_wait = 2s, .max_queue = 64}, [&](auto jobs) { rec(jobs); });
  fake_job j;
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(b.submit(j));
  j.done.get_future().get();
  CHECK(seconds_since(t0) < 0.5);  // well under the 2 s wait
  CHECK(rec.sizes == std::vector<index>{1});
}

TEST_CASE("batcher: a request announced but never queued holds a batch for max_wait, no longer", "[serve]") {
  recorder rec;
  batcher<fake_job> b({.max_batch = 64, .max_wait = 150ms, .max_queue = 64}, [&](auto jobs) { rec(jobs); });
  batcher<fake_job>::arrival never_comes(b);
  fake_job j;
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(b.submit(j));
  j.done.get_future().get();
  const double waited = seconds_since(t0);
  CHECK(waited >= 0.149);
  CHECK(waited < 1.0);
  CHECK(rec.sizes == std::vector<index>{1});
}

TEST_CASE("batcher: the queue is bounded in users; full, it refuses, and accepts again once drained", "[serve]") {
  std::promise<void> entered, gate;
  auto open = gate.get_future().share();
  std::atomic<int> batches{0};
  batcher<fake_job> b({.max_batch = 2, .max_wait = 0us, .max_queue = 4}, [&](auto jobs) {
    if (batches++ == 0) {
      entered.set_value();
      open.wait();  // the first batch holds the worker
    }
    for (auto* j : jobs) j->done.set_value();
  });
  fake_job first;
  REQUIRE(b.submit(first));
  entered.get_future().wait();
  std::vector<fake_job> queued(4);
  for (auto& j : queued) CHECK(b.submit(j));
  CHECK(b.queued_users() == 4);
  fake_job one_more, big;
  big.n = 5;
  CHECK_FALSE(b.submit(one_more));  // 4 users queued: the limit
  CHECK_FALSE(b.submit(big));       // more users than the queue holds: never
  gate.set_value();
  first.done.get_future().get();
  for (auto& j : queued) j.done.get_future().get();
  CHECK(b.queued_users() == 0);
  CHECK(b.submit(one_more));
  one_more.done.get_future().get();
  CHECK(batches.load() == 4);  // 1, then 2 + 2, then 1
}

TEST_CASE("batcher: jobs of different keys (models) never share a batch", "[serve]") {
  recorder rec;
  std::promise<void> gate;
  auto open = gate.get_future().share();
  std::atomic<bool> first{true};
  batcher<fake_job> b({.max_batch = 16, .max_wait = 0us, .max_queue = 64}, [&](auto jobs) {
    if (first.exchange(false)) open.wait();
    rec(jobs);
  });
  std::vector<fake_job> jobs(9);
  for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i].group = i == 0 ? 0 : int(i % 2) + 1;
  REQUIRE(b.submit(jobs[0]));
  std::this_thread::sleep_for(20ms);  // the worker holds job 0; the rest queue up behind it
  for (std::size_t i = 1; i < jobs.size(); ++i) REQUIRE(b.submit(jobs[i]));
  gate.set_value();
  for (auto& j : jobs) j.done.get_future().get();
  std::lock_guard lock(rec.mutex);
  REQUIRE(rec.keys.size() == 3);
  CHECK(rec.keys[1] == std::vector<int>{2, 2, 2, 2});  // job 1 has key 2 (1 % 2 + 1): the oldest goes first
  CHECK(rec.keys[2] == std::vector<int>{1, 1, 1, 1});
}

TEST_CASE("batcher: an error of the batch step fails every job of that batch, and the worker goes on", "[serve]") {
  std::atomic<int> calls{0};
  batcher<fake_job> b({.max_batch = 4, .max_wait = 0us, .max_queue = 16}, [&](auto jobs) {
    if (calls++ == 0) throw std::runtime_error("model exploded");
    for (auto* j : jobs) j->done.set_value();
  });
  fake_job bad, good;
  REQUIRE(b.submit(bad));
  CHECK_THROWS_WITH(bad.done.get_future().get(), "model exploded");
  REQUIRE(b.submit(good));
  CHECK_NOTHROW(good.done.get_future().get());
}

TEST_CASE("batcher: stop runs every queued job, then refuses new ones", "[serve]") {
  std::promise<void> entered, gate;
  auto open = gate.get_future().share();
  std::atomic<int> answered{0};
  std::atomic<bool> first{true};
  batcher<fake_job> b({.max_batch = 1, .max_wait = 0us, .max_queue = 16}, [&](auto jobs) {
    if (first.exchange(false)) {
      entered.set_value();
      open.wait();
    }
    for (auto* j : jobs) {
      ++answered;
      j->done.set_value();
    }
  });
  std::vector<fake_job> jobs(4);
  REQUIRE(b.submit(jobs[0]));
  entered.get_future().wait();
  for (std::size_t i = 1; i < jobs.size(); ++i) REQUIRE(b.submit(jobs[i]));
  std::thread stopper([&] { b.stop(); });
  std::this_thread::sleep_for(20ms);
  gate.set_value();
  stopper.join();
  CHECK(answered.load() == 4);
  fake_job late;
  CHECK_FALSE(b.submit(late));
}

TEST_CASE("batcher: options are checked", "[serve]") {
  const auto make = [](batcher_options o) { batcher<fake_job> b(o, [](auto) {}); };
  CHECK_THROWS_WITH(make({.max_batch = 0}), Catch::Contains("max_batch = 0"));
  CHECK_THROWS_WITH(make({.max_batch = 8, .max_wait = 0us, .max_queue = 4}), Catch::Contains("max_queue = 4"));
}

}  // namespace
}  // namespace slmrec
