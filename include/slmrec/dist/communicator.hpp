#pragma once
// Communicator policies: how the ranks of a data-parallel job talk. A policy
// is a small value type (rank, size and a few collectives) that the trainer
// and evaluation take as a template parameter, as a layer takes a backend.
//
//   dist::none  one process, no dependency (the default). `distributed` is
//               false, so every caller compiles its single-process path and
//               nothing of this header runs: no cost in speed or results.
//   dist::mpi   MPI (dist/mpi.hpp, target slmrec::mpi): one rank per process,
//               launched by mpirun; collectives over host memory.
//   dist::nccl  MPI for the host side, NCCL for sums of GPU memory
//               (dist/nccl.hpp, target slmrec::nccl): backend::cuda.
//
// The collectives a policy offers are the few data parallelism needs:
// an in-place sum (dense gradients, counts, losses), an ordered gather of
// variable-sized pieces (sparse item rows, evaluation ranks) and an abort that
// names the rank. No transport of our own: MPI (or NCCL) does the moving.
#include <concepts>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <slmrec/core/types.hpp>

namespace slmrec::dist {

template <class C>
concept communicator = requires(const C& c, double* d, std::span<const std::int64_t> mine,
                                std::vector<std::int64_t>& all, std::vector<index>& counts) {
  { C::distributed } -> std::convertible_to<bool>;
  { c.rank() } -> std::convertible_to<int>;
  { c.size() } -> std::convertible_to<int>;
  c.allreduce_sum(d, index(1));
  c.allgatherv(mine, all, counts);
};

// A communicator that also sums GPU memory in place (dist::nccl): what a
// device backend's gradient exchange needs.
template <class C>
concept device_communicator = communicator<C> && requires(const C& c, float* f, double* d) {
  c.device_allreduce_sum(f, index(1));
  c.device_allreduce_sum(d, index(1));
};

// One process. Every collective is the identity on its own data.
struct none {
  static constexpr bool distributed = false;
  [[nodiscard]] int rank() const { return 0; }
  [[nodiscard]] int size() const { return 1; }
  [[nodiscard]] bool root() const { return true; }
  template <class T>
  void allreduce_sum(T*, index) const {}
  template <class T>
  void allgatherv(std::span<const T> mine, std::vector<T>& all, std::vector<index>& counts) const {
    all.assign(mine.begin(), mine.end());
    counts.assign(1, index(mine.size()));
  }
  void barrier() const {}
  // Runs f; one process needs no guard (an exception simply propagates).
  template <class F>
  decltype(auto) guarded(F&& f) const {
    return std::forward<F>(f)();
  }
};
static_assert(communicator<none>);

}  // namespace slmrec::dist
