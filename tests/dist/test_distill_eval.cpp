// Distillation with every loss on, and evaluation (users split or sharded),
// on 2 ranks against one process.
#include <catch2/catch.hpp>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/distill/distiller.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/model/item_scorer.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/train/split.hpp>

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

// Users split over the ranks (contiguous shares of one view), or each rank
// holding its own users (--shard-data: data/shard.hpp), against one process.
TEST_CASE("evaluation on 2 ranks gives one process's metrics exactly, users split or sharded") {
  const bool sharded = GENERATE(false, true);
  const dist::mpi comm;
  const auto whole = test::dist_data(301, 90);  // 301 users: 151 + 150, batches of 64 cut them unevenly
  auto ds = whole;
  if (sharded) data::keep_shard(ds, {comm.rank(), comm.size()});
  const auto split = train::leave_one_out(ds, comm), full = data::leave_one_out(whole);
  model::recommender<backend::eigen_cpu, arch::llama> m(test::dist_model(ds.num_items));
  m.initialize(4);
  const auto view = eval::test_view(split, ds), whole_view = eval::test_view(full, whole);
  eval::eval_options eo;
  eo.batch_size = 64;
  eo.max_len = 10;
  const auto same = test::check_same_metrics;
  SECTION("full ranking, streamed over the catalog (block scorer)") {
    model::item_scorer<decltype(m)> scorer(m);
    same(eval::evaluate(view, scorer, eo, comm), eval::evaluate(whole_view, scorer, eo));
  }
  SECTION("full ranking, whole rows; sampled ranking, uniform and by popularity") {
    auto scorer = [&](const data::batch& in, std::span<float> s) { m.score_last(in.items, in.size, in.length, s); };
    same(eval::evaluate(view, scorer, eo, comm), eval::evaluate(whole_view, scorer, eo));
    eo.ranking = eval::protocol::sampled;
    eo.num_negatives = 30;  // 90 items: 99 negatives would not fit beside a long history
    if (!sharded) eo.max_users = 120;  // a seeded subset, the same on every rank (sharded: drawn per rank)
    same(eval::evaluate(view, scorer, eo, comm), eval::evaluate(whole_view, scorer, eo));
    eo.negatives = eval::sampling::popularity;  // sharded: the counts summed over the ranks
    same(eval::evaluate(view, scorer, eo, comm), eval::evaluate(whole_view, scorer, eo));
  }
}

}  // namespace
}  // namespace slmrec
