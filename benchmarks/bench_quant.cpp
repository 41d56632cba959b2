// Times y = x W^T with quantized weights (int8, int4, bf16) against the
// float product the library uses (Eigen), at the item-scoring shape (all
// 12102 Beauty items against a batch of final states, or one state) and at
// layer shapes. Prints the median of --reps repetitions per kernel, in
// microseconds, and the speed-up over float.
// --peaks also prints one core's float32 FMA and int8 VNNI multiply-add
// throughput, the ceiling of either product on this CPU.
//   bench_quant [--reps 15] [--threads 1] [--peaks]
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <random>
#include <tuple>
#include <vector>

#include <slmrec/backend/cpu/blas.hpp>
#include <slmrec/quant/half_matrix.hpp>
#include <slmrec/quant/int4_matrix.hpp>
#include <slmrec/quant/int8_matrix.hpp>

#include "instruction_peaks.hpp"
#include "timing.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

using slmrec::index;
namespace quant = slmrec::quant;

// Median microseconds of reps calls after one warm-up call (scratch buffers, caches).
template <class F>
double median_us(int reps, F&& f) {
  return slmrec::bench::time_calls(f, 1, reps).median * 1e3;
}

void run(index m, index rows, index cols, int reps) {
  std::mt19937 gen(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(std::size_t(m * cols)), w(std::size_t(rows * cols)), y(std::size_t(m * rows));
  for (float& v : x) v = normal(gen);
  for (float& v : w) v = 0.05f * normal(gen);
  const auto w8 = quant::int8_matrix::quantize(w.data(), rows, cols);
  const auto w4 = quant::int4_matrix<32>::quantize(w.data(), rows, cols);
  const auto wb = quant::half_matrix<quant::bf16>::quantize(w.data(), rows, cols);
  quant::int8_rows scratch;

  const double f32 = median_us(reps, [&] {
    slmrec::backend::cpu::blas_kernels<float>::gemm(false, true, m, rows, cols, 1.0f, x.data(), cols, w.data(), cols,
                                                    0.0f, y.data(), rows);
  });
  fmt::print("m={:<4} rows={:<6} cols={:<4} float {:8.1f} us", m, rows, cols, f32);
  const auto report = [&](const char* name, double us) {
    fmt::print(" | {} {:8.1f} us ({:4.2f}x)", name, us, f32 / us);
  };
  for (quant::kernel k : {quant::kernel::avx512_vnni, quant::kernel::avx2}) {
    if (!quant::kernel_supported(k)) continue;
    report(k == quant::kernel::avx2 ? "int8/avx2" : "int8/vnni",
           median_us(reps, [&] { quant::gemm_nt(x.data(), m, w8, nullptr, y.data(), scratch, k); }));
    report(k == quant::kernel::avx2 ? "int4/avx2" : "int4/vnni",
           median_us(reps, [&] { quant::gemm_nt(x.data(), m, w4, nullptr, y.data(), scratch, k); }));
  }
  report("bf16", median_us(reps, [&] { quant::gemm_nt(x.data(), m, wb, nullptr, y.data()); }));
  fmt::print("\n");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time quantized y = x W^T against the float product"};
  int reps = 15, threads = 1;
  bool peaks = false;
  app.add_option("--reps", reps, "timed repetitions per kernel")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "OpenMP threads (0: the OpenMP default)")->check(CLI::NonNegativeNumber);
  app.add_flag("--peaks", peaks, "also measure one core's float32 FMA and int8 VNNI multiply-add throughput");
  CLI11_PARSE(app, argc, argv);
  try {
#if defined(_OPENMP)
    if (threads > 0) omp_set_num_threads(threads);
    threads = omp_get_max_threads();
#else
    threads = 1;
#endif
    fmt::print("threads {}; default quantized kernel {}\n", threads, quant::kernel_name(quant::best_kernel()));
    if (peaks) {
      const auto p = slmrec::bench::measure_mac_peaks();
      if (p.float32_gmacs > 0)
        fmt::print(
            "one core: float32 vfmadd231ps zmm {:.1f} GMAC/s, int8 vpdpbusd zmm {:.1f} GMAC/s: int8 / float32 = "
            "{:.2f}x at most\n",
            p.float32_gmacs, p.int8_gmacs, p.int8_gmacs / p.float32_gmacs);
      else
        fmt::print("one core: no AVX-512 VNNI here, peaks not measured\n");
    }
    for (auto [m, rows, cols] : {std::tuple<slmrec::index, slmrec::index, slmrec::index>{128, 12102, 64},
                                 {128, 12102, 128},
                                 {1, 12102, 64},
                                 {1, 12102, 128},
                                 {128, 256, 64},
                                 {128, 512, 128},
                                 {128, 512, 512},
                                 {32, 256, 256},
                                 {1, 256, 64},
                                 {1, 512, 512},
                                 {6400, 64, 64},
                                 {6400, 176, 64},
                                 {6400, 64, 176}}) {
      run(m, rows, cols, reps);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_quant: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
