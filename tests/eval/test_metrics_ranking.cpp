// Metrics against hand-computed values; ranking with pessimistic ties.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <slmrec/eval/metrics.hpp>
#include <slmrec/eval/ranking.hpp>
#include <vector>

using Catch::Contains;
namespace eval = slmrec::eval;

TEST_CASE("metrics of ranks 0, 3 and 12", "[eval][metrics]") {
  eval::metric_accumulator acc;
  for (slmrec::index r : {0, 3, 12}) acc.add(r);
  CHECK(acc.count() == 3);
  CHECK(acc.mean("HR@1") == Approx(1.0 / 3));
  CHECK(acc.mean("HR@5") == Approx(2.0 / 3));
  CHECK(acc.mean("HR@10") == Approx(2.0 / 3));
  CHECK(acc.mean("HR@20") == Approx(1.0));
  const double n0 = 1.0, n3 = 1.0 / std::log2(5.0), n12 = 1.0 / std::log2(14.0);
  CHECK(acc.mean("NDCG@5") == Approx((n0 + n3) / 3));
  CHECK(acc.mean("NDCG@10") == Approx((n0 + n3) / 3));
  CHECK(acc.mean("NDCG@20") == Approx((n0 + n3 + n12) / 3));
  CHECK(acc.mean("MRR") == Approx((1.0 + 0.25 + 1.0 / 13) / 3));

  const auto j = acc.to_json();
  CHECK(j.size() == 8);
  for (auto name : eval::metric_accumulator::names) CHECK(j.contains(std::string(name)));
  CHECK(j["NDCG@20"].get<double>() == Approx((n0 + n3 + n12) / 3));
  CHECK_THAT(acc.to_string(), Contains("HR@1 0.3333"));

  eval::metric_accumulator other;
  other.add(100);
  acc.merge(other);
  CHECK(acc.count() == 4);
  CHECK(acc.mean("HR@20") == Approx(0.75));
  REQUIRE_THROWS_WITH(acc.mean("Recall@3"), Contains("Recall@3"));
  REQUIRE_THROWS_WITH(acc.add(-1), Contains("negative"));
  CHECK(eval::metric_accumulator{}.mean("MRR") == 0.0);
}

TEST_CASE("single-rank metric functions", "[eval][metrics]") {
  CHECK(eval::hit_rate(9, 10) == 1.0);
  CHECK(eval::hit_rate(10, 10) == 0.0);
  CHECK(eval::ndcg(0, 5) == 1.0);
  CHECK(eval::ndcg(1, 5) == Approx(1.0 / std::log2(3.0)));
  CHECK(eval::ndcg(5, 5) == 0.0);
  CHECK(eval::reciprocal_rank(4) == Approx(0.2));
}

TEST_CASE("full ranking counts every candidate scoring >= the target", "[eval][ranking]") {
  //                          pad   1    2    3    4    5
  const std::vector<float> s{99.f, .5f, .9f, .7f, .7f, .1f};
  CHECK(eval::full_rank(s, 2) == 0);
  CHECK(eval::full_rank(s, 3) == 2);  // item 2 above, item 4 tied: ties go against the target
  CHECK(eval::full_rank(s, 4) == 2);
  CHECK(eval::full_rank(s, 5) == 4);  // the padding column never competes
}

TEST_CASE("constant scores get the worst rank, never a good one", "[eval][ranking]") {
  const std::vector<float> s(101, 0.25f);  // 100 items
  for (std::int32_t target : {1, 50, 100}) CHECK(eval::full_rank(s, target) == 99);
  eval::metric_accumulator acc;
  acc.add(eval::full_rank(s, 1));
  CHECK(acc.mean("HR@10") == 0.0);
  CHECK(acc.mean("HR@20") == 0.0);
  CHECK(acc.mean("MRR") == Approx(0.01));
  const std::vector<std::int32_t> negatives{2, 3, 4, 5};
  CHECK(eval::sampled_rank(s, 1, negatives) == 4);
}

TEST_CASE("history exclusion removes seen items but never the target", "[eval][ranking]") {
  //                          pad  1    2    3    4    5    6
  const std::vector<float> s{0.f, .9f, .8f, .7f, .6f, .5f, .95f};
  const std::vector<std::int32_t> history{1, 6, 6, 3};
  CHECK(eval::full_rank(s, 3) == 3);           // 6, 1, 2 above
  CHECK(eval::full_rank(s, 3, history) == 1);  // 1 and 6 excluded (6 once, despite the repeat); 3 is the target
  CHECK(eval::full_rank(s, 5, history) == 2);  // 2 and 4 remain above
  const std::vector<std::int32_t> bad{7};
  REQUIRE_THROWS_WITH(eval::full_rank(s, 3, bad), Contains("excluded item 7"));
}

TEST_CASE("NaN scores and bad targets are errors", "[eval][ranking][errors]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> s{0.f, .1f, .2f, .3f};
  REQUIRE_THROWS_WITH(eval::full_rank(s, 4), Contains("target item 4 out of range"));
  REQUIRE_THROWS_WITH(eval::full_rank(s, 0), Contains("target item 0"));
  s[2] = nan;
  REQUIRE_THROWS_WITH(eval::full_rank(s, 3), Contains("NaN") && Contains("item 2"));
  const std::vector<std::int32_t> negatives{2};
  REQUIRE_THROWS_WITH(eval::sampled_rank(s, 3, negatives), Contains("NaN"));
  s[2] = .2f;
  s[0] = nan;  // the padding column is not a candidate
  CHECK(eval::full_rank(s, 3) == 0);
  s[1] = std::numeric_limits<float>::infinity();
  CHECK(eval::full_rank(s, 3) == 1);
}
