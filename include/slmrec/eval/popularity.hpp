#pragma once
// The popularity baseline: every user is recommended the items most often
// seen in training. It is the floor a sequential model must clear (a model
// that does not beat it has learned nothing about order), so the pipeline
// and `slmrec eval --baseline popularity` rank with it under the same
// protocols as the models.
//
// A block scorer (block_ranking.hpp): an item's score is its training count,
// the same for every user, written block by block, so a million-item catalog
// is ranked without a [users x items] matrix, as a model's is.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/data/batch.hpp>

namespace slmrec::eval {

class popularity_scorer {
 public:
  // counts[i]: item i's training interactions, i = 0 .. num_items (0: padding).
  explicit popularity_scorer(std::span<const std::int64_t> counts) : scores_(counts.size()) {
    require(!counts.empty(), "popularity_scorer: no item counts, expected num_items + 1");
    for (std::size_t i = 0; i < counts.size(); ++i) {
      require(counts[i] >= 0, "popularity_scorer: item {} has count {}, expected >= 0", i, counts[i]);
      // Exact below 2^24 interactions an item; beyond, neighbouring counts may
      // tie, which the pessimistic tie rule counts against the target.
      scores_[i] = float(counts[i]);
    }
  }

  [[nodiscard]] index num_items() const { return index(scores_.size()) - 1; }

  void set_users(const data::batch& in) { users_ = in.size; }

  // out [users, count]: the counts of items first .. first + count - 1, for every user.
  void score(index first, index count, std::span<float> out) const {
    require(first >= 0 && count >= 0 && first + count <= index(scores_.size()),
            "popularity_scorer: items {}..{} asked, the catalog has 0..{}", first, first + count - 1, num_items());
    require(index(out.size()) == users_ * count, "popularity_scorer: {} scores for {} users x {} items", out.size(),
            users_, count);
    const auto block = std::span<const float>(scores_).subspan(std::size_t(first), std::size_t(count));
    for (index u = 0; u < users_; ++u) std::copy(block.begin(), block.end(), out.begin() + std::ptrdiff_t(u * count));
  }

 private:
  std::vector<float> scores_;
  index users_ = 0;
};

}  // namespace slmrec::eval
