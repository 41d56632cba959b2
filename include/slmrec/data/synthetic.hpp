#pragma once
// A built-in synthetic dataset with real sequential structure, for the
// pipeline's default run, tests and examples (no download needed).
//
// Items have Zipf-distributed popularity. Each item has a few successors,
// drawn by popularity; a user's next item follows one of the current item's
// successors with probability `follow`, else is a fresh popular item. So a
// sequential model can learn the transitions and clearly beats popularity.
#include <algorithm>
#include <cmath>
#include <cstdint>
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
};

inline dataset make_synthetic(const synthetic_options& o = {}) {
  require(o.users >= 1 && o.items >= 2 && o.min_len >= 1 && o.max_len >= o.min_len && o.max_len <= o.items &&
              o.successors >= 1,
          "synthetic data: bad options (users {}, items {}, lengths {}..{}, successors {})", o.users, o.items,
          o.min_len, o.max_len, o.successors);
  rng gen(o.seed);
  std::vector<double> cumulative(std::size_t(o.items));
  double total = 0.0;
  for (std::int32_t i = 0; i < o.items; ++i) cumulative[std::size_t(i)] = (total += std::pow(double(i + 1), -o.zipf));
  auto popular = [&] {
    const double u = gen.uniform() * total;
    return std::int32_t(std::lower_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin()) + 1;
  };
  std::vector<std::vector<std::int32_t>> next(std::size_t(o.items) + 1);
  for (std::int32_t i = 1; i <= o.items; ++i)
    for (index k = 0; k < o.successors; ++k) next[std::size_t(i)].push_back(popular());
  dataset d;
  d.num_items = o.items;
  d.source = "synthetic";
  d.sequences.resize(std::size_t(o.users));
  for (auto& seq : d.sequences) {
    const index len = o.min_len + index(gen.below(std::uint64_t(o.max_len - o.min_len + 1)));
    std::int32_t cur = popular();
    seq.push_back(cur);
    while (index(seq.size()) < len) {
      std::int32_t candidate = gen.uniform() < o.follow ? next[std::size_t(cur)][gen.below(std::uint64_t(o.successors))]
                                                         : popular();
      // No repeated item within a user, as in the Amazon data: resample a few times, then take any unseen item.
      for (int attempt = 0; attempt < 8 && std::find(seq.begin(), seq.end(), candidate) != seq.end(); ++attempt)
        candidate = popular();
      while (std::find(seq.begin(), seq.end(), candidate) != seq.end())
        candidate = std::int32_t(1 + gen.below(std::uint64_t(o.items)));
      seq.push_back(candidate);
      cur = candidate;
    }
  }
  return d;
}

}  // namespace slmrec::data
