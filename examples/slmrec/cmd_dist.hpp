#pragma once
// The communicator of the tool's train, distill and eval: dist::mpi in a
// build with SLMREC_WITH_MPI (launched by `mpirun -np N slmrec ...`, or alone
// as one rank), dist::none otherwise, which leaves the tool as it was. A CUDA
// device under MPI takes dist::nccl where the build found NCCL (gradients
// summed in GPU memory); without NCCL it runs on one rank only, and says so.
#if SLMREC_WITH_MPI
#include <slmrec/dist/mpi.hpp>
#if SLMREC_WITH_NCCL
#include <slmrec/dist/nccl.hpp>
#endif
namespace slmrec::cli {
using communicator = dist::mpi;
}
#else
#include <slmrec/dist/communicator.hpp>
namespace slmrec::cli {
using communicator = dist::none;
}
#endif

namespace slmrec::cli {

// Calls f with the communicator for backend BE.
template <class BE, class F>
decltype(auto) with_communicator(F&& f) {
#if SLMREC_WITH_MPI && SLMREC_WITH_NCCL
  if constexpr (!BE::is_host) {
    const dist::nccl comm;
    return std::forward<F>(f)(comm);
  } else
#endif
  {
    const communicator comm;
    return std::forward<F>(f)(comm);
  }
}

}  // namespace slmrec::cli
