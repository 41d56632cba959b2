// AdamW and gradient clipping against hand-computed values.
#include <catch2/catch.hpp>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/train/adamw.hpp>
#include <slmrec/train/clip.hpp>

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

}  // namespace slmrec
