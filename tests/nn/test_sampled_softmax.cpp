// The sampled softmax loss: a hand-computed case, central differences with
// and without the log Q correction and with accidental hits, equality with
// the full softmax when the set is the catalog, and the candidate sampler's
// corrections (an unbiased estimate of the full softmax's normaliser).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/nn/sampled_softmax_loss.hpp>
#include <slmrec/nn/softmax_loss.hpp>
#include <slmrec/train/candidate_sampler.hpp>

#include "support/gradcheck.hpp"

namespace slmrec {

namespace {
using be = backend::eigen_cpu_f64;
using ints = std::vector<std::int32_t>;

// The loss of the problem at (h, table), with the gradients added into dh and dtable.
double run_loss(const std::vector<double>& h, const std::vector<double>& table, const ints& targets,
                const ints& candidates, const std::vector<double>& candidate_offsets, index d, std::vector<double>* dh,
                std::vector<double>* dtable, index chunk_elements) {
  nn::sampled_softmax_loss<be> loss(chunk_elements);
  return loss.forward_backward(h.data(), table.data(), targets.data(), candidates.data(), candidate_offsets.data(), index(targets.size()), index(candidates.size()), d,
                               dh ? dh->data() : nullptr, dtable ? dtable->data() : nullptr, 1.0);
}
}  // namespace

TEST_CASE("sampled softmax: a hand-computed case with an accidental hit, with and without log Q", "[nn]") {
  // Items 1..3 in d = 2: w1 = (1, 0), w2 = (0, 1), w3 = (2, 0); h = (1, 0); target 1.
  // Candidates {1, 2, 3}: 1 is the target itself (an accidental hit), so it leaves the softmax:
  //   loss = -1 + log(e^1 + e^0 + e^2) = 1.407605964444
  const std::vector<double> table = {0, 0, 1, 0, 0, 1, 2, 0}, h = {1, 0};
  const ints targets = {1}, candidates = {1, 2, 3};
  std::vector<double> dh(2, 0.0), dtable(8, 0.0);
  CHECK(run_loss(h, table, targets, candidates, {0, 0, 0}, 2, &dh, &dtable, 1 << 20) ==
        Approx(1.407605964444).epsilon(1e-12));
  // dh = sum_j p_j w_j - w_t with p = softmax(1, 0, 2) over (target, 2, 3).
  CHECK(dh[0] == Approx(0.5752103826044415).epsilon(1e-12));
  CHECK(dh[1] == Approx(0.09003057317038046).epsilon(1e-12));
  // Only the target's and the candidates' rows have a gradient; the padding row none.
  CHECK(dtable[0] == 0.0);
  CHECK(dtable[1] == 0.0);
  CHECK(dtable[2] == Approx(0.24472847105479764 - 1.0).epsilon(1e-12));  // (p_t - 1) h, the hit adds nothing
  CHECK(dtable[4] == Approx(0.09003057317038046).epsilon(1e-12));
  CHECK(dtable[6] == Approx(0.6652409557748219).epsilon(1e-12));
  // With log Q = (log 0.5, log 0.25, log 0.25) subtracted from the candidates' logits (the target's is exact):
  //   s = 1, z2 = 0 - log 0.25, z3 = 2 - log 0.25; loss = -s + log(e^s + e^z2 + e^z3) = 2.591115186663
  const std::vector<double> logq = {std::log(0.5), std::log(0.25), std::log(0.25)};
  CHECK(run_loss(h, table, targets, candidates, logq, 2, nullptr, nullptr, 1 << 20) ==
        Approx(2.591115186663).epsilon(1e-12));
}

TEST_CASE("sampled softmax: gradients by central differences, chunked, with hits and log Q", "[nn][gradcheck]") {
  const index items = 30, d = 5, n = 11;
  const auto table0 = test::random_vector((items + 1) * d, 7, 0.7), h0 = test::random_vector(n * d, 8, 0.7);
  ints targets(static_cast<std::size_t>(n), 0);
  for (index i = 0; i < n; ++i) targets[std::size_t(i)] = std::int32_t(1 + (i * 7) % items);
  const ints candidates = {1, 3, 8, 9, 15, 22, 29, 30};  // targets 1, 8, 15, 22, 29 are hits in some rows
  for (const bool log_q : {false, true}) {
    std::vector<double> cand_off(candidates.size(), 0.0);
    if (log_q)
      for (std::size_t j = 0; j < candidates.size(); ++j) cand_off[j] = std::log(0.01 * candidates[j]);
    std::vector<double> dh(h0.size(), 0.0), dtable(table0.size(), 0.0);
    run_loss(h0, table0, targets, candidates, cand_off, d, &dh, &dtable, 3 * 8);  // chunks of 3 rows
    auto numeric = [&](bool wrt_h) {
      std::vector<double> g(wrt_h ? h0.size() : table0.size());
      const double step = 1e-6;
      for (std::size_t k = 0; k < g.size(); ++k) {
        auto h = h0, t = table0;
        (wrt_h ? h : t)[k] += step;
        const double up = run_loss(h, t, targets, candidates, cand_off, d, nullptr, nullptr, 1 << 20);
        (wrt_h ? h : t)[k] -= 2 * step;
        const double down = run_loss(h, t, targets, candidates, cand_off, d, nullptr, nullptr, 1 << 20);
        g[k] = (up - down) / (2 * step);
      }
      return g;
    };
    CHECK(test::symmetric_relative_error(dh, numeric(true)) < 1e-8);
    CHECK(test::symmetric_relative_error(dtable, numeric(false)) < 1e-8);
    for (index c = 0; c < d; ++c) CHECK(dtable[std::size_t(c)] == 0.0);  // padding row
    CHECK(dtable[2 * d] == 0.0);  // item 2: neither a target nor a candidate
  }
}

TEST_CASE("sampled softmax: the whole catalog as candidates, uncorrected, is the full softmax", "[nn]") {
  const index items = 12, d = 4, n = 7;
  const auto table = test::random_vector((items + 1) * d, 3, 0.8), h = test::random_vector(n * d, 4, 0.8);
  ints targets(static_cast<std::size_t>(n)), all(static_cast<std::size_t>(items));
  for (index i = 0; i < n; ++i) targets[std::size_t(i)] = std::int32_t(1 + (i * 5) % items);
  for (index j = 0; j < items; ++j) all[std::size_t(j)] = std::int32_t(j + 1);
  std::vector<double> dh(h.size(), 0.0), dtable(table.size(), 0.0), dh_full(h.size(), 0.0),
      dtable_full(table.size(), 0.0);
  const double sampled = run_loss(h, table, targets, all, std::vector<double>(all.size(), 0.0), d, &dh, &dtable, 1 << 20);
  nn::full_softmax_loss<be> full;
  const double reference = full.forward_backward(h.data(), table.data(), nullptr, targets.data(), n, items + 1, d,
                                                 dh_full.data(), dtable_full.data(), nullptr, 1.0);
  CHECK(sampled == Approx(reference).epsilon(1e-12));
  CHECK(test::symmetric_relative_error(dh, dh_full) < 1e-12);
  CHECK(test::symmetric_relative_error(dtable, dtable_full) < 1e-12);
}

TEST_CASE("candidate sampler: corrections are log P(in set), an unbiased estimate of the normaliser", "[nn][train]") {
  std::vector<std::int64_t> counts = {0, 50, 20, 10, 5, 0, 0, 0, 0, 0, 15};  // 10 items
  const ints targets = {1, 0, 2, 1, 10};
  SECTION("popularity: Q = (count + 1) / (total + items), drawn with that frequency") {
    train::candidate_sampler s(10, counts, {.negatives = 4, .sampler = train::proposal::popularity});
    CHECK(s.q(1) == Approx(51.0 / 110.0));
    CHECK(s.q(5) == Approx(1.0 / 110.0));
    CHECK(s.log_inclusion(5, 4) == Approx(std::log(1 - std::pow(1 - 1.0 / 110.0, 4))));
    train::candidate_set set;
    std::vector<int> seen(11, 0);
    for (std::uint64_t b = 0; b < 4000; ++b) {
      s.draw(targets, b, set);
      REQUIRE(std::is_sorted(set.items.begin(), set.items.end()));
      REQUIRE(std::adjacent_find(set.items.begin(), set.items.end()) == set.items.end());
      for (const auto i : set.items) ++seen[std::size_t(i)];
    }
    // P(item 1 in a set of 4 draws) = 1 - (59/110)^4 = 0.917; item 5: 0.036.
    CHECK(seen[1] / 4000.0 == Approx(1 - std::pow(59.0 / 110.0, 4)).margin(0.02));
    CHECK(seen[5] / 4000.0 == Approx(1 - std::pow(109.0 / 110.0, 4)).margin(0.01));
    s.draw(targets, 7, set);
    for (std::size_t j = 0; j < set.items.size(); ++j) CHECK(set.offsets[j] == Approx(s.log_inclusion(set.items[j], 4)));
  }
  SECTION("smoothed popularity: Q = (count + 1)^0.75 / sum, drawn with that frequency") {
    train::candidate_sampler s(10, counts,
                               {.negatives = 4, .sampler = train::proposal::popularity, .popularity_power = 0.75});
    double total = 0.0;
    for (std::size_t i = 1; i < counts.size(); ++i) total += std::pow(double(counts[i]) + 1.0, 0.75);
    CHECK(s.q(1) == Approx(std::pow(51.0, 0.75) / total));
    CHECK(s.q(5) == Approx(1.0 / total));
    train::candidate_set set;
    int seen5 = 0;
    for (std::uint64_t b = 0; b < 4000; ++b) {
      s.draw(targets, b, set);
      seen5 += std::binary_search(set.items.begin(), set.items.end(), 5);
    }
    CHECK(seen5 / 4000.0 == Approx(1 - std::pow(1 - 1.0 / total, 4)).margin(0.015));
  }
  SECTION("in-batch: every target is a candidate, and its correction counts the batch") {
    train::candidate_sampler s(10, counts, {.negatives = 2, .sampler = train::proposal::uniform, .in_batch = true});
    train::candidate_set set;
    s.draw(targets, 3, set);
    for (const auto t : {1, 2, 10}) CHECK(std::binary_search(set.items.begin(), set.items.end(), t));
    // P(1 in set) = 1 - (1 - 1/10)^2 (1 - 50/100)^4 with 4 targets in the batch
    CHECK(s.log_inclusion(1, 4) == Approx(std::log(1 - 0.81 * std::pow(0.5, 4))));
  }
  SECTION("the corrected set's sum of exp is an unbiased estimate of the sum over every item") {
    // E[sum_{j in S} exp(z_j - log P(j in S))] = sum_j exp(z_j): what makes the
    // sampled softmax's normaliser estimate the full one's (Horvitz-Thompson).
    for (const auto& [proposal, power] : {std::pair{train::proposal::popularity, 1.0}, {train::proposal::uniform, 1.0},
                                          {train::proposal::mixed, 1.0}, {train::proposal::popularity, 0.5}}) {
      train::candidate_sampler s(10, counts, {.negatives = 3, .sampler = proposal, .popularity_power = power});
      std::vector<double> z(11);
      double full = 0.0;
      for (std::size_t i = 1; i < z.size(); ++i) full += std::exp(z[i] = 0.3 * double(i % 4) - 0.5);
      train::candidate_set set;
      double estimate = 0.0;
      const int draws = 40000;
      for (int b = 0; b < draws; ++b) {
        s.draw(targets, std::uint64_t(b), set);
        for (std::size_t k = 0; k < set.items.size(); ++k)
          estimate += std::exp(z[std::size_t(set.items[k])] - double(set.offsets[k]));
      }
      CHECK(estimate / draws == Approx(full).epsilon(0.02));
    }
  }
  SECTION("bad options are refused by name") {
    REQUIRE_THROWS_WITH(train::candidate_sampler(10, counts, {.negatives = 0}), Catch::Contains("--negatives 0"));
    REQUIRE_THROWS_WITH(train::candidate_sampler(11, counts, {}), Catch::Contains("11 items"));
    REQUIRE_THROWS_WITH(train::parse_proposal("zipf"), Catch::Contains("'zipf'"));
    REQUIRE_THROWS_WITH(train::candidate_sampler(10, counts, {.popularity_power = -1.0}),
                        Catch::Contains("--popularity-power -1"));
  }
}

}  // namespace slmrec
