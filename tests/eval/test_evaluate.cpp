// The evaluate() driver with toy scorers on a hand-made split.
#include <catch2/catch.hpp>
#include <map>
#include <slmrec/data/split.hpp>
#include <slmrec/eval/eval.hpp>
#include <vector>

using Catch::Contains;
namespace data = slmrec::data;
namespace eval = slmrec::eval;
using ints = std::vector<std::int32_t>;

namespace {

// 5 evaluated users and one train-only user over 200 items.
data::dataset toy() {
  data::dataset d;
  d.num_items = 200;
  d.source = "toy";
  d.sequences = {{1, 2, 3, 4}, {5, 6, 7}, {8, 9, 10, 11, 12, 13}, {20, 21, 22}, {30, 31, 32, 33}, {40, 41}};
  return d;
}

}  // namespace

TEST_CASE("evaluate: an oracle scorer ranks first, a constant one last", "[eval][evaluate]") {
  const auto d = toy();
  const auto s = data::leave_one_out(d);
  const auto view = eval::test_view(s, d);
  REQUIRE(view.size() == 5);
  std::map<std::int32_t, std::int32_t> answer;  // user -> test target (the test knows, the model would not)
  for (std::size_t k = 0; k < s.test.users.size(); ++k) answer[s.test.users[k]] = s.test.targets[k];

  std::vector<slmrec::index> batch_sizes;
  const auto oracle = [&](const data::batch& in, std::span<float> scores) {
    batch_sizes.push_back(in.size);
    CHECK(in.targets.empty());
    const auto width = static_cast<std::size_t>(d.num_items) + 1;
    for (slmrec::index r = 0; r < in.size; ++r) {
      auto row = scores.subspan(static_cast<std::size_t>(r) * width, width);
      std::fill(row.begin(), row.end(), 0.f);
      row[static_cast<std::size_t>(answer.at(in.users[static_cast<std::size_t>(r)]))] = 1.f;
    }
  };
  const auto full = eval::evaluate(view, oracle, {.batch_size = 2, .max_len = 4});
  CHECK(batch_sizes == std::vector<slmrec::index>{2, 2, 1});
  CHECK(full.users == 5);
  CHECK(full.metrics.count() == 5);
  CHECK(full.metrics.mean("HR@1") == 1.0);
  CHECK(full.metrics.mean("MRR") == 1.0);
  CHECK_THAT(full.protocol, Contains("full ranking") && Contains("200 items"));
  CHECK(full.to_json()["metrics"]["NDCG@10"] == 1.0);

  const auto constant = [&](const data::batch&, std::span<float> scores) {
    std::fill(scores.begin(), scores.end(), 1.f);
  };
  const auto worst = eval::evaluate(view, constant, {.exclude_history = false});
  CHECK(worst.metrics.mean("HR@20") == 0.0);
  CHECK(worst.metrics.mean("MRR") == Approx(1.0 / 200));  // rank 199 = all other items
  const auto worst_excl = eval::evaluate(view, constant, {});
  // User 0: test input {1, 2, 3}: 3 fewer candidates, rank 196.
  CHECK(worst_excl.metrics.mean("MRR") > worst.metrics.mean("MRR"));

  const auto sampled = eval::evaluate(view, constant, {.ranking = eval::protocol::sampled, .num_negatives = 99});
  CHECK(sampled.metrics.mean("MRR") == Approx(0.01));
  CHECK_THAT(sampled.protocol, Contains("99 uniform negatives"));
  const auto sampled_oracle =
      eval::evaluate(view, oracle, {.ranking = eval::protocol::sampled, .negatives = eval::sampling::uniform});
  CHECK(sampled_oracle.metrics.mean("HR@1") == 1.0);
}

TEST_CASE("evaluate: the scorer sees left-padded, truncated inputs", "[eval][evaluate]") {
  const auto d = toy();
  const auto s = data::leave_one_out(d);
  std::vector<ints> rows;
  const auto spy = [&](const data::batch& in, std::span<float> scores) {
    for (slmrec::index r = 0; r < in.size; ++r)
      rows.emplace_back(in.items.begin() + r * in.length, in.items.begin() + (r + 1) * in.length);
    std::fill(scores.begin(), scores.end(), 0.f);
  };
  (void)eval::evaluate(eval::valid_view(s, d), spy, {.batch_size = 10, .max_len = 3});
  REQUIRE(rows.size() == 5);
  CHECK(rows[0] == ints{0, 1, 2});    // valid input {1, 2}
  CHECK(rows[2] == ints{9, 10, 11});  // valid input {8, 9, 10, 11}: the last 3 kept
  CHECK(rows[3] == ints{0, 0, 20});
}

TEST_CASE("evaluate: sampled negatives are reproducible and never the user's items", "[eval][evaluate]") {
  const auto d = toy();
  const auto s = data::leave_one_out(d);
  const auto width = static_cast<std::size_t>(d.num_items) + 1;
  for (const bool valid : {true, false}) {
    const auto view = valid ? eval::valid_view(s, d) : eval::test_view(s, d);
    std::map<std::int32_t, std::int32_t> answer;
    for (slmrec::index k = 0; k < view.size(); ++k)
      answer[view.users[static_cast<std::size_t>(k)]] = view.targets[static_cast<std::size_t>(k)];
    // Every item of the user's whole sequence (the test item too, when
    // validating) outscores the target: any such item among the negatives
    // would push the target below rank 0.
    const auto adversary = [&](const data::batch& in, std::span<float> scores) {
      std::fill(scores.begin(), scores.end(), 0.f);
      for (slmrec::index r = 0; r < in.size; ++r) {
        const auto user = in.users[static_cast<std::size_t>(r)];
        auto row = scores.subspan(static_cast<std::size_t>(r) * width, width);
        for (std::int32_t item : d.sequences[static_cast<std::size_t>(user)]) row[static_cast<std::size_t>(item)] = 2.f;
        row[static_cast<std::size_t>(answer.at(user))] = 1.f;
      }
    };
    for (const auto kind : {eval::sampling::uniform, eval::sampling::popularity}) {
      // Popularity draws only items seen in training (12 here), fewer than uniform.
      const slmrec::index n = kind == eval::sampling::uniform ? 150 : 5;
      const auto r =
          eval::evaluate(view, adversary, {.ranking = eval::protocol::sampled, .num_negatives = n, .negatives = kind});
      CHECK(r.metrics.mean("HR@1") == 1.0);
    }
    // With full ranking the same scorer is beaten by the user's history.
    CHECK(eval::evaluate(view, adversary, {.exclude_history = false}).metrics.mean("HR@1") == 0.0);
  }

  // A fixed pseudo-random scorer: the same seed gives the same negatives,
  // hence the same metrics; another seed (almost surely) other ones.
  const auto view = eval::test_view(s, d);
  const auto hashed = [&](const data::batch& in, std::span<float> scores) {
    for (slmrec::index r = 0; r < in.size; ++r)
      for (std::size_t i = 0; i < width; ++i)
        scores[static_cast<std::size_t>(r) * width + i] = static_cast<float>(
            (i * 2654435761u + static_cast<std::size_t>(in.users[static_cast<std::size_t>(r)]) * 97) % 1000);
  };
  const eval::eval_options o{.ranking = eval::protocol::sampled, .num_negatives = 50, .seed = 11};
  const auto a = eval::evaluate(view, hashed, o);
  CHECK(a.metrics.to_json() == eval::evaluate(view, hashed, o).metrics.to_json());
  auto o2 = o;
  o2.seed = 12;
  CHECK(a.metrics.to_json() != eval::evaluate(view, hashed, o2).metrics.to_json());
  const auto p = eval::evaluate(
      view, hashed, {.ranking = eval::protocol::sampled, .num_negatives = 5, .negatives = eval::sampling::popularity});
  CHECK(p.metrics.count() == 5);
  CHECK_THAT(p.protocol, Contains("popularity"));
}

TEST_CASE("evaluate: user subsets and scorer errors", "[eval][evaluate][errors]") {
  const auto d = toy();
  const auto s = data::leave_one_out(d);
  const auto view = eval::test_view(s, d);
  std::vector<std::int32_t> users;
  const auto zero = [&](const data::batch& in, std::span<float> scores) {
    users.insert(users.end(), in.users.begin(), in.users.end());
    std::fill(scores.begin(), scores.end(), 0.f);
  };
  const auto r = eval::evaluate(view, zero, {.seed = 3, .max_users = 3});
  CHECK(r.users == 3);
  CHECK(users.size() == 3);
  CHECK(std::is_sorted(users.begin(), users.end()));
  CHECK_THAT(r.protocol, Contains("a random 3 of 5 users"));

  const auto lazy = [](const data::batch&, std::span<float>) {};  // fills nothing
  REQUIRE_THROWS_WITH(eval::evaluate(view, lazy, {}), Contains("evaluate: user index 0") && Contains("NaN"));
  REQUIRE_THROWS_WITH(eval::evaluate(view, lazy, {.ranking = eval::protocol::sampled}), Contains("NaN"));
  REQUIRE_THROWS_WITH(eval::evaluate(view, zero, {.batch_size = 0}), Contains("batch_size = 0"));

  eval::split_view no_counts = view;
  no_counts.item_counts = {};
  REQUIRE_THROWS_WITH(
      eval::evaluate(no_counts, zero, {.ranking = eval::protocol::sampled, .negatives = eval::sampling::popularity}),
      Contains("popularity sampling needs item counts"));
  // Too few items for the requested negatives is an error, not a shorter list.
  REQUIRE_THROWS_WITH(eval::evaluate(view, zero, {.ranking = eval::protocol::sampled, .num_negatives = 199}),
                      Contains("cannot draw 199"));
}
