#pragma once
// The items of largest norm, scored exactly beside a graph search: a norm
// range (Yan et al. 2018, "Norm-Ranging LSH for Maximum Inner Product
// Search") searched by brute force because it is small.
//
// Why: a trained item table's norms are skewed (popular items' rows grow, the
// long tail's stay near their initial scale), and the best inner products go
// to the few items of large norm. On the 1M x 128 table of docs/scaling.md,
// the 20,000 largest-norm rows (2% of the catalog) hold 99.7% of the exact
// top-10 answers of 200 users, while an HNSW graph over the whole table, in
// either space, stops near recall 0.83-0.90 however large ef grows: in the
// l2-mips reduction one global M squeezes the tail's extra coordinates
// together, and the few large-norm items sit far apart on the sphere. Scoring
// that head exactly (h x dim multiply-adds, ~0.3 ms for 20,000 x 128 on one
// core) and leaving the graph the tail makes the answers the graph misses the
// ones it rarely needs to find. The head is a search-time choice, computed
// from the same rows the graph was built from: no index format changes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/index/hnsw_index.hpp>

namespace slmrec::ann {

// The ranking order of (score, id): higher score first, equal scores to the smaller id.
inline bool scored_before(const std::pair<float, std::int32_t>& a, const std::pair<float, std::int32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

// The head the command line and the server use unless told otherwise: 2% of
// the catalog, at most 20,000 items (0.36 ms a query at width 128 on one
// core; recall@10 0.995 at 1M items where the graph alone stops at
// 0.84-0.90, docs/scaling.md).
inline index default_exact_head(index num_items) {
  return std::min<index>(num_items / 50, 20000);
}

class exact_head {
 public:
  exact_head() = default;

  // The `size` rows of largest norm of a table [rows, dim] whose row r is
  // row(r) (a const float* valid until the next call; row 0 is padding, never
  // chosen; equal norms go to the smaller id), copied contiguously. size 0: no head.
  template <class Row>
  static exact_head build(index rows, index dim, index size, Row&& row) {
    require(rows >= 1 && dim >= 1, "exact_head: a table of [{}, {}]", rows, dim);
    require(size >= 0 && size <= rows - 1, "exact_head: a head of {} items from a catalog of {} (expected 0..{})", size,
            rows - 1, rows - 1);
    exact_head h;
    h.dim_ = dim;
    if (size == 0) return h;
    h.member_.assign(std::size_t(rows), false);
    std::vector<std::pair<float, std::int32_t>> norms;  // squared
    norms.reserve(std::size_t(rows - 1));
    for (index r = 1; r < rows; ++r) {
      const float* x = row(r);
      const float n2 = detail::dot(x, x, std::size_t(dim));
      require(std::isfinite(n2), "exact_head: item {} has a norm that is not finite", r);
      norms.emplace_back(n2, std::int32_t(r));
    }
    std::nth_element(norms.begin(), norms.begin() + (size - 1), norms.end(), scored_before);
    norms.resize(std::size_t(size));
    // Ascending ids: the rows are copied in memory order.
    std::sort(norms.begin(), norms.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    h.ids_.reserve(std::size_t(size));
    h.rows_.reserve(std::size_t(size * dim));
    for (const auto& [norm2, id] : norms) {
      h.ids_.push_back(id);
      h.member_[std::size_t(id)] = true;
      const float* x = row(id);
      h.rows_.insert(h.rows_.end(), x, x + dim);
    }
    return h;
  }
  // The same from a float table [rows, dim].
  static exact_head build(std::span<const float> table, index rows, index dim, index size) {
    require(rows >= 1 && dim >= 1 && index(table.size()) == rows * dim, "exact_head: a table of {} values for [{}, {}]",
            table.size(), rows, dim);
    return build(rows, dim, size, [&](index r) { return &table[std::size_t(r * dim)]; });
  }

  [[nodiscard]] index size() const { return index(ids_.size()); }
  [[nodiscard]] bool contains(std::int32_t id) const {
    return id >= 0 && std::size_t(id) < member_.size() && member_[std::size_t(id)];
  }
  [[nodiscard]] std::span<const std::int32_t> ids() const { return ids_; }

  // Appends to `out` the `count` best head items for query q [dim] that `skip`
  // does not reject, as (exact score, id), in no particular order.
  template <class Skip>
  void append_best(const float* q, index count, Skip&& skip, std::vector<std::pair<float, std::int32_t>>& out) const {
    if (ids_.empty() || count <= 0) return;
    const std::size_t start = out.size();
    for (std::size_t i = 0; i < ids_.size(); ++i)
      if (!skip(ids_[i])) out.emplace_back(detail::dot(q, &rows_[i * std::size_t(dim_)], std::size_t(dim_)), ids_[i]);
    if (out.size() - start <= std::size_t(count)) return;
    const auto first = out.begin() + std::ptrdiff_t(start);
    std::nth_element(first, first + (count - 1), out.end(), scored_before);
    out.resize(start + std::size_t(count));
  }

 private:
  index dim_ = 0;
  std::vector<std::int32_t> ids_;
  std::vector<float> rows_;  // [size, dim], the rows of ids_ in order
  std::vector<bool> member_;  // [rows] when the head is not empty
};

// The candidates of the index path for query q [dim], appended to `out` as
// (exact score, id) in no particular order: the graph's ids that `skip` does
// not reject and the head does not hold, each scored as q . row(id), then the
// head's `count` best that `skip` does not reject. The one merge of graph and
// head that model::indexed_search and benchmarks/bench_index both run.
template <class Skip, class Row>
void score_candidates(const float* q, index dim, std::span<const std::int32_t> graph_ids, const exact_head& head,
                      index count, Skip&& skip, Row&& row, std::vector<std::pair<float, std::int32_t>>& out) {
  for (const auto id : graph_ids)
    if (!skip(id) && !head.contains(id)) out.emplace_back(detail::dot(q, row(id), std::size_t(dim)), id);
  head.append_best(q, count, skip, out);
}

}  // namespace slmrec::ann
