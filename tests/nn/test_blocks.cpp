// Gradient checks of whole blocks and two-block stacks of each type.
#include <catch2/catch.hpp>

#include <slmrec/nn/llama_block.hpp>
#include <slmrec/nn/sasrec_block.hpp>
#include <slmrec/nn/stack.hpp>

#include "support/gradcheck.hpp"

// Inside the library's namespace: `index` would otherwise clash with POSIX ::index().
namespace slmrec {
using test::be64;
using test::gradcheck;
using test::gradcheck_problem;

namespace {

const std::vector<std::int32_t> positions{0, 1, 2, 3, 0, 1, 2, 3};
const std::vector<std::int32_t> key_mask{0, 1, 1, 1, 1, 1, 1, 1};

nn::llama_block_config tiny_llama() {
  nn::llama_block_config cfg;
  cfg.dim = 8;
  cfg.heads = 4;
  cfg.kv_heads = 2;
  cfg.ffn = 12;
  cfg.max_positions = 8;
  return cfg;
}

nn::sasrec_block_config tiny_sasrec() {
  nn::sasrec_block_config cfg;
  cfg.dim = 8;
  cfg.heads = 2;
  cfg.ffn = 8;
  cfg.dropout = 0.2;
  cfg.norm_eps = 1e-5;
  return cfg;
}

template <class Module>
void check_sequence_module(Module& m, index dim, bool training, std::uint64_t seed) {
  nn::parameter_store<be64> ps;
  test::attach_random(ps, m, seed, 0.3, "model.layers");
  const nn::context ctx{2, 4, positions.data(), key_mask.data(), training, 77};
  gradcheck_problem p{test::random_vector(ctx.rows() * dim, seed + 1), ctx.rows() * dim,
                      [&](const double* x, double* y) {
                        if constexpr (requires { m.depth(); }) {
                          const double* out = m.forward(x, ctx);
                          std::copy(out, out + ctx.rows() * dim, y);
                        } else {
                          m.forward(x, y, ctx);
                        }
                      },
                      [&](const double* x, const double* dy, double* dx) {
                        if constexpr (requires { m.depth(); }) {
                          (void)x;
                          m.backward(dy, dx, ctx);
                        } else {
                          m.backward(x, dy, dx, ctx);
                        }
                      },
                      &ps};
  gradcheck(p);
}

}  // namespace

TEST_CASE("llama_block: gradients (GQA, RoPE, left padding)", "[nn][gradcheck]") {
  nn::llama_block<be64> block(tiny_llama(), 0);
  check_sequence_module(block, 8, false, 100);
}

TEST_CASE("llama_block: gradients with residual dropout active", "[nn][gradcheck]") {
  auto cfg = tiny_llama();
  cfg.dropout = 0.3;
  nn::llama_block<be64> block(cfg, 1);
  check_sequence_module(block, 8, true, 150);
}

TEST_CASE("sasrec_block: gradients with dropout active", "[nn][gradcheck]") {
  nn::sasrec_block<be64> block(tiny_sasrec(), 0);
  check_sequence_module(block, 8, true, 200);
}

TEST_CASE("two-block stacks: gradients through depth<2>", "[nn][gradcheck]") {
  SECTION("llama") {
    nn::stack<nn::llama_block<be64>, depth<2>> s(tiny_llama());
    STATIC_REQUIRE(decltype(s)::static_depth == 2);
    check_sequence_module(s, 8, false, 300);
  }
  SECTION("sasrec") {
    nn::stack<nn::sasrec_block<be64>, depth<2>> s(tiny_sasrec());
    check_sequence_module(s, 8, true, 400);
  }
}

TEST_CASE("stack: depth<dynamic> computes what depth<N> computes, names follow HF", "[nn]") {
  nn::stack<nn::llama_block<be64>, depth<3>> fixed(tiny_llama());
  nn::stack<nn::llama_block<be64>, depth<dynamic>> dyn(tiny_llama(), 3);
  nn::parameter_store<be64> a, b;
  test::attach_random(a, fixed, 9, 0.3, "model.layers");
  b.attach(dyn, false, "model.layers");
  REQUIRE(a.entries().size() == b.entries().size());
  REQUIRE(a.find("model.layers.2.mlp.down_proj.weight") != nullptr);
  REQUIRE(a.find("model.layers.0.self_attn.k_proj.weight")->spec.shape == std::vector<index>{4, 8});
  std::copy(a.values_data(), a.values_data() + a.total_size(), b.values_data());
  const nn::context ctx{2, 4, positions.data(), key_mask.data(), false, 0};
  const auto x = test::random_vector(ctx.rows() * 8, 5);
  const double* ya = fixed.forward(x.data(), ctx);
  const double* yb = dyn.forward(x.data(), ctx);
  CHECK(std::equal(ya, ya + ctx.rows() * 8, yb));
  REQUIRE_THROWS_WITH((nn::stack<nn::llama_block<be64>, depth<dynamic>>(tiny_llama(), 0)),
                      Catch::Contains("at least one layer"));
}

TEST_CASE("stack: extra gradients at block boundaries are added", "[nn][gradcheck]") {
  // L = sum(y_last * R) + sum(y_0 * S): the stack's `extra` hook must give the same
  // input gradient as differentiating both terms numerically.
  nn::stack<nn::llama_block<be64>, depth<2>> s(tiny_llama());
  nn::parameter_store<be64> ps;
  test::attach_random(ps, s, 11, 0.3, "model.layers");
  const nn::context ctx{2, 4, positions.data(), key_mask.data(), false, 0};
  const index n = ctx.rows() * 8;
  const auto S = test::random_vector(n, 12);
  gradcheck_problem p{test::random_vector(n, 13), 2 * n,
                      [&](const double* x, double* y) {
                        const double* out = s.forward(x, ctx);
                        std::copy(out, out + n, y);
                        std::copy(s.output(0), s.output(0) + n, y + n);
                      },
                      [&](const double*, const double* dy, double* dx) {
                        const double* extra[2] = {dy + n, nullptr};
                        s.backward(dy, dx, ctx, extra);
                      },
                      &ps};
  (void)S;
  gradcheck(p);
}

}  // namespace slmrec
