// Distillation with every loss on, and sharded evaluation, on 2 ranks
// against one process.
#include <catch2/catch.hpp>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/distill/distiller.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/model/item_scorer.hpp>
#include <slmrec/model/recommender.hpp>

#include "dist_support.hpp"

namespace slmrec {
namespace {
using f64 = backend::eigen_cpu_f64;
using model64 = model::recommender<f64, arch::llama>;

// 5 steps of distillation (batch 64: 32 + 32 rows a rank): cosine, norm,
// multi-supervision and cross-entropy all on; the student's weights after them.
std::unique_ptr<model64> distilled(const data::split& split, const data::dataset& ds, const std::filesystem::path& out,
                                   bool all_positions, const dist::mpi* comm) {
  auto tcfg = test::dist_model(ds.num_items, 4);
  auto scfg = test::dist_model(ds.num_items, 2);
  scfg.aux_layers = {0};  // an extra head on layer 0: multi-supervision
  model64 teacher(tcfg, false);
  teacher.initialize(21);
  auto student = std::make_unique<model64>(scfg);
  student->initialize(22);
  distill::distill_weights w{
      .cos = 1.0, .norm = 0.1, .ms = 0.5, .norm_type = distill::norm_kind::mse, .all_positions = all_positions};
  distill::distiller kd(teacher, *student, distill::make_block_map(4, 2, 2), w, split.train);
  auto tc = test::dist_train(1, 64);
  if (comm != nullptr)
    (void)train::fit(kd, split, ds, tc, out, false, *comm);
  else
    (void)train::fit(kd, split, ds, tc, out);
  CHECK(kd.last_terms().cosine > 0.0);
  CHECK(kd.last_terms().norm > 0.0);
  CHECK(kd.last_terms().ms > 0.0);
  return student;
}

TEST_CASE("float64: 5 distillation steps with every loss on, 2 ranks x 32 equal 1 process x 64 to 1e-10") {
  const dist::mpi comm;
  const auto ds = test::dist_data(320);
  const auto split = data::leave_one_out(ds);
  const test::shared_dir dir(comm);
  // Last-position alignment (one aligned row a user, several targets) and
  // every position: the two kinds of units differ, and both are normalised.
  for (const bool all_positions : {false, true}) {
    const auto one = distilled(split, ds, dir.path() / fmt::format("one_{}", comm.rank()), all_positions, nullptr);
    const auto two = distilled(split, ds, dir.path() / "two", all_positions, &comm);
    const double rel = test::relative_distance(two->parameters(), one->parameters());
    INFO("all_positions " << all_positions << ": relative distance " << rel);
    CHECK(rel < 1e-10);
  }
}

TEST_CASE("sharded evaluation: users split over 2 ranks give one process's metrics exactly") {
  const dist::mpi comm;
  const auto ds = test::dist_data(301, 90);  // 301 users: 151 + 150, batches of 64 cut them unevenly
  const auto split = data::leave_one_out(ds);
  model::recommender<backend::eigen_cpu, arch::llama> m(test::dist_model(ds.num_items));
  m.initialize(4);
  const auto view = eval::test_view(split, ds);
  eval::eval_options eo;
  eo.batch_size = 64;
  eo.max_len = 10;
  auto same = [&](const eval::eval_result& a, const eval::eval_result& b) {
    CHECK(a.users == b.users);
    CHECK(a.metrics.count() == b.metrics.count());
    for (std::size_t k = 0; k < a.metrics.means().size(); ++k) CHECK(a.metrics.means()[k] == b.metrics.means()[k]);
    CHECK(a.protocol == b.protocol);
  };
  SECTION("full ranking, streamed over the catalog (block scorer)") {
    model::item_scorer<decltype(m)> scorer(m);
    same(eval::evaluate(view, scorer, eo, comm), eval::evaluate(view, scorer, eo));
  }
  SECTION("full ranking, whole rows; and sampled ranking") {
    auto scorer = [&](const data::batch& in, std::span<float> s) { m.score_last(in.items, in.size, in.length, s); };
    same(eval::evaluate(view, scorer, eo, comm), eval::evaluate(view, scorer, eo));
    eo.ranking = eval::protocol::sampled;
    eo.num_negatives = 30;  // 90 items: 99 negatives would not fit beside a long history
    eo.max_users = 120;     // a seeded subset, the same on every rank
    same(eval::evaluate(view, scorer, eo, comm), eval::evaluate(view, scorer, eo));
  }
}

}  // namespace
}  // namespace slmrec
