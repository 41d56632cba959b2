# dist::nccl (include/slmrec/dist/nccl.hpp): data parallelism for
# backend::cuda, with MPI launching the ranks and NCCL summing gradients in GPU
# memory. Made when the build has CUDA and NCCL's header and library are found
# (dist::nccl itself needs MPI too: without it, basic_nccl<none> is a one-rank
# communicator, what a one-GPU test can run) (the CUDA toolkit's folders first: NVIDIA's packages put
# them there); otherwise the tool's CUDA devices run data-parallel only on
# one rank, and say so. The compiled part (src/nccl/) is the only file that
# includes nccl.h, as src/cuda/ is for the CUDA runtime.
find_path(SLMREC_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
find_library(SLMREC_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
if(NOT SLMREC_NCCL_INCLUDE_DIR OR NOT SLMREC_NCCL_LIBRARY)
  message(STATUS "NCCL not found (nccl.h, libnccl): no dist::nccl, no target slmrec::nccl")
  return()
endif()
message(STATUS "NCCL: ${SLMREC_NCCL_LIBRARY} (dist::nccl, target slmrec::nccl)")
add_library(slmrec_nccl STATIC src/nccl/nccl_runtime.cpp)
add_library(slmrec::nccl ALIAS slmrec_nccl)
set_target_properties(slmrec_nccl PROPERTIES EXPORT_NAME nccl POSITION_INDEPENDENT_CODE ON)
target_include_directories(slmrec_nccl PRIVATE ${PROJECT_SOURCE_DIR}/include ${SLMREC_NCCL_INCLUDE_DIR})
target_link_libraries(slmrec_nccl PUBLIC slmrec::cuda PRIVATE ${SLMREC_NCCL_LIBRARY} CUDA::cudart)
if(SLMREC_WITH_MPI)
  target_link_libraries(slmrec_nccl PUBLIC slmrec::mpi)
endif()
target_compile_definitions(slmrec_nccl INTERFACE SLMREC_WITH_NCCL=1)
install(TARGETS slmrec_nccl EXPORT slmrecTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
