// The streamed full ranking (block_ranking.hpp) against full_rank on whole
// rows, and evaluate() with a block scorer against evaluate() with the same
// scores filled densely.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <slmrec/core/hash.hpp>
#include <slmrec/data/split.hpp>
#include <slmrec/data/synthetic.hpp>
#include <slmrec/eval/eval.hpp>

namespace slmrec {

namespace {

// Scores from a hash of (user, item) into 8 levels: many ties, some -inf.
float toy_score(std::int32_t user, index item) {
  const auto h = mix64(std::uint64_t(user) * 1'000'003ull + std::uint64_t(item));
  if (h % 23 == 0) return -std::numeric_limits<float>::infinity();
  return float(h % 8) * 0.5f;
}

// A block scorer over toy_score that records the widest range it was asked for.
struct toy_block_scorer {
  index num_items = 0;
  std::vector<std::int32_t> users;
  index widest = 0;
  index nan_item = -1;  // > 0: this item scores NaN
  void set_users(const data::batch& in) { users = in.users; }
  void score(index first, index count, std::span<float> out) {
    REQUIRE(index(out.size()) == index(users.size()) * count);
    REQUIRE(first + count <= num_items + 1);
    widest = std::max(widest, count);
    for (std::size_t u = 0; u < users.size(); ++u)
      for (index j = 0; j < count; ++j)
        out[u * std::size_t(count) + std::size_t(j)] =
            first + j == nan_item ? std::nanf("") : toy_score(users[u], first + j);
  }
};

}  // namespace

TEST_CASE("streamed_rank over blocks equals full_rank on the row: ties, -inf, exclusions, the target excluded",
          "[eval]") {
  const std::int32_t n = 101;
  for (std::int32_t user = 0; user < 30; ++user) {
    std::vector<float> row(std::size_t(n) + 1);
    for (index i = 0; i <= n; ++i) row[std::size_t(i)] = toy_score(user, i);
    const std::int32_t target = 1 + std::int32_t(mix64(std::uint64_t(user)) % std::uint64_t(n));
    // Repeats, the target itself and the ends of the catalog among the excluded.
    const std::vector<std::int32_t> exclude{target, 1, n, 17, 17, std::int32_t(1 + user), 64};
    for (const bool with_exclusion : {false, true}) {
      const std::span<const std::int32_t> ex = with_exclusion ? std::span(exclude) : std::span<const std::int32_t>{};
      const index want = eval::full_rank(row, target, ex);
      for (index block : {index(1), index(7), index(16), index(50), index(102), index(500)}) {
        eval::streamed_rank r;
        r.start(target, row[std::size_t(target)], ex, n);
        for (index first = 0; first <= n; first += block)
          r.add(std::span<const float>(row).subspan(std::size_t(first), std::size_t(std::min(block, n + 1 - first))),
                first);
        INFO("user " << user << ", block " << block << ", exclusion " << with_exclusion);
        CHECK(r.finish() == want);
      }
    }
  }
  eval::streamed_rank r;
  REQUIRE_THROWS_WITH(r.start(5, 0.f, std::vector<std::int32_t>{0}, 10), Catch::Contains("excluded item 0"));
  REQUIRE_THROWS_WITH(r.start(11, 0.f, {}, 10), Catch::Contains("target item 11"));
}

TEST_CASE("evaluate with a block scorer equals the dense evaluation of the same scores, at any block size",
          "[eval][evaluate]") {
  const auto d = data::make_synthetic({.users = 60, .items = 150, .min_len = 4, .max_len = 12, .seed = 3});
  const auto s = data::leave_one_out(d);
  const auto view = eval::test_view(s, d);
  toy_block_scorer blocks{.num_items = d.num_items};
  const auto dense = [&](const data::batch& in, std::span<float> out) {
    toy_block_scorer all{.num_items = d.num_items};
    all.set_users(in);
    all.score(0, d.num_items + 1, out);
  };
  for (const bool exclude : {true, false})
    for (index block : {index(1), index(16), index(37), index(151), index(4096)}) {
      const eval::eval_options o{.exclude_history = exclude, .batch_size = 16, .max_len = 8, .block_items = block};
      const auto want = eval::evaluate(view, dense, o);
      blocks.widest = 0;
      const auto got = eval::evaluate(view, blocks, o);
      INFO("block " << block << ", exclude " << exclude);
      CHECK(got.metrics.to_json() == want.metrics.to_json());
      CHECK(got.protocol == want.protocol);
      CHECK(blocks.widest == std::min<index>(block, d.num_items + 1));  // never the whole catalog at once
    }
  // The sampled protocol takes whole rows from the block scorer.
  const eval::eval_options sampled{.ranking = eval::protocol::sampled, .num_negatives = 20, .batch_size = 16};
  CHECK(eval::evaluate(view, blocks, sampled).metrics.to_json() ==
        eval::evaluate(view, dense, sampled).metrics.to_json());
  // A NaN is reported with the user and the item, as on whole rows.
  blocks.nan_item = 77;
  REQUIRE_THROWS_WITH(eval::evaluate(view, blocks, {.block_items = 10}),
                      Catch::Contains("user index") && Catch::Contains("first: item 77"));
  REQUIRE_THROWS_WITH(eval::evaluate(view, blocks, {.block_items = 0}), Catch::Contains("block_items = 0"));
}

}  // namespace slmrec
