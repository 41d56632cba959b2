# dist::mpi (include/slmrec/dist/mpi.hpp) needs MPI's C interface: the target
# slmrec::mpi brings slmrec::slmrec, MPI::MPI_CXX and SLMREC_WITH_MPI=1.
# Header-only like the rest; linking it is what makes a program an MPI one
# (launched by mpirun; it also runs alone as one rank).
find_package(MPI REQUIRED COMPONENTS CXX)
add_library(slmrec_mpi INTERFACE)
add_library(slmrec::mpi ALIAS slmrec_mpi)
set_target_properties(slmrec_mpi PROPERTIES EXPORT_NAME mpi)
target_link_libraries(slmrec_mpi INTERFACE slmrec::slmrec MPI::MPI_CXX)
target_compile_definitions(slmrec_mpi INTERFACE SLMREC_WITH_MPI=1)
install(TARGETS slmrec_mpi EXPORT slmrecTargets)

# How the tests launch N ranks: mpirun, allowed to run as root (CI containers)
# and to place more ranks than cores (Open MPI refuses otherwise).
set(SLMREC_MPIEXEC_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMP_NUM_THREADS=1")
set(SLMREC_MPIEXEC_PREFLAGS ${MPIEXEC_PREFLAGS})
if(MPI_CXX_LIBRARY_VERSION_STRING MATCHES "Open MPI")
  list(APPEND SLMREC_MPIEXEC_PREFLAGS --oversubscribe)
endif()
