#pragma once
// Left-padded batches of histories of mixed lengths, the input that length
// bucketing and worker splitting reorder: tests check that every user still
// gets the answer it gets alone.
#include <cstdint>
#include <vector>

#include <slmrec/core/rng.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::test {

// [rows, columns] ids: every long_every-th user (from row 0) fills all columns,
// the others hold 1..short_max items; ids drawn from 1..items, 0 pads.
inline std::vector<std::int32_t> mixed_histories(index rows, index columns, index long_every, index short_max,
                                                 index items, std::uint64_t seed) {
  std::vector<std::int32_t> batch(std::size_t(rows * columns), 0);
  rng gen(seed);
  for (index r = 0; r < rows; ++r) {
    const index len = r % long_every == 0 ? columns : 1 + index(gen.below(std::uint64_t(short_max)));
    for (index c = columns - len; c < columns; ++c)
      batch[std::size_t(r * columns + c)] = std::int32_t(1 + gen.below(std::uint64_t(items)));
  }
  return batch;
}

}  // namespace slmrec::test
