#pragma once
// What evaluate() ranks: per evaluated user an input prefix and a target,
// plus what sampled ranking needs (every user's whole sequence, to never draw
// an item the user interacted with, and training item counts for popularity).
// A view borrows: the split and dataset it was made from must outlive it.
#include <cstdint>
#include <slmrec/core/error.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/split.hpp>
#include <span>
#include <vector>

namespace slmrec::eval {

struct split_view {
  std::int32_t num_items = 0;
  std::span<const std::int32_t> users{};                   // [n] user index
  data::sequence_table_ref inputs{};                       // [n] chronological input prefix
  std::span<const std::int32_t> targets{};                 // [n]
  data::sequence_table_ref sequences{};                    // [all users] whole sequences; empty: input + target
  std::span<const std::int64_t> item_counts{};             // [num_items + 1]; needed by popularity sampling
  data::shard shard{};  // --shard-data: the view holds this rank's users only (data/shard.hpp)

  [[nodiscard]] index size() const { return static_cast<index>(users.size()); }
};

[[nodiscard]] inline split_view make_view(const data::eval_part& part, const data::split& s, const data::dataset& d) {
  require(s.num_items == d.num_items && s.train.size() == d.sequences.size(),
          "split view: the split ({} users, {} items) was not made from this dataset ({} users, {} items)",
          s.train.size(), s.num_items, d.sequences.size(), d.num_items);
  return {s.num_items, part.users, part.inputs, part.targets, d.sequences, s.train_item_counts, s.shard};
}

// Validation: input = training prefix, target = second-to-last item.
[[nodiscard]] inline split_view valid_view(const data::split& s, const data::dataset& d) {
  return make_view(s.valid, s, d);
}

// Test: input = everything before the last item, target = last item.
[[nodiscard]] inline split_view test_view(const data::split& s, const data::dataset& d) {
  return make_view(s.test, s, d);
}

}  // namespace slmrec::eval
