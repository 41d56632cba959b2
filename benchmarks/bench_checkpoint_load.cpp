// What checking a checkpoint's per-tensor XXH3-64 checksums costs at load:
// a whole inference load (config, weights, model build, as `slmrec eval` and
// `recommend` do it) with verification on and off, interleaved so that a busy
// machine slows both alike, as the fastest and the median wall time and the
// median CPU time of the process (less sensitive to other programs); the same
// for the weights file alone (read, parse, checksums); and XXH3's own speed
// over the file. docs/reliability.md has the numbers:
//   bench_checkpoint_load --checkpoint runs/teacher --reps 21
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/io/safetensors.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>

#include "timing.hpp"

int main(int argc, char** argv) {
  CLI::App app{"checkpoint load time with and without checksum verification"};
  std::string checkpoint;
  int reps = 21;
  app.add_option("--checkpoint", checkpoint, "checkpoint directory")->required();
  app.add_option("--reps", reps, "timed loads of each kind")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  namespace io = slmrec::io;
  const std::filesystem::path dir = checkpoint;
  const auto weights = dir / "model.safetensors";
  const auto file = io::safetensors_file::open(weights, false);
  if (!file.has_checksums()) fmt::print(stderr, "{} records no checksums: both timings verify nothing\n", weights.string());

  std::size_t sink = 0;
  const auto full_load = [&](bool verify) {
    io::verify_checksums = verify;
    slmrec::model::with_any_checkpoint<slmrec::backend::eigen_cpu>(dir, [&](auto& m) { sink += m.config().dim; });
  };
  const auto file_load = [&](bool verify) { sink += io::safetensors_file::open(weights, verify).tensors().size(); };
  struct sample {
    std::vector<double> wall, cpu;
  };
  const auto cpu_ms = [] {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return 1e3 * double(t.tv_sec) + 1e-6 * double(t.tv_nsec);
  };
  const auto measure = [&](sample& s, auto&& f) {
    const double c0 = cpu_ms();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    s.wall.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    s.cpu.push_back(cpu_ms() - c0);
  };
  full_load(true);  // warm the page cache and the allocator
  sample full_on, full_off, file_on, file_off;
  for (int r = 0; r < reps; ++r) {
    measure(full_on, [&] { full_load(true); });
    measure(full_off, [&] { full_load(false); });
    measure(file_on, [&] { file_load(true); });
    measure(file_off, [&] { file_load(false); });
  }
  using slmrec::bench::median;
  const auto min = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  const auto row = [&](const char* what, const sample& on, const sample& off) {
    fmt::print("{}: verified / unverified: fastest {:.2f} / {:.2f} ms (+{:.1f}%), median {:.2f} / {:.2f} ms, "
               "median CPU {:.2f} / {:.2f} ms (+{:.1f}%)\n",
               what, min(on.wall), min(off.wall), 100.0 * (min(on.wall) / min(off.wall) - 1.0), median(on.wall),
               median(off.wall), median(on.cpu), median(off.cpu), 100.0 * (median(on.cpu) / median(off.cpu) - 1.0));
  };
  const std::string bytes = io::read_file(weights);
  const auto hash = slmrec::bench::time_calls([&] { sink += slmrec::xxh3_64(bytes.data(), bytes.size()) & 1; }, 2,
                                               reps);
  fmt::print("{}: {:.1f} MB, {} tensors; XXH3-64 over it: {:.2f} ms ({:.1f} GB/s)\n", weights.string(),
             double(bytes.size()) / 1e6, file.tensors().size(), hash.min, double(bytes.size()) / hash.min / 1e6);
  row("whole load (with_any_checkpoint)", full_on, full_off);
  row("weights file alone (read, parse)", file_on, file_off);
  return sink == 0 ? 1 : 0;
}
