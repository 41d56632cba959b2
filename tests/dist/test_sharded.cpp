// Sharded data (--shard-data) on 2 ranks: each rank holds its own users
// (data/shard.hpp). An epoch hands out every example once in the same number
// of steps on every rank; a step's summed gradient is the gradient of the
// global batch the ranks drew; the split's item counts are the catalog's; a
// sharded view needs its peers (its evaluation against one process is in
// test_distill_eval.cpp); a distiller caches only its rank's users; training
// is reproducible and keeps the replicas identical.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/distill/distiller.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/train/split.hpp>

#include "dist_support.hpp"

namespace slmrec {
namespace {
using f64 = backend::eigen_cpu_f64;
using model64 = model::recommender<f64, arch::llama>;

data::dataset sharded(data::dataset ds, const dist::mpi& comm) {
  data::keep_shard(ds, {comm.rank(), comm.size()});
  return ds;
}

std::vector<std::int32_t> gathered(const dist::mpi& comm, const std::vector<std::int32_t>& mine) {
  std::vector<std::int32_t> all;
  std::vector<index> counts;
  comm.allgatherv(std::span<const std::int32_t>(mine), all, counts);
  return all;
}

TEST_CASE("sharded: every example once an epoch, in the same number of steps on every rank") {
  const dist::mpi comm;
  const auto whole = test::dist_data(301);  // 151 + 150 users; batches of 64 leave a last batch of 45
  const auto ds = sharded(whole, comm);
  const auto split = train::leave_one_out(ds, comm);
  for (index u = 0; u < ds.num_users(); ++u) CHECK(ds.sequences[std::size_t(u)].empty() == (u % 2 != comm.rank()));
  data::batch_options bo;
  bo.batch_size = 64;
  bo.max_len = 10;
  bo.seed = 3;
  data::batcher batches(split.train, bo);
  model64 m(test::dist_model(ds.num_items));
  train::data_parallel<dist::mpi, f64> dp(comm, m.parameters(), batches, split.shard);
  CHECK(dp.num_batches(batches) == 5);  // ceil(301 / 64), the one-process count
  std::vector<std::int32_t> expected;
  for (std::int32_t u = 0; u < 301; ++u) expected.push_back(u);
  for (std::uint64_t epoch = 0; epoch < 2; ++epoch) {
    dp.start_epoch(batches, epoch);
    std::vector<std::int32_t> seen;
    data::batch b;
    index steps = 0;
    while (dp.next(batches, b)) {
      ++steps;
      for (const auto u : b.users) CHECK(u % 2 == comm.rank());
      seen.insert(seen.end(), b.users.begin(), b.users.end());
    }
    CHECK(steps == 5);
    auto all = gathered(comm, seen);
    std::sort(all.begin(), all.end());
    CHECK(all == expected);
  }
}

TEST_CASE("sharded: a step's summed gradient is the gradient of the global batch the ranks drew (float64)") {
  const dist::mpi comm;
  const auto whole = test::dist_data(130);
  const auto ds = sharded(whole, comm);
  const auto split = train::leave_one_out(ds, comm), full = data::leave_one_out(whole);
  data::batch_options bo;
  bo.batch_size = 50;
  bo.max_len = 10;
  bo.seed = 8;
  data::batcher batches(split.train, bo);
  model64 one(test::dist_model(ds.num_items)), two(test::dist_model(ds.num_items));
  one.initialize(3);
  two.initialize(3);
  train::next_item_objective o1(one, train::loss_kind::cross_entropy), o2(two, train::loss_kind::cross_entropy);
  train::data_parallel<dist::mpi, f64> dp(comm, two.parameters(), batches, split.shard);
  dp.start_epoch(batches, 0);
  data::batch mine, global;
  REQUIRE(dp.next(batches, mine));
  CHECK(mine.size == 25);
  // One process, on the rows both ranks drew (rank 0's, then rank 1's).
  const auto users = gathered(comm, mine.users);
  data::make_training_batch(full.train, users, bo, global);
  one.parameters().zero_grads();
  two.parameters().zero_grads();
  const double l1 = o1.train_step(global, 9), l2 = dp.train_step(o2, mine, 9);
  CHECK(l2 == Approx(l1).epsilon(1e-13));
  const double rel = test::relative_distance(two.parameters().grads_data(), one.parameters().grads_data(),
                                             one.parameters().total_size());
  INFO("gradient relative distance " << rel);
  CHECK(rel < 1e-13);
}

TEST_CASE("sharded: the split's training item counts are the whole catalog's") {
  const dist::mpi comm;
  const auto whole = test::dist_data(211);
  const auto ds = sharded(whole, comm);
  const auto split = train::leave_one_out(ds, comm), full = data::leave_one_out(whole);
  CHECK(split.train_item_counts == full.train_item_counts);
  CHECK(data::leave_one_out(ds).train_item_counts != full.train_item_counts);  // a shard alone counts its users
  CHECK(split.valid.size() + split.train_only_users < full.valid.size() + full.train_only_users);
}

TEST_CASE("sharded: a sharded view evaluated without its peers is an error, not a silent half") {
  const dist::mpi comm;
  const auto ds = sharded(test::dist_data(60), comm);
  const auto split = train::leave_one_out(ds, comm);
  model::recommender<backend::eigen_cpu, arch::llama> m(test::dist_model(ds.num_items));
  m.initialize(4);
  auto scorer = [&](const data::batch& in, std::span<float> s) { m.score_last(in.items, in.size, in.length, s); };
  eval::eval_options eo;
  eo.max_len = 10;
  CHECK_THROWS_WITH(eval::evaluate(eval::test_view(split, ds), scorer, eo),
                    Catch::Contains("holds shard 0 of 2") || Catch::Contains("holds shard 1 of 2"));
}

TEST_CASE("sharded distillation: each rank caches its own users' teacher states; training keeps replicas equal") {
  const dist::mpi comm;
  const auto whole = test::dist_data(240);
  const auto ds = sharded(whole, comm);
  const auto split = train::leave_one_out(ds, comm), full = data::leave_one_out(whole);
  const test::shared_dir dir(comm);
  auto tcfg = test::dist_model(ds.num_items, 4), scfg = test::dist_model(ds.num_items, 2);
  scfg.aux_layers = {0};
  model64 teacher(tcfg, false), student(scfg), alone(scfg);
  teacher.initialize(21);
  student.initialize(22);
  const distill::distill_weights w{.cos = 1.0, .norm = 0.1, .ms = 0.5};
  const auto map = distill::make_block_map(4, 2, 2);
  distill::distiller kd(teacher, student, map, w, split.train), whole_kd(teacher, alone, map, w, full.train);
  index own = 0;  // last-position alignment: a row for each of this rank's users with a training target
  for (index u = 0; u < whole.num_users(); ++u)
    own += (u % 2 == comm.rank() && full.train[std::size_t(u)].size() >= 2) ? 1 : 0;
  CHECK(kd.cache_rows() == own);
  std::vector<std::int32_t> mine{std::int32_t(kd.cache_rows())};
  const auto rows = gathered(comm, mine);
  CHECK(rows[0] + rows[1] == whole_kd.cache_rows());
  // fit compares the weights' digests over the ranks after every epoch and throws if they differ.
  const auto r = train::fit(kd, split, ds, test::dist_train(2, 48), dir.path() / "kd", false, comm);
  CHECK(r.state.epoch == 2);
  CHECK(r.state.step == 2 * 5);  // ceil(240 / 48) a epoch
  CHECK(kd.last_terms().cosine > 0.0);
}

TEST_CASE("sharded training is reproducible bit for bit and learns") {
  const dist::mpi comm;
  const auto ds = sharded(test::dist_data(200), comm);
  const auto split = train::leave_one_out(ds, comm);
  const test::shared_dir dir(comm);
  auto cfg = test::dist_model(ds.num_items);
  cfg.dropout = 0.2;
  auto run = [&](const char* name) {
    auto [m, r] = test::fit_llama64(cfg, split, ds, test::dist_train(3, 32), dir.path() / name, comm);
    CHECK(r.state.history.back()["train_loss"].get<double>() < r.state.history.front()["train_loss"].get<double>());
    CHECK(r.state.history.back()["eval_users_total"].get<index>() == 200);
    return std::move(m);
  };
  const auto a = run("a"), b = run("b");
  CHECK(test::relative_distance(a->parameters(), b->parameters()) == 0.0);
}

}  // namespace
}  // namespace slmrec
