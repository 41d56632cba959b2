#pragma once
// Serving from an HNSW index (index/hnsw_index.hpp) with exact re-scoring:
// the user's vector as the model's head sees it, the index's k + |history|
// best candidates (searched with ef = max(ef, that count)), the history
// excluded, each remaining candidate scored exactly as its dot product with
// the row the head scores it by, and the k best returned with the exact
// path's order (higher score first, ties to the smaller id). Optionally an
// exact head (index/exact_head.hpp): the items of largest norm are scored
// exactly for every query and compete with the graph's candidates, which is
// what lifts recall on a trained table whose best answers are its few
// large-norm items (docs/scaling.md).
//
//   auto idx = slmrec::ann::load_checkpoint_index(dir);
//   slmrec::model::indexed_search search(model, idx, /*ef=*/80, /*exact_head=*/20000);
//   slmrec::model::server serve(model);
//   serve.set_approximate(&search);   // requests now go through the index
//
// Which rows, per head: tied, the item table; projected, the item table, the
// user's state through the output projection; classifier, the classifier's
// rows. A quantized model's rows are dequantised (the index is built from the
// same dequantised rows), so its re-scored values are float products, not the
// int8 kernel's (which also rounds the user vector): rankings can differ from
// the exact path's only where two scores are within that rounding.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/index/exact_head.hpp>
#include <slmrec/index/hnsw_index.hpp>
#include <slmrec/model/approximate_search.hpp>
#include <slmrec/model/top_k.hpp>

namespace slmrec::model {

// The tensor whose rows the model's head scores items with, its name in a checkpoint and its width.
template <class Model>
std::string scored_tensor_name(const Model& m) {
  return std::visit([](const auto& h) { return std::string(h.scored_tensor); }, m.scoring_head());
}
template <class Model>
index scored_width(const Model& m) {
  return m.scoring_width();
}

namespace detail {
// Row `id` of a float parameter or a packed matrix, as floats (scratch holds a dequantised row).
template <class Weight>
const float* weight_row(const Weight& w, std::int32_t id, index width, std::vector<float>& scratch) {
  if constexpr (requires { w.value; }) {
    return w.value + index(id) * width;
  } else {
    scratch.resize(std::size_t(width));
    w.dequantize_row(id, scratch.data());
    return scratch.data();
  }
}
}  // namespace detail

// The scored rows of every item, [num_items + 1, scored_width]: what an index is built from.
template <class Model>
std::vector<float> scored_item_rows(Model& m) {
  const index v = m.config().num_items + 1, w = scored_width(m);
  std::vector<float> rows(std::size_t(v * w)), scratch;
  const auto& weight = m.scoring_weights();
  for (index r = 0; r < v; ++r) {
    const float* src = detail::weight_row(weight, std::int32_t(r), w, scratch);
    std::copy(src, src + w, rows.begin() + r * w);
  }
  return rows;
}

template <class Model>
class indexed_search final : public approximate_search {
 public:
  // ef: the candidate list of a search (more: better recall, slower).
  // exact_head: how many items of largest norm to score exactly for every query (0: none).
  indexed_search(Model& m, ann::hnsw_index& idx, index ef, index exact_head = 0) : model_(m), index_(idx), ef_(ef) {
    require(idx.num_items() == m.config().num_items && idx.dim() == scored_width(m),
            "indexed_search: the index holds {} items of width {}, the model scores {} items of width {}",
            idx.num_items(), idx.dim(), m.config().num_items, scored_width(m));
    require(ef >= 1, "indexed_search: ef = {}, expected at least 1", ef);
    set_exact_head(exact_head);
  }

  void recommend(std::span<const std::int32_t> history, index k, bool exclude_history, std::span<std::int32_t> out,
                 std::span<float> scores = {}) override {
    require(!history.empty(), "recommend: the history is empty (at least one item is needed)");
    check_k(k, out.size());
    const auto read = std::min<std::size_t>(history.size(), std::size_t(model_.config().max_len));
    hidden_.resize(std::size_t(model_.config().dim));
    model_.last_hidden(history.last(read), 1, index(read), hidden_);
    require(scores.empty() || index(scores.size()) >= k, "recommend: score output holds {} values, expected {}",
            scores.size(), k);
    answer(query(hidden_.data(), 1), history, k, exclude_history, out.first(std::size_t(k)),
           scores.empty() ? scores : scores.first(std::size_t(k)));
  }

  void recommend(std::span<const std::int32_t> items, index rows, index columns, index k, bool exclude_history,
                 std::span<std::int32_t> out, std::span<float> scores = {}) override {
    require(index(out.size()) == rows * k, "recommend: output holds {} ids, expected {} x {}", out.size(), rows, k);
    require(scores.empty() || index(scores.size()) == rows * k,
            "recommend: score output holds {} values, expected {} x {}", scores.size(), rows, k);
    check_k(k, std::size_t(k));
    hidden_.resize(std::size_t(rows * model_.config().dim));
    model_.last_hidden(items, rows, columns, hidden_);  // checks the batch
    const float* q = query(hidden_.data(), rows);
    const index w = scored_width(model_);
    for (index r = 0; r < rows; ++r)
      answer(q + r * w, items.subspan(std::size_t(r * columns), std::size_t(columns)), k, exclude_history,
             out.subspan(std::size_t(r * k), std::size_t(k)),
             scores.empty() ? scores : scores.subspan(std::size_t(r * k), std::size_t(k)));
  }

  void set_ef(index ef) {
    require(ef >= 1, "indexed_search: ef = {}, expected at least 1", ef);
    ef_ = ef;
  }

  // The items of largest norm scored exactly for every query, 0..num_items (0: the graph alone).
  void set_exact_head(index size) {
    const index n = model_.config().num_items, w = scored_width(model_);
    require(size >= 0 && size <= n, "indexed_search: an exact head of {} items, expected 0..{}", size, n);
    head_ = ann::exact_head::build(n + 1, w, size, [&](index r) {
      return detail::weight_row(model_.scoring_weights(), std::int32_t(r), w, scratch_);
    });
  }
  [[nodiscard]] index exact_head_size() const { return head_.size(); }

 private:
  void check_k(index k, std::size_t out_size) const {
    const index n = model_.config().num_items;
    require(k >= 1 && k <= n, "recommend: k = {} outside 1..{}", k, n);
    require(out_size >= std::size_t(k), "recommend: output holds {} ids, expected at least {}", out_size, k);
  }

  // The user vectors [rows, scored_width] from final states [rows, dim].
  const float* query(const float* hidden, index rows) { return model_.scoring_queries(hidden, rows); }

  float score(const float* q, std::int32_t id) {
    const index w = scored_width(model_);
    const float* row = detail::weight_row(model_.scoring_weights(), id, w, scratch_);
    return ann::detail::dot(q, row, std::size_t(w));
  }

  void answer(const float* q, std::span<const std::int32_t> history, index k, bool exclude_history,
              std::span<std::int32_t> out, std::span<float> scores) {
    const index n = model_.config().num_items;
    if (exclude_history) {
      excluded_.assign(history, n);
    } else {
      excluded_.clear();
    }
    const auto is_excluded = [&](std::int32_t id) { return excluded_.contains(id); };

    index_.search(std::span(q, std::size_t(scored_width(model_))), k + excluded_.size(), ef_, candidates_);
    scored_.clear();
    const index w = scored_width(model_);
    ann::score_candidates(
        q, w, candidates_, head_, k, is_excluded,
        [&](std::int32_t id) { return detail::weight_row(model_.scoring_weights(), id, w, scratch_); }, scored_);
    if (index(scored_.size()) < k) {
      // The graph returned too few (k near the catalog size): score every item,
      // excluded ones last as in the exact path.
      scored_.clear();
      for (std::int32_t id = 1; id <= std::int32_t(n); ++id)
        scored_.emplace_back(is_excluded(id) ? -std::numeric_limits<float>::infinity() : score(q, id), id);
    }
    std::partial_sort(scored_.begin(), scored_.begin() + k, scored_.end(), ann::scored_before);
    for (index i = 0; i < k; ++i) out[std::size_t(i)] = scored_[std::size_t(i)].second;
    if (!scores.empty())
      for (index i = 0; i < k; ++i) scores[std::size_t(i)] = scored_[std::size_t(i)].first;
  }

  Model& model_;
  ann::hnsw_index& index_;
  index ef_;
  ann::exact_head head_;
  std::vector<float> hidden_, scratch_;
  excluded_items excluded_;
  std::vector<std::int32_t> candidates_;
  std::vector<std::pair<float, std::int32_t>> scored_;
};

}  // namespace slmrec::model
