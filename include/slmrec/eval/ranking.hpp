#pragma once
// The rank of a target among candidate items, with PESSIMISTIC ties: every
// other candidate scoring >= the target is counted as ranked above it. A
// model that gives every item the same score therefore gets the worst rank,
// never a flattering one (an optimistic or "first index wins" rule would
// reward a constant, or a collapsed, model with HR@1 = 1).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <span>
#include <vector>

namespace slmrec::eval {

namespace detail {

inline std::int32_t checked_num_items(std::span<const float> scores, const char* what) {
  require(scores.size() >= 2, "{}: a score row needs [num_items + 1] entries with num_items >= 1, found {}", what,
          scores.size());
  return static_cast<std::int32_t>(scores.size() - 1);
}

inline void require_item(std::int32_t item, std::int32_t num_items, const char* what, const char* role) {
  require(item >= 1 && item <= num_items, "{}: {} item {} out of range [1, {}]", what, role, item, num_items);
}

}  // namespace detail

// Full ranking. `scores` is one row over items 0..num_items; column 0 is the
// padding id and never a candidate. The candidates are all items except the
// target and, when given, the `exclude` items (usually the user's input
// prefix: an item already consumed is not a useful recommendation, as S3-Rec
// zeroes their scores). The target itself is never excluded even when it also
// occurs in the history: a repeat purchase is a legitimate next item, and
// removing it would make the user unrankable. A NaN score on any item
// 1..num_items is an error: it means the model, not the user, failed.
[[nodiscard]] inline index full_rank(std::span<const float> scores, std::int32_t target,
                                     std::span<const std::int32_t> exclude = {}) {
  const std::int32_t num_items = detail::checked_num_items(scores, "full ranking");
  detail::require_item(target, num_items, "full ranking", "target");
  const float t = scores[static_cast<std::size_t>(target)];
  index at_least = 0;
  index nan = 0;
  for (std::size_t i = 1; i < scores.size(); ++i) {
    const float s = scores[i];
    nan += std::isnan(s) ? 1 : 0;
    at_least += s >= t ? 1 : 0;
  }
  if (nan > 0) {
    const auto first = std::find_if(scores.begin() + 1, scores.end(), [](float s) { return std::isnan(s); });
    fail("full ranking: {} scores are NaN (first: item {}); expected a number (infinities allowed) for every item", nan,
         first - scores.begin());
  }
  at_least -= 1;  // the target itself (t >= t)
  if (!exclude.empty()) {
    std::vector<std::int32_t> unique(exclude.begin(), exclude.end());
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    for (std::int32_t item : unique) {
      detail::require_item(item, num_items, "full ranking", "excluded");
      if (item != target && scores[static_cast<std::size_t>(item)] >= t) --at_least;
    }
  }
  return at_least;
}

// Sampled ranking: the target against the given negatives only.
[[nodiscard]] inline index sampled_rank(std::span<const float> scores, std::int32_t target,
                                        std::span<const std::int32_t> negatives) {
  const std::int32_t num_items = detail::checked_num_items(scores, "sampled ranking");
  detail::require_item(target, num_items, "sampled ranking", "target");
  const float t = scores[static_cast<std::size_t>(target)];
  require(!std::isnan(t), "sampled ranking: the target item {} has a NaN score", target);
  index at_least = 0;
  for (std::int32_t item : negatives) {
    detail::require_item(item, num_items, "sampled ranking", "negative");
    require(item != target, "sampled ranking: the target item {} is also among the negatives", target);
    const float s = scores[static_cast<std::size_t>(item)];
    require(!std::isnan(s), "sampled ranking: negative item {} has a NaN score", item);
    at_least += s >= t ? 1 : 0;
  }
  return at_least;
}

}  // namespace slmrec::eval
