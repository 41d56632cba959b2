// Serving at catalog scale (issue 22): the student shape (llama, d 128, 2
// layers, classifier head as bench_presets builds it) with random weights and
// --items items, float32 and int8. Beside each serving time it times a plain
// read of the same bytes (the head's item rows, a vectorised sum on as many
// threads), the floor that one user's exact top-k cannot beat.
//
//   bench_serving_scale --items 1000000 --reps 7
//
// Prints medians (ms) of: the table read; one user's top-10 (the history
// excluded) and its parts on the dense path (encode, whole-row scores,
// exclusion and top-k); a batch of --batch users' top-10 and the peak
// resident memory while it runs.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/model/arch.hpp>
#include <slmrec/model/quantize.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/model/serving.hpp>

#include "timing.hpp"

namespace {

using slmrec::index;
using slmrec::bench::time_calls;

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// Peak resident memory since the last reset (VmHWM), in MiB; writing 5 to
// clear_refs resets it to the current size.
void reset_peak() {
  std::ofstream("/proc/self/clear_refs") << "5";
}
double peak_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// A sum of every 4-byte word of [p, p + bytes): each byte read once, in
// parallel as the streamed top-k is. The result is printed so it cannot be dropped.
float read_sum(const void* p, std::size_t bytes) {
  const auto* f = static_cast<const float*>(p);
  const long n = long(bytes / 4);
  float total = 0;
  SLMREC_OMP(parallel reduction(+ : total)) {
#if defined(__AVX512F__)
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(), acc2 = _mm512_setzero_ps(),
           acc3 = _mm512_setzero_ps();
    SLMREC_OMP(for schedule(static))
    for (long i = 0; i < n / 64; ++i) {
      acc0 = _mm512_add_ps(acc0, _mm512_loadu_ps(f + i * 64));
      acc1 = _mm512_add_ps(acc1, _mm512_loadu_ps(f + i * 64 + 16));
      acc2 = _mm512_add_ps(acc2, _mm512_loadu_ps(f + i * 64 + 32));
      acc3 = _mm512_add_ps(acc3, _mm512_loadu_ps(f + i * 64 + 48));
    }
    alignas(64) float lanes[16];  // not _mm512_reduce_add_ps: GCC 12's expansion trips -Wuninitialized
    _mm512_store_ps(lanes, _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
    for (const float x : lanes) total += x;
#else
    SLMREC_OMP(for schedule(static))
    for (long i = 0; i < n; ++i) total += f[i];
#endif
  }
  return total;
}

struct options {
  index items = 100000, batch = 128, seq = 50;
  int reps = 7, warmup = 2;
};

template <class Model>
void run(const char* name, Model& m, const void* table, std::size_t table_bytes, const options& o) {
  slmrec::rng gen(1);
  std::vector<std::int32_t> items(std::size_t(o.batch * o.seq));
  for (auto& id : items) id = std::int32_t(1 + gen.below(std::uint64_t(o.items)));
  const std::span<const std::int32_t> history(items.data(), std::size_t(o.seq));
  float sink = 0;
  const auto print = [&](const char* what, const slmrec::bench::timing& t, const std::string& extra = "") {
    fmt::print("{:6} {:34} median {:9.3f} ms  (min {:9.3f}, max {:9.3f}){}\n", name, what, t.median, t.min, t.max,
               extra);
    std::fflush(stdout);
  };
  const auto read = time_calls([&] { sink += read_sum(table, table_bytes); }, o.warmup, o.reps);
  print("read the item rows once", read,
        fmt::format("  {:.0f} MB, {:.1f} GB/s", double(table_bytes) / 1e6, double(table_bytes) / read.median * 1e-6));
  slmrec::model::server serve(m);
  std::vector<std::int32_t> top(10);
  const auto one = time_calls([&] { serve.recommend(history, 10, true, top); }, o.warmup, o.reps);
  print("one user top-10 (streamed)", one, fmt::format("  {:.2f}x the read", one.median / read.median));

  // The dense path's parts, as the server ran them before: encode, scores of every item into a row, exclusion, top-k.
  const index v = m.config().num_items + 1;
  std::vector<float> hidden(static_cast<std::size_t>(m.config().dim)), row(static_cast<std::size_t>(v));
  print("  dense: encode (last hidden)",
        time_calls([&] { m.last_hidden(history, 1, o.seq, hidden); }, o.warmup, o.reps));
  print("  dense: encode + whole-row scores",
        time_calls([&] { m.score_last(history, 1, o.seq, row); }, o.warmup, o.reps));
  print("  dense: exclusion + top_k on the row", time_calls(
                                                     [&] {
                                                       slmrec::model::exclude_items(row, 0, history);
                                                       slmrec::model::top_k(row, 10, top);
                                                     },
                                                     o.warmup, o.reps));

  std::vector<std::int32_t> tops(std::size_t(o.batch * 10));
  serve.recommend(items, o.batch, o.seq, 10, true, tops);  // replicas and buffers made outside the peak
  reset_peak();
  const auto batch = time_calls([&] { serve.recommend(items, o.batch, o.seq, 10, true, tops); }, 0, o.reps);
  print(fmt::format("batch of {} users top-10", o.batch).c_str(), batch,
        fmt::format("  peak RSS {:.0f} MiB", peak_mib()));
  if (sink == 12345.f) fmt::print("\n");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time one user's and a batch's exact top-10 over a large catalog beside a read of the item table"};
  options o;
  app.add_option("--items", o.items, "catalog size (12101, 100000, 1000000)")->check(CLI::PositiveNumber);
  app.add_option("--batch", o.batch, "users in the batch")->check(CLI::PositiveNumber);
  app.add_option("--reps", o.reps, "timed repetitions (medians)")->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "untimed repetitions first")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  const char* omp = std::getenv("OMP_NUM_THREADS");
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  int threads = 1;
#if defined(_OPENMP)
  threads = omp_get_max_threads();
#endif
  fmt::print("cpu: {}\nOMP_NUM_THREADS={} ({} threads)  OPENBLAS_CORETYPE={}\n", cpu_model(), omp ? omp : "unset",
             threads, coretype ? coretype : "unset");
  try {
    slmrec::model::recommender_config c;
    c.arch = "llama";
    c.num_items = o.items;
    c.dim = 128;
    c.heads = 4;
    c.kv_heads = 4;
    c.ffn = 344;
    c.layers = 2;
    c.max_len = o.seq;
    c.dropout = 0.0;
    c.head = "classifier";  // as bench_presets (and torch_reference.py) build the llama presets
    fmt::print("student shape: llama, d 128, 2 layers, classifier head, {} items\n", o.items);
    using fp_model = slmrec::model::recommender<slmrec::backend::eigen_cpu, slmrec::arch::llama, slmrec::depth<2>>;
    auto fp = std::make_unique<fp_model>(c, false);
    fp->initialize(0);
    const auto& w = fp->scoring_weights();  // the classifier's
    run("fp32", *fp, w.value, std::size_t(c.num_items + 1) * std::size_t(c.dim) * sizeof(float), o);
    auto q = slmrec::model::quantize<slmrec::quant::int8_per_channel>(*fp);
    fp.reset();
    const auto& wq = q->scoring_weights();
    run("int8", *q, wq.packed(), std::size_t(wq.padded_rows()) * std::size_t(wq.padded_cols()), o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_serving_scale: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
