#pragma once
// Leave-one-out split, the protocol of SASRec, BERT4Rec, S3-Rec and SLMRec:
// per user, the last item is the test target, the second-to-last the
// validation target, and the rest is training data.
#include <cstdint>
#include <slmrec/core/types.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/stats.hpp>
#include <vector>

namespace slmrec::data {

// One target per evaluated user.
struct eval_part {
  std::vector<std::int32_t> users;    // user index u (user id u + 1)
  sequence_table inputs;              // the chronological prefix the model sees (a window on the dataset's array)
  std::vector<std::int32_t> targets;  // the item to predict next

  [[nodiscard]] index size() const { return static_cast<index>(users.size()); }
};

struct split {
  std::int32_t num_items = 0;
  // Every user's training sequence, indexed by user: all but the last two
  // items, or the whole sequence for a user with fewer than 3 items. Like
  // the parts' inputs, windows on the dataset's array (nothing is copied:
  // the split keeps the array alive on its own).
  sequence_table train;
  eval_part valid;  // input = train[u], target = second-to-last item
  eval_part test;   // input = everything before the last item (validation item included), target = last item
  // Users with fewer than 3 interactions: they cannot give a training item,
  // a validation target and a test target, so (as SASRec's data_partition)
  // they are used for training only and excluded from validation and test.
  index train_only_users = 0;
  // The dataset's shard: users outside it are in neither part (data/shard.hpp).
  data::shard shard;
  // Occurrences of each item in `train` ([num_items + 1], [0] = 0): the
  // popularity that popularity-weighted negative sampling draws from.
  std::vector<std::int64_t> train_item_counts;
};

[[nodiscard]] inline split leave_one_out(const dataset& d) {
  validate(d);
  split s;
  s.num_items = d.num_items;
  s.shard = d.shard;
  const auto& all = d.sequences;
  for (std::size_t u = 0; u < all.size(); ++u) {
    const bool held = d.shard.holds(index(u));  // another rank's user: an empty row
    const std::size_t n = held ? all[u].size() : 0;
    if (n < 3) {
      s.train.push_window(all, u, n);
      if (held) ++s.train_only_users;
      continue;
    }
    s.train.push_window(all, u, n - 2);
    const auto user = static_cast<std::int32_t>(u);
    s.valid.users.push_back(user);
    s.valid.inputs.push_window(all, u, n - 2);
    s.valid.targets.push_back(all[u][n - 2]);
    s.test.users.push_back(user);
    s.test.inputs.push_window(all, u, n - 1);
    s.test.targets.push_back(all[u][n - 1]);
  }
  s.train_item_counts = item_counts(s.train, s.num_items);
  return s;
}

}  // namespace slmrec::data
