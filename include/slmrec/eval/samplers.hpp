#pragma once
// Negative items for sampled ranking: N distinct items the user never
// interacted with, drawn uniformly or in proportion to popularity, from an
// slmrec::rng so that a seed fixes the negatives on every platform.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <slmrec/core/alias_table.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/core/types.hpp>
#include <span>
#include <unordered_set>
#include <utility>
#include <vector>

namespace slmrec::eval {

enum class sampling { uniform, popularity };

[[nodiscard]] inline const char* sampling_name(sampling s) { return s == sampling::uniform ? "uniform" : "popularity"; }

class negative_sampler {
 public:
  // Uniform over items 1..num_items.
  explicit negative_sampler(std::int32_t num_items) : num_items_(num_items), kind_(sampling::uniform) {
    require(num_items >= 1, "negative sampler: num_items = {}, expected >= 1", num_items);
    drawable_ = num_items;
  }

  // Item i drawn with probability proportional to counts[i] (counts has
  // num_items + 1 entries, [0] is the padding id and ignored). Items with
  // count 0 are never drawn.
  negative_sampler(std::int32_t num_items, std::span<const std::int64_t> counts)
      : num_items_(num_items), kind_(sampling::popularity) {
    require(num_items >= 1, "negative sampler: num_items = {}, expected >= 1", num_items);
    require(counts.size() == static_cast<std::size_t>(num_items) + 1,
            "popularity sampler: expected {} item counts (num_items + 1), found {}", num_items + 1, counts.size());
    weights_.resize(static_cast<std::size_t>(num_items));
    for (std::int32_t i = 1; i <= num_items; ++i) {
      const std::int64_t c = counts[static_cast<std::size_t>(i)];
      require(c >= 0, "popularity sampler: item {} has count {}, expected >= 0", i, c);
      weights_[static_cast<std::size_t>(i - 1)] = static_cast<double>(c);
      drawable_ += c > 0 ? 1 : 0;
    }
    table_ = alias_table(weights_);
  }

  [[nodiscard]] sampling kind() const { return kind_; }
  [[nodiscard]] std::int32_t num_items() const { return num_items_; }

  // n distinct items of 1..num_items, none of them in `exclude`, in the
  // order drawn. Drawing until n distinct allowed items turned up is exactly
  // sampling without replacement from the allowed items (renormalised at
  // every step); when rejections pile up (a user who has seen most popular
  // items) the remaining draws switch to an exact pass over the allowed items.
  [[nodiscard]] std::vector<std::int32_t> sample(index n, std::span<const std::int32_t> exclude, rng& r) const {
    require(n >= 0, "negative sampler: asked for {} negatives, expected >= 0", n);
    std::vector<std::int32_t> banned(exclude.begin(), exclude.end());
    std::sort(banned.begin(), banned.end());
    banned.erase(std::unique(banned.begin(), banned.end()), banned.end());
    index available = drawable_;
    for (std::int32_t item : banned) {
      require(item >= 1 && item <= num_items_, "negative sampler: excluded item {} out of range [1, {}]", item,
              num_items_);
      if (drawable(item)) --available;
    }
    require(n <= available, "negative sampler: cannot draw {} distinct {} negatives: only {} items are allowed", n,
            sampling_name(kind_), available);

    std::vector<std::int32_t> out;
    out.reserve(static_cast<std::size_t>(n));
    std::unordered_set<std::int32_t> taken;
    const auto allowed = [&](std::int32_t item) {
      return !std::binary_search(banned.begin(), banned.end(), item) && !taken.contains(item);
    };
    if (available >= 2 * n) {
      for (index budget = 64 * n + 1024; static_cast<index>(out.size()) < n && budget > 0; --budget) {
        const std::int32_t item = draw(r);
        if (!allowed(item)) continue;
        out.push_back(item);
        taken.insert(item);
      }
    }
    if (static_cast<index>(out.size()) < n) finish_exactly(n, allowed, r, out);
    return out;
  }

 private:
  [[nodiscard]] bool drawable(std::int32_t item) const {
    return kind_ == sampling::uniform || weights_[static_cast<std::size_t>(item - 1)] > 0.0;
  }

  [[nodiscard]] std::int32_t draw(rng& r) const {
    if (kind_ == sampling::uniform)
      return static_cast<std::int32_t>(r.below(static_cast<std::uint64_t>(num_items_))) + 1;
    return static_cast<std::int32_t>(table_.draw(r)) + 1;
  }

  // The remaining draws over an explicit list of the allowed items: a partial
  // Fisher–Yates for uniform, Efraimidis–Spirakis keys log(u)/w (the largest
  // n keys are a weighted sample without replacement) for popularity.
  template <class Allowed>
  void finish_exactly(index n, const Allowed& allowed, rng& r, std::vector<std::int32_t>& out) const {
    std::vector<std::int32_t> pool;
    for (std::int32_t i = 1; i <= num_items_; ++i)
      if (drawable(i) && allowed(i)) pool.push_back(i);
    const auto missing = static_cast<std::size_t>(n) - out.size();
    if (kind_ == sampling::uniform) {
      for (std::size_t k = 0; k < missing; ++k) {
        const std::size_t j = k + static_cast<std::size_t>(r.below(pool.size() - k));
        std::swap(pool[k], pool[j]);
        out.push_back(pool[k]);
      }
      return;
    }
    std::vector<std::pair<double, std::int32_t>> keyed;
    keyed.reserve(pool.size());
    for (std::int32_t item : pool) {
      const double u = 1.0 - r.uniform();  // (0, 1]
      keyed.emplace_back(std::log(u) / weights_[static_cast<std::size_t>(item - 1)], item);
    }
    // Largest key first; equal keys by item id, so the result is deterministic.
    const auto before = [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    std::partial_sort(keyed.begin(), keyed.begin() + static_cast<std::ptrdiff_t>(missing), keyed.end(), before);
    for (std::size_t k = 0; k < missing; ++k) out.push_back(keyed[k].second);
  }

  std::int32_t num_items_ = 0;
  sampling kind_ = sampling::uniform;
  index drawable_ = 0;
  std::vector<double> weights_;  // popularity only: weights_[i - 1] for item i
  alias_table table_;
};

}  // namespace slmrec::eval
