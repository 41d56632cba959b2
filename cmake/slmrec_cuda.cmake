# The compiled part of backend::cuda: the kernels and the cuBLAS calls of
# src/cuda/, built by nvcc into one static library. Code that uses
# backend::cuda includes ordinary headers, compiles with the host compiler and
# links slmrec::cuda (which brings slmrec::slmrec, cudart and cuBLAS and
# defines SLMREC_HAVE_CUDA).
#
# Architectures: sm_90 (H100/H200) machine code plus compute_90 PTX, which the
# driver compiles for any newer GPU. Override with -DCMAKE_CUDA_ARCHITECTURES.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "90-real;90-virtual")
endif()
if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

add_library(slmrec_cuda STATIC
  src/cuda/error.cpp
  src/cuda/runtime.cu
  src/cuda/blas.cu
  src/cuda/norms.cu
  src/cuda/activations.cu
  src/cuda/attention.cu
  src/cuda/loss.cu
  src/cuda/optim.cu
  src/cuda/top_k.cu
  src/cuda/quant.cu)
add_library(slmrec::cuda ALIAS slmrec_cuda)
set_target_properties(slmrec_cuda PROPERTIES
  EXPORT_NAME cuda
  POSITION_INDEPENDENT_CODE ON
  CUDA_STANDARD 17  # CMake 3.25 knows no C++20 flag for nvcc; the kernels need only C++17
  CUDA_STANDARD_REQUIRED ON)
# The kernels need only slmrec's own headers (core/types.hpp, backend/cuda/);
# error.cpp needs fmt. The interface target comes in for consumers.
target_include_directories(slmrec_cuda PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(slmrec_cuda PUBLIC slmrec::slmrec CUDA::cudart CUDA::cublas)
target_compile_definitions(slmrec_cuda INTERFACE SLMREC_HAVE_CUDA=1)
target_compile_options(slmrec_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -Xcompiler=-Wall>)
install(TARGETS slmrec_cuda EXPORT slmrecTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
