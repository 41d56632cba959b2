// Quantized inference side by side: one float model (a checkpoint, or a
// random one of a preset's shape) and its int8, int4, bf16 and fp16 versions
// made in this process, timed in alternating rounds on the same histories:
//   batch    recommend() top-10 for a batch of users (the throughput path)
//   latency  one user's top-10 (the latency path)
// Prints a markdown table (medians over rounds of per-round medians; speed-ups
// against fp32 in the same run) and one JSON line per measurement.
//   bench_quant_model --checkpoint runs/student --data Beauty.txt --rounds 5
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/data/read_dataset.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/quantize.hpp>
#include <slmrec/model/serving.hpp>

#include "timing.hpp"

namespace {

using be = slmrec::backend::eigen_cpu;
using slmrec::index;

double median_ms(const std::function<void()>& f, int warmup, int reps) {
  return slmrec::bench::time_calls(f, warmup, reps).median;
}
using slmrec::bench::median;

struct options {
  std::string checkpoint, pruned, data, preset = "student", presets_file = SLMREC_SHARED_DIR "/bench/presets.json";
  index batch = 128;
  std::string schemes = "fp32,int8,int4,bf16,fp16";
  int rounds = 5, reps = 10;
};

// One scheme's timed calls, type-erased so that the rounds can alternate.
struct contender {
  std::string name;
  std::size_t bytes = 0;
  std::function<void()> batch, one;
  std::vector<double> batch_ms, one_ms;
};

template <class Model>
contender make_contender(const std::string& name, Model& m, const std::vector<std::int32_t>& items, index b, index t) {
  auto serve = std::make_shared<slmrec::model::server<Model>>(m);
  auto top = std::make_shared<std::vector<std::int32_t>>(std::size_t(b * 10));
  contender c;
  c.name = name;
  c.bytes = slmrec::model::weight_bytes(m);
  c.batch = [serve, top, &items, b, t] { serve->recommend(items, b, t, 10, true, *top); };
  c.one = [serve, top, &items, t] {
    serve->recommend(std::span<const std::int32_t>(items.data(), std::size_t(t)), 10, true,
                     std::span<std::int32_t>(top->data(), 10));
  };
  return c;
}

template <class Model>
void run(Model& fp, Model* pruned, const std::vector<std::int32_t>& items, index b, index t, const options& o) {
  auto int8 = slmrec::model::quantize<slmrec::quant::int8_per_channel>(fp);
  auto int4 = slmrec::model::quantize<slmrec::quant::int4_block<32>>(fp);
  auto bf16 = slmrec::model::quantize<slmrec::quant::bf16>(fp);
  auto fp16 = slmrec::model::quantize<slmrec::quant::fp16>(fp);
  std::vector<contender> all;
  all.push_back(make_contender("fp32", fp, items, b, t));
  all.push_back(make_contender("int8", *int8, items, b, t));
  all.push_back(make_contender("int4", *int4, items, b, t));
  all.push_back(make_contender("bf16", *bf16, items, b, t));
  all.push_back(make_contender("fp16", *fp16, items, b, t));
  decltype(int8) pruned_int8;
  if (pruned != nullptr) {
    pruned_int8 = slmrec::model::quantize<slmrec::quant::int8_per_channel>(*pruned);
    all.push_back(make_contender("pruned fp32", *pruned, items, b, t));
    all.push_back(make_contender("pruned int8", *pruned_int8, items, b, t));
  }
  std::erase_if(all, [&](const contender& c) {
    const auto base = c.name.substr(c.name.find(' ') + 1);  // "pruned int8" runs with int8
    return c.name != "fp32" && ("," + o.schemes + ",").find("," + base + ",") == std::string::npos;
  });
  for (int r = 0; r < o.rounds; ++r)
    for (auto& c : all) {
      c.batch_ms.push_back(median_ms(c.batch, 2, o.reps));
      c.one_ms.push_back(median_ms(c.one, 20, o.reps * 20));
    }
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  const auto& cfg = fp.config();
  fmt::print("# {} layers, d {}, {} items; batch {} x {} positions; {} rounds; OPENBLAS_CORETYPE={}\n", cfg.layers,
             cfg.dim, cfg.num_items, b, t, o.rounds, coretype ? coretype : "(unset)");
  fmt::print("| scheme | weights MB | smaller | batch {} ms | speed-up | one user ms | speed-up |\n", b);
  fmt::print("|---|---|---|---|---|---|---|\n");
  const double base_bytes = double(all[0].bytes), base_batch = median(all[0].batch_ms), base_one = median(all[0].one_ms);
  for (const auto& c : all) {
    const double bm = median(c.batch_ms), om = median(c.one_ms);
    fmt::print("| {} | {:.3f} | {:.2f}x | {:.2f} | {:.2f}x | {:.3f} | {:.2f}x |\n", c.name, double(c.bytes) / 1e6,
               base_bytes / double(c.bytes), bm, base_batch / bm, om, base_one / om);
  }
  for (const auto& c : all)
    fmt::print("{}\n", nlohmann::json{{"scheme", c.name}, {"bytes", c.bytes}, {"batch", b}, {"batch_ms", c.batch_ms},
                                      {"one_user_ms", c.one_ms}}
                           .dump());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time quantized inference against the float model, side by side"};
  options o;
  app.add_option("--checkpoint", o.checkpoint, "a float checkpoint (default: a random model of --preset's shape)");
  app.add_option("--pruned", o.pruned, "also time this float checkpoint (e.g. a pruned version of --checkpoint), and its int8");
  app.add_option("--data", o.data, "histories from this dataset (default: random ids)");
  app.add_option("--preset", o.preset, "preset name (without --checkpoint)")->capture_default_str();
  app.add_option("--presets", o.presets_file, "presets file")->capture_default_str();
  app.add_option("--schemes", o.schemes, "which quantized versions to time besides fp32")->capture_default_str();
  app.add_option("--batch", o.batch, "users per batch")->capture_default_str();
  app.add_option("--rounds", o.rounds, "alternating rounds")->capture_default_str();
  app.add_option("--reps", o.reps, "timed calls per round (x20 for one user)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    slmrec::model::recommender_config cfg;
    if (!o.checkpoint.empty()) {
      cfg = slmrec::model::checkpoint_model_config(o.checkpoint);
    } else {
      const auto all = nlohmann::json::parse(slmrec::io::read_file(o.presets_file));
      slmrec::require(all.contains(o.preset), "{}: no preset '{}'", o.presets_file, o.preset);
      const auto& p = all.at(o.preset);
      cfg.arch = p.at("arch").get<std::string>();
      cfg.num_items = p.at("items").get<slmrec::index>();
      cfg.dim = p.at("d").get<slmrec::index>();
      cfg.heads = p.at("heads").get<slmrec::index>();
      cfg.kv_heads = p.value("kv_heads", slmrec::index(0));
      cfg.ffn = p.value("ffn", slmrec::index(0));
      cfg.layers = p.at("layers").get<slmrec::index>();
      cfg.max_len = p.at("seq").get<slmrec::index>();
      cfg.dropout = 0.0;
      cfg.head = cfg.arch == "llama" ? "classifier" : "tied";  // as torch_reference.py
    }
    const slmrec::index b = o.batch, t = cfg.max_len;
    std::vector<std::int32_t> items(std::size_t(b * t), 0);
    if (!o.data.empty()) {
      // The last t items of the first b users with the longest histories first.
      const auto ds = slmrec::data::read_dataset(o.data);
      slmrec::index r = 0;
      for (const auto& seq : ds.sequences) {
        if (r == b) break;
        const auto n = std::min<std::size_t>(seq.size(), std::size_t(t));
        std::copy(seq.end() - std::ptrdiff_t(n), seq.end(), items.begin() + std::ptrdiff_t(r * t + t) - std::ptrdiff_t(n));
        ++r;
      }
    } else {
      slmrec::rng gen(0);
      for (auto& id : items) id = std::int32_t(1 + gen.below(std::uint64_t(cfg.num_items)));
    }
    slmrec::model::with_recommender<be>(cfg, false, [&](auto& m) {
      if (!o.checkpoint.empty()) slmrec::nn::load_model_weights(o.checkpoint, m.parameters());
      else m.initialize(0);
      using model_t = std::remove_cvref_t<decltype(m)>;
      std::unique_ptr<model_t> pruned;
      if (!o.pruned.empty()) {
        pruned = std::make_unique<model_t>(slmrec::model::checkpoint_model_config(o.pruned), false);
        slmrec::nn::load_model_weights(o.pruned, pruned->parameters());
      }
      run(m, pruned.get(), items, b, t, o);
    });
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_quant_model: {}\n", e.what());
    return 1;
  }
  return 0;
}
