// Pruning: magnitude masks remove exactly the smallest weights (per matrix or
// globally) and hold them at zero through training steps; structured pruning
// keeps the important channels and heads, and the smaller model it builds
// computes exactly what the dense model with those rows and columns zeroed does.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/prune/magnitude.hpp>
#include <slmrec/prune/masked_objective.hpp>
#include <slmrec/prune/structured.hpp>
#include <slmrec/train/adamw.hpp>
#include <slmrec/train/objective.hpp>

namespace slmrec {

namespace {

model::recommender_config small_llama() {
  model::recommender_config c;
  c.arch = "llama";
  c.num_items = 40;
  c.dim = 16;
  c.heads = 4;
  c.ffn = 24;
  c.layers = 2;
  c.max_len = 8;
  c.dropout = 0.0;
  c.init_std = 0.2;
  return c;
}

data::batch a_batch() {
  data::batch b;
  b.size = 3;
  b.length = 6;
  b.items = {0, 0, 3, 5, 2, 9, 1, 4, 4, 7, 9, 12, 0, 0, 0, 6, 8, 30};
  b.targets = {0, 0, 5, 2, 9, 11, 4, 4, 7, 9, 12, 1, 0, 0, 0, 8, 30, 2};
  b.users = {0, 1, 2};
  return b;
}

template <class BE>
double min_kept_max_pruned_gap(const nn::parameter_store<BE>& ps, const prune::mask_set<BE>& masks) {
  double min_kept = std::numeric_limits<double>::infinity(), max_pruned = 0;
  for (const auto& e : masks.entries()) {
    const auto* w = ps.value(ps.at(e.name));
    for (std::size_t i = 0; i < e.keep.size(); ++i) {
      const double a = std::abs(double(w[i]));
      if (e.keep[i]) min_kept = std::min(min_kept, a);
      else max_pruned = std::max(max_pruned, a);
    }
  }
  return min_kept - max_pruned;
}

}  // namespace

TEST_CASE("magnitude pruning removes exactly the smallest weights of each matrix", "[prune]") {
  using cpu = backend::eigen_cpu;
  model::recommender<cpu, arch::llama> m(small_llama(), false);
  m.initialize(1);
  auto& ps = m.parameters();
  const auto masks = prune::magnitude(ps, {0.3, prune::scope::per_matrix});
  REQUIRE(masks.entries().size() == 14);  // 7 matrices x 2 layers
  for (const auto& e : masks.entries()) {
    const auto pruned = std::count(e.keep.begin(), e.keep.end(), std::uint8_t(0));
    CHECK(pruned == std::llround(0.3 * double(e.keep.size())));
    // Within the matrix, every kept weight is at least as large as every pruned one.
    prune::mask_set<cpu> one;
    one.add(ps, e.name, e.keep);
    CHECK(min_kept_max_pruned_gap(ps, one) >= 0.0);
  }
  CHECK(masks.entries().front().name == "model.layers.0.self_attn.q_proj.weight");
}

TEST_CASE("global magnitude pruning uses one threshold over all matrices", "[prune]") {
  using cpu = backend::eigen_cpu;
  model::recommender<cpu, arch::llama> m(small_llama(), false);
  m.initialize(2);
  auto& ps = m.parameters();
  // Make layer 1's feed-forward weights tiny: a global threshold prunes them first.
  for (const char* w : {"gate_proj", "up_proj", "down_proj"}) {
    const auto& e = ps.at(fmt::format("model.layers.1.mlp.{}.weight", w));
    for (index i = 0; i < e.size; ++i) ps.value(e)[i] *= 1e-6f;
  }
  const auto masks = prune::magnitude(ps, {0.2, prune::scope::global});
  CHECK(masks.pruned() == std::llround(0.2 * double(masks.total())));
  CHECK(min_kept_max_pruned_gap(ps, masks) >= 0.0);
  for (const auto& e : masks.entries()) {
    const auto pruned = std::count(e.keep.begin(), e.keep.end(), std::uint8_t(0));
    if (e.name.starts_with("model.layers.1.mlp")) {
      CHECK(pruned > index(e.keep.size()) / 2);
    } else {
      CHECK(pruned == 0);
    }
  }
  REQUIRE_THROWS_WITH(prune::magnitude(ps, {1.0, prune::scope::global}), Catch::Contains("outside [0, 1)"));
}

TEST_CASE("masks hold pruned weights at exactly zero through training steps", "[prune]") {
  using cpu = backend::eigen_cpu;
  const auto train = [](bool masked) {
    auto m = std::make_unique<model::recommender<cpu, arch::llama>>(small_llama(), true);
    m->initialize(3);
    auto& ps = m->parameters();
    const auto masks = prune::magnitude(ps, {0.5, prune::scope::per_matrix});
    prune::finalize(masks, ps);
    train::next_item_objective inner(*m, train::loss_kind::cross_entropy);
    prune::masked_objective obj(inner, masks);
    train::adamw<cpu> opt(ps, {});
    const auto b = a_batch();
    for (int step = 0; step < 5; ++step) {
      ps.zero_grads();
      if (masked) {
        obj.train_step(b, std::uint64_t(step));
      } else {
        inner.train_step(b, std::uint64_t(step));
      }
      opt.step(1e-2);
    }
    index nonzero_pruned = 0, moved_kept = 0;
    const auto fresh = std::make_unique<model::recommender<cpu, arch::llama>>(small_llama(), false);
    fresh->initialize(3);
    for (const auto& e : masks.entries()) {
      const auto* w = ps.value(ps.at(e.name));
      const auto* w0 = fresh->parameters().value(fresh->parameters().at(e.name));
      for (std::size_t i = 0; i < e.keep.size(); ++i) {
        if (!e.keep[i]) nonzero_pruned += w[i] != 0.0f;
        if (e.keep[i]) moved_kept += w[i] != w0[i];
      }
    }
    CHECK(moved_kept > masks.total() / 4);  // training did move the live weights
    return nonzero_pruned;
  };
  CHECK(train(true) == 0);
  CHECK(train(false) > 0);  // without the masks the same steps revive pruned weights
}

TEST_CASE("from_zeros recovers the masks of a finalized model", "[prune]") {
  using cpu = backend::eigen_cpu;
  model::recommender<cpu, arch::llama> m(small_llama(), false);
  m.initialize(4);
  const auto masks = prune::magnitude(m.parameters(), {0.4, prune::scope::global});
  prune::finalize(masks, m.parameters());
  const auto again = prune::mask_set<cpu>::from_zeros(m.parameters(), prune::prunable_matrices(m.parameters()));
  REQUIRE(again.entries().size() == masks.entries().size());
  for (std::size_t i = 0; i < masks.entries().size(); ++i) CHECK(again.entries()[i].keep == masks.entries()[i].keep);
}

TEST_CASE("a structurally pruned model computes what the masked dense model computes", "[prune]") {
  using be64 = backend::eigen_cpu_f64;
  for (const double heads : {0.0, 0.5}) {
    model::recommender<be64, arch::llama> dense(small_llama(), false);
    dense.initialize(5);
    const auto plan = prune::plan_structured(dense, {0.5, heads});
    const auto cfg = prune::pruned_config(dense.config(), plan);
    CHECK(cfg.ffn == 12);
    CHECK(cfg.heads == (heads > 0 ? 2 : 4));
    CHECK(cfg.resolved_head_dim() == 4);
    model::recommender<be64, arch::llama> small(cfg, false);
    prune::copy_structured(dense, small, plan);
    CHECK(small.parameters().count() < dense.parameters().count());
    prune::mask_structured(dense, plan);
    const auto b = a_batch();
    std::vector<float> a(std::size_t(3 * 41)), c(a.size());
    dense.score_last(b.items, 3, 6, a);
    small.score_last(b.items, 3, 6, c);
    double err = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      err = std::max(err, std::abs(double(a[i]) - c[i]));
      scale = std::max(scale, std::abs(double(a[i])));
    }
    INFO("heads pruned " << heads << ": max difference " << err << " of scores up to " << scale);
    CHECK(err <= 1e-6 * scale);
    CHECK(scale > 0.1);
  }
}

TEST_CASE("structured pruning keeps the important channels and heads", "[prune]") {
  using cpu = backend::eigen_cpu;
  model::recommender<cpu, arch::llama> m(small_llama(), false);
  m.initialize(6);
  auto& ps = m.parameters();
  // Channel 7 of layer 0 made large, channel 3 zero; head 2 of layer 1 made large.
  const auto& gate = ps.at("model.layers.0.mlp.gate_proj.weight");
  for (index c = 0; c < 16; ++c) {
    ps.value(gate)[7 * 16 + c] *= 100.0f;
    ps.value(gate)[3 * 16 + c] = 0.0f;
  }
  const auto& v = ps.at("model.layers.1.self_attn.v_proj.weight");
  for (index i = 2 * 4 * 16; i < 3 * 4 * 16; ++i) ps.value(v)[i] *= 100.0f;
  const auto plan = prune::plan_structured(m, {0.5, 0.75});
  const auto& f0 = plan.ffn_keep[0];
  CHECK(std::binary_search(f0.begin(), f0.end(), 7));
  CHECK(!std::binary_search(f0.begin(), f0.end(), 3));
  CHECK(plan.head_keep[1] == std::vector<index>{2});
  REQUIRE_THROWS_WITH(prune::plan_structured(m, {1.0, 0.0}), Catch::Contains("outside [0, 1)"));
}

}  // namespace slmrec
