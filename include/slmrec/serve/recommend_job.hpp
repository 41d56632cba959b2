#pragma once
// One POST /v1/recommend on its way through the batcher (batcher.hpp), and
// the batch step that answers a group of them with one model::server call.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include <slmrec/core/types.hpp>
#include <slmrec/serve/engine.hpp>
#include <slmrec/serve/request.hpp>

namespace slmrec::serve {

struct recommend_job {
  std::shared_ptr<engine> model;  // the engine the request was validated against
  recommend_request request;
  std::vector<std::int32_t> items;  // the answer: [users, k] internal ids
  std::vector<float> scores;        // [users, k]
  std::exception_ptr error;         // set instead of the answer when the model threw
  // Called once, on the batcher's thread, when the answer (or the error) is
  // in; it must not throw, and the job may be gone as soon as it returns.
  std::function<void()> done;

  [[nodiscard]] index users() const { return request.users(); }
  [[nodiscard]] const engine* key() const { return model.get(); }
  void fail(std::exception_ptr e) {
    error = std::move(e);
    finish();
  }
  // Calls a copy of done: the job may be freed by the time that call returns.
  void finish() const {
    const auto call = done;
    call();
  }
};

// Buffers of the batch step, kept by its one caller across batches.
struct batch_scratch {
  std::vector<std::int32_t> items, top;
  std::vector<float> scores;
  std::vector<std::pair<recommend_job*, index>> rows;  // (job, user) of each row
};

// Answers jobs of one engine: their users with exclude_history in one
// model batch, those without in another, each with k the largest asked (a
// top-k's first k items are the top k). One user alone goes through the
// one-user path. A batch reads each history's last columns = min(longest,
// max_len) items; a longer history with exclude_history is answered again
// alone, as the one-user path excludes all of it. Every job's answer is
// computed before any is released: if the model throws, no job has been
// answered and the batcher fails them all. Returns the users computed.
inline index run_recommend_batch(std::span<recommend_job* const> jobs, batch_scratch& s) {
  if (jobs.empty()) return 0;
  engine& e = *jobs.front()->model;
  index total = 0;
  for (const bool exclude : {true, false}) {
    s.rows.clear();
    index k = 0, longest = 0;
    for (auto* j : jobs) {
      if (j->request.exclude_history != exclude) continue;
      k = std::max(k, j->request.k);
      for (index u = 0; u < j->users(); ++u) {
        s.rows.emplace_back(j, u);
        longest = std::max(longest, index(j->request.histories[std::size_t(u)].size()));
      }
    }
    const index rows = index(s.rows.size());
    if (rows == 0) continue;
    total += rows;
    s.top.resize(std::size_t(rows * k));
    s.scores.resize(std::size_t(rows * k));
    const auto history = [&](index r) -> const std::vector<std::int32_t>& {
      return s.rows[std::size_t(r)].first->request.histories[std::size_t(s.rows[std::size_t(r)].second)];
    };
    if (rows == 1) {
      e.recommend(history(0), k, exclude, s.top, s.scores);
    } else {
      const index columns = std::min(longest, e.max_len());
      s.items.assign(std::size_t(rows * columns), 0);
      for (index r = 0; r < rows; ++r) {
        const auto& h = history(r);
        const index kept = std::min(index(h.size()), columns);
        std::copy(h.end() - kept, h.end(), s.items.begin() + (r + 1) * columns - kept);
      }
      e.recommend(s.items, rows, columns, k, exclude, s.top, s.scores);
      for (index r = 0; r < rows; ++r)
        if (exclude && index(history(r).size()) > columns)
          e.recommend(history(r), k, true, std::span(s.top).subspan(std::size_t(r * k), std::size_t(k)),
                      std::span(s.scores).subspan(std::size_t(r * k), std::size_t(k)));
    }
    for (index r = 0; r < rows; ++r) {
      auto& [job, u] = s.rows[std::size_t(r)];
      const index jk = job->request.k;
      job->items.resize(std::size_t(job->users() * jk));
      job->scores.resize(job->items.size());
      std::copy_n(s.top.begin() + r * k, jk, job->items.begin() + u * jk);
      std::copy_n(s.scores.begin() + r * k, jk, job->scores.begin() + u * jk);
    }
  }
  for (auto* j : jobs) j->finish();
  return total;
}

}  // namespace slmrec::serve
