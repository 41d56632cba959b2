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
// not do consistently.
#include <cstdint>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::data {

struct shard {
  index part = 0, parts = 1;

  [[nodiscard]] bool whole() const { return parts == 1; }
  [[nodiscard]] bool holds(index user) const { return user % parts == part; }
  friend bool operator==(const shard&, const shard&) = default;
};

inline void check(const shard& s) {
  require(s.parts >= 1 && s.part >= 0 && s.part < s.parts, "shard {} of {}: expected 0 <= part < parts", s.part,
          s.parts);
}

// Empties the sequences of every user outside the shard (their memory freed).
template <class Dataset>
void keep_shard(Dataset& d, const shard& s) {
  check(s);
  require(d.shard.whole(), "{}: the dataset is already shard {} of {}", d.source, d.shard.part, d.shard.parts);
  for (std::size_t u = 0; u < d.sequences.size(); ++u)
    if (!s.holds(index(u))) std::vector<std::int32_t>().swap(d.sequences[u]);
  d.shard = s;
}

}  // namespace slmrec::data
