// Gradient checks (double precision, central differences) for every layer.
#include <catch2/catch.hpp>

#include <slmrec/nn/attention.hpp>
#include <slmrec/nn/dropout.hpp>
#include <slmrec/nn/embedding.hpp>
#include <slmrec/nn/linear.hpp>
#include <slmrec/nn/lora.hpp>
#include <slmrec/nn/mlp.hpp>
#include <slmrec/nn/norm.hpp>
#include <slmrec/nn/rope.hpp>

#include "support/gradcheck.hpp"

// Inside the library's namespace: `index` would otherwise clash with POSIX ::index().
namespace slmrec {
using test::be64;
using test::gradcheck;
using test::gradcheck_problem;

namespace {

// Two sequences of length 5; the first is left-padded by 2.
struct toy_batch {
  index batch = 2, length = 5;
  std::vector<std::int32_t> positions{0, 1, 2, 3, 4, 0, 1, 2, 3, 4};
  std::vector<std::int32_t> mask{0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  nn::context ctx(bool padded, bool training = false) const {
    return {batch, length, positions.data(), padded ? mask.data() : nullptr, training, 99};
  }
};

}  // namespace

TEST_CASE("linear: gradients of input, weight and bias", "[nn][gradcheck]") {
  for (bool bias : {false, true}) {
    nn::linear<be64> layer(6, 4, bias);
    nn::parameter_store<be64> ps;
    test::attach_random(ps, layer, 1);
    const index rows = 3;
    gradcheck_problem p{test::random_vector(rows * 6, 2), rows * 4,
                        [&](const double* x, double* y) { layer.forward(x, y, rows); },
                        [&](const double* x, const double* dy, double* dx) { layer.backward(x, dy, dx, rows); }, &ps};
    gradcheck(p);
  }
}

TEST_CASE("lora_linear: adapter gradients, frozen base", "[nn][gradcheck]") {
  nn::lora_linear<be64> layer(6, 5, true);
  layer.enable_lora(2, 4.0);
  nn::parameter_store<be64> ps;
  test::attach_random(ps, layer, 3);  // random B (not zero) so every path is exercised
  REQUIRE(ps.grad(ps.at("p.weight")) == nullptr);
  REQUIRE(ps.grad(ps.at("p.lora_A.weight")) != nullptr);
  const index rows = 4;
  gradcheck_problem p{test::random_vector(rows * 6, 4), rows * 5,
                      [&](const double* x, double* y) { layer.forward(x, y, rows); },
                      [&](const double* x, const double* dy, double* dx) { layer.backward(x, dy, dx, rows); }, &ps};
  gradcheck(p);
}

TEST_CASE("rms_norm and layer_norm: gradients", "[nn][gradcheck]") {
  const index rows = 4, dim = 7;
  SECTION("rms_norm") {
    nn::rms_norm<be64> norm(dim, 1e-6);
    nn::parameter_store<be64> ps;
    test::attach_random(ps, norm, 5);
    gradcheck_problem p{test::random_vector(rows * dim, 6), rows * dim,
                        [&](const double* x, double* y) { norm.forward(x, y, rows); },
                        [&](const double* x, const double* dy, double* dx) { norm.backward(x, dy, dx, rows); }, &ps};
    gradcheck(p);
  }
  SECTION("layer_norm") {
    nn::layer_norm<be64> norm(dim, 1e-8);
    nn::parameter_store<be64> ps;
    test::attach_random(ps, norm, 7);
    gradcheck_problem p{test::random_vector(rows * dim, 8), rows * dim,
                        [&](const double* x, double* y) { norm.forward(x, y, rows); },
                        [&](const double* x, const double* dy, double* dx) { norm.backward(x, dy, dx, rows); }, &ps};
    gradcheck(p);
  }
}

TEST_CASE("embedding: table gradient, padding row never learns", "[nn][gradcheck]") {
  nn::embedding<be64> table(6, 3);
  nn::parameter_store<be64> ps;
  test::attach_random(ps, table, 9, 0.3, "emb");
  const std::vector<std::int32_t> ids{0, 2, 5, 2, 0, 1};
  gradcheck_problem p{{}, index(ids.size()) * 3,
                      [&](const double*, double* y) { table.forward(ids.data(), y, index(ids.size())); },
                      [&](const double*, const double* dy, double*) { table.backward(ids.data(), dy, index(ids.size())); },
                      nullptr};
  // Row 0 is looked up but must get no gradient; rows 1..5 must match numerics.
  ps.zero_grads();
  std::vector<double> y(ids.size() * 3);
  p.forward(nullptr, y.data());
  const auto r = test::random_vector(index(y.size()), 4242);
  p.backward(nullptr, r.data(), nullptr);
  const double* g = ps.grad(ps.at("emb.weight"));
  for (int c = 0; c < 3; ++c) CHECK(g[c] == 0.0);
  // row 2 appears twice: its gradient is the sum of both rows of R
  for (int c = 0; c < 3; ++c) CHECK(g[2 * 3 + c] == Approx(r[1 * 3 + c] + r[3 * 3 + c]));
  for (int c = 0; c < 3; ++c) CHECK(g[3 * 3 + c] == 0.0);  // row 3 unused
}

TEST_CASE("rotary embedding: matches the rotate_half formula and is orthogonal", "[nn]") {
  const index heads = 2, head_dim = 8, rows = 3;
  nn::rope_config cfg;
  cfg.theta = 500.0;
  nn::rotary_embedding<be64> rope(head_dim, 16, cfg);
  const std::vector<std::int32_t> pos{0, 3, 11};
  auto x = test::random_vector(rows * heads * head_dim, 11);
  auto y = x;
  rope.forward(y.data(), pos.data(), rows, heads);
  for (index r = 0; r < rows; ++r)
    for (index h = 0; h < heads; ++h)
      for (index i = 0; i < head_dim / 2; ++i) {
        const double angle = pos[std::size_t(r)] * std::pow(500.0, -2.0 * double(i) / double(head_dim));
        const double* xv = &x[std::size_t((r * heads + h) * head_dim)];
        const double* yv = &y[std::size_t((r * heads + h) * head_dim)];
        CHECK(yv[i] == Approx(xv[i] * std::cos(angle) - xv[i + 4] * std::sin(angle)).margin(1e-12));
        CHECK(yv[i + 4] == Approx(xv[i + 4] * std::cos(angle) + xv[i] * std::sin(angle)).margin(1e-12));
      }
  rope.backward(y.data(), pos.data(), rows, heads);  // the transpose undoes the rotation
  CHECK(test::symmetric_relative_error(x, y) < 1e-14);
}

TEST_CASE("rope scaling variants follow Hugging Face", "[nn]") {
  nn::rope_config linear_cfg{10000.0, "linear", 4.0};
  const auto base = nn::rope_inverse_frequencies(16, {});
  const auto lin = nn::rope_inverse_frequencies(16, linear_cfg);
  for (std::size_t i = 0; i < base.size(); ++i) CHECK(lin[i] == Approx(base[i] / 4.0));
  nn::rope_config l3{500000.0, "llama3", 8.0, 1.0, 4.0, 8192.0};
  const auto s = nn::rope_inverse_frequencies(128, l3);
  const auto b = nn::rope_inverse_frequencies(128, {500000.0});
  CHECK(s.front() == Approx(b.front()));      // highest frequency untouched
  CHECK(s.back() == Approx(b.back() / 8.0));  // lowest frequency divided by the factor
  REQUIRE_THROWS_WITH(nn::rope_inverse_frequencies(16, {10000.0, "yarn"}), Catch::Contains("unsupported rope_type 'yarn'"));
}

TEST_CASE("self_attention: gradients with grouped-query heads, RoPE and padding", "[nn][gradcheck]") {
  toy_batch tb;
  for (bool padded : {false, true}) {
    nn::attention_config cfg{8, 4, 2, 0, false, true, {}, 16};
    nn::self_attention<be64> attn(cfg);
    nn::parameter_store<be64> ps;
    test::attach_random(ps, attn, 12);
    const auto ctx = tb.ctx(padded);
    gradcheck_problem p{test::random_vector(ctx.rows() * 8, 13), ctx.rows() * 8,
                        [&](const double* x, double* y) { attn.forward(x, y, ctx); },
                        [&](const double* x, const double* dy, double* dx) { attn.backward(x, dy, dx, ctx); }, &ps};
    gradcheck(p);
  }
  SECTION("multi-query with biases and no RoPE (SASRec style), explicit head_dim") {
    nn::attention_config cfg{6, 3, 1, 4, true, false, {}, 16};
    nn::self_attention<be64> attn(cfg);
    nn::parameter_store<be64> ps;
    test::attach_random(ps, attn, 14);
    const auto ctx = tb.ctx(true);
    gradcheck_problem p{test::random_vector(ctx.rows() * 6, 15), ctx.rows() * 6,
                        [&](const double* x, double* y) { attn.forward(x, y, ctx); },
                        [&](const double* x, const double* dy, double* dx) { attn.backward(x, dy, dx, ctx); }, &ps};
    gradcheck(p);
  }
}

TEST_CASE("self_attention: padded keys and future positions cannot influence an output", "[nn]") {
  toy_batch tb;
  nn::attention_config cfg{8, 2, 2, 0, false, true, {}, 16};
  nn::self_attention<be64> attn(cfg);
  nn::parameter_store<be64> ps;
  test::attach_random(ps, attn, 16);
  const auto ctx = tb.ctx(true);
  auto x = test::random_vector(ctx.rows() * 8, 17);
  std::vector<double> y1(x.size()), y2(x.size());
  attn.forward(x.data(), y1.data(), ctx);
  for (int c = 0; c < 8; ++c) {
    x[std::size_t(0 * 8 + c)] += 5.0;  // row 0, position 0: padding
    x[std::size_t(9 * 8 + c)] += 5.0;  // row 1, position 4: the future of positions 0..3
  }
  attn.forward(x.data(), y2.data(), ctx);
  for (index t = 2; t < 5; ++t)
    for (int c = 0; c < 8; ++c) CHECK(y1[std::size_t(t * 8 + c)] == Approx(y2[std::size_t(t * 8 + c)]).margin(1e-12));
  for (index t = 5; t < 9; ++t)
    for (int c = 0; c < 8; ++c) CHECK(y1[std::size_t(t * 8 + c)] == Approx(y2[std::size_t(t * 8 + c)]).margin(1e-12));
  for (double v : y2) CHECK(std::isfinite(v));  // fully padded query rows give zeros, not NaN
}

TEST_CASE("swiglu_mlp and feed_forward: gradients", "[nn][gradcheck]") {
  toy_batch tb;
  const auto ctx = tb.ctx(false);
  SECTION("swiglu") {
    nn::swiglu_mlp<be64> mlp(6, 10);
    nn::parameter_store<be64> ps;
    test::attach_random(ps, mlp, 18);
    gradcheck_problem p{test::random_vector(ctx.rows() * 6, 19), ctx.rows() * 6,
                        [&](const double* x, double* y) { mlp.forward(x, y, ctx.rows()); },
                        [&](const double* x, const double* dy, double* dx) { mlp.backward(x, dy, dx, ctx.rows()); }, &ps};
    gradcheck(p);
  }
  for (auto act : {nn::activation::relu, nn::activation::gelu}) {
    nn::feed_forward<be64> ffn(6, 9, act, 0.3, 1);
    nn::parameter_store<be64> ps;
    test::attach_random(ps, ffn, 20);
    const auto train_ctx = tb.ctx(false, true);  // dropout on, fixed seed: a fixed mask
    gradcheck_problem p{test::random_vector(ctx.rows() * 6, 21), ctx.rows() * 6,
                        [&](const double* x, double* y) { ffn.forward(x, y, train_ctx); },
                        [&](const double* x, const double* dy, double* dx) { ffn.backward(x, dy, dx, train_ctx); }, &ps};
    gradcheck(p);
  }
}

TEST_CASE("dropout: rate, scaling, determinism and inactivity at inference", "[nn]") {
  nn::dropout<be64> drop(0.25, 3);
  const index n = 20000;
  std::vector<double> x(std::size_t(n), 1.0), y1(x.size()), y2(x.size());
  nn::context train{1, n, nullptr, nullptr, true, 5};
  drop.forward(x.data(), y1.data(), n, train);
  drop.forward(x.data(), y2.data(), n, train);
  CHECK(y1 == y2);
  index zeros = 0;
  for (double v : y1) {
    if (v == 0.0) ++zeros;
    else CHECK(v == Approx(1.0 / 0.75));
  }
  CHECK(double(zeros) / double(n) == Approx(0.25).margin(0.015));
  train.seed = 6;
  drop.forward(x.data(), y2.data(), n, train);
  CHECK(y1 != y2);
  nn::context eval{1, n, nullptr, nullptr, false, 5};
  drop.forward(x.data(), y2.data(), n, eval);
  CHECK(y2 == x);
  // gradient: the same mask and scale
  std::vector<double> dx(x.size(), 0.0);
  train.seed = 5;
  drop.forward(x.data(), y1.data(), n, train);
  drop.backward(x.data(), dx.data(), n, train);
  CHECK(dx == y1);
}

}  // namespace slmrec
