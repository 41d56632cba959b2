// Leave-one-out split and training batches.
#include <algorithm>
#include <catch2/catch.hpp>
#include <numeric>
#include <slmrec/data/batch.hpp>
#include <slmrec/data/split.hpp>

using Catch::Contains;
using seqs = std::vector<std::vector<std::int32_t>>;
using ints = std::vector<std::int32_t>;
namespace data = slmrec::data;

TEST_CASE("leave-one-out: last = test, second-to-last = validation, short users train only", "[data][split]") {
  data::dataset d;
  d.num_items = 9;
  d.sequences = {{1, 2, 3, 4}, {5, 6}, {7, 8, 9}, {2}};
  const auto s = data::leave_one_out(d);
  CHECK(s.num_items == 9);
  CHECK(s.train == seqs{{1, 2}, {5, 6}, {7}, {2}});
  CHECK(s.train_only_users == 2);  // the 2-item and the 1-item user
  CHECK(s.valid.users == ints{0, 2});
  CHECK(s.valid.inputs == seqs{{1, 2}, {7}});
  CHECK(s.valid.targets == ints{3, 8});
  CHECK(s.test.users == ints{0, 2});
  CHECK(s.test.inputs == seqs{{1, 2, 3}, {7, 8}});  // the validation item is part of the test input
  CHECK(s.test.targets == ints{4, 9});
  CHECK(s.valid.size() == 2);
  CHECK(s.train_item_counts == std::vector<std::int64_t>{0, 1, 2, 0, 0, 1, 1, 1, 0, 0});
}

TEST_CASE("left_pad keeps the most recent items right-aligned", "[data][batch]") {
  ints row(4, -1);
  const ints short_seq{7, 8};
  data::left_pad(short_seq, row);
  CHECK(row == ints{0, 0, 7, 8});
  const ints long_seq{1, 2, 3, 4, 5, 6};
  data::left_pad(long_seq, row);
  CHECK(row == ints{3, 4, 5, 6});
  data::left_pad({}, row);
  CHECK(row == ints{0, 0, 0, 0});
}

TEST_CASE("training batches: padding, truncation, targets", "[data][batch]") {
  const data::sequence_table train{{1, 2, 3, 4, 5, 6}, {7, 8}, {9}, {2, 3, 4}};
  data::batch_options o{.batch_size = 2, .max_len = 3, .shuffle = false};
  data::batcher b(train, o);
  CHECK(b.num_examples() == 3);
  CHECK(b.skipped_users() == 1);  // {9}: no next item to predict
  CHECK(b.num_batches() == 2);

  data::batch x;
  REQUIRE(b.next(x));
  CHECK(x.size == 2);
  CHECK(x.length == 3);
  CHECK(x.users == ints{0, 1});
  // User 0: inputs 1..5 truncated to the last 3, targets shifted by one.
  // User 1: one transition, left-padded; padded positions have no target.
  CHECK(x.items == ints{3, 4, 5, 0, 0, 7});
  CHECK(x.targets == ints{4, 5, 6, 0, 0, 8});
  CHECK(x.item(0, 2) == 5);
  CHECK(x.target(1, 2) == 8);
  REQUIRE(b.next(x));
  CHECK(x.size == 1);
  CHECK(x.users == ints{3});
  CHECK(x.items == ints{0, 2, 3});
  CHECK(x.targets == ints{0, 3, 4});
  CHECK_FALSE(b.next(x));

  SECTION("last position only") {
    o.targets = data::target_mode::last_position;
    data::batcher last(train, o);
    REQUIRE(last.next(x));
    CHECK(x.items == ints{3, 4, 5, 0, 0, 7});
    CHECK(x.targets == ints{0, 0, 6, 0, 0, 8});
  }
  SECTION("drop_last") {
    o.drop_last = true;
    data::batcher dropping(train, o);
    CHECK(dropping.num_batches() == 1);
    REQUIRE(dropping.next(x));
    CHECK_FALSE(dropping.next(x));
  }
  SECTION("a new epoch starts over") {
    b.start_epoch(1);
    REQUIRE(b.next(x));
    CHECK(x.users == ints{0, 1});
  }
}

TEST_CASE("training batches: shuffling is deterministic per seed and epoch", "[data][batch]") {
  seqs rows;
  for (std::int32_t u = 0; u < 64; ++u) rows.push_back({u + 1, u + 2, u + 3});
  const data::sequence_table train(rows);
  const auto order_of = [&](std::uint64_t seed, std::uint64_t epoch) {
    data::batcher b(train, {.batch_size = 10, .max_len = 5, .shuffle = true, .seed = seed});
    b.start_epoch(epoch);
    ints users;
    data::batch x;
    while (b.next(x)) users.insert(users.end(), x.users.begin(), x.users.end());
    return users;
  };
  const ints a = order_of(42, 0);
  CHECK(a == order_of(42, 0));
  CHECK(a != order_of(43, 0));
  CHECK(a != order_of(42, 1));
  ints sorted = a;
  std::sort(sorted.begin(), sorted.end());
  ints expected(64);
  std::iota(expected.begin(), expected.end(), 0);
  CHECK(sorted == expected);  // a permutation: every example exactly once per epoch
  CHECK(a != expected);
}

TEST_CASE("batcher rejects bad options and padding ids in the data", "[data][batch][errors]") {
  const data::sequence_table train{{1, 2}};
  REQUIRE_THROWS_WITH(data::batcher(train, {.batch_size = 0}), Contains("batch_size = 0"));
  REQUIRE_THROWS_WITH(data::batcher(train, {.max_len = 0}), Contains("max_len = 0"));
  const data::sequence_table bad{{1, 0, 2}};
  REQUIRE_THROWS_WITH(data::batcher(bad, {}), Contains("position 1") && Contains("item 0"));
}
