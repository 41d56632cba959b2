// Data-parallel training on 2 ranks against one process (each rank computes
// the one-process reference itself, with dist::none): the share rule, the
// gradient exchange (dense sum, sparse rows), K steps in float64 equal to one
// process to 1e-10, and a 2-rank checkpoint resumed by one process.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/dist/gradient_exchange.hpp>
#include <slmrec/io/json.hpp>
#include <slmrec/model/recommender.hpp>

#include "dist_support.hpp"

namespace slmrec {
namespace {
namespace fs = std::filesystem;
using f64 = backend::eigen_cpu_f64;
using model64 = model::recommender<f64, arch::llama>;

TEST_CASE("share_of: contiguous shares, the first rows % parts one row longer, empty past the rows") {
  CHECK(data::share_of(64, 0, 2).first == 0);
  CHECK(data::share_of(64, 1, 2).first == 32);
  CHECK(data::share_of(64, 1, 2).count == 32);
  CHECK(data::share_of(63, 0, 2).count == 32);
  CHECK(data::share_of(63, 1, 2).first == 32);
  CHECK(data::share_of(63, 1, 2).count == 31);
  CHECK(data::share_of(10, 3, 4).first == 8);  // 3 3 2 2
  CHECK(data::share_of(10, 3, 4).count == 2);
  CHECK(data::share_of(3, 3, 4).count == 0);  // fewer rows than parts: the last share is empty
  CHECK_THROWS_WITH(data::share_of(8, 2, 2), Catch::Contains("batch share 2 of 2"));
}

TEST_CASE("gradient_exchange: dense gradients summed, a row-tracked table's touched rows summed and united") {
  const dist::mpi comm;
  REQUIRE(comm.size() == 2);
  model64 m(test::dist_model(30));
  m.enable_sparse_item_gradients();
  auto& ps = m.parameters();
  ps.zero_grads();
  const auto& table = ps.at("item_embedding.weight");
  const auto& norm = ps.at("model.norm.weight");
  const index dim = table.size / table.spec.shape.front();
  const int r = comm.rank();
  // Rank r touches rows {r + 1, 7}: row 7 on both ranks, rows 1 and 2 on one each.
  for (const std::int32_t row : {std::int32_t(r + 1), std::int32_t(7)}) {
    for (index k = 0; k < dim; ++k) ps.grad(table)[row * dim + k] = double((r + 1) * (row + 1)) + 0.001 * double(k);
    ps.touch_rows(table, std::vector<std::int32_t>{row});
  }
  for (index k = 0; k < norm.size; ++k) ps.grad(norm)[k] = double(r + 1) * double(k);
  dist::gradient_exchange<dist::mpi, f64> ex(comm, ps, 5);  // buckets of 5 values: many allreduces
  ex.run();
  const auto touched = ps.touched_rows(table);
  REQUIRE_FALSE(touched.all);
  CHECK(std::vector<std::int32_t>(touched.rows.begin(), touched.rows.end()) == std::vector<std::int32_t>{1, 2, 7});
  CHECK(ps.grad(table)[1 * dim + 3] == Approx(1 * 2 + 0.003).epsilon(1e-15));  // rank 0 only
  CHECK(ps.grad(table)[2 * dim + 3] == Approx(2 * 3 + 0.003).epsilon(1e-15));  // rank 1 only
  CHECK(ps.grad(table)[7 * dim + 3] == Approx(1 * 8 + 2 * 8 + 0.006).epsilon(1e-15));
  CHECK(ps.grad(table)[5 * dim + 3] == 0.0);
  for (index k = 0; k < norm.size; ++k) CHECK(ps.grad(norm)[k] == 3.0 * double(k));
  CHECK(ex.last().sparse_rows == 2);
  CHECK(ex.last().sparse_bytes == 2 * index(4 + dim * 8));
  CHECK(ex.last().dense_equivalent_bytes == table.size * 8);
}

// The normalisation itself, before any optimiser (AdamW and clipping would
// forgive a gradient off by a constant factor): the gradients of 2 shares,
// summed, against one process's gradient of the whole batch.
TEST_CASE("the summed gradients of 2 shares are the gradient of the global batch's mean (float64, 1e-13)") {
  const dist::mpi comm;
  const auto ds = test::dist_data(61);
  const auto split = data::leave_one_out(ds);
  for (const auto mode : {data::target_mode::every_position, data::target_mode::last_position}) {
    data::batch_options bo;
    bo.batch_size = 61;  // shares of 31 and 30 rows with different numbers of targets
    bo.max_len = 10;
    bo.targets = mode;
    data::batcher whole(split.train, bo), parts(split.train, bo);
    data::batch all, share;
    REQUIRE(whole.next(all));
    model64 one(test::dist_model(ds.num_items)), two(test::dist_model(ds.num_items));
    one.initialize(3);
    two.initialize(3);
    train::next_item_objective o1(one, train::loss_kind::cross_entropy), o2(two, train::loss_kind::cross_entropy);
    train::data_parallel<dist::mpi, f64> dp(comm, two.parameters(), parts);
    REQUIRE(dp.next(parts, share));
    CHECK(share.size == (comm.rank() == 0 ? 31 : 30));
    one.parameters().zero_grads();
    two.parameters().zero_grads();
    const double l1 = o1.train_step(all, 9), l2 = dp.train_step(o2, share, 9);
    CHECK(l2 == Approx(l1).epsilon(1e-13));
    auto& g1 = one.parameters();
    const double rel = test::relative_distance(two.parameters().grads_data(), g1.grads_data(), g1.total_size());
    INFO("gradient relative distance " << rel);
    CHECK(rel < 1e-13);
    CHECK(std::any_of(g1.grads_data(), g1.grads_data() + g1.total_size(), [](double g) { return g != 0.0; }));
  }
}

// K steps of one epoch (every training user once) with batch B on both
// ranks of the communicator and in one process; the weights after them.
double run_and_compare(index users, index batch, const std::string& targets) {
  const dist::mpi comm;
  const auto ds = test::dist_data(users);
  const auto split = data::leave_one_out(ds);
  auto tc = test::dist_train(1, batch);
  tc.targets = targets;
  const test::shared_dir dir(comm);
  model64 one(test::dist_model(ds.num_items)), two(test::dist_model(ds.num_items));
  one.initialize(3);
  two.initialize(3);
  train::next_item_objective o1(one, train::loss_kind::cross_entropy), o2(two, train::loss_kind::cross_entropy);
  const auto r1 = train::fit(o1, split, ds, tc, dir.path() / fmt::format("one_{}", comm.rank()));
  const auto r2 = train::fit(o2, split, ds, tc, dir.path() / "two", false, comm);
  REQUIRE(r1.state.step == r2.state.step);
  REQUIRE(r1.state.step == (users + batch - 1) / batch);
  CHECK(r1.state.best_metric == r2.state.best_metric);  // sharded validation: exactly one process's
  return test::relative_distance(two.parameters(), one.parameters());
}

TEST_CASE("float64: 5 steps on 2 ranks with global batch 64 equal 1 process with batch 64 to 1e-10") {
  const double rel = run_and_compare(320, 64, "all");  // 5 steps of 32 + 32 rows, targets at every position
  INFO("relative distance " << rel);
  CHECK(rel < 1e-10);
  CHECK(rel > 0.0);  // the sums are added in another order: equal to rounding, not bit for bit
}

TEST_CASE("float64: an odd global batch (63 = 32 + 31, a last batch of 5 = 3 + 2) equals 1 process to 1e-10") {
  const double rel = run_and_compare(320, 63, "last");
  INFO("relative distance " << rel);
  CHECK(rel < 1e-10);
}

TEST_CASE("with dropout, a 2-rank run is reproducible bit for bit (masks from seed, global step and rank)") {
  const dist::mpi comm;
  const auto ds = test::dist_data(160);
  const auto split = data::leave_one_out(ds);
  const test::shared_dir dir(comm);
  auto cfg = test::dist_model(ds.num_items);
  cfg.dropout = 0.3;
  auto run = [&](const char* name) {
    return test::fit_llama64(cfg, split, ds, test::dist_train(2, 32), dir.path() / name, comm).first;
  };
  const auto a = run("a"), b = run("b");
  CHECK(test::relative_distance(a->parameters(), b->parameters()) == 0.0);
}

TEST_CASE("resume on 1 rank from a 2-rank checkpoint continues as the 1-rank run would") {
  const dist::mpi comm;
  const auto ds = test::dist_data(200);
  const auto split = data::leave_one_out(ds);
  const test::shared_dir dir(comm);
  {
    model64 m(test::dist_model(ds.num_items));
    m.initialize(3);
    train::next_item_objective o(m, train::loss_kind::cross_entropy);
    (void)train::fit(o, split, ds, test::dist_train(1, 48), dir.path() / "two", false, comm);
  }
  comm.barrier();  // rank 0 has written the checkpoint
  if (!comm.root()) return;
  // One process: 1 epoch written by 1 rank, then each checkpoint resumed to 2 epochs.
  auto resumed = [&](const fs::path& out) {
    auto m = std::make_unique<model64>(test::dist_model(ds.num_items));
    train::next_item_objective o(*m, train::loss_kind::cross_entropy);
    const auto r = train::fit(o, split, ds, test::dist_train(2, 48), out, true);
    CHECK(r.state.epoch == 2);
    CHECK(r.state.step == 2 * 5);
    return m;
  };
  {
    model64 m(test::dist_model(ds.num_items));
    m.initialize(3);
    train::next_item_objective o(m, train::loss_kind::cross_entropy);
    (void)train::fit(o, split, ds, test::dist_train(1, 48), dir.path() / "one");
  }
  const auto from_two = resumed(dir.path() / "two"), from_one = resumed(dir.path() / "one");
  // Checkpoints hold float32: both resumed runs start from the 1e-16-close
  // epoch-1 weights rounded to float, so they stay within rounding of each other.
  const double rel = test::relative_distance(from_two->parameters(), from_one->parameters());
  INFO("relative distance " << rel);
  CHECK(rel < 1e-9);
  const auto state = io::read_json_file(dir.path() / "two" / "state.json");
  CHECK(state["epoch"] == 2);
  CHECK(state["history"].size() == 2);
}

TEST_CASE("sampled softmax on 2 ranks: touched item rows exchanged, the replicas stay identical, it learns") {
  const dist::mpi comm;
  const auto ds = test::dist_data(240);
  const auto split = data::leave_one_out(ds);
  const test::shared_dir dir(comm);
  model::recommender<backend::eigen_cpu, arch::llama> m(test::dist_model(ds.num_items));
  m.initialize(3);
  train::sampled_softmax_options so;
  so.negatives = 16;
  train::next_item_objective o(m, train::candidate_sampler(ds.num_items, split.train_item_counts, so));
  // fit compares the weights' digests over the ranks after every epoch and throws if they differ.
  const auto r = train::fit(o, split, ds, test::dist_train(3, 32), dir.path() / "sampled", false, comm);
  CHECK(r.state.epoch == 3);
  CHECK(r.state.history.back()["train_loss"].get<double>() < r.state.history.front()["train_loss"].get<double>());
}

// Run alone by ctest (test_dist_rank_throws): rank 1 throws at its third
// step; guarded() must end both ranks with MPI_Abort and name rank 1.
template <class Inner>
struct throws_on_rank_1 {
  Inner& inner;
  int rank;
  index step = 0;
  double train_step(const data::batch& b, std::uint64_t seed, const dist::loss_units& u = {}) {
    if (rank == 1 && ++step == 3) throw error("poisoned step on purpose");
    return inner.train_step(b, seed, u);
  }
  dist::loss_units loss_units(const data::batch& b) const { return inner.loss_units(b); }
  void score(const data::batch& b, std::span<float> s) { inner.score(b, s); }
  auto& parameters() { return inner.parameters(); }
  index max_len() const { return inner.max_len(); }
  nlohmann::json config_json() const { return inner.config_json(); }
};

TEST_CASE("a rank that throws ends the job with its rank named", "[.abort]") {
  const dist::mpi comm;
  const auto ds = test::dist_data(200);
  const auto split = data::leave_one_out(ds);
  const test::shared_dir dir(comm);
  model64 m(test::dist_model(ds.num_items));
  train::next_item_objective inner(m, train::loss_kind::cross_entropy);
  throws_on_rank_1<decltype(inner)> o{inner, comm.rank()};
  (void)train::fit(o, split, ds, test::dist_train(1, 32), dir.path() / "abort", false, comm);
  FAIL("fit returned although rank 1 threw");
}

}  // namespace
}  // namespace slmrec
