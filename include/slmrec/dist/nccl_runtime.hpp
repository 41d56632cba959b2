#pragma once
// NCCL as dist::nccl needs it: a communicator over the ranks' GPUs and an
// in-place sum of device memory. Declared in plain C++ and defined in the
// compiled part (src/nccl/, target slmrec::nccl), so that code using
// dist::nccl compiles with the host compiler and includes no CUDA or NCCL
// header, as backend::cuda does. Every call checks its status and throws
// slmrec::error naming the call and NCCL's reason.
#include <array>
#include <cstddef>

namespace slmrec::dist::nccl_runtime {

// ncclUniqueId's bytes: made by rank 0, broadcast by the host communicator.
using unique_id = std::array<char, 128>;

enum class element { f32, f64 };

[[nodiscard]] unique_id make_unique_id();
// Selects `device` for this process, then joins the communicator of `size`
// ranks as `rank` (ncclCommInitRank: it blocks until every rank has joined).
[[nodiscard]] void* join(const unique_id& id, int size, int rank, int device);
void destroy(void* comm) noexcept;  // ncclCommDestroy
void abort(void* comm) noexcept;    // ncclCommAbort: a peer is gone, nothing to wait for
// data[0, count) <- its sum over the ranks, on the default stream (the one
// backend::cuda queues its work on), and waits for it.
void allreduce_sum(void* comm, void* data, std::size_t count, element type);
// "NCCL 2.x.y".
[[nodiscard]] int version();

}  // namespace slmrec::dist::nccl_runtime
