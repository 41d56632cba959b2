// AdamW and gradient clipping against hand-computed values.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/rng.hpp>
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
  bool table_decays = false;  // as a classifier's weights (an item table is not decayed)
  template <class V>
  void visit(V&& v, const std::string&) {
    v(nn::param_spec{"table", {8, 3}, nn::init_kind::normal, 1.0, true, table_decays}, table);
    v(nn::param_spec{"w", {2, 2}, nn::init_kind::normal, 1.0, true, true}, w);
  }
};

// Two identical models, one with a row-tracked table and one dense.
template <class B = be>
struct sparse_and_dense {
  using T = typename B::scalar;
  table_and_matrix<T> ms, md;
  nn::parameter_store<B> sparse, dense;
  explicit sparse_and_dense(bool table_decays = false) {
    ms.table_decays = md.table_decays = table_decays;
    sparse.attach(ms, true);
    dense.attach(md, true);
    sparse.enable_row_tracking("table");
    rng a(1), b(1);
    sparse.initialize(a);
    dense.initialize(b);
  }
  // The same gradient into both: rows `rows` of the table (value g + row), every w entry.
  void set_grads(std::initializer_list<std::int32_t> rows, double g) { set_grads(std::vector<std::int32_t>(rows), g); }
  void set_grads(const std::vector<std::int32_t>& list, double g) {
    sparse.zero_grads();
    dense.zero_grads();
    for (const auto r : list)
      for (index c = 0; c < 3; ++c) ms.table.grad[r * 3 + c] = md.table.grad[r * 3 + c] = T(g + r - c);
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

TEST_CASE("row-sparse AdamW: writes only the touched rows, and after settle() equals dense AdamW", "[train]") {
  // eps tiny: the catch-up is then dense AdamW's steps in closed form (the one
  // approximation is where eps enters, checked with the usual eps below).
  for (const bool decays : {false, true})
    for (const double eps : {1e-14, 1e-8}) {
      CAPTURE(decays, eps);
      sparse_and_dense<> p(decays);
      const train::adamw_config cfg{0.05, 0.9, 0.999, eps, 0.1};
      train::adamw<be> so(p.sparse, cfg), dopt(p.dense, cfg);
      const std::vector<double> start(p.ms.table.value, p.ms.table.value + 24);
      rng gen(3);
      std::vector<double> row7_first;
      for (int k = 0; k < 60; ++k) {
        // Rows 0..6 touched at random (each about a third of the steps, row 0 every step), row 7 at step 1 only.
        std::vector<std::int32_t> rows{0};
        for (std::int32_t r = 1; r < 7; ++r)
          if (gen.below(3) == 0) rows.push_back(r);
        if (k == 0) rows.push_back(7);
        const double lr = 0.05 * (1.0 + 0.5 * std::sin(k));  // a schedule: each skipped step's own lr counts
        p.set_grads(rows, 0.3 * gen.normal());
        so.step(lr);
        dopt.step(lr);
        if (k == 0) row7_first.assign(p.ms.table.value + 21, p.ms.table.value + 24);
        // Row 0 is updated at every step: as dense AdamW throughout (no catch-up ever applies to it).
        for (index c = 0; c < 3; ++c) REQUIRE(p.ms.table.value[c] == Approx(p.md.table.value[c]).epsilon(1e-12));
      }
      // Until settle(), a row not touched again is not written: row 7 holds its step-1 value; dense AdamW has
      // moved it since by its decaying momentum.
      for (index c = 0; c < 3; ++c) {
        CHECK(p.ms.table.value[21 + c] == row7_first[std::size_t(c)]);
        CHECK(p.md.table.value[21 + c] != row7_first[std::size_t(c)]);
      }
      so.settle();
      const double tol = eps < 1e-12 ? 1e-10 : 1e-5;
      const auto& e = p.sparse.at("table");
      for (index i = 0; i < 24; ++i) {
        CHECK(p.ms.table.value[i] == Approx(p.md.table.value[i]).epsilon(tol));
        CHECK(p.ms.table.value[i] != start[std::size_t(i)]);
        CHECK(so.first_moment()[e.offset + i] == Approx(dopt.first_moment()[e.offset + i]).epsilon(1e-12));
        CHECK(so.second_moment()[e.offset + i] == Approx(dopt.second_moment()[e.offset + i]).epsilon(1e-12));
      }
      for (index i = 0; i < 4; ++i) CHECK(p.ms.w.value[i] == p.md.w.value[i]);  // dense parameters as before
      for (const auto current : so.current_rows(e)) CHECK(current == 60);
    }
}

TEST_CASE("row-sparse AdamW: a checkpoint is settled, and a resumed run continues exactly", "[train]") {
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
  for (const auto current : oa.current_rows(a.sparse.at("table"))) CHECK(current == 2);  // saving settled it

  sparse_and_dense<bf> b;  // fresh weights, restored from the checkpoint
  train::adamw<bf> ob(b.sparse, {});
  std::vector<float> best(std::size_t(b.sparse.total_size()));
  const auto restored = train::load_training_state(dir.path() / "ckpt", b.sparse, best.data(), ob);
  CHECK(restored.step == 2);
  for (const auto current : ob.current_rows(b.sparse.at("table"))) CHECK(current == 2);
  for (const std::vector<std::int32_t> rows : {std::vector<std::int32_t>{1, 6, 7}, {2}, {1, 2, 3}}) {
    a.set_grads(rows, -0.4);
    oa.step();
    b.set_grads(rows, -0.4);
    ob.step();
  }
  oa.settle();
  ob.settle();
  for (index i = 0; i < a.sparse.total_size(); ++i) REQUIRE(a.sparse.values_data()[i] == b.sparse.values_data()[i]);
}

}  // namespace slmrec
