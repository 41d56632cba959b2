// Data parallelism on the GPU (issue 25): the gradient exchange's device path
// (dense buckets summed in GPU memory) against the host path, with a peer
// that mirrors this rank; and NCCL itself, on one rank (a one-GPU machine
// cannot hold two NCCL ranks: NCCL refuses two ranks on one GPU).
#include <catch2/catch.hpp>

#include <cstring>
#include <span>
#include <vector>

#include <slmrec/backend/cuda.hpp>
#include <slmrec/backend/cuda/runtime.hpp>
#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/dist/gradient_exchange.hpp>
#include <slmrec/model/recommender.hpp>

#include "support/model_configs.hpp"
#if SLMREC_WITH_NCCL
#include <cmath>
#include <memory>

#include <slmrec/data/synthetic.hpp>
#include <slmrec/train/trainer.hpp>

#include <slmrec/dist/nccl.hpp>

#include "support/temp_dir.hpp"
#endif

namespace slmrec {
namespace {

// Rank 0 of 2, whose peer holds exactly what it holds: every sum doubles,
// every gather repeats this rank's piece. Host memory on the host, device
// memory through the CUDA runtime.
struct mirrored_peer {
  static constexpr bool distributed = true;
  [[nodiscard]] int rank() const { return 0; }
  [[nodiscard]] int size() const { return 2; }
  [[nodiscard]] bool root() const { return true; }
  template <class T>
  void allreduce_sum(T* data, index n) const {
    for (index i = 0; i < n; ++i) data[i] += data[i];
  }
  template <class T>
  void allgatherv(std::span<const T> mine, std::vector<T>& all, std::vector<index>& counts) const {
    all.assign(mine.begin(), mine.end());
    all.insert(all.end(), mine.begin(), mine.end());
    counts.assign(2, index(mine.size()));
  }
  void barrier() const {}
  template <class F>
  decltype(auto) guarded(F&& f) const {
    return std::forward<F>(f)();
  }
  template <class T>
  void device_allreduce_sum(T* data, index n) const {
    std::vector<T> host(static_cast<std::size_t>(n));
    backend::cuda_runtime::copy_to_host(host.data(), data, host.size() * sizeof(T));
    allreduce_sum(host.data(), n);
    backend::cuda_runtime::copy_to_device(data, host.data(), host.size() * sizeof(T));
  }
};
static_assert(dist::device_communicator<mirrored_peer>);

model::recommender_config small() {
  return test::small_llama("tied", 40, 8);
}

// The gradient buffer after one exchange on backend BE, from `grads`.
template <class BE>
std::vector<float> exchanged(const std::vector<float>& grads) {
  model::recommender<BE, arch::llama> m(small());
  auto& ps = m.parameters();
  BE::upload(grads.data(), ps.grads_data(), ps.total_size());
  const mirrored_peer peer;
  dist::gradient_exchange<mirrored_peer, BE> ex(peer, ps, 100);  // buckets of 100 values: many sums
  ex.run();
  CHECK(ex.last().dense_bytes > 100 * index(sizeof(float)));
  std::vector<float> out(grads.size());
  BE::download(ps.grads_data(), out.data(), ps.total_size());
  return out;
}

TEST_CASE("the gradient exchange's GPU path sums the dense buckets in GPU memory as its CPU path", "[cuda][dist]") {
  model::recommender<backend::eigen_cpu, arch::llama> probe(small());
  const auto& ps = probe.parameters();
  std::vector<float> grads(static_cast<std::size_t>(ps.total_size()), 0.0f);
  rng r(20261204);
  for (const auto& e : ps.entries())
    for (index k = 0; k < e.size; ++k) grads[std::size_t(e.offset + k)] = float(r.uniform() - 0.5);
  const auto gpu = exchanged<backend::cuda>(grads), cpu = exchanged<backend::eigen_cpu>(grads);
  index differ = 0, not_doubled = 0;
  for (const auto& e : ps.entries())
    for (index k = 0; k < e.size; ++k) {
      const auto i = std::size_t(e.offset + k);
      differ += gpu[i] != cpu[i] ? 1 : 0;
      not_doubled += gpu[i] != 2.0f * grads[i] ? 1 : 0;
    }
  CHECK(differ == 0);       // bit for bit the CPU's
  CHECK(not_doubled == 0);  // the peer's copy added: every gradient doubled
}

#if SLMREC_WITH_NCCL
TEST_CASE("NCCL on one rank: the communicator starts, sums GPU memory in place (the identity)", "[cuda][dist]") {
  const dist::basic_nccl<dist::none> comm;
  CHECK(comm.size() == 1);
  CHECK(comm.device() == 0);
  INFO("NCCL version code " << dist::nccl_runtime::version());
  CHECK(dist::nccl_runtime::version() >= 20000);
  std::vector<float> f{1.5f, -2.0f, 3.25f};
  std::vector<double> d{0.1, 0.2};
  backend::cuda::buffer<float> fd(f.size());
  backend::cuda::buffer<double> dd(d.size());
  backend::cuda_runtime::copy_to_device(fd.data(), f.data(), f.size() * sizeof(float));
  backend::cuda_runtime::copy_to_device(dd.data(), d.data(), d.size() * sizeof(double));
  comm.device_allreduce_sum(fd.data(), index(f.size()));
  comm.device_allreduce_sum(dd.data(), index(d.size()));
  std::vector<float> f2(f.size());
  std::vector<double> d2(d.size());
  backend::cuda_runtime::copy_to_host(f2.data(), fd.data(), f2.size() * sizeof(float));
  backend::cuda_runtime::copy_to_host(d2.data(), dd.data(), d2.size() * sizeof(double));
  CHECK(f2 == f);
  CHECK(d2 == d);
}

// The whole data-parallel path of the trainer (shares, global loss units,
// the exchange, the replica check) instantiated for backend::cuda under an
// NCCL communicator; on one rank it must train exactly as without one.
TEST_CASE("a GPU training run under a one-rank NCCL communicator is the run without one", "[cuda][dist]") {
  data::synthetic_options so;
  so.users = 96;
  so.items = 40;
  so.min_len = 5;
  so.max_len = 12;
  const auto ds = data::make_synthetic(so);
  const auto split = data::leave_one_out(ds);
  train::train_config tc;
  tc.epochs = 2;
  tc.batch_size = 32;
  tc.verbosity = 0;
  const test::temp_dir dir;
  auto cfg = small();
  cfg.dropout = 0.0;
  auto run = [&](const auto& comm, const char* name) {
    auto m = std::make_unique<model::recommender<backend::cuda, arch::llama>>(cfg);
    m->initialize(3);
    train::next_item_objective o(*m, train::loss_kind::cross_entropy);
    (void)train::fit(o, split, ds, tc, dir.path() / name, false, comm);
    std::vector<float> w(static_cast<std::size_t>(m->parameters().total_size()));
    backend::cuda::download(m->parameters().values_data(), w.data(), m->parameters().total_size());
    return w;
  };
  const dist::basic_nccl<dist::none> comm;
  const auto with = run(comm, "nccl"), without = run(dist::none{}, "none");
  double diff = 0, ref = 0;
  for (std::size_t i = 0; i < with.size(); ++i) {
    diff += double(with[i] - without[i]) * double(with[i] - without[i]);
    ref += double(without[i]) * double(without[i]);
  }
  INFO("relative distance " << std::sqrt(diff / ref));
  CHECK(std::sqrt(diff / ref) < 1e-6);
}
#endif

}  // namespace
}  // namespace slmrec
