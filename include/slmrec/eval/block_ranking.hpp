#pragma once
// Full ranking without a [users x items] score matrix: a block scorer gives
// the scores of one range of items at a time, and each user's rank is
// counted block by block with full_rank's convention (pessimistic ties, the
// target never excluded, column 0 never a candidate, a NaN an error), so the
// result equals full_rank on the whole row exactly.
//
// A block scorer s (the model side provides one, model::item_scorer):
//   s.set_users(batch)              the users' part, once per batch
//   s.score(first, count, out)      out [batch.size, count]: items first..first+count-1
// An item's score must not depend on the range it is scored in: each
// user's target is scored alone first, then compared with every block.
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/data/batch.hpp>
#include <slmrec/eval/ranking.hpp>

namespace slmrec::eval {

template <class S>
concept block_scorer = requires(S& s, const data::batch& in, index first, index count, std::span<float> out) {
  s.set_users(in);
  s.score(first, count, out);
};

// One user's full_rank, counted over blocks that together cover items 0..num_items once.
class streamed_rank {
 public:
  // exclude: the items that are not candidates (any order, repeats allowed).
  void start(std::int32_t target, float target_score, std::span<const std::int32_t> exclude, std::int32_t num_items) {
    detail::require_item(target, num_items, "full ranking", "target");
    target_ = target;
    t_ = target_score;
    num_items_ = num_items;
    exclude_.assign(exclude.begin(), exclude.end());
    std::sort(exclude_.begin(), exclude_.end());
    exclude_.erase(std::unique(exclude_.begin(), exclude_.end()), exclude_.end());
    for (const std::int32_t item : exclude_) detail::require_item(item, num_items, "full ranking", "excluded");
    at_least_ = nan_ = 0;
    first_nan_ = -1;
  }

  // Scores of the items first .. first + scores.size() - 1.
  void add(std::span<const float> scores, index first) {
    const float t = t_;
    index at_least = 0, nan = 0;
    const index skip = first == 0 ? 1 : 0;  // the padding column
    for (std::size_t i = std::size_t(skip); i < scores.size(); ++i) {
      nan += std::isnan(scores[i]) ? 1 : 0;
      at_least += scores[i] >= t ? 1 : 0;
    }
    if (nan > 0 && first_nan_ < 0)
      first_nan_ = first + (std::find_if(scores.begin() + skip, scores.end(), [](float s) { return std::isnan(s); }) -
                            scores.begin());
    nan_ += nan;
    // An excluded item (not the target) scoring >= t was counted above: take it back, as full_rank does.
    const auto end = first + index(scores.size());
    for (auto it = std::lower_bound(exclude_.begin(), exclude_.end(), std::int32_t(first));
         it != exclude_.end() && *it < end; ++it)
      if (*it != target_ && scores[std::size_t(*it - first)] >= t) --at_least;
    at_least_ += at_least;
  }

  [[nodiscard]] index finish() const {
    if (nan_ > 0)
      fail("full ranking: {} scores are NaN (first: item {}); expected a number (infinities allowed) for every item",
           nan_, first_nan_);
    return at_least_ - 1;  // the target itself (t >= t)
  }

 private:
  std::int32_t target_ = 0, num_items_ = 0;
  float t_ = 0;
  index at_least_ = 0, nan_ = 0, first_nan_ = -1;
  std::vector<std::int32_t> exclude_;
};

// Ranks of a batch's targets (targets[r] for row r, each in 1..num_items,
// checked by the caller), the catalog scored in blocks of `block` items.
// exclude(r): row r's excluded items. ranks[r].finish() gives the rank.
template <block_scorer S, class Exclude>
void streamed_ranks(S& scorer, const data::batch& in, std::span<const std::int32_t> targets, const Exclude& exclude,
                    std::int32_t num_items, index block, std::vector<streamed_rank>& ranks,
                    std::vector<float>& buffer) {
  require(block > 0, "evaluate: block_items = {}, expected > 0", block);
  const index users = in.size, width = index(num_items) + 1;
  scorer.set_users(in);
  ranks.resize(std::size_t(users));
  buffer.resize(std::size_t(users * std::min(block, width)));
  for (index r = 0; r < users; ++r) {  // each target alone: its score as any block would give it
    scorer.score(targets[std::size_t(r)], 1, std::span(buffer).first(std::size_t(users)));
    ranks[std::size_t(r)].start(targets[std::size_t(r)], buffer[std::size_t(r)], exclude(r), num_items);
  }
  for (index first = 0; first < width; first += block) {
    const index n = std::min(block, width - first);
    const std::span<float> out = std::span(buffer).first(std::size_t(users * n));
    std::fill(out.begin(), out.end(), std::numeric_limits<float>::quiet_NaN());  // a hole is reported, not ranked
    scorer.score(first, n, out);
    for (index r = 0; r < users; ++r) ranks[std::size_t(r)].add(out.subspan(std::size_t(r * n), std::size_t(n)), first);
  }
}

}  // namespace slmrec::eval
