// Pruning: magnitude masks remove exactly the smallest weights (per matrix or
// globally); a recommender<..., prune::masked<Scope>> holds them at zero
// through training steps, records them in its checkpoint config, recovers
// them from a reloaded model's zeros and quantizes to a pruned int8 type;
// structured pruning keeps the important channels and heads, and the smaller
// recommender<..., prune::structured> it builds computes exactly what the
// dense model with those rows and columns zeroed does.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/prune/magnitude.hpp>
#include <slmrec/model/quantize.hpp>
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
    const auto keep = masks.keep(e);
    for (std::size_t i = 0; i < keep.size(); ++i) {
      const double a = std::abs(double(w[i]));
      if (keep[i]) min_kept = std::min(min_kept, a);
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
    const auto keep = masks.keep(e);
    const auto pruned = std::count(keep.begin(), keep.end(), std::uint8_t(0));
    CHECK(pruned == std::llround(0.3 * double(keep.size())));
    CHECK(pruned == e.pruned);
    // Within the matrix, every kept weight is at least as large as every pruned one.
    prune::mask_set<cpu> one;
    one.add(ps, e.name, keep);
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
    const auto pruned = e.pruned;
    if (e.name.starts_with("model.layers.1.mlp")) {
      CHECK(pruned > e.size / 2);
    } else {
      CHECK(pruned == 0);
    }
  }
  REQUIRE_THROWS_WITH(prune::magnitude(ps, {1.0, prune::scope::global}), Catch::Contains("outside [0, 1)"));
}

TEST_CASE("a prune::masked model holds its pruned weights at exactly zero through training", "[prune]") {
  using cpu = backend::eigen_cpu;
  using dense = model::recommender<cpu, arch::llama>;
  using pruned = model::recommender<cpu, arch::llama, depth<dynamic>, quant::none, prune::masked<prune::per_matrix>>;
  static_assert(std::is_same_v<pruned::prune_policy, prune::masked<prune::per_matrix>>);
  // The same weights, the same 50% magnitude pruning, the same five AdamW
  // steps: the masked type's pruned weights stay zero, the dense type's revive.
  const auto train = []<class Model>(Model* tag) {
    (void)tag;
    auto m = std::make_unique<Model>(small_llama(), true);
    m->initialize(3);
    auto& ps = m->parameters();
    std::vector<std::vector<std::uint8_t>> keep;
    if constexpr (Model::masked) {
      const auto& masks = m->prune_magnitude(0.5);
      // The model's masks are the free function's on the same weights.
      auto fresh = std::make_unique<Model>(small_llama(), false);
      fresh->initialize(3);
      const auto expected = prune::magnitude(fresh->parameters(), {0.5, prune::scope::per_matrix});
      REQUIRE(masks.entries().size() == expected.entries().size());
      for (std::size_t i = 0; i < masks.entries().size(); ++i) {
        keep.push_back(masks.keep(masks.entries()[i]));
        CHECK(keep.back() == expected.keep(expected.entries()[i]));
      }
    } else {
      const auto masks = prune::magnitude(ps, {0.5, prune::scope::per_matrix});
      prune::finalize(masks, ps);
      for (const auto& e : masks.entries()) keep.push_back(masks.keep(e));
    }
    const auto names = prune::prunable_matrices(ps);
    train::next_item_objective obj(*m, train::loss_kind::cross_entropy);
    train::adamw<cpu> opt(ps, {});
    const auto b = a_batch();
    for (int step = 0; step < 5; ++step) {
      ps.zero_grads();
      obj.train_step(b, std::uint64_t(step));
      opt.step(1e-2);
    }
    const auto fresh = std::make_unique<Model>(small_llama(), false);
    fresh->initialize(3);
    index nonzero_pruned = 0, moved_kept = 0, total = 0;
    for (std::size_t n = 0; n < names.size(); ++n) {
      const auto* w = ps.value(ps.at(names[n]));
      const auto* w0 = fresh->parameters().value(fresh->parameters().at(names[n]));
      for (std::size_t i = 0; i < keep[n].size(); ++i, ++total) {
        if (!keep[n][i]) nonzero_pruned += w[i] != 0.0f;
        if (keep[n][i]) moved_kept += w[i] != w0[i];
      }
    }
    CHECK(moved_kept > total / 4);  // training did move the live weights
    if constexpr (Model::masked) CHECK(obj.config_json()["prune"]["masked_weights"].template get<index>() == total / 2);
    return nonzero_pruned;
  };
  CHECK(train(static_cast<pruned*>(nullptr)) == 0);
  CHECK(train(static_cast<dense*>(nullptr)) > 0);  // without the masks the same steps revive pruned weights
}

TEST_CASE("a prune::masked<global> model prunes with one threshold and restores its masks from zeros", "[prune]") {
  using cpu = backend::eigen_cpu;
  using pruned = model::recommender<cpu, arch::llama, depth<2>, quant::none, prune::masked<prune::global>>;
  pruned m(small_llama(), true);
  m.initialize(4);
  const auto expected = prune::magnitude(m.parameters(), {0.4, prune::scope::global});
  const auto& masks = m.prune_magnitude(0.4);
  CHECK(masks.pruned() == expected.pruned());
  for (std::size_t i = 0; i < masks.entries().size(); ++i)
    CHECK(masks.keep(masks.entries()[i]) == expected.keep(expected.entries()[i]));
  // A model that loads these weights (zeros included) finds the same masks.
  pruned reloaded(small_llama(), true);
  cpu::copy(m.parameters().values_data(), reloaded.parameters().values_data(), m.parameters().total_size());
  const auto& again = reloaded.restore_masks();
  REQUIRE(again.entries().size() == masks.entries().size());
  for (std::size_t i = 0; i < masks.entries().size(); ++i)
    CHECK(again.keep(again.entries()[i]) == masks.keep(masks.entries()[i]));
}

TEST_CASE("a pruned model quantizes to a pruned int8 type whose pruned weights are zero codes", "[prune]") {
  using cpu = backend::eigen_cpu;
  using pruned = model::recommender<cpu, arch::llama, depth<2>, quant::none, prune::masked<prune::per_matrix>>;
  pruned m(small_llama(), false);
  m.initialize(7);
  m.prune_magnitude(0.5);
  const auto q = model::quantize<quant::int8_per_channel>(m);
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(*q)>,
                               model::recommender<cpu, arch::llama, depth<2>, quant::int8_per_channel,
                                                  prune::masked<prune::per_matrix>>>);
  index zero_codes = 0, codes = 0;
  q->visit([&](const nn::param_spec& spec, auto& slot) {
    if constexpr (!nn::is_param_slot<decltype(slot), float>) {
      if (!spec.name.starts_with("model.layers.")) return;
      for (const auto c : slot.codes()) {
        zero_codes += c == 0;
        ++codes;
      }
    }
  }, "");
  CHECK(codes > 0);
  CHECK(zero_codes >= codes / 2);  // every pruned weight (half of them) is a zero code
  const auto b = a_batch();
  std::vector<float> a(std::size_t(3 * 41)), c(a.size());
  m.score_last(b.items, 3, 6, a);
  q->score_last(b.items, 3, 6, c);
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, std::abs(double(a[i]) - c[i]));
    scale = std::max(scale, std::abs(double(a[i])));
  }
  INFO("int8 of the pruned model: max difference " << err << " of scores up to " << scale);
  CHECK(err <= 0.05 * scale);
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
    model::recommender<be64, arch::llama, depth<dynamic>, quant::none, prune::structured> small(cfg, false);
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
