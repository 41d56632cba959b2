// Whole models on the GPU against the same models on the CPU: a training
// step (llama and sasrec, dropout on, every head), the sampled loss,
// scoring, a distillation step, and the tiny_llama fixture against
// transformers. Only the backend type differs between the two sides.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <slmrec/data/batch.hpp>
#include <slmrec/data/split.hpp>
#include <slmrec/data/synthetic.hpp>
#include <slmrec/distill/distiller.hpp>
#include <slmrec/model/arch.hpp>
#include <slmrec/model/llama_parity.hpp>
#include <slmrec/model/quantize.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/model/serving.hpp>
#include <slmrec/prune/structured.hpp>
#include <slmrec/train/adamw.hpp>
#include <slmrec/train/checkpoint.hpp>
#include <slmrec/train/trainer.hpp>

#include "cuda/parity.hpp"
#include "support/temp_dir.hpp"

namespace slmrec {

namespace {
using test::cpu;
using test::relative_error;
using test::to_host;

model::recommender_config small_config(const std::string& arch, const std::string& head) {
  model::recommender_config c;
  c.arch = arch;
  c.num_items = 300;
  c.dim = 32;
  c.heads = 4;
  c.kv_heads = arch == "llama" ? 2 : 0;
  c.layers = 2;
  c.max_len = 12;
  c.dropout = 0.1;  // the same counter-based masks on both backends
  c.head = head;
  if (head == "projected") c.item_dim = 24;
  c.aux_layers = {0};
  return c;
}

// Sequential synthetic data: histories of 4 to 14 items.
data::dataset synthetic_data(index users, std::int32_t items, std::uint64_t seed) {
  data::synthetic_options o;
  o.users = users;
  o.items = items;
  o.min_len = 4;
  o.max_len = 14;
  o.seed = seed;
  return data::make_synthetic(o);
}

struct batch_data {
  index rows = 6, columns = 12;
  std::vector<std::int32_t> items, targets, negatives;
};
batch_data make_batch(index num_items) {
  batch_data b;
  rng gen(11);
  for (index r = 0; r < b.rows; ++r)
    for (index c = 0; c < b.columns; ++c) {
      const bool padded = c < r;  // left padding of r positions
      b.items.push_back(padded ? 0 : std::int32_t(1 + gen.below(std::uint64_t(num_items))));
      b.targets.push_back(padded ? 0 : std::int32_t(1 + gen.below(std::uint64_t(num_items))));
      b.negatives.push_back(std::int32_t(1 + gen.below(std::uint64_t(num_items))));
    }
  return b;
}

struct step_result {
  double loss = 0.0;
  std::vector<float> grads, params, scores;
  std::vector<float> before;      // the parameters before the step
  std::vector<bool> shift_blind;  // parameters whose gradient is zero in exact arithmetic (below)
};

// The bias of a key projection: softmax ignores a shift shared by a row's
// scores, and q . (k_j + b) shifts row q's scores by q . b for every key j, so
// that bias's gradient is 0 in exact arithmetic and rounding noise (about 1e-9
// here) in float, on the CPU as on the GPU. AdamW's first step moves a
// parameter by about lr * sign(g) however small g is, so such a parameter
// moves by up to lr in a direction rounding picks: the CPU in float against
// float64 already differs by 1.6e-5 (relative, all parameters) after this step
// for that reason alone, and the GPU did by 2.2e-5 on the first H200 run.
// Those parameters are held to that bound; every other one to the tolerance.
template <class Store>
std::vector<bool> shift_blind_parameters(const Store& ps) {
  std::vector<bool> blind(static_cast<std::size_t>(ps.total_size()), false);
  for (const auto& e : ps.entries())
    if (e.spec.name.ends_with("k_proj.bias"))
      std::fill_n(blind.begin() + e.offset, e.size, true);
  return blind;
}

// The parameters after the step: the shift-blind ones moved by at most lr on
// both sides, the others within `tol` of the CPU's (relative error).
void check_update(const step_result& got, const step_result& want, double tol) {
  const double lr = train::adamw_config{}.lr;
  std::vector<float> got_rest, want_rest;
  double worst_blind_move = 0.0;
  for (std::size_t i = 0; i < want.params.size(); ++i) {
    if (want.shift_blind[i]) {
      worst_blind_move = std::max({worst_blind_move, std::abs(double(got.params[i]) - double(got.before[i])),
                                   std::abs(double(want.params[i]) - double(want.before[i]))});
    } else {
      got_rest.push_back(got.params[i]);
      want_rest.push_back(want.params[i]);
    }
  }
  CHECK(worst_blind_move <= lr * 1.001);
  CHECK(relative_error(got_rest, want_rest) < tol);
}

// One AdamW training step from seed-7 weights, then scores of the updated model.
template <class BE, class Arch>
step_result train_step(const model::recommender_config& cfg, const batch_data& b, bool sampled) {
  model::recommender<BE, Arch> m(cfg);
  m.initialize(7);
  train::adamw<BE> opt(m.parameters(), {});
  step_result r;
  const auto n = static_cast<std::size_t>(m.parameters().total_size());
  r.before = to_host<BE>(m.parameters().values_data(), n);
  r.shift_blind = shift_blind_parameters(m.parameters());
  m.parameters().zero_grads();
  m.encode(b.items, b.rows, b.columns, true, 42);
  r.loss = sampled ? m.train_sampled_bce(b.targets, b.negatives) : m.train_cross_entropy(b.targets);
  r.grads = to_host<BE>(m.parameters().grads_data(), n);
  opt.step();
  r.params = to_host<BE>(m.parameters().values_data(), n);
  r.scores.resize(static_cast<std::size_t>(b.rows * (cfg.num_items + 1)));
  m.score_last(b.items, b.rows, b.columns, r.scores);
  return r;
}
}  // namespace

TEMPLATE_TEST_CASE("a training step on the GPU matches the CPU: loss, every gradient, the update, the scores",
                   "[cuda]", backend::cuda, backend::cuda_bf16) {
  using BE = TestType;
  const double tol = test::tolerance<BE>;
  const auto b = make_batch(300);
  for (const std::string head : {"tied", "classifier", "projected"}) {
    {
      const auto cfg = small_config("llama", head);
      const auto want = train_step<cpu, arch::llama>(cfg, b, false);
      const auto got = train_step<BE, arch::llama>(cfg, b, false);
      INFO("llama, head " << head);
      CHECK(got.loss == Approx(want.loss).epsilon(tol));
      CHECK(relative_error(got.grads, want.grads) < tol);
      check_update(got, want, tol);
      CHECK(relative_error(got.scores, want.scores) < tol);
    }
    if (head == "tied") {
      const auto cfg = small_config("sasrec", head);
      for (bool sampled : {false, true}) {
        const auto want = train_step<cpu, arch::sasrec>(cfg, b, sampled);
        const auto got = train_step<BE, arch::sasrec>(cfg, b, sampled);
        INFO("sasrec, " << (sampled ? "sampled BCE" : "cross-entropy"));
        CHECK(got.loss == Approx(want.loss).epsilon(tol));
        CHECK(relative_error(got.grads, want.grads) < tol);
        check_update(got, want, tol);
        CHECK(relative_error(got.scores, want.scores) < tol);
      }
    }
  }
}

namespace {
// Magnitude pruning of seed-7 weights, then three AdamW steps of a
// prune::masked model: its masks, gradients, weights and scores.
template <class BE, class Scope>
step_result masked_steps(const model::recommender_config& cfg, const batch_data& b, std::vector<std::uint8_t>& keep) {
  model::recommender<BE, arch::llama, depth<2>, quant::none, prune::masked<Scope>> m(cfg);
  m.initialize(7);
  const auto& masks = m.prune_magnitude(0.5);
  keep.clear();
  for (const auto& e : masks.entries()) {
    const auto k = masks.keep(e);
    keep.insert(keep.end(), k.begin(), k.end());
  }
  train::adamw<BE> opt(m.parameters(), {});
  step_result r;
  for (std::uint64_t step = 0; step < 3; ++step) {
    m.parameters().zero_grads();
    m.encode(b.items, b.rows, b.columns, true, 42 + step);
    r.loss = m.train_cross_entropy(b.targets);
    opt.step();
  }
  const auto n = static_cast<std::size_t>(m.parameters().total_size());
  r.grads = to_host<BE>(m.parameters().grads_data(), n);
  r.params = to_host<BE>(m.parameters().values_data(), n);
  r.scores.resize(static_cast<std::size_t>(b.rows * (cfg.num_items + 1)));
  m.score_last(b.items, b.rows, b.columns, r.scores);
  return r;
}
}  // namespace

TEMPLATE_TEST_CASE("a prune::masked model trains on the GPU as on the CPU, its pruned weights held at zero", "[cuda]",
                   backend::cuda, backend::cuda_bf16) {
  using BE = TestType;
  const double tol = test::tolerance<BE>;
  const auto b = make_batch(300);
  const auto cfg = small_config("llama", "tied");
  std::vector<std::uint8_t> keep_cpu, keep_gpu;
  const auto want = masked_steps<cpu, prune::per_matrix>(cfg, b, keep_cpu);
  const auto got = masked_steps<BE, prune::per_matrix>(cfg, b, keep_gpu);
  CHECK(keep_gpu == keep_cpu);  // the same weights pick the same masks
  CHECK(got.loss == Approx(want.loss).epsilon(tol));
  CHECK(relative_error(got.params, want.params) < tol);
  CHECK(relative_error(got.scores, want.scores) < tol);
  // Every pruned weight of the GPU model is still exactly zero.
  model::recommender<cpu, arch::llama, depth<2>> layout(cfg, false);
  index pruned = 0, nonzero = 0;
  std::size_t at = 0;
  for (const auto& name : prune::prunable_matrices(layout.parameters())) {
    const auto& e = layout.parameters().at(name);
    for (index i = 0; i < e.size; ++i, ++at)
      if (!keep_gpu[at]) {
        ++pruned;
        nonzero += got.params[std::size_t(e.offset + i)] != 0.0f;
      }
  }
  CHECK(pruned > 0);
  CHECK(nonzero == 0);
}

TEMPLATE_TEST_CASE("structured pruning on the GPU plans and copies as on the CPU", "[cuda]", backend::cuda,
                   backend::cuda_bf16) {
  using BE = TestType;
  auto cfg = small_config("llama", "tied");
  cfg.kv_heads = cfg.heads;  // heads are pruned only without grouped-query sharing
  const auto b = make_batch(300);
  const auto run = [&]<class B>(B) {
    model::recommender<B, arch::llama> dense(cfg, false);
    dense.initialize(9);
    const auto plan = prune::plan_structured(dense, {0.5, 0.5});
    model::recommender<B, arch::llama, depth<dynamic>, quant::none, prune::structured> small(
        prune::pruned_config(cfg, plan), false);
    prune::copy_structured(dense, small, plan);
    std::vector<float> scores(static_cast<std::size_t>(b.rows * (cfg.num_items + 1)));
    small.score_last(b.items, b.rows, b.columns, scores);
    return std::pair(plan.ffn_keep, scores);
  };
  const auto [cpu_keep, cpu_scores] = run(cpu{});
  const auto [gpu_keep, gpu_scores] = run(BE{});
  CHECK(gpu_keep == cpu_keep);
  CHECK(relative_error(gpu_scores, cpu_scores) < test::tolerance<BE>);
}

TEMPLATE_TEST_CASE("an int8, pruned, fixed-depth model on the GPU scores as its CPU twin", "[cuda]", backend::cuda,
                   backend::cuda_bf16) {
  using BE = TestType;
  const auto b = make_batch(300);
  for (const std::string head : {"tied", "classifier"}) {
    auto cfg = small_config("llama", head);
    cfg.dropout = 0.0;
    const auto scores = [&]<class B>(B) {
      model::recommender<B, arch::llama, depth<2>, quant::none, prune::masked<>> m(cfg, false);
      m.initialize(5);
      m.prune_magnitude(0.5);
      const auto q = model::quantize<quant::int8_per_channel>(m);
      static_assert(std::is_same_v<std::remove_cvref_t<decltype(*q)>,
                                   model::recommender<B, arch::llama, depth<2>, quant::int8_per_channel,
                                                      prune::masked<>>>);
      std::vector<float> out(static_cast<std::size_t>(b.rows * (cfg.num_items + 1)));
      q->score_last(b.items, b.rows, b.columns, out);
      return out;
    };
    const auto want = scores(cpu{});
    const auto got = scores(BE{});
    INFO("head " << head);
    // The same codes and exact int32 dots; only the float products between
    // the int8 layers (attention, norms: bf16 on cuda_bf16) differ.
    CHECK(relative_error(got, want) < test::tolerance<BE>);
  }
}

TEMPLATE_TEST_CASE("an int8 checkpoint opens on the GPU and scores as on the CPU; int4 is refused", "[cuda]",
                   backend::cuda, backend::cuda_bf16) {
  using BE = TestType;
  const auto b = make_batch(300);
  auto cfg = small_config("llama", "tied");
  cfg.dropout = 0.0;
  model::recommender<cpu, arch::llama> m(cfg, false);
  m.initialize(9);
  const test::temp_dir dir;
  model::save_quantized(dir.path() / "int8", *model::quantize<quant::int8_per_channel>(m));
  model::save_quantized(dir.path() / "int4", *model::quantize<quant::int4_block<32>>(m));
  const auto scores = [&]<class B>(B) {
    std::vector<float> out(static_cast<std::size_t>(b.rows * (cfg.num_items + 1)));
    model::with_any_checkpoint<B>(dir.path() / "int8", [&](auto& q) {
      // f is compiled for every scheme a checkpoint may name; this one is int8.
      CHECK(std::is_same_v<typename std::remove_cvref_t<decltype(q)>::quant_scheme, quant::int8_per_channel>);
      q.score_last(b.items, b.rows, b.columns, out);
    });
    return out;
  };
  CHECK(relative_error(scores(BE{}), scores(cpu{})) < test::tolerance<BE>);
  CHECK_THROWS_WITH(model::with_any_checkpoint<BE>(dir.path() / "int4", [](auto&) {}),
                    Catch::Contains("int4 checkpoints run on the CPU only"));
}

namespace {
struct distill_result {
  double total = 0.0;
  distill::distill_terms terms;
  std::vector<float> grads;
};

template <class BE>
distill_result distill_step(const data::dataset& ds, const data::split& split) {
  auto tcfg = small_config("llama", "tied");
  tcfg.layers = 4;
  tcfg.aux_layers.clear();
  tcfg.num_items = ds.num_items;
  auto scfg = small_config("llama", "tied");
  scfg.num_items = ds.num_items;
  model::recommender<BE, arch::llama> teacher(tcfg, false), student(scfg);
  teacher.initialize(1);
  student.initialize(2);
  distill::distill_weights w{0.8, 0.5, 0.6, distill::norm_kind::mse, true};
  distill::distiller kd(teacher, student, distill::make_block_map(4, 2, 2), w, split.train);
  data::batch_options bo;
  bo.batch_size = 16;
  bo.max_len = 12;
  bo.shuffle = false;
  data::batcher batches(split.train, bo);
  data::batch batch;
  batches.next(batch);
  student.parameters().zero_grads();
  distill_result r;
  r.total = kd.train_step(batch, 3);
  r.terms = kd.last_terms();
  r.grads = to_host<BE>(student.parameters().grads_data(), static_cast<std::size_t>(student.parameters().total_size()));
  return r;
}
}  // namespace

TEMPLATE_TEST_CASE("a distillation step on the GPU matches the CPU: every term and the student's gradients",
                   "[cuda]", backend::cuda, backend::cuda_bf16) {
  using BE = TestType;
  const double tol = test::tolerance<BE>;
  const auto ds = synthetic_data(64, 80, 3);
  const auto split = data::leave_one_out(ds);
  const auto want = distill_step<cpu>(ds, split);
  const auto got = distill_step<BE>(ds, split);
  CHECK(got.total == Approx(want.total).epsilon(tol));
  CHECK(got.terms.ce == Approx(want.terms.ce).epsilon(tol));
  CHECK(got.terms.cosine == Approx(want.terms.cosine).epsilon(tol));
  CHECK(got.terms.norm == Approx(want.terms.norm).epsilon(tol));
  CHECK(got.terms.ms == Approx(want.terms.ms).epsilon(tol));
  CHECK(relative_error(got.grads, want.grads) < tol);
}

TEMPLATE_TEST_CASE("tiny_llama on the GPU matches transformers: every layer, the loss and all gradients", "[cuda]",
                   backend::cuda, backend::cuda_bf16) {
  using BE = TestType;
  const auto fixture = std::filesystem::path(SLMREC_SHARED_DIR) / "fixtures" / "tiny_llama";
  REQUIRE(std::filesystem::exists(fixture / "reference.safetensors"));
  model::parity_tolerances tol;
  if constexpr (BE::math == backend::cuda_math::bf16) tol.forward = tol.gradient = test::tolerance<BE>;
  const auto report = model::check_llama_parity<BE>(fixture, fixture / "reference.safetensors", {}, tol);
  REQUIRE(report.rows.size() > 10);
  for (const auto& r : report.rows) {
    INFO(r.case_name << "." << r.tensor << ": " << r.error << " (limit " << r.tolerance << ")");
    CHECK(r.ok());
  }
}

TEMPLATE_TEST_CASE("serving on the GPU: the device top-k equals the CPU's top_k on the same scores", "[cuda]",
                   backend::cuda, backend::cuda_bf16) {
  using BE = TestType;
  auto cfg = small_config("llama", "tied");
  cfg.num_items = 5000;  // many more items than threads per row
  cfg.dropout = 0.0;
  model::recommender<BE, arch::llama> m(cfg, false);
  m.initialize(5);
  const auto b = make_batch(300);
  const index v = cfg.num_items + 1;
  model::server<model::recommender<BE, arch::llama>> serve(m);
  for (index k : {index(1), index(10), index(40)})
    for (bool exclude : {false, true}) {
      std::vector<std::int32_t> got(static_cast<std::size_t>(b.rows * k)), want(got.size());
      serve.recommend(b.items, b.rows, b.columns, k, exclude, got);
      std::vector<float> scores(static_cast<std::size_t>(b.rows * v));
      m.score_last(b.items, b.rows, b.columns, scores);
      for (index r = 0; r < b.rows; ++r) {
        std::span<float> row(scores.data() + r * v, static_cast<std::size_t>(v));
        if (exclude)
          for (index c = 0; c < b.columns; ++c)
            if (const auto id = b.items[static_cast<std::size_t>(r * b.columns + c)]; id > 0)
              row[static_cast<std::size_t>(id)] = -std::numeric_limits<float>::infinity();
        model::top_k(row, k, std::span(want).subspan(static_cast<std::size_t>(r * k), static_cast<std::size_t>(k)));
      }
      INFO("k " << k << (exclude ? ", history excluded" : ""));
      CHECK(got == want);
    }
  // One user, a history longer than the model reads: all of it is excluded.
  std::vector<std::int32_t> history(40);
  for (std::size_t i = 0; i < history.size(); ++i) history[i] = std::int32_t(1 + (i * 37) % 300);
  const auto top = serve.recommend(history, 20, true);
  for (auto id : top) CHECK(std::find(history.begin(), history.end(), id) == history.end());
}

namespace {
struct fit_outcome {
  std::vector<double> losses, metrics;
  std::vector<float> weights, reloaded;
};

// train::fit for three epochs (the trainer keeps the best weights in backend
// memory and checkpoints them), then the checkpoint read back into a fresh model.
template <class BE>
fit_outcome fit_run(const data::dataset& ds, const data::split& split, const std::filesystem::path& dir) {
  auto cfg = small_config("llama", "tied");
  cfg.num_items = ds.num_items;
  cfg.aux_layers.clear();
  model::recommender<BE, arch::llama> m(cfg);
  m.initialize(3);
  train::train_config tc;
  tc.epochs = 3;
  tc.batch_size = 16;
  tc.verbosity = 0;
  train::next_item_objective obj(m, train::loss_kind::cross_entropy);
  const auto r = train::fit(obj, split, ds, tc, dir);
  fit_outcome o;
  for (const auto& h : r.state.history) {
    o.losses.push_back(h.at("train_loss").template get<double>());
    o.metrics.push_back(h.at("valid").at("NDCG@10").template get<double>());
  }
  const auto n = std::size_t(m.parameters().total_size());
  o.weights = to_host<BE>(m.parameters().values_data(), n);
  model::recommender<BE, arch::llama> back(cfg, false);
  train::load_model_weights(dir, back.parameters());
  o.reloaded = to_host<BE>(back.parameters().values_data(), n);
  return o;
}
}  // namespace

TEMPLATE_TEST_CASE("train::fit on the GPU follows the CPU epoch by epoch and checkpoints the best weights",
                   "[cuda]", backend::cuda, backend::cuda_bf16) {
  using BE = TestType;
  const double tol = test::tolerance<BE>;
  const auto ds = synthetic_data(96, 60, 5);
  const auto split = data::leave_one_out(ds);
  const test::temp_dir tmp;
  const auto want = fit_run<cpu>(ds, split, tmp.path() / "cpu");
  const auto got = fit_run<BE>(ds, split, tmp.path() / "gpu");
  REQUIRE(got.losses.size() == want.losses.size());
  for (std::size_t e = 0; e < want.losses.size(); ++e) {
    INFO("epoch " << e + 1);
    CHECK(got.losses[e] == Approx(want.losses[e]).epsilon(10 * tol));  // three epochs of steps compound the rounding
    CHECK(got.metrics[e] == Approx(want.metrics[e]).margin(0.02));     // a rank swap moves NDCG of 11 users
  }
  CHECK(got.reloaded == got.weights);  // the checkpoint holds exactly the model's (best) weights
}

TEST_CASE("without a GPU, backend::cuda says so instead of crashing", "[no-device]") {
  if (backend::cuda_available()) {
    // With a device the allocation works; the parity tests cover the rest.
    backend::cuda_memory::device_buffer<float> b(16);
    CHECK(b.size() == 16);
    return;
  }
  CHECK_THROWS_WITH(backend::cuda_memory::device_buffer<float>(16), Catch::Contains("needs an NVIDIA GPU"));
  CHECK_THROWS_WITH((model::recommender<backend::cuda, arch::llama>(small_config("llama", "tied"))),
                    Catch::Contains("needs an NVIDIA GPU"));
}

}  // namespace slmrec
