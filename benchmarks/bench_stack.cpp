// Times one forward and one forward+backward of a preset's decoder stack (no
// item head, no loss), the foundation's speed figure. Presets come from
// ../shared/bench/presets.json so that they match the PyTorch reference.
//   bench_stack [--preset teacher] [--presets FILE] [--reps 10]
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/nn/llama_block.hpp>
#include <slmrec/nn/parameters.hpp>
#include <slmrec/nn/sasrec_block.hpp>
#include <slmrec/nn/stack.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

using be = slmrec::backend::eigen_cpu;
using slmrec::index;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class Block>
void run(const typename Block::config_type& cfg, index layers, index batch, index length, int reps) {
  slmrec::nn::stack<Block, slmrec::depth<slmrec::dynamic>> stack(cfg, layers);
  slmrec::nn::parameter_store<be> params;
  params.attach(stack, true, "model.layers");
  slmrec::rng gen(1);
  params.initialize(gen);
  const index rows = batch * length;
  std::vector<std::int32_t> positions(static_cast<std::size_t>(rows));
  for (index r = 0; r < rows; ++r) positions[std::size_t(r)] = std::int32_t(r % length);
  std::vector<float> x(std::size_t(rows * cfg.dim)), dy(x.size()), dx(x.size());
  for (float& v : x) v = float(gen.normal());
  for (float& v : dy) v = float(gen.normal()) * 1e-3f;
  const slmrec::nn::context ctx{batch, length, positions.data(), nullptr, false, 0};
  std::vector<double> fwd, fwd_bwd;
  for (int r = 0; r < reps + 1; ++r) {  // the first repetition warms up (allocations)
    auto t0 = std::chrono::steady_clock::now();
    stack.forward(x.data(), ctx);
    auto t1 = std::chrono::steady_clock::now();
    params.zero_grads();
    std::fill(dx.begin(), dx.end(), 0.0f);
    stack.backward(dy.data(), dx.data(), ctx);
    auto t2 = std::chrono::steady_clock::now();
    if (r == 0) continue;
    fwd.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    fwd_bwd.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
  }
  fmt::print("parameters {}  forward {:.2f} ms  forward+backward {:.2f} ms  (median of {})\n", params.count(),
             median(fwd), median(fwd_bwd), reps);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time a preset's decoder stack (forward, forward+backward)"};
  std::string preset = "teacher", presets_file = SLMREC_SHARED_DIR "/bench/presets.json";
  int reps = 10;
  app.add_option("--preset", preset, "preset name in the presets file");
  app.add_option("--presets", presets_file, "presets.json");
  app.add_option("--reps", reps, "timed repetitions")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    const auto all = nlohmann::json::parse(slmrec::io::read_file(presets_file));
    slmrec::require(all.contains(preset), "{}: no preset '{}'", presets_file, preset);
    const auto& p = all.at(preset);
    const slmrec::index d = p.at("d"), heads = p.at("heads"), ffn = p.at("ffn"), layers = p.at("layers");
    const slmrec::index seq = p.at("seq"), batch = p.at("batch");
    const char* coretype = std::getenv("OPENBLAS_CORETYPE");
    int threads = 1;
#if defined(_OPENMP)
    threads = omp_get_max_threads();
#endif
    fmt::print("preset {}: {} d={} heads={} ffn={} layers={} batch={} seq={}; threads {}; OPENBLAS_CORETYPE={}\n",
               preset, p.at("arch").get<std::string>(), d, heads, ffn, layers, batch, seq, threads,
               coretype ? coretype : "(unset)");
    if (p.at("arch") == "llama") {
      slmrec::nn::llama_block_config cfg;
      cfg.dim = d;
      cfg.heads = heads;
      cfg.kv_heads = p.at("kv_heads");
      cfg.ffn = ffn;
      cfg.max_positions = seq;
      run<slmrec::nn::llama_block<be>>(cfg, layers, batch, seq, reps);
    } else {
      slmrec::nn::sasrec_block_config cfg;
      cfg.dim = d;
      cfg.heads = heads;
      cfg.ffn = ffn;
      cfg.dropout = 0.0;
      run<slmrec::nn::sasrec_block<be>>(cfg, layers, batch, seq, reps);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_stack: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
