#pragma once
// A built-in synthetic dataset with real sequential structure, for the
// pipeline's default run, tests, examples and scale tests (no download needed).
//
// Items have Zipf-distributed popularity. Each item has a few successors,
// drawn by popularity; a user's next item follows one of the current item's
// successors with probability `follow`, else is a fresh popular item. So a
// sequential model can learn the transitions and clearly beats popularity.
//
// generate_synthetic() produces one user at a time, so a million users can be
// streamed to a file (write_sequences.hpp) without holding the dataset;
// make_synthetic() collects the same users into a dataset. Both draw the same
// random numbers in the same order, so a file and the in-memory dataset made
// from the same options are the same data.
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/stats.hpp>

namespace slmrec::data {

struct synthetic_options {
  index users = 2000;
  std::int32_t items = 500;
  index min_len = 5, max_len = 30;  // sequence lengths, uniform
  index successors = 3;             // per item
  double follow = 0.7;              // probability of following a successor
  double zipf = 1.0;                // popularity exponent
  std::uint64_t seed = 1;
  // Every item 1..items appears at least once. Zipf draws alone leave most of
  // a large catalog's tail unseen (at a million items and 20 million draws,
  // items past rank ~500,000 expect less than one), and a reader renumbers
  // ids that never occur, so a file would not have the items it was asked
  // for. While some item is unseen, a user's history starts with the
  // least popular unseen items (ceil(unseen / users left) of them), and the
  // rest of it follows the transitions from there. Off by default: the
  // built-in datasets predate it and must not change.
  bool cover_items = false;
};

// Options for `users` users of `items` items whose lengths are uniform on
// [3, 2 * mean_len - 3]: the mean is mean_len and every user has the 3 items
// leave-one-out needs (a training item, a validation and a test target).
[[nodiscard]] inline synthetic_options synthetic_with_mean_length(index users, std::int32_t items, index mean_len,
                                                                  std::uint64_t seed) {
  require(mean_len >= 3, "synthetic data: mean length {}, expected >= 3 (leave-one-out needs 3 items a user)",
          mean_len);
  synthetic_options o;
  o.users = users;
  o.items = items;
  o.min_len = 3;
  o.max_len = 2 * mean_len - 3;
  o.seed = seed;
  o.cover_items = true;
  return o;
}

// Names the first option out of range. The bounds keep every id an int32 (the
// readers' id type) and every user's items distinct (max_len <= items).
inline void validate(const synthetic_options& o) {
  constexpr index id_max = std::numeric_limits<std::int32_t>::max();
  require(o.users >= 1 && o.users <= id_max, "synthetic data: {} users, expected 1..{} (user ids are int32)", o.users,
          id_max);
  require(o.items >= 2, "synthetic data: {} items, expected >= 2", o.items);
  require(o.min_len >= 1 && o.max_len >= o.min_len, "synthetic data: lengths {}..{}, expected 1 <= min <= max",
          o.min_len, o.max_len);
  require(o.max_len <= o.items,
          "synthetic data: lengths up to {} with {} items, expected max length <= items (no item repeats within a "
          "user)",
          o.max_len, o.items);
  // Bounded so the successor table (items x successors ids) stays a sane size.
  require(o.successors >= 1 && o.successors <= 1024, "synthetic data: {} successors per item, expected 1..1024",
          o.successors);
  require(o.follow >= 0.0 && o.follow <= 1.0, "synthetic data: follow probability {}, expected 0..1", o.follow);
  require(std::isfinite(o.zipf) && o.zipf >= 0.0, "synthetic data: Zipf exponent {}, expected a finite value >= 0",
          o.zipf);
  // Covering needs ceil(items / users) <= min_len unseen items at the start of
  // the first user; the ratio unseen / users-left never grows from there on.
  require(!o.cover_items || o.users * o.min_len >= o.items,
          "synthetic data: {} users of at least {} items cannot cover {} items, expected users x min length >= items",
          o.users, o.min_len, o.items);
}

// Calls emit(u, items) for every user index u = 0..users-1 in order; `items`
// is valid only during the call (one buffer is reused). Memory is O(items),
// not O(interactions): the popularity table, the successor table and one
// marker per item.
template <class Emit>
requires std::invocable<Emit&, index, std::span<const std::int32_t>>
void generate_synthetic(const synthetic_options& o, Emit&& emit) {
  validate(o);
  rng gen(o.seed);
  const auto n_items = static_cast<std::size_t>(o.items);
  std::vector<double> cumulative(n_items);
  double total = 0.0;
  for (std::size_t i = 0; i < n_items; ++i) cumulative[i] = (total += std::pow(double(i + 1), -o.zipf));
  auto popular = [&] {
    const double u = gen.uniform() * total;
    return std::int32_t(std::lower_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin()) + 1;
  };
  // next[(i - 1) * successors + k]: the k-th successor of item i, one flat
  // table (a vector per item costs a heap block each at a million items).
  const auto successors = static_cast<std::size_t>(o.successors);
  std::vector<std::int32_t> next(n_items * successors);
  for (auto& s : next) s = popular();
  // seen[i] == u + 1 marks item i as already in user u's sequence: an O(1)
  // test instead of a scan of the sequence, so long sequences stay linear.
  // It decides exactly what the scan decided, so the random draws (and the
  // data) are the ones the scan produced.
  std::vector<std::uint32_t> seen(n_items + 1, 0);
  // cover_items: ever[i] once item i has appeared; `unseen` counts the
  // others; `tail` walks down from the least popular item to the next unseen one.
  std::vector<std::uint8_t> ever(o.cover_items ? n_items + 1 : 0, 0);
  index unseen = o.cover_items ? index(o.items) : 0;
  std::int32_t tail = o.items;
  std::vector<std::int32_t> seq;
  seq.reserve(static_cast<std::size_t>(o.max_len));
  for (index u = 0; u < o.users; ++u) {
    const auto mark = static_cast<std::uint32_t>(u + 1);
    auto in_seq = [&](std::int32_t item) { return seen[static_cast<std::size_t>(item)] == mark; };
    auto push = [&](std::int32_t item) {
      seq.push_back(item);
      seen[static_cast<std::size_t>(item)] = mark;
      if (o.cover_items && ever[static_cast<std::size_t>(item)] == 0) {
        ever[static_cast<std::size_t>(item)] = 1;
        --unseen;
      }
    };
    seq.clear();
    const index len = o.min_len + index(gen.below(std::uint64_t(o.max_len - o.min_len + 1)));
    const index users_left = o.users - u;
    const index forced = (unseen + users_left - 1) / users_left;  // <= min_len <= len (see validate)
    std::int32_t cur = 0;
    for (index k = 0; k < forced; ++k) {
      while (ever[static_cast<std::size_t>(tail)] != 0) --tail;
      push(cur = tail);
    }
    if (forced == 0) push(cur = popular());
    while (index(seq.size()) < len) {
      std::int32_t candidate =
          gen.uniform() < o.follow ? next[std::size_t(cur - 1) * successors + gen.below(successors)] : popular();
      // No repeated item within a user, as in the Amazon data: resample a few times, then take any unseen item.
      for (int attempt = 0; attempt < 8 && in_seq(candidate); ++attempt) candidate = popular();
      while (in_seq(candidate)) candidate = std::int32_t(1 + gen.below(std::uint64_t(o.items)));
      push(candidate);
      cur = candidate;
    }
    emit(u, std::span<const std::int32_t>(seq));
  }
}

inline dataset make_synthetic(const synthetic_options& o = {}) {
  dataset d;
  d.num_items = o.items;
  d.source = "synthetic";
  validate(o);
  d.sequences.reserve(std::size_t(o.users), std::size_t(o.users * (o.min_len + o.max_len) / 2));
  generate_synthetic(o, [&](index, std::span<const std::int32_t> items) { d.sequences.push_back(items); });
  return d;
}

}  // namespace slmrec::data
