// Data-parallel training over MPI (issue 25): throughput of N ranks against
// one, the time each step spends in communication and the bytes it moves.
// Run it under mpirun with 1 and with N ranks and compare the JSON lines:
//
//   mpirun -np 1 bench_dist --preset student --steps 30            (synthetic full-length rows)
//   mpirun -np 2 bench_dist --preset student --steps 30
//   mpirun -np 2 bench_dist --data ../shared/data/s3rec_beauty/Beauty.txt   (one training epoch)
//   mpirun -np 2 bench_dist --preset student --items 1000000 --loss sampled --negatives 1024
//
// A step is the trainer's: zero the gradients, this rank's share of the
// global batch forward and backward, the gradient exchange, clipping, AdamW.
// "comm" is the wall time inside the exchange (and the two tiny sums of loss
// units and loss), which includes waiting for the slowest rank; "bytes" is
// what this rank puts into collectives per step (dense allreduce payload,
// sparse row ids and values), and "dense_item_bytes" what the row-tracked
// item table would cost as a dense allreduce instead.
#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/data/read_dataset.hpp>
#include <slmrec/data/split.hpp>
#include <slmrec/dist/mpi.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/train/adamw.hpp>
#include <slmrec/train/clip.hpp>
#include <slmrec/train/data_parallel.hpp>
#include <slmrec/train/objective.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {
using slmrec::index;
using clock_type = std::chrono::steady_clock;

struct options {
  std::string preset = "student", presets_file = SLMREC_SHARED_DIR "/bench/presets.json", data, loss = "ce";
  index steps = 30, warmup = 3, items = 0, batch = 0, negatives = 1024;
};

// Full-length random rows (the presets' workload: every row seq items long).
std::vector<std::vector<std::int32_t>> random_rows(index rows, index seq, index items) {
  slmrec::rng gen(1);
  std::vector<std::vector<std::int32_t>> out(std::size_t(rows), std::vector<std::int32_t>(std::size_t(seq + 1)));
  for (auto& r : out)
    for (auto& x : r) x = std::int32_t(1 + gen.below(std::uint64_t(items)));
  return out;
}

template <class Arch>
nlohmann::json run(const slmrec::dist::mpi& comm, const slmrec::model::recommender_config& cfg, const options& o,
                   const slmrec::data::sequence_table& sequences, std::span<const std::int64_t> counts, index batch,
                   bool every_position) {
  using namespace slmrec;
  using BE = backend::eigen_cpu;
  model::recommender<BE, Arch> m(cfg);
  m.initialize(0);
  auto step_all = [&](auto& obj) {
    auto& ps = m.parameters();
    train::adamw<BE> opt(ps, {1e-3, 0.9, 0.999, 1e-8, 0.0});
    data::batch_options bo;
    bo.batch_size = batch;
    bo.max_len = cfg.max_len;
    bo.targets = every_position ? data::target_mode::every_position : data::target_mode::last_position;
    bo.seed = 1;
    data::batcher batches(sequences, bo);
    train::data_parallel<dist::mpi, BE> dp(comm, ps, batches);
    data::batch b;
    const index total = o.data.empty() ? o.warmup + o.steps : batches.num_batches();
    const index warmup = o.data.empty() ? o.warmup : 0;
    double comm_s = 0, seconds = 0, loss = 0;
    std::int64_t dense = 0, sparse = 0, rows = 0, dense_items = 0, sequences_done = 0;
    index timed = 0;
    for (index s = 0; s < total; ++s) {
      require(dp.next(batches, b), "bench_dist: the data ran out at step {}", s);
      comm.barrier();  // every rank starts the step together: the time is the slowest rank's
      const auto t0 = clock_type::now();
      ps.zero_grads();
      loss = dp.train_step(obj, b, std::uint64_t(s + 1));
      const auto& ex = dp.last_exchange();
      train::clip_grad_norm(ps, 1.0);
      opt.step();
      const double dt = std::chrono::duration<double>(clock_type::now() - t0).count();
      if (s < warmup) continue;
      ++timed;
      seconds += dt;
      comm_s += ex.seconds;
      dense += ex.dense_bytes, sparse += ex.sparse_bytes, rows += ex.sparse_rows;
      dense_items = ex.dense_equivalent_bytes;
      double n = double(b.size);
      comm.allreduce_sum(&n, 1);
      sequences_done += std::int64_t(n);
    }
    const double per = double(std::max<index>(timed, 1));
    return nlohmann::json{{"ranks", comm.size()},
                          {"steps", timed},
                          {"global_batch", batch},
                          {"sequences_per_second", double(sequences_done) / seconds},
                          {"step_ms", 1e3 * seconds / per},
                          {"comm_ms_per_step", 1e3 * comm_s / per},
                          {"comm_share", comm_s / seconds},
                          {"dense_bytes_per_step", double(dense) / per},
                          {"sparse_bytes_per_step", double(sparse) / per},
                          {"sparse_rows_per_step", double(rows) / per},
                          {"dense_item_table_bytes", dense_items},
                          {"item_bytes_vs_dense", sparse > 0 ? double(dense_items) * per / double(sparse) : 0.0},
                          {"last_loss", loss}};
  };
  if (o.loss == "sampled") {
    train::sampled_softmax_options so;
    so.negatives = o.negatives;
    train::next_item_objective obj(m, train::candidate_sampler(std::int32_t(cfg.num_items), counts, so));
    return step_all(obj);
  }
  train::next_item_objective obj(m, train::loss_kind::cross_entropy);
  return step_all(obj);
}

}  // namespace

int main(int argc, char** argv) {
  slmrec::dist::mpi_session session(argc, argv);
  const slmrec::dist::mpi comm;
  options o;
  CLI::App app{
      "bench_dist: data-parallel training throughput, communication time and bytes per step (run under mpirun)"};
  app.add_option("--preset", o.preset, "model shape from presets.json")->capture_default_str();
  app.add_option("--presets", o.presets_file, "presets.json");
  app.add_option("--data", o.data, "a dataset: time one training epoch over its users (else synthetic full rows)");
  app.add_option("--steps", o.steps, "timed steps (synthetic rows)")->capture_default_str();
  app.add_option("--warmup", o.warmup, "untimed steps first (synthetic rows)")->capture_default_str();
  app.add_option("--items", o.items, "catalog size (default: the preset's, or the data's)");
  app.add_option("--batch", o.batch, "global batch (default: the preset's)");
  app.add_option("--loss", o.loss, "ce | sampled")->capture_default_str();
  app.add_option("--negatives", o.negatives, "--loss sampled: candidates per batch")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return comm.guarded([&] {
    slmrec::require(o.loss == "ce" || o.loss == "sampled", "--loss '{}' is not one of ce, sampled", o.loss);
    const auto all = nlohmann::json::parse(slmrec::io::read_file(o.presets_file));
    slmrec::require(all.contains(o.preset), "{}: no preset '{}'", o.presets_file, o.preset);
    const auto& j = all.at(o.preset);
    slmrec::model::recommender_config cfg;
    cfg.arch = j.at("arch");
    cfg.dim = j.at("d");
    cfg.heads = j.at("heads");
    cfg.kv_heads = j.at("kv_heads");
    cfg.ffn = j.at("ffn");
    cfg.layers = j.at("layers");
    cfg.max_len = j.at("seq");
    cfg.dropout = 0.0;                                       // timing workloads use dropout 0
    cfg.head = cfg.arch == "llama" ? "classifier" : "tied";  // as bench_presets and torch_reference.py
    const slmrec::index batch = o.batch > 0 ? o.batch : slmrec::index(j.at("batch"));
    std::vector<std::int64_t> counts;
    slmrec::data::sequence_table sequences;  // shares the split's array
    slmrec::data::dataset ds;
    slmrec::data::split split;
    if (!o.data.empty()) {
      ds = slmrec::data::read_dataset(o.data, {});
      split = slmrec::data::leave_one_out(ds);
      cfg.num_items = ds.num_items;
      sequences = split.train;
      counts = split.train_item_counts;
    } else {
      cfg.num_items = o.items > 0 ? o.items : slmrec::index(j.at("items"));
      sequences = random_rows(batch * (o.warmup + o.steps), cfg.max_len, cfg.num_items);
      counts.assign(std::size_t(cfg.num_items + 1), 1);
      counts[0] = 0;
    }
    const bool every = j.at("loss_positions") == "all";
    auto r = cfg.arch == "llama" ? run<slmrec::arch::llama>(comm, cfg, o, sequences, counts, batch, every)
                                 : run<slmrec::arch::sasrec>(comm, cfg, o, sequences, counts, batch, every);
    int threads = 1;
#if defined(_OPENMP)
    threads = omp_get_max_threads();
#endif
    r["preset"] = o.preset;
    r["workload"] = o.data.empty() ? "synthetic full rows" : o.data;
    r["items"] = cfg.num_items;
    r["loss"] = o.loss == "sampled" ? fmt::format("sampled ({} negatives)", o.negatives) : "ce";
    r["threads_per_rank"] = threads;
    if (comm.root()) fmt::print("{}\n", r.dump());
    return 0;
  });
}
