// AdamW and gradient clipping against hand-computed values.
#include <catch2/catch.hpp>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/train/adamw.hpp>
#include <slmrec/train/checkpoint.hpp>
#include <slmrec/train/clip.hpp>

#include "support/temp_dir.hpp"

namespace slmrec {

namespace {
// Three scalar parameters: a decayed matrix entry, an undecayed norm weight, a frozen one.
struct toy_module {
  nn::param<double> w, n, f;
  template <class V>
  void visit(V&& v, const std::string&) {
    v(nn::param_spec{"w", {1}, nn::init_kind::zeros, 0, true, true}, w);
    v(nn::param_spec{"norm", {1}, nn::init_kind::zeros, 0, true, false}, n);
    v(nn::param_spec{"frozen", {1}, nn::init_kind::zeros, 0, false, true}, f);
  }
};
struct two_tensors {
  nn::param<double> a, b;
  template <class V>
  void visit(V&& v, const std::string&) {
    v(nn::param_spec{"a", {2}}, a);
    v(nn::param_spec{"b", {1}}, b);
  }
};
using be = backend::eigen_cpu_f64;

// An item-table-like [rows, 3] table beside a dense matrix.
template <class T>
struct table_and_matrix {
  nn::param<T> table, w;
  template <class V>
  void visit(V&& v, const std::string&) {
    v(nn::param_spec{"table", {8, 3}, nn::init_kind::normal, 1.0, true, false}, table);
    v(nn::param_spec{"w", {2, 2}, nn::init_kind::normal, 1.0, true, true}, w);
  }
};

// Two identical models, one with a row-tracked table and one dense.
template <class B = be>
struct sparse_and_dense {
  using T = typename B::scalar;
  table_and_matrix<T> ms, md;
  nn::parameter_store<B> sparse, dense;
  sparse_and_dense() {
    sparse.attach(ms, true);
    dense.attach(md, true);
    sparse.enable_row_tracking("table");
    rng a(1), b(1);
    sparse.initialize(a);
    dense.initialize(b);
  }
  // The same gradient into both: rows `rows` of the table (value g + row), every w entry.
  void set_grads(std::initializer_list<std::int32_t> rows, double g) {
    sparse.zero_grads();
    dense.zero_grads();
    for (const auto r : rows)
      for (index c = 0; c < 3; ++c) ms.table.grad[r * 3 + c] = md.table.grad[r * 3 + c] = T(g + r - c);
    const std::vector<std::int32_t> list(rows);
    sparse.touch_rows(sparse.at("table"), list);
    for (index i = 0; i < 4; ++i) ms.w.grad[i] = md.w.grad[i] = T(g * double(i + 1));
  }
};
}  // namespace

TEST_CASE("AdamW: two steps by hand (decoupled decay, bias correction)", "[train]") {
  toy_module m;
  nn::parameter_store<be> ps;
  ps.attach(m, true);
  REQUIRE(m.f.grad == nullptr);
  *m.w.value = 1.0;
  *m.n.value = 2.0;
  *m.f.value = 3.0;
  train::adamw<be> opt(ps, {0.1, 0.9, 0.999, 1e-8, 0.1});
  for (double g : {0.5, -0.25}) {
    *m.w.grad = g;
    *m.n.grad = g;
    opt.step();
  }
  // p <- p(1 - lr wd) - lr (m/bc1) / (sqrt(v/bc2) + eps), worked out step by step:
  // step 1: 0.99 - 0.1 * 0.5 / (0.5 + 1e-8); step 2: m = 0.02, v = 3.1225e-4, bc1 = 0.19, bc2 = 0.001999.
  CHECK(*m.w.value == Approx(0.8544662986878463).epsilon(1e-12));
  CHECK(*m.n.value == Approx(1.8733662987078465).epsilon(1e-12));  // the same without decay
  CHECK(*m.f.value == 3.0);                                        // frozen: untouched
  CHECK(opt.steps() == 2);
}

TEST_CASE("clip_grad_norm: global norm over all tensors, scaled only above the limit", "[train]") {
  two_tensors m;
  nn::parameter_store<be> ps;
  ps.attach(m, true);
  m.a.grad[0] = 3;
  m.a.grad[1] = 4;
  m.b.grad[0] = 12;  // global norm sqrt(9 + 16 + 144) = 13
  CHECK(train::clip_grad_norm(ps, 20.0) == Approx(13.0));
  CHECK(m.b.grad[0] == 12.0);
  CHECK(train::clip_grad_norm(ps, 6.5) == Approx(13.0));
  const double factor = 6.5 / (13.0 + 1e-6);
  CHECK(m.a.grad[0] == Approx(3 * factor));
  CHECK(m.a.grad[1] == Approx(4 * factor));
  CHECK(m.b.grad[0] == Approx(12 * factor));
  CHECK(train::global_grad_norm(ps) == Approx(6.5).epsilon(1e-6));
}

TEST_CASE("row-sparse AdamW: rows updated every step move as dense AdamW, other rows not at all", "[train]") {
  sparse_and_dense<> p;
  const train::adamw_config cfg{0.05, 0.9, 0.999, 1e-8, 0.1};
  train::adamw<be> so(p.sparse, cfg), dopt(p.dense, cfg);
  const std::vector<double> before(p.ms.table.value, p.ms.table.value + 24);
  // Rows 1 and 4 at both steps, row 6 at the first only; rows 0, 2, 3, 5, 7 never.
  p.set_grads({1, 4, 6}, 0.5);
  so.step();
  dopt.step();
  const std::vector<double> row6_after_one(p.ms.table.value + 18, p.ms.table.value + 21);
  p.set_grads({4, 1}, -0.3);  // unsorted on purpose
  CHECK(train::global_grad_norm(p.sparse) == Approx(train::global_grad_norm(p.dense)).epsilon(1e-14));
  so.step();
  dopt.step();
  for (index c = 0; c < 3; ++c) {
    CHECK(p.ms.table.value[1 * 3 + c] == p.md.table.value[1 * 3 + c]);  // bit for bit
    CHECK(p.ms.table.value[4 * 3 + c] == p.md.table.value[4 * 3 + c]);
    CHECK(p.ms.table.value[6 * 3 + c] == row6_after_one[std::size_t(c)]);  // lazy: no momentum step
    CHECK(p.md.table.value[6 * 3 + c] != row6_after_one[std::size_t(c)]);  // dense AdamW keeps moving it
    for (const index r : {0, 2, 3, 5, 7}) CHECK(p.ms.table.value[r * 3 + c] == before[std::size_t(r * 3 + c)]);
  }
  for (index i = 0; i < 4; ++i) CHECK(p.ms.w.value[i] == p.md.w.value[i]);  // dense parameters as before
  const auto steps = so.row_steps("table");
  CHECK(std::vector<std::int64_t>(steps.begin(), steps.end()) == std::vector<std::int64_t>{0, 2, 0, 0, 2, 0, 1, 0});
  // The moments of untouched rows stay zero (nothing decays them).
  const auto& e = p.sparse.at("table");
  for (const index r : {0, 2, 3, 5, 7})
    for (index c = 0; c < 3; ++c) CHECK(so.first_moment()[e.offset + r * 3 + c] == 0.0);
}

TEST_CASE("row-sparse AdamW: a first step on a row is a first step, whatever the global step", "[train]") {
  sparse_and_dense<> p;
  train::adamw<be> so(p.sparse, {0.1, 0.9, 0.999, 1e-8, 0.0});
  for (int k = 0; k < 5; ++k) {
    p.set_grads({1}, 1.0);
    so.step();
  }
  const double before = p.ms.table.value[2 * 3];
  p.set_grads({2}, 1.0);  // row 2's first gradient, at global step 6
  so.step();
  // Bias-corrected first step: lr * g / (|g| + eps) = 0.1, not 0.1 * 0.1 / sqrt(0.001) / (1 - 0.9^6)...
  CHECK(p.ms.table.value[2 * 3] == Approx(before - 0.1).epsilon(1e-9));
}

TEST_CASE("row-sparse AdamW: the per-row steps are saved and a resumed run continues exactly", "[train]") {
  // float32, as checkpoints store their tensors: a resumed run is then bit for bit the same.
  using bf = backend::eigen_cpu;
  test::temp_dir dir;
  sparse_and_dense<bf> a;
  train::adamw<bf> oa(a.sparse, {});
  a.set_grads({1, 4, 6}, 0.5);
  oa.step();
  a.set_grads({4}, 0.2);
  oa.step();
  train::train_state st;
  st.step = 2;
  train::save_checkpoint(dir.path() / "ckpt", nlohmann::json::object(), a.sparse, a.sparse.values_data(), oa, st);

  sparse_and_dense<bf> b;  // fresh weights, restored from the checkpoint
  train::adamw<bf> ob(b.sparse, {});
  std::vector<float> best(std::size_t(b.sparse.total_size()));
  const auto restored = train::load_training_state(dir.path() / "ckpt", b.sparse, best.data(), ob);
  CHECK(restored.step == 2);
  const auto steps = ob.row_steps("table");
  CHECK(std::vector<std::int64_t>(steps.begin(), steps.end()) == std::vector<std::int64_t>{0, 1, 0, 0, 2, 0, 1, 0});
  a.set_grads({1, 6, 7}, -0.4);
  oa.step();
  b.set_grads({1, 6, 7}, -0.4);
  ob.step();
  for (index i = 0; i < a.sparse.total_size(); ++i) REQUIRE(a.sparse.values_data()[i] == b.sparse.values_data()[i]);
}

}  // namespace slmrec
