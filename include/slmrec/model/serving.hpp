#pragma once
// The serving path: histories in, the k best next items out, for one user (a
// latency path) or a batch (a throughput path). A server owns the score and
// scratch buffers, so after the first call a request allocates nothing; the
// model computes only what the answer needs (the last position's scores).
//
//   slmrec::model::server serve(model);
//   std::vector<std::int32_t> top(10);
//   serve.recommend(history, 10, true, top);
//
// On the CPU a batch is split over workers, one per thread, each running its
// own inference replica of the model (replica.hpp: shared float weights, its
// own activations) on a share of the users, serially: a small model's
// products are too small to split well, and a thread per share of users
// spends no time waiting at the many barriers of per-product parallelism.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/first_error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/model/approximate_search.hpp>
#include <slmrec/model/item_scorer.hpp>
#include <slmrec/model/length_buckets.hpp>
#include <slmrec/model/replica.hpp>
#include <slmrec/model/sequence_input.hpp>
#include <slmrec/model/streamed_top_k.hpp>
#include <slmrec/model/top_k.hpp>
#include <slmrec/nn/context.hpp>

namespace slmrec::model {

template <class Model>
class server {
  using BE = typename Model::backend_type;
  // A backend that selects the top-k itself (the GPU): the scores never leave it.
  static constexpr bool backend_top_k = backend::device_top_k_ops<BE>;
  static constexpr bool host_backend = BE::is_host;
  // Float and int8 models on the CPU stream the catalog (streamed_top_k.hpp);
  // the other formats score whole rows.
  static constexpr bool streamed = scores_item_ranges<Model>;
  using scorer_type = std::conditional_t<streamed, item_scorer<Model>, int>;

 public:
  // workers: how many threads share a CPU batch (0: OpenMP's thread count; built without OpenMP, one).
  explicit server(Model& model, int workers = 0) : model_(model), workers_(workers) {}

  // Catalog scale: while set (not null), requests go to an approximate search
  // (model/indexed_search.hpp: an HNSW index, candidates re-scored exactly)
  // instead of scoring every item. The server does not own it.
  void set_approximate(approximate_search* search) { approximate_ = search; }

  // items: [rows, columns] left-padded histories. Writes the k best items of
  // each row into out [rows, k] and, unless `scores` is empty, their scores
  // into scores [rows, k]; with `exclude_history` a row's own items are never
  // recommended.
  void recommend(std::span<const std::int32_t> items, index rows, index columns, index k, bool exclude_history,
                 std::span<std::int32_t> out, std::span<float> scores = {}) {
    const index v = model_.config().num_items + 1;
    require(index(items.size()) == rows * columns, "recommend: {} ids for a [{}, {}] batch", items.size(), rows,
            columns);
    require(index(out.size()) == rows * k, "recommend: output holds {} ids, expected {} x {}", out.size(), rows, k);
    require(k >= 1 && k < v, "recommend: k = {} outside 1..{}", k, v - 1);  // checked here: no throw in the loop
    require(scores.empty() || index(scores.size()) == rows * k,
            "recommend: score output holds {} values, expected {} x {}", scores.size(), rows, k);
    if (approximate_) return approximate_->recommend(items, rows, columns, k, exclude_history, out, scores);
    if constexpr (backend_top_k) {  // ids only: with scores, the rows come back (recommend_rows)
      if (k <= BE::max_top_k && scores.empty())
        return top_k_in_backend(items, rows, columns, items, columns, k, exclude_history, out);
    }
    if constexpr (streamed) {
      if (const index parts = worker_count(rows); parts > 1) {
        user_vectors_split(items, rows, columns, parts);
      } else {
        scorer(0).set_users(items, rows, columns);
      }
      const auto history = [&](index r) { return items.subspan(std::size_t(r * columns), std::size_t(columns)); };
      return streamed_top_k(scorer(0), k, exclude_history, history, out, states_, workers_, 0, scores);
    }
    if constexpr (host_backend) {
      if (const index parts = worker_count(rows); parts > 1)
        return recommend_split(items, rows, columns, k, exclude_history, out, scores, parts);
    }
    recommend_rows(model_, scores_, items, rows, columns, k, exclude_history, out, scores);
  }

  // One user's history (oldest first, any length; the model reads its last
  // max_len items, the exclusion covers all of them): the k best next items,
  // best first, and (unless `scores` is empty) their scores.
  void recommend(std::span<const std::int32_t> history, index k, bool exclude_history, std::span<std::int32_t> out,
                 std::span<float> scores = {}) {
    require(!history.empty(), "recommend: the history is empty (at least one item is needed)");
    require(scores.empty() || index(scores.size()) >= k, "recommend: score output holds {} values, expected {}",
            scores.size(), k);
    if (!scores.empty()) scores = scores.first(std::size_t(k));
    if (approximate_) return approximate_->recommend(history, k, exclude_history, out, scores);
    const index v = model_.config().num_items + 1;
    const auto read = std::min<std::size_t>(history.size(), std::size_t(model_.config().max_len));
    if constexpr (backend_top_k) {
      require(k >= 1 && k < v, "recommend: k = {} outside 1..{}", k, v - 1);
      require(index(out.size()) >= k, "recommend: output holds {} ids, expected at least {}", out.size(), k);
      if (k <= BE::max_top_k && scores.empty())
        return top_k_in_backend(history.last(read), 1, index(read), history, index(history.size()), k, exclude_history,
                                out.first(std::size_t(k)));
    }
    if constexpr (streamed) {
      require(k >= 1 && k < v, "recommend: k = {} outside 1..{}", k, v - 1);
      require(index(out.size()) >= k, "recommend: output holds {} ids, expected at least {}", out.size(), k);
      scorer(0).set_users(history.last(read), 1, index(read));
      const auto all = [&](index) { return history; };
      return streamed_top_k(scorer(0), k, exclude_history, all, out.first(std::size_t(k)), states_, workers_, 0,
                            scores);
    }
    scores_.resize(std::size_t(v));
    model_.score_last(history.last(read), 1, index(read), scores_);
    if (exclude_history)
      for (const auto id : history)
        if (id > 0 && id < v) scores_[std::size_t(id)] = -std::numeric_limits<float>::infinity();
    top_k(scores_, k, out, scores);
  }
  std::vector<std::int32_t> recommend(std::span<const std::int32_t> history, index k, bool exclude_history = true) {
    std::vector<std::int32_t> top(static_cast<std::size_t>(k));
    recommend(history, k, exclude_history, top);
    return top;
  }

 private:
  // One model's share: scores of `rows` users, their own items excluded, each
  // row's top k (and its scores into top_scores unless that is empty).
  static void recommend_rows(Model& m, std::vector<float>& scores, std::span<const std::int32_t> items, index rows,
                             index columns, index k, bool exclude_history, std::span<std::int32_t> out,
                             std::span<float> top_scores) {
    const index v = m.config().num_items + 1;
    scores.resize(std::size_t(rows * v));
    m.score_last(items, rows, columns, scores);
    // Rows are independent: pick each row's top-k in parallel (serial inside a worker).
    SLMREC_OMP(parallel for if (rows * v > backend::cpu::parallel_threshold))
    for (index r = 0; r < rows; ++r) {
      const std::span<float> s(scores.data() + r * v, std::size_t(v));
      if (exclude_history)
        for (index c = 0; c < columns; ++c) {
          const auto id = items[std::size_t(r * columns + c)];
          if (id > 0 && id < v) s[std::size_t(id)] = -std::numeric_limits<float>::infinity();
        }
      top_k(s, k, out.subspan(std::size_t(r * k), std::size_t(k)),
            top_scores.empty() ? top_scores : top_scores.subspan(std::size_t(r * k), std::size_t(k)));
    }
  }

  // Workers for a CPU batch: one per thread, each with at least two buckets of users.
  index worker_count(index rows) const {
#if defined(_OPENMP)
    if (omp_in_parallel()) return 1;  // already on a worker thread of the caller's
    const index threads = workers_ > 0 ? workers_ : omp_get_max_threads();
#else
    const index threads = 1;  // no threads: nothing to split
#endif
    return std::min(threads, rows / (2 * Model::bucket_rows));
  }

  // The batch's users dealt to `parts` workers by history length (even
  // work), each worker's share gathered and given to work(model, share,
  // rows), its own replica's model for all but share 0, all in parallel.
  // row_cost: the work per user beside its positions.
  template <class Work>
  void run_shares(std::span<const std::int32_t> items, index rows, index columns, index parts, double row_cost,
                  Work&& work) {
    const auto& cfg = model_.config();
    require_valid_batch(items, rows, columns, cfg.max_len, cfg.num_items);  // errors name the row as given
    buckets_.assign(items, rows, columns, Model::bucket_rows);
    // A position costs about 12 d^2 multiply-adds per layer.
    const double position_cost = 12.0 * double(cfg.dim) * double(cfg.dim) * double(model_.depth());
    buckets_.deal(parts, position_cost, row_cost, rows_of_);
    while (index(replicas_.size()) + 1 < parts) replicas_.push_back(inference_replica(model_));
    shares_.resize(std::size_t(parts));
    for (index p = 0; p < parts; ++p) {
      auto& sh = shares_[std::size_t(p)];
      const auto& mine = rows_of_[std::size_t(p)];
      sh.items.resize(mine.size() * std::size_t(columns));
      for (std::size_t i = 0; i < mine.size(); ++i)
        std::copy_n(items.begin() + std::ptrdiff_t(mine[i]) * columns, columns,
                    sh.items.begin() + std::ptrdiff_t(i) * columns);
    }
    first_error error;  // an exception may not leave a parallel region
    SLMREC_OMP(parallel num_threads(int(parts))) {
#if defined(_OPENMP)
      const index first = omp_get_thread_num(), step = omp_get_num_threads();
#else
      const index first = 0, step = 1;
#endif
      for (index p = first; p < parts; p += step) {  // fewer threads than parts: a thread takes several
        if (rows_of_[std::size_t(p)].empty()) continue;
        error.capture([&] {
          work(p, p == 0 ? model_ : *replicas_[std::size_t(p - 1)], shares_[std::size_t(p)],
               index(rows_of_[std::size_t(p)].size()));
        });
      }
    }
    error.rethrow();
  }

  // Scores and top-k on each worker (the formats that score whole rows).
  void recommend_split(std::span<const std::int32_t> items, index rows, index columns, index k, bool exclude_history,
                       std::span<std::int32_t> out, std::span<float> top_scores, index parts) {
    const double row_cost = double(model_.config().num_items + 1) * double(model_.config().resolved_item_dim());
    run_shares(items, rows, columns, parts, row_cost, [&](index, Model& m, share& sh, index n) {
      sh.out.resize(std::size_t(n * k));
      sh.top_scores.resize(top_scores.empty() ? 0 : std::size_t(n * k));
      recommend_rows(m, sh.scores, sh.items, n, columns, k, exclude_history, sh.out, sh.top_scores);
    });
    for (index p = 0; p < parts; ++p) {
      const auto& mine = rows_of_[std::size_t(p)];
      const auto& sh = shares_[std::size_t(p)];
      for (std::size_t i = 0; i < mine.size(); ++i) {
        std::copy_n(sh.out.begin() + std::ptrdiff_t(i) * k, k, out.begin() + std::ptrdiff_t(mine[i]) * k);
        if (!top_scores.empty())
          std::copy_n(sh.top_scores.begin() + std::ptrdiff_t(i) * k, k,
                      top_scores.begin() + std::ptrdiff_t(mine[i]) * k);
      }
    }
  }

  // Only the users' vectors on the workers; the catalog is then streamed
  // once for the whole batch.
  void user_vectors_split(std::span<const std::int32_t> items, index rows, index columns, index parts) {
    for (index p = 0; p < parts; ++p) scorer(p);  // the replicas and their scorers, before the threads
    run_shares(items, rows, columns, parts, 0.0, [&](index p, Model&, share& sh, index n) {
      scorers_[std::size_t(p)]->set_users(sh.items, n, columns);
    });
    const index w = scorer(0).width();
    gathered_.resize(std::size_t(rows * w));
    for (index p = 0; p < parts; ++p) {
      const auto& mine = rows_of_[std::size_t(p)];
      const float* q = scorers_[std::size_t(p)]->user_vectors().data();
      for (std::size_t i = 0; i < mine.size(); ++i)
        std::copy_n(q + std::ptrdiff_t(i) * w, w, gathered_.begin() + std::ptrdiff_t(mine[i]) * w);
    }
    scorer(0).set_user_vectors(gathered_.data(), rows);
  }

  // The scorer of share p's model (0: model_, p: replicas_[p - 1]).
  scorer_type& scorer(index p) {
    if (p > 0)
      while (index(replicas_.size()) < p) replicas_.push_back(inference_replica(model_));
    while (index(scorers_.size()) <= p) {
      const auto q = index(scorers_.size());
      scorers_.push_back(std::make_unique<scorer_type>(q == 0 ? model_ : *replicas_[std::size_t(q - 1)]));
    }
    return *scorers_[std::size_t(p)];
  }

  // Scores, exclusion and selection in backend memory; only k ids per row come back.
  void top_k_in_backend(std::span<const std::int32_t> items, index rows, index columns,
                        std::span<const std::int32_t> exclude, index exclude_columns, index k, bool exclude_history,
                        std::span<std::int32_t> out) {
    const index v = model_.config().num_items + 1;
    auto* scores = model_.score_last_in_backend(items, rows, columns);
    if (exclude_history) {
      nn::ensure_size(exclude_dev_, index(exclude.size()));
      BE::upload(exclude.data(), exclude_dev_.data(), index(exclude.size()));
    }
    nn::ensure_size(top_dev_, rows * k);
    BE::top_k_rows(scores, rows, v, exclude_history ? exclude_dev_.data() : nullptr, exclude_columns, k,
                   top_dev_.data());
    BE::download(top_dev_.data(), out.data(), rows * k);
  }

  Model& model_;
  int workers_ = 0;
  approximate_search* approximate_ = nullptr;
  std::vector<float> scores_;
  // CPU batches split over workers: replicas_[p - 1] runs share p (share 0 runs on model_).
  struct share {
    std::vector<std::int32_t> items, out;
    std::vector<float> scores, top_scores;
  };
  length_buckets buckets_;
  std::vector<std::vector<std::int32_t>> rows_of_;
  std::vector<share> shares_;
  std::vector<std::unique_ptr<Model>> replicas_;
  std::vector<std::unique_ptr<scorer_type>> scorers_;  // streamed: [0] model_, [p] replicas_[p - 1]
  std::vector<streamed_top_k_state> states_;
  std::vector<float> gathered_;
  typename BE::template buffer<std::int32_t> exclude_dev_, top_dev_;  // backend top-k only
};

}  // namespace slmrec::model
