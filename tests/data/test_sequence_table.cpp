// data::sequence_table: the flat (CSR) store of every user's items, its
// value semantics (copy on write), the windows the split takes on it, and
// the filters that rebuild it.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include <slmrec/data/dataset.hpp>
#include <slmrec/data/split.hpp>

using namespace slmrec;
using Catch::Contains;
using seqs = std::vector<std::vector<std::int32_t>>;

TEST_CASE("sequence table: rows, totals, iteration", "[data][csr]") {
  data::sequence_table t{{1, 2, 3}, {}, {4}};
  CHECK(t.size() == 3);
  CHECK(t.total_items() == 4);
  CHECK(t[1].empty());
  CHECK(t[2][0] == 4);
  CHECK(t.to_vectors() == seqs{{1, 2, 3}, {}, {4}});
  std::size_t rows = 0, items = 0;
  for (const auto row : t) {
    ++rows;
    items += row.size();
  }
  CHECK(rows == 3);
  CHECK(items == 4);
  CHECK(t.end() - t.begin() == 3);
  CHECK((*(t.begin() + 2))[0] == 4);
  REQUIRE_THROWS_WITH(t.at(3), Contains("row 3 out of range [0, 3)"));

  t.push_empty();
  t.append_to_last(7);
  t.append_to_last(8);
  CHECK(t.to_vectors() == seqs{{1, 2, 3}, {}, {4}, {7, 8}});
  CHECK(t.total_items() == 6);
  t.push_back(t[0]);  // a row of the table itself: copied before the array can move
  CHECK(t.to_vectors() == seqs{{1, 2, 3}, {}, {4}, {7, 8}, {1, 2, 3}});
}

TEST_CASE("sequence table: a copy shares the array until one of them changes", "[data][csr]") {
  data::sequence_table a{{1, 2}, {3, 4, 5}};
  const data::sequence_table b = a;
  CHECK(b[1].data() == a[1].data());  // shared, not copied
  a.mutable_row(1)[0] = 30;
  CHECK(a.to_vectors() == seqs{{1, 2}, {30, 4, 5}});
  CHECK(b.to_vectors() == seqs{{1, 2}, {3, 4, 5}});  // the copy never sees the change
  a.push_back(std::vector<std::int32_t>{6});
  CHECK(b.size() == 2);
}

TEST_CASE("sequence table: windows share the array; a table holds windows on one array only", "[data][csr]") {
  const data::sequence_table all{{1, 2, 3, 4}, {5, 6, 7}};
  data::sequence_table prefixes;
  prefixes.push_window(all, 0, 2);
  prefixes.push_window(all, 1, 3);
  prefixes.push_window(all, 0, 0);
  CHECK(prefixes.to_vectors() == seqs{{1, 2}, {5, 6, 7}, {}});
  CHECK(prefixes.total_items() == 5);
  CHECK(prefixes[0].data() == all[0].data());
  REQUIRE_THROWS_WITH(prefixes.push_window(all, 1, 4), Contains("window of 4 items on row 1"));
  REQUIRE_THROWS_WITH(prefixes.push_window(all, 2, 0), Contains("on row 2 (of 2)"));
  const data::sequence_table other{{9}};
  REQUIRE_THROWS_WITH(prefixes.push_window(other, 0, 1), Contains("two arrays"));
  // A window does not end the array: appending to it would overwrite the next row.
  REQUIRE_THROWS_WITH(prefixes.append_to_last(8), Contains("does not end the array"));
  // Changing a window copies the array first: the source is untouched.
  prefixes.mutable_row(0)[0] = 10;
  CHECK(all.to_vectors() == seqs{{1, 2, 3, 4}, {5, 6, 7}});
  CHECK(prefixes.to_vectors() == seqs{{10, 2}, {5, 6, 7}, {}});
}

TEST_CASE("sequence table: retain, clear_row, compact and erase_rows_unless rebuild it exactly", "[data][csr]") {
  data::sequence_table t{{1, 2, 3, 2}, {2, 5}, {6}};
  const data::sequence_table before = t;
  t.retain([](std::size_t row, std::int32_t item) { return item != 2 || row == 1; });
  CHECK(t.to_vectors() == seqs{{1, 3}, {2, 5}, {6}});
  CHECK(t.total_items() == 5);
  CHECK(before.to_vectors() == seqs{{1, 2, 3, 2}, {2, 5}, {6}});
  t.clear_row(1);
  CHECK(t.total_items() == 3);
  const auto bytes = t.bytes();
  t.compact();
  CHECK(t.to_vectors() == seqs{{1, 3}, {}, {6}});
  CHECK(t.bytes() < bytes);  // the cleared row's items are gone from the array
  t.erase_rows_unless([&](std::size_t row) { return !t[row].empty(); });
  CHECK(t.to_vectors() == seqs{{1, 3}, {6}});
  CHECK(t.total_items() == 3);
  CHECK(t == data::sequence_table{{1, 3}, {6}});
  CHECK_FALSE(t == data::sequence_table{{1, 3}, {7}});
}

TEST_CASE("the leave-one-out split is windows on the dataset's array, which it keeps alive", "[data][csr][split]") {
  data::split s;
  const std::int32_t* first_item = nullptr;
  {
    data::dataset d;
    d.num_items = 9;
    d.sequences = {{1, 2, 3, 4}, {5, 6}, {7, 8, 9}};
    first_item = d.sequences[0].data();
    s = data::leave_one_out(d);
    CHECK(s.train[0].data() == first_item);  // nothing was copied
    CHECK(s.test.inputs[0].data() == first_item);
  }  // the dataset is gone; the split's windows still read its array
  CHECK(s.train.to_vectors() == seqs{{1, 2}, {5, 6}, {7}});
  CHECK(s.valid.inputs.to_vectors() == seqs{{1, 2}, {7}});
  CHECK(s.test.inputs.to_vectors() == seqs{{1, 2, 3}, {7, 8}});
  CHECK(s.test.targets == std::vector<std::int32_t>{4, 9});
  CHECK(s.train[0].data() == first_item);
}

TEST_CASE("keep_shard frees the other ranks' items from the array", "[data][csr][shard]") {
  data::dataset d;
  d.num_items = 8;
  d.sequences = {{1, 2, 3}, {4, 5, 6}, {7, 8}, {1, 4}};
  const auto bytes = d.sequences.bytes();
  data::keep_shard(d, {.part = 1, .parts = 2});
  CHECK(d.sequences.to_vectors() == seqs{{}, {4, 5, 6}, {}, {1, 4}});
  CHECK(d.num_interactions() == 5);
  CHECK(d.sequences.bytes() < bytes);
}
