// Negative sampling: exclusions, distinctness, reproducibility, popularity.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <slmrec/eval/samplers.hpp>
#include <vector>

using Catch::Contains;
namespace eval = slmrec::eval;
using ints = std::vector<std::int32_t>;

namespace {

void check_valid(const ints& negatives, const ints& exclude, std::int32_t num_items, std::size_t n) {
  REQUIRE(negatives.size() == n);
  std::set<std::int32_t> distinct(negatives.begin(), negatives.end());
  CHECK(distinct.size() == n);
  for (std::int32_t item : negatives) {
    CHECK(item >= 1);
    CHECK(item <= num_items);
    CHECK(std::find(exclude.begin(), exclude.end(), item) == exclude.end());
  }
}

}  // namespace

TEST_CASE("uniform negatives avoid the history, are distinct and reproducible", "[eval][samplers]") {
  const eval::negative_sampler sampler(1000);
  ints history;
  for (std::int32_t i = 1; i <= 1000; i += 3) history.push_back(i);  // a third of the items
  slmrec::rng a(7), b(7), c(8);
  const ints x = sampler.sample(99, history, a);
  check_valid(x, history, 1000, 99);
  CHECK(x == sampler.sample(99, history, b));
  CHECK(x != sampler.sample(99, history, c));
  const ints big = sampler.sample(600, history, a);  // close to the 666 allowed: the exact path
  check_valid(big, history, 1000, 600);
}

TEST_CASE("the exact path is used when few items are allowed", "[eval][samplers]") {
  ints history;
  for (std::int32_t i = 1; i <= 20; ++i) history.push_back(i);
  const eval::negative_sampler sampler(119);
  slmrec::rng r(1);
  const ints all = sampler.sample(99, history, r);  // exactly the 99 allowed items
  check_valid(all, history, 119, 99);
  REQUIRE_THROWS_WITH(sampler.sample(100, history, r), Contains("cannot draw 100") && Contains("only 99"));
}

TEST_CASE("popularity negatives follow the counts and avoid the history", "[eval][samplers]") {
  // counts[i] for item i; item 5 never occurs, item 6 is in the history.
  const std::vector<std::int64_t> counts{0, 800, 400, 200, 100, 0, 500};
  const eval::negative_sampler sampler(6, counts);
  const ints history{6};
  slmrec::rng r(123);
  std::vector<double> seen(7, 0.0);
  const int draws = 150000;
  std::size_t drawn = 0;
  for (int k = 0; k < draws; ++k)
    for (std::int32_t item : sampler.sample(1, history, r)) {
      seen[static_cast<std::size_t>(item)] += 1.0;
      ++drawn;
    }
  CHECK(drawn == static_cast<std::size_t>(draws));
  CHECK(seen[5] == 0.0);
  CHECK(seen[6] == 0.0);
  const double total = 1500.0;
  for (std::size_t i = 1; i <= 4; ++i)
    CHECK(seen[i] / draws == Approx(static_cast<double>(counts[i]) / total).epsilon(0.03));

  // Without replacement: 4 distinct items is all that can be drawn.
  slmrec::rng r2(5), r3(5);
  const ints four = sampler.sample(4, history, r2);
  check_valid(four, history, 6, 4);
  CHECK(four == sampler.sample(4, history, r3));
  REQUIRE_THROWS_WITH(sampler.sample(5, history, r2), Contains("only 4"));
}

TEST_CASE("popularity sampling when the history holds the popular items", "[eval][samplers]") {
  // The heavy items are excluded, so rejection would rarely succeed: the
  // sampler must still finish, exactly, with light items only.
  std::vector<std::int64_t> counts(1001, 1);
  counts[0] = 0;
  ints history;
  for (std::int32_t i = 1; i <= 900; ++i) {
    counts[static_cast<std::size_t>(i)] = 100000;
    history.push_back(i);
  }
  const eval::negative_sampler sampler(1000, counts);
  slmrec::rng r(9);
  check_valid(sampler.sample(40, history, r), history, 1000, 40);
}

TEST_CASE("alias table draws in proportion to the weights", "[eval][samplers]") {
  const std::vector<double> w{1.0, 0.0, 3.0, 6.0};
  const slmrec::alias_table table(w);
  slmrec::rng r(3);
  std::vector<double> seen(4, 0.0);
  const int draws = 100000;
  for (int k = 0; k < draws; ++k) seen[table.draw(r)] += 1.0;
  CHECK(seen[1] == 0.0);
  CHECK(seen[0] / draws == Approx(0.1).epsilon(0.05));
  CHECK(seen[2] / draws == Approx(0.3).epsilon(0.03));
  CHECK(seen[3] / draws == Approx(0.6).epsilon(0.03));
  REQUIRE_THROWS_WITH(slmrec::alias_table(std::vector<double>{0.0, 0.0}), Contains("positive weight"));
  REQUIRE_THROWS_WITH(eval::negative_sampler(3, std::vector<std::int64_t>{0, 1}), Contains("expected 4 item counts"));
}
