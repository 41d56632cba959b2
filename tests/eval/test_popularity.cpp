// The popularity baseline (eval/popularity.hpp): ranks worked out by hand on
// a toy split, and the streamed block scorer against the dense scores the
// pipeline used to fill, under both protocols.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <slmrec/data/split.hpp>
#include <slmrec/data/synthetic.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/eval/popularity.hpp>

namespace slmrec {

TEST_CASE("popularity_scorer: the test ranks of a toy split, worked out by hand", "[eval][popularity]") {
  data::dataset d;
  d.num_items = 6;
  d.source = "toy";
  // Training prefixes (all but the last two): {1,2} {1,2} {1,3} {5}: counts 1:3 2:2 3:1 5:1 4:0 6:0.
  d.sequences = {{1, 2, 3, 4}, {1, 2, 5, 6}, {1, 3, 2, 5}, {5, 1, 4}};
  const auto s = data::leave_one_out(d);
  REQUIRE(s.train_item_counts == std::vector<std::int64_t>{0, 3, 2, 1, 0, 1, 0});
  // Test targets and inputs (excluded), the candidates scoring >= the target (pessimistic ties):
  //   4 after {1,2,3}: 5 (1), 6 (0)        -> rank 2
  //   6 after {1,2,5}: 3 (1), 4 (0)        -> rank 2
  //   5 after {1,3,2}: none of 4, 6 (0)    -> rank 0
  //   4 after {5,1}:   2 (2), 3 (1), 6 (0) -> rank 3
  eval::popularity_scorer pop(s.train_item_counts);
  CHECK(pop.num_items() == 6);
  const auto r = eval::evaluate(eval::test_view(s, d), pop);
  CHECK(r.users == 4);
  CHECK(r.metrics.mean("HR@1") == Approx(0.25));
  CHECK(r.metrics.mean("MRR") == Approx((1.0 / 3 + 1.0 / 3 + 1.0 + 1.0 / 4) / 4));
  CHECK(r.metrics.mean("NDCG@5") == Approx((2 / std::log2(4.0) + 1.0 + 1 / std::log2(5.0)) / 4));  // ranks 2, 2, 0, 3
}

TEST_CASE("popularity_scorer: streamed equals dense scores, full and sampled, on a sample of users",
          "[eval][popularity]") {
  data::synthetic_options o;
  o.users = 300;
  o.items = 700;
  o.seed = 5;
  const auto d = data::make_synthetic(o);
  const auto s = data::leave_one_out(d);
  const auto& counts = s.train_item_counts;
  const auto dense = [&](const data::batch& in, std::span<float> out) {
    for (index u = 0; u < in.size; ++u)
      for (std::size_t i = 0; i < counts.size(); ++i) out[std::size_t(u) * counts.size() + i] = float(counts[i]);
  };
  for (const auto ranking : {eval::protocol::full, eval::protocol::sampled}) {
    eval::eval_options eo;
    eo.ranking = ranking;
    eo.negatives = eval::sampling::popularity;
    eo.max_users = 120;
    eo.seed = 3;
    eo.batch_size = 32;
    eo.block_items = 64;  // many blocks
    eval::popularity_scorer pop(counts);
    const auto streamed = eval::evaluate(eval::valid_view(s, d), pop, eo);
    const auto reference = eval::evaluate(eval::valid_view(s, d), dense, eo);
    CHECK(streamed.users == 120);
    CHECK(streamed.metrics.means() == reference.metrics.means());
    CHECK(streamed.metrics.mean("HR@10") > 0.0);  // the popular items do get hits here
  }
}

TEST_CASE("popularity_scorer: refuses negative counts and ranges outside the catalog", "[eval][popularity]") {
  const std::vector<std::int64_t> bad{0, 4, -1};
  CHECK_THROWS_WITH(eval::popularity_scorer(bad), Catch::Contains("item 2 has count -1"));
  const std::vector<std::int64_t> counts{0, 4, 1};
  eval::popularity_scorer pop(counts);
  data::batch in;
  in.size = 2;
  pop.set_users(in);
  std::vector<float> out(2 * 3);
  pop.score(0, 3, out);
  CHECK(out == std::vector<float>{0, 4, 1, 0, 4, 1});
  CHECK_THROWS_WITH(pop.score(1, 3, out), Catch::Contains("catalog has 0..2"));
}

}  // namespace slmrec
