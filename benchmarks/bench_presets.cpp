// Times a preset of ../shared/bench/presets.json with this library, with the
// workload definitions of ../shared/bench/torch_reference.py:
//   train    forward, next-item cross-entropy over all items (at every
//            position or the last, as the preset says), backward, AdamW step;
//            with --loss sampled the sampled softmax against --negatives
//            candidates drawn for the batch, row-sparse item gradients and
//            the lazy AdamW (the catalog-scale path of `slmrec train`)
//   infer    forward, scores of the last position against all items, top-10
//   latency  one user (the preset's sequence length): recommend() top-10
//   peak     a large square float32 matrix product with this library's GEMM
// One JSON line per measurement, the same fields as the PyTorch script plus
// `flops` (the model FLOPs of one call, formula below) and `gflops_per_s`.
//   bench_presets --preset teacher --what train,infer,latency --reps 10
//   bench_presets --preset llama7b-8 --device cuda-bf16     (a build with slmrec::cuda)
//   bench_presets --preset student --items 1000000 --loss sampled --negatives 8192
// Each record also gives the process's peak resident memory so far.
// On the GPU every timed call ends with a device synchronisation, so the
// times are those of finished work, as torch.cuda.synchronize() in the peer.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <slmrec/backend/select.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/serving.hpp>
#include <slmrec/train/adamw.hpp>
#include <slmrec/train/candidate_sampler.hpp>
#include <slmrec/version.hpp>

#include "timing.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif
#include <sys/resource.h>

namespace {

using slmrec::index;

using slmrec::bench::time_calls;
using slmrec::bench::timing;

struct preset {
  std::string name, arch, loss_positions;
  index d, heads, kv_heads, ffn, layers, seq, items, batch;
};

// Model FLOPs, counted the usual way: 2 per multiply-add of every matrix
// product the job needs, 3x the forward for forward + backward (the backward
// has two products per forward one). Per layer and token: the four attention
// projections and the feed-forward products; per sequence and layer: Q K^T
// and P V over the full T x T (no causal discount); the head: a dot product
// with every item at each scored position. Inference needs the last position
// only, so its last layer counts the key/value projections for every token
// and the rest for one token per sequence (what the library computes; a
// framework computing every position does more work, not more useful work).
// Norms, softmax, activations and the optimizer are not counted.
// With the sampled softmax the head scores `columns` candidates (and the
// target) instead of every item.
double model_flops(const preset& p, bool train, index columns = 0) {
  const double d = double(p.d), hd = d / double(p.heads), kv = double(p.kv_heads) * hd, f = double(p.ffn);
  const double t = double(p.seq), b = double(p.batch), v = double(columns > 0 ? columns + 1 : p.items + 1);
  const double kv_proj = p.arch == "llama" ? 2 * d * kv : 2 * d * d;
  const double other_proj = p.arch == "llama" ? 2 * d * d + 3 * d * f : 2 * d * d + 2 * d * f;
  const double layer = 2 * b * t * (kv_proj + other_proj) + 4 * b * t * t * d;
  if (train) {
    const double scored = p.loss_positions == "all" ? b * t : b;
    return 3 * (double(p.layers) * layer + 2 * scored * d * v);
  }
  const double last_layer = 2 * b * t * kv_proj + 2 * b * other_proj + 4 * b * t * d;
  return double(p.layers - 1) * layer + last_layer + 2 * b * d * v;
}

slmrec::model::recommender_config config_of(const preset& p) {
  slmrec::model::recommender_config c;
  c.arch = p.arch;
  c.num_items = p.items;
  c.dim = p.d;
  c.heads = p.heads;
  c.kv_heads = p.kv_heads;
  c.ffn = p.ffn;
  c.layers = p.layers;
  c.max_len = p.seq;
  c.dropout = 0.0;  // timing workloads use dropout 0
  c.head = p.arch == "llama" ? "classifier" : "tied";  // as torch_reference.py
  return c;
}

struct options {
  std::string what = "train,infer,latency", device = "cpu", loss = "ce", sampler = "uniform";
  int reps = 10, warmup = 3;
  index negatives = 8192;
};

double peak_rss_mb() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // Linux reports KiB
}

nlohmann::json base_record(const preset& p, index params, const options& o) {
  int threads = 1;
#if defined(_OPENMP)
  threads = omp_get_max_threads();
#endif
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  const char* simd_cap = std::getenv("SLMREC_SIMD");  // caps the CPU kernels chosen at run time
  return {{"impl", "slmrec"},         {"version", slmrec::version},
          {"preset", p.name},         {"device", o.device == "cpu" ? "cpu" : "cuda"},
          {"dtype", o.device == "cuda-bf16" ? "bf16" : "fp32"},   {"batch", p.batch},
          {"layers", p.layers},       {"threads", threads},       {"items", p.items},
          {"params", params},         {"openblas_coretype", coretype ? coretype : ""},
          {"slmrec_simd", simd_cap ? simd_cap : ""}};
}

void emit(nlohmann::json rec, const std::string& what, const timing& t, double flops, index batch) {
  rec["what"] = what;
  rec["ms_median"] = t.median;
  rec["ms_min"] = t.min;
  rec["ms_max"] = t.max;
  rec["seqs_per_s"] = double(batch) / t.median * 1e3;
  rec["peak_rss_mb"] = peak_rss_mb();
  if (flops > 0) {
    rec["flops"] = flops;
    rec["gflops_per_s"] = flops / t.median * 1e-6;
  }
  fmt::print("{}\n", rec.dump());
  std::fflush(stdout);
}

template <class Model>
void run(Model& m, const preset& p, const options& o) {
  using be = typename Model::backend_type;
  slmrec::rng gen(0);
  const index b = p.batch, t = p.seq;
  std::vector<std::int32_t> seq(std::size_t(b * (t + 1)));
  for (auto& id : seq) id = std::int32_t(1 + gen.below(std::uint64_t(p.items)));
  std::vector<std::int32_t> items(std::size_t(b * t)), targets(std::size_t(b * t), 0);
  for (index r = 0; r < b; ++r)
    for (index c = 0; c < t; ++c) {
      items[std::size_t(r * t + c)] = seq[std::size_t(r * (t + 1) + c)];
      const bool scored = p.loss_positions == "all" || c == t - 1;
      if (scored) targets[std::size_t(r * t + c)] = seq[std::size_t(r * (t + 1) + c + 1)];
    }
  auto rec = base_record(p, m.parameters().count(), o);
#if defined(SLMREC_HAVE_CUDA)
  if constexpr (!be::is_host) rec["gpu"] = slmrec::backend::cuda_runtime::device_description();
#endif
  const auto wanted = [&](const char* w) { return ("," + o.what + ",").find(std::string(",") + w + ",") != std::string::npos; };

  if (wanted("train") && o.loss == "ce") {
    slmrec::train::adamw<be> opt(m.parameters(), {});
    const auto step = [&] {
      m.parameters().zero_grads();
      m.encode(items, b, t, true, 0);
      m.train_cross_entropy(targets);
      opt.step();
      be::synchronize();
    };
    emit(rec, "train", time_calls(step, o.warmup, o.reps), model_flops(p, true), b);
  }
  if (wanted("train") && o.loss == "sampled") {
    if constexpr (slmrec::backend::sampled_softmax_ops<be>) {
      // Every item seen once, so the popularity and mixed samplers have counts to draw from.
      const std::vector<std::int64_t> counts(std::size_t(p.items + 1), 1);
      const slmrec::train::candidate_sampler sampler(
          std::int32_t(p.items), counts,
          {.negatives = o.negatives, .sampler = slmrec::train::parse_proposal(o.sampler), .in_batch = false});
      m.enable_sparse_item_gradients();
      slmrec::train::adamw<be> opt(m.parameters(), {});
      slmrec::train::candidate_set set;
      std::uint64_t batch_seed = 0;
      const auto step = [&] {
        m.parameters().zero_grads();
        m.encode(items, b, t, true, 0);
        sampler.draw(targets, ++batch_seed, set);
        m.train_sampled_softmax(targets, set.items, set.offsets);
        opt.step();
        be::synchronize();
      };
      const auto timed = time_calls(step, o.warmup, o.reps);
      auto r = rec;
      r["loss"] = "sampled";
      r["negatives"] = o.negatives;
      r["sampler"] = o.sampler;
      r["candidates"] = set.items.size();
      emit(r, "train", timed, model_flops(p, true, index(set.items.size())), b);
    } else {
      slmrec::fail("--loss sampled does not run on the {} backend", be::name);
    }
  }
  if (wanted("infer")) {
    slmrec::model::server<Model> serve(m);
    std::vector<std::int32_t> top(std::size_t(b * 10));
    const auto step = [&] {
      serve.recommend(items, b, t, 10, false, top);
      be::synchronize();
    };
    emit(rec, "infer", time_calls(step, o.warmup, o.reps), model_flops(p, false), b);
  }
  if (wanted("latency")) {
    slmrec::model::server<Model> serve(m);
    const std::span<const std::int32_t> history(items.data(), std::size_t(t));
    std::vector<std::int32_t> top(10);
    const auto one = [&] {
      serve.recommend(history, 10, true, top);
      be::synchronize();
    };
    preset single = p;
    single.batch = 1;
    emit(rec, "latency", time_calls(one, o.warmup * 10, o.reps * 20), model_flops(single, false), 1);
  }
}

// A square float32 product of size n with this library's GEMM: the peak our
// own matrix products reach on this machine (the driver script also measures
// the BLAS's).
template <class be>
void run_peak(index n, const options& o) {
  std::vector<float> ha(static_cast<std::size_t>(n * n)), hb(ha.size());
  slmrec::rng gen(1);
  for (auto& v : ha) v = float(gen.normal());
  for (auto& v : hb) v = float(gen.normal());
  typename be::template buffer<float> a(ha.size()), b(ha.size()), c(ha.size());
  be::upload(ha.data(), a.data(), index(ha.size()));
  be::upload(hb.data(), b.data(), index(hb.size()));
  const auto product = [&] {
    be::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    be::synchronize();
  };
  const auto t = time_calls(product, 1, std::max(3, o.reps / 2));
  preset p{"peak", "gemm", "", n, 1, 1, 0, 0, 0, 0, 1};
  auto rec = base_record(p, 0, o);
  rec.erase("layers");
  rec["n"] = n;
  emit(rec, "peak", t, 2.0 * double(n) * double(n) * double(n), 1);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time a preset's training step, inference batch and one-user latency with slmrec"};
  std::string name = "teacher", presets_file = SLMREC_SHARED_DIR "/bench/presets.json";
  options o;
  int threads = 0, layers = 0, batch = 0;
  slmrec::index items = 0;
  slmrec::index peak_n = 2048;
  app.add_option("--preset", name, "preset name in the presets file");
  app.add_option("--presets", presets_file, "presets.json");
  app.add_option("--what", o.what, "comma-separated: train, infer, latency, peak");
  app.add_option("--reps", o.reps, "timed repetitions")->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "untimed repetitions first")->check(CLI::NonNegativeNumber);
  app.add_option("--threads", threads, "OpenMP threads (0 = OMP_NUM_THREADS or all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--layers", layers, "override the preset's depth")->check(CLI::NonNegativeNumber);
  app.add_option("--batch", batch, "override the preset's batch")->check(CLI::NonNegativeNumber);
  app.add_option("--items", items, "override the preset's catalog size")->check(CLI::Range(slmrec::index(1), slmrec::index(1) << 30));
  app.add_option("--loss", o.loss, "training loss: ce (over every item) | sampled (sampled softmax)")
      ->check(CLI::IsMember({"ce", "sampled"}));
  app.add_option("--negatives", o.negatives, "--loss sampled: candidates drawn per batch")->check(CLI::PositiveNumber);
  app.add_option("--sampler", o.sampler, "--loss sampled: uniform | popularity | mixed")
      ->check(CLI::IsMember({"uniform", "popularity", "mixed"}));
  app.add_option("--peak-n", peak_n, "size of the square product for --what peak")->check(CLI::PositiveNumber);
  app.add_option("--device", o.device, slmrec::backend::device_names);
  CLI11_PARSE(app, argc, argv);
  try {
#if defined(_OPENMP)
    if (threads > 0) omp_set_num_threads(threads);
#endif
    const auto peak = [&] {
      slmrec::backend::with_device(o.device, [&](auto device) { run_peak<typename decltype(device)::type>(peak_n, o); });
    };
    if (o.what == "peak") {
      peak();
      return 0;
    }
    const auto all = nlohmann::json::parse(slmrec::io::read_file(presets_file));
    slmrec::require(all.contains(name), "{}: no preset '{}'", presets_file, name);
    const auto& j = all.at(name);
    preset p{name, j.at("arch"), j.at("loss_positions"), j.at("d"), j.at("heads"), j.at("kv_heads"), j.at("ffn"),
             j.at("layers"), j.at("seq"), j.at("items"), j.at("batch")};
    if (layers > 0) p.layers = layers;
    if (batch > 0) p.batch = batch;
    if (items > 0) p.items = items;
    slmrec::backend::with_device(o.device, [&](auto device) {
      slmrec::model::with_recommender<typename decltype(device)::type>(config_of(p), true, [&](auto& m) {
        m.initialize(0);
        run(m, p, o);
      });
    });
    if (o.what.find("peak") != std::string::npos) peak();
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_presets: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
