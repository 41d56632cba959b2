#pragma once
// Host-side preparation of a batch of left-padded item sequences for the
// decoder: columns that are padding in every row are dropped (most users are
// far shorter than max_len, so this often shrinks the work several times),
// and positions are counted from the right edge so that dropping columns never
// changes a position id: the most recent item always sits at max_len - 1.
#include <cstdint>
#include <span>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::model {

// A [rows, columns] batch of ids in [0, num_items] that a model of max_len
// reads; an error names the row (of the batch as given) and the id.
inline void require_valid_batch(std::span<const std::int32_t> ids, index rows, index columns, index max_len,
                                index num_items) {
  require(rows >= 1 && columns >= 1 && index(ids.size()) == rows * columns,
          "sequence batch: {} ids for a [{}, {}] batch", ids.size(), rows, columns);
  require(columns <= max_len, "sequence batch: {} columns, but the model reads at most max_len = {}", columns, max_len);
  for (std::size_t i = 0; i < ids.size(); ++i)
    require(ids[i] >= 0 && ids[i] <= num_items, "sequence batch: row {} holds item id {}, expected 0..{}",
            index(i) / columns, ids[i], num_items);
}

// The column where a left-padded row's history starts: its first non-zero id
// before column `limit`, or `limit` (a row of padding keeps its last column).
inline index history_start(const std::int32_t* row, index limit) {
  for (index c = 0; c < limit; ++c)
    if (row[c] != 0) return c;
  return limit;
}

struct sequence_input {
  index batch = 0, length = 0;      // after trimming
  index first_column = 0;           // columns [first_column, original length) were kept
  std::vector<std::int32_t> items;  // [batch, length]
  std::vector<std::int32_t> mask;   // [batch, length] 1 = real item
  std::vector<std::int32_t> positions;

  // items: [batch, columns] left-padded ids in [0, num_items]; max_len bounds the positions.
  void assign(std::span<const std::int32_t> ids, index rows, index columns, index max_len, index num_items) {
    require_valid_batch(ids, rows, columns, max_len, num_items);
    index first = columns - 1;  // keep at least the last column
    for (index r = 0; r < rows; ++r) first = history_start(ids.data() + r * columns, first);
    batch = rows;
    first_column = first;
    length = columns - first;
    const auto cells = std::size_t(batch * length);
    items.resize(cells);
    mask.resize(cells);
    positions.resize(cells);
    for (index r = 0; r < rows; ++r)
      for (index t = 0; t < length; ++t) {
        const auto id = ids[std::size_t(r * columns + first + t)];
        const auto cell = std::size_t(r * length + t);
        items[cell] = id;
        mask[cell] = id != 0 ? 1 : 0;
        positions[cell] = std::int32_t(max_len - length + t);
      }
  }
  [[nodiscard]] index rows() const { return batch * length; }
};

}  // namespace slmrec::model
