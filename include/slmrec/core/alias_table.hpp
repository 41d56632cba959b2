#pragma once
// Walker/Vose alias table: weighted draws in O(1) after an O(n) build. Used
// for evaluation's popularity negatives and for training's sampled softmax.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/core/rng.hpp>

namespace slmrec {

// Walker/Vose alias table: O(n) to build, O(1) per weighted draw.
class alias_table {
 public:
  alias_table() = default;

  explicit alias_table(std::span<const double> weights) {
    const std::size_t n = weights.size();
    double total = 0.0;
    for (double w : weights) {
      require(std::isfinite(w) && w >= 0.0, "alias table: weight {} is not a finite non-negative number", w);
      total += w;
    }
    require(n > 0 && total > 0.0, "alias table: expected at least one positive weight");
    prob_.assign(n, 1.0);
    alias_.resize(n);
    std::vector<double> scaled(n);
    std::vector<std::size_t> small, large;
    for (std::size_t i = 0; i < n; ++i) {
      alias_[i] = i;
      scaled[i] = weights[i] * static_cast<double>(n) / total;
      (scaled[i] < 1.0 ? small : large).push_back(i);
    }
    while (!small.empty() && !large.empty()) {
      const std::size_t s = small.back(), l = large.back();
      small.pop_back();
      prob_[s] = scaled[s];
      alias_[s] = l;
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    // Leftovers are 1 up to rounding; a zero weight must still never be drawn,
    // so such a bucket hands all its mass to the heaviest item.
    const auto heaviest = static_cast<std::size_t>(std::max_element(weights.begin(), weights.end()) - weights.begin());
    for (std::size_t i : small) {
      prob_[i] = weights[i] > 0.0 ? 1.0 : 0.0;
      if (weights[i] <= 0.0) alias_[i] = heaviest;
    }
  }

  [[nodiscard]] std::size_t size() const { return prob_.size(); }

  [[nodiscard]] std::size_t draw(rng& r) const {
    const auto i = static_cast<std::size_t>(r.below(prob_.size()));
    return r.uniform() < prob_[i] ? i : alias_[i];
  }

 private:
  std::vector<double> prob_;
  std::vector<std::size_t> alias_;
};

}  // namespace slmrec
