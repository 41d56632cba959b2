// Catch2's main for the MPI tests: MPI lives for the whole run, every rank
// runs every test case in the same order (--rng-seed), and the job fails when
// any rank fails.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <slmrec/dist/mpi.hpp>

int main(int argc, char** argv) {
  slmrec::dist::mpi_session session(argc, argv);
  int result = Catch::Session().run(argc, argv);
  MPI_Allreduce(MPI_IN_PLACE, &result, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return result;
}
