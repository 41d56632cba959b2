#pragma once
// The serving path: histories in, the k best next items out, for one user (a
// latency path) or a batch (a throughput path). A server owns the score and
// scratch buffers, so after the first call a request allocates nothing; the
// model computes only what the answer needs (the last position's scores).
//
//   slmrec::model::server serve(model);
//   std::vector<std::int32_t> top(10);
//   serve.recommend(history, 10, true, top);
#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::model {

// The k largest of scores[1..n] (column 0 is padding), best first; ties go to
// the smaller item id, as in batch_api's recommend(). One pass with a small
// sorted buffer: O(n) for the k of a recommendation list.
inline void top_k(std::span<const float> scores, index k, std::span<std::int32_t> out) {
  const index n = index(scores.size()) - 1;
  require(k >= 1 && k <= n, "top_k: k = {} outside 1..{}", k, n);
  require(index(out.size()) >= k, "top_k: output holds {} ids, expected at least {}", out.size(), k);
  index filled = 0;
  const auto better = [&](std::int32_t a, std::int32_t b) {
    return scores[std::size_t(a)] > scores[std::size_t(b)] || (scores[std::size_t(a)] == scores[std::size_t(b)] && a < b);
  };
  for (index i = 1; i <= n; ++i) {
    const auto id = std::int32_t(i);
    if (filled == k && !better(id, out[std::size_t(k - 1)])) continue;
    index j = filled < k ? filled++ : k - 1;  // insertion into the sorted list, dropping the worst
    while (j > 0 && better(id, out[std::size_t(j - 1)])) {
      out[std::size_t(j)] = out[std::size_t(j - 1)];
      --j;
    }
    out[std::size_t(j)] = id;
  }
}

template <class Model>
class server {
 public:
  explicit server(Model& model) : model_(model) {}

  // items: [rows, columns] left-padded histories. Writes the k best items of
  // each row into out [rows, k]; with `exclude_history` a row's own items are
  // never recommended.
  void recommend(std::span<const std::int32_t> items, index rows, index columns, index k, bool exclude_history,
                 std::span<std::int32_t> out) {
    const index v = model_.config().num_items + 1;
    require(index(items.size()) == rows * columns, "recommend: {} ids for a [{}, {}] batch", items.size(), rows, columns);
    require(index(out.size()) == rows * k, "recommend: output holds {} ids, expected {} x {}", out.size(), rows, k);
    require(k >= 1 && k < v, "recommend: k = {} outside 1..{}", k, v - 1);  // checked here: no throw in the loop
    scores_.resize(std::size_t(rows * v));
    model_.score_last(items, rows, columns, scores_);
    // Rows are independent: pick each row's top-k in parallel.
    SLMREC_OMP(parallel for if (rows * v > backend::cpu::parallel_threshold))
    for (index r = 0; r < rows; ++r) {
      const std::span<float> s(scores_.data() + r * v, std::size_t(v));
      if (exclude_history)
        for (index c = 0; c < columns; ++c) {
          const auto id = items[std::size_t(r * columns + c)];
          if (id > 0 && id < v) s[std::size_t(id)] = -std::numeric_limits<float>::infinity();
        }
      top_k(s, k, out.subspan(std::size_t(r * k), std::size_t(k)));
    }
  }

  // One user's history (oldest first, any length; the model reads its last
  // max_len items, the exclusion covers all of them): the k best next items,
  // best first.
  void recommend(std::span<const std::int32_t> history, index k, bool exclude_history, std::span<std::int32_t> out) {
    require(!history.empty(), "recommend: the history is empty (at least one item is needed)");
    const index v = model_.config().num_items + 1;
    const auto read = std::min<std::size_t>(history.size(), std::size_t(model_.config().max_len));
    scores_.resize(std::size_t(v));
    model_.score_last(history.last(read), 1, index(read), scores_);
    if (exclude_history)
      for (const auto id : history)
        if (id > 0 && id < v) scores_[std::size_t(id)] = -std::numeric_limits<float>::infinity();
    top_k(scores_, k, out);
  }
  std::vector<std::int32_t> recommend(std::span<const std::int32_t> history, index k, bool exclude_history = true) {
    std::vector<std::int32_t> top(static_cast<std::size_t>(k));
    recommend(history, k, exclude_history, top);
    return top;
  }

 private:
  Model& model_;
  std::vector<float> scores_;
};

}  // namespace slmrec::model
