#pragma once
// The communicator of the tool's train, distill and eval: dist::mpi in a
// build with SLMREC_WITH_MPI (launched by `mpirun -np N slmrec ...`, or alone
// as one rank), dist::none otherwise, which leaves the tool as it was.
#if SLMREC_WITH_MPI
#include <slmrec/dist/mpi.hpp>
namespace slmrec::cli {
using communicator = dist::mpi;
}
#else
#include <slmrec/dist/communicator.hpp>
namespace slmrec::cli {
using communicator = dist::none;
}
#endif
