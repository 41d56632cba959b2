#pragma once
// A shard of users: data parallelism with `--shard-data`, where each rank
// keeps only its users (u % parts == part) after the file is read and
// filtered. The other users stay in the dataset as empty sequences, so user
// indices, sampled negatives (seeded by the user index) and the item ids are
// the same on every rank and in one process; what a rank holds (sequences,
// the split, batches, a distiller's teacher cache) is its share.
//
// The file is still parsed whole on every rank: item ids are renumbered and
// k-core filters applied over the whole catalog, which a partial read could
// not do consistently. keep_shard (data/dataset.hpp) makes a dataset a shard.
#include <slmrec/core/types.hpp>

namespace slmrec::data {

struct shard {
  index part = 0, parts = 1;

  [[nodiscard]] bool whole() const { return parts == 1; }
  [[nodiscard]] bool holds(index user) const { return user % parts == part; }
  friend bool operator==(const shard&, const shard&) = default;
};

}  // namespace slmrec::data
