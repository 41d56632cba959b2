#pragma once
// Inference over a batch of left-padded histories of very different lengths
// (most users are short, a few are long): padded to the longest, most of the
// rows the model computes are padding. Sorting the users by length and
// cutting the sorted batch into buckets of a few users, each trimmed to its
// own longest history, computes the same last-position states for a fraction
// of the rows (a batch of 128 Beauty users: 6,400 positions padded, about
// 2,000 bucketed). Every user's result is independent of the others in the
// batch, so only the order of the work changes.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include <slmrec/core/types.hpp>
#include <slmrec/model/sequence_input.hpp>

namespace slmrec::model {

struct length_buckets {
  std::vector<std::int32_t> order;  // rows, shortest history first (ties: smaller row first)
  std::vector<index> starts;        // bucket b is order[starts[b], starts[b + 1])
  std::vector<index> lengths;       // bucket b's columns: the longest history in it
  std::vector<std::int32_t> items;  // scratch for one bucket's ids [bucket rows, its length]
  std::vector<index> row_length;    // scratch: each row's history length

  // ids: [rows, columns] left-padded (0 = padding). A row of padding only
  // counts as length 1, as sequence_input keeps the last column. Buckets of
  // bucket_rows users each (the last may hold fewer).
  void assign(std::span<const std::int32_t> ids, index rows, index columns, index bucket_rows) {
    sort_by_length(ids, rows, columns);
    starts.clear();
    lengths.clear();
    for (index s = 0; s < rows; s += bucket_rows) {
      const index end = std::min(rows, s + bucket_rows);
      starts.push_back(s);
      lengths.push_back(sorted_length(end - 1));  // sorted: the last is the longest
    }
    starts.push_back(rows);
  }

  // The same sort, cut where it costs least: the buckets minimise the
  // positions computed plus `overhead` positions for each bucket (what one
  // more forward pass costs beside its positions: narrower products, the
  // layers' fixed work), with at most max_rows users in one. A batch of 31
  // Beauty users in fixed buckets of 16 was not bucketed at all (fewer than
  // two buckets) and cost twice what 32 users did per user; cut by cost it
  // runs at the 32-user rate.
  void assign_by_cost(std::span<const std::int32_t> ids, index rows, index columns, index overhead, index max_rows) {
    sort_by_length(ids, rows, columns);
    // best[i]: the least cost of the first i sorted rows; from[i]: where its last bucket starts.
    best.assign(std::size_t(rows + 1), 0);
    from.assign(std::size_t(rows + 1), 0);
    for (index i = 1; i <= rows; ++i) {
      const index longest = sorted_length(i - 1);
      best[std::size_t(i)] = -1;
      for (index j = std::max<index>(0, i - max_rows); j < i; ++j) {
        const index c = best[std::size_t(j)] + (i - j) * longest + overhead;
        if (best[std::size_t(i)] < 0 || c < best[std::size_t(i)]) {
          best[std::size_t(i)] = c;
          from[std::size_t(i)] = j;
        }
      }
    }
    starts.clear();
    lengths.clear();
    for (index i = rows; i > 0; i = from[std::size_t(i)]) {
      starts.push_back(from[std::size_t(i)]);
      lengths.push_back(sorted_length(i - 1));
    }
    std::reverse(starts.begin(), starts.end());
    std::reverse(lengths.begin(), lengths.end());
    starts.push_back(rows);
  }

  [[nodiscard]] index count() const { return index(lengths.size()); }
  // Positions the buckets compute in all, against rows x columns padded.
  [[nodiscard]] index positions() const {
    index n = 0;
    for (index b = 0; b < count(); ++b)
      n += (starts[std::size_t(b + 1)] - starts[std::size_t(b)]) * lengths[std::size_t(b)];
    return n;
  }

  // Deals the buckets to `parts` workers so that their work is even: the
  // costliest bucket first, each to the worker with the least work so far (a
  // bucket costs rows x (length x position_cost + row_cost)). rows_of[p] gets
  // worker p's rows in sorted order, so bucketing them again gives back the
  // same buckets.
  void deal(index parts, double position_cost, double row_cost, std::vector<std::vector<std::int32_t>>& rows_of) const {
    const auto size = [&](index b) { return starts[std::size_t(b + 1)] - starts[std::size_t(b)]; };
    const auto cost = [&](index b) {
      return double(size(b)) * (double(lengths[std::size_t(b)]) * position_cost + row_cost);
    };
    std::vector<index> by_cost(static_cast<std::size_t>(count()));
    std::iota(by_cost.begin(), by_cost.end(), index(0));
    std::stable_sort(by_cost.begin(), by_cost.end(), [&](index a, index b) { return cost(a) > cost(b); });
    std::vector<double> load(std::size_t(parts), 0.0);
    std::vector<index> owner(static_cast<std::size_t>(count()));
    for (const index b : by_cost) {
      const auto p = std::size_t(std::min_element(load.begin(), load.end()) - load.begin());
      owner[std::size_t(b)] = index(p);
      load[p] += cost(b);
    }
    rows_of.resize(std::size_t(parts));
    for (auto& r : rows_of) r.clear();
    for (index b = 0; b < count(); ++b) {  // ascending, so each worker's rows stay sorted
      auto& mine = rows_of[std::size_t(owner[std::size_t(b)])];
      mine.insert(mine.end(), order.begin() + std::ptrdiff_t(starts[std::size_t(b)]),
                  order.begin() + std::ptrdiff_t(starts[std::size_t(b + 1)]));
    }
  }

  // Bucket b's ids, [its rows, lengths[b]]: the last lengths[b] columns of
  // each of its rows, in sorted order.
  std::span<const std::int32_t> bucket_items(std::span<const std::int32_t> ids, index columns, index b) {
    const index s = starts[std::size_t(b)], e = starts[std::size_t(b + 1)], len = lengths[std::size_t(b)];
    items.resize(std::size_t((e - s) * len));
    for (index i = s; i < e; ++i) {
      const auto* row = ids.data() + std::size_t(order[std::size_t(i)]) * std::size_t(columns);
      std::copy(row + (columns - len), row + columns, items.begin() + std::ptrdiff_t((i - s) * len));
    }
    return items;
  }

 private:
  void sort_by_length(std::span<const std::int32_t> ids, index rows, index columns) {
    auto& length = row_length;
    length.resize(std::size_t(rows));
    for (index r = 0; r < rows; ++r)
      length[std::size_t(r)] = columns - history_start(ids.data() + r * columns, columns - 1);
    order.resize(std::size_t(rows));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int32_t a, std::int32_t b) { return length[std::size_t(a)] < length[std::size_t(b)]; });
  }
  [[nodiscard]] index sorted_length(index i) const { return row_length[std::size_t(order[std::size_t(i)])]; }

  std::vector<index> best, from;  // assign_by_cost's scratch
};

}  // namespace slmrec::model
