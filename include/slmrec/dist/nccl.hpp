#pragma once
// dist::nccl: the communicator policy of backend::cuda (link slmrec::nccl,
// which CMake makes when SLMREC_WITH_CUDA is on and NCCL's header and library
// are found; dist::nccl itself also needs SLMREC_WITH_MPI). MPI launches the
// ranks and carries the host side (rank and size, the host collectives,
// errors and abort: everything of dist::mpi); NCCL sums gradients where they
// live, in GPU memory (device_allreduce_sum), so a dense gradient never
// crosses the PCIe bus. Each rank takes GPU (local rank) % (GPUs on its node).
//
// basic_nccl<Host> is the same over any host communicator with a local rank:
// basic_nccl<none> is a one-rank NCCL communicator without MPI (the GPU test
// of the NCCL calls on a one-GPU machine; NCCL refuses two ranks on one GPU).
//
// Failure: a rank without a GPU, or whose NCCL fails to start, ends every rank
// through the host's guarded() (MPI_Abort naming the rank); NCCL's errors in a
// sum are thrown as slmrec::error naming the call, which lands there too.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <slmrec/backend/cuda/runtime.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/dist/communicator.hpp>
#include <slmrec/dist/nccl_runtime.hpp>
#if SLMREC_WITH_MPI
#include <slmrec/dist/mpi.hpp>
#endif

namespace slmrec::dist {

template <communicator Host>
class basic_nccl {
 public:
  static constexpr bool distributed = true;

  basic_nccl() : basic_nccl(Host{}) {}
  explicit basic_nccl(Host host) : host_(std::move(host)) {
    host_.guarded([&] {
      backend::cuda_runtime::require_device();
      device_ = local_rank() % backend::cuda_runtime::device_count();
      // Rank 0's NCCL id to every rank: an ordered gather where only rank 0 gives anything.
      nccl_runtime::unique_id id{};
      if (host_.root()) id = nccl_runtime::make_unique_id();
      std::vector<char> all;
      std::vector<index> counts;
      host_.allgatherv(std::span<const char>(id.data(), host_.root() ? id.size() : 0), all, counts);
      require(all.size() == id.size(), "dist::nccl: rank 0 sent a {}-byte NCCL id, expected {}", all.size(), id.size());
      std::copy(all.begin(), all.end(), id.begin());
      comm_ = nccl_runtime::join(id, host_.size(), host_.rank(), device_);
    });
  }
  ~basic_nccl() { nccl_runtime::destroy(comm_); }
  basic_nccl(const basic_nccl&) = delete;
  basic_nccl& operator=(const basic_nccl&) = delete;

  [[nodiscard]] int rank() const { return host_.rank(); }
  [[nodiscard]] int size() const { return host_.size(); }
  [[nodiscard]] bool root() const { return host_.root(); }
  [[nodiscard]] int device() const { return device_; }
  [[nodiscard]] const Host& host() const { return host_; }

  // Host memory (counts, losses, metrics, row ids): the host communicator's.
  template <class T>
  void allreduce_sum(T* data, index n) const {
    host_.allreduce_sum(data, n);
  }
  template <class T>
  void allgatherv(std::span<const T> mine, std::vector<T>& all, std::vector<index>& counts) const {
    host_.allgatherv(mine, all, counts);
  }
  void barrier() const { host_.barrier(); }
  template <class F>
  decltype(auto) guarded(F&& f) const {
    return host_.guarded(std::forward<F>(f));
  }

  // GPU memory: data[0, n) <- its sum over the ranks (in place, then waits).
  template <class T>
  void device_allreduce_sum(T* data, index n) const {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "dist::nccl: device sums of float or double gradients");
    require(n >= 0, "dist::nccl: a sum of {} elements", n);
    nccl_runtime::allreduce_sum(comm_, data, std::size_t(n),
                                std::is_same_v<T, float> ? nccl_runtime::element::f32 : nccl_runtime::element::f64);
  }

 private:
  [[nodiscard]] int local_rank() const {
    if constexpr (requires { host_.local_rank(); })
      return host_.local_rank();
    else
      return 0;
  }

  Host host_;
  int device_ = 0;
  void* comm_ = nullptr;
};
static_assert(device_communicator<basic_nccl<none>>);

#if SLMREC_WITH_MPI
using nccl = basic_nccl<mpi>;
#endif

}  // namespace slmrec::dist
