#pragma once
// What every kernel file of the CUDA backend shares: status checks that throw
// slmrec::error naming the call, file and line; launch sizes; warp and block
// reductions; the cuBLAS handle; a device scalar for sums that go back to the
// host. Only src/cuda/ includes this (it needs the CUDA headers).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include <slmrec/core/types.hpp>

namespace slmrec::backend::cuda_detail {

// Defined in error.cpp (compiled by the host compiler, where fmt and
// slmrec::error live): throws slmrec::error("CUDA: <call> failed: <what> (<file>:<line>)").
[[noreturn]] void cuda_fail(const std::string& call, const char* what, const char* file, int line);

inline void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear a sticky launch error so the next call reports its own status
    cuda_fail(call, cudaGetErrorString(status), file, line);
  }
}
inline void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) cuda_fail(call, cublasGetStatusString(status), file, line);
}

// The process's cuBLAS handle on the default stream, created on first use
// (never destroyed: the CUDA context may be gone by the time statics die).
cublasHandle_t cublas();

// A device double that kernels atomicAdd into: reset, accumulate, read back.
double* device_sum_reset();
double device_sum_read();  // synchronises

// out[c] += sum over r of a[r,c] * (b[r,c] - row_shift[r]) * row_scale[r], where a
// null b, row_shift or row_scale drops its factor (blas.cu). The weight and bias
// gradients of the norms and bias_backward are all such column sums.
void column_sums(const float* a, const float* b, const float* row_scale, const float* row_shift, float* out,
                 index rows, index cols);

// Workspace that only grows, for kernels that need scratch (attention's dS).
float* workspace(std::size_t floats);

inline constexpr int threads_per_block = 256;
inline constexpr int warps_per_block = threads_per_block / 32;

// Blocks for a grid-stride loop over n elements (bounded: the loop covers the rest).
inline unsigned grid_for(index n, int per_block = threads_per_block) {
  const index blocks = (n + per_block - 1) / per_block;
  return unsigned(std::clamp<index>(blocks, 1, index(1) << 20));
}
// Blocks for one warp per row.
inline unsigned grid_for_rows(index rows) { return grid_for(rows, warps_per_block); }

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum or max over the whole block, the result in every thread. `shared` holds
// 32 values; the leading barrier makes back-to-back calls on it safe. Lanes
// past the block's warp count enter the last step with the operation's
// identity (0 for a sum, -inf for a max): anything else (such as warp 0's
// partial, harmless for a max) would be counted again in a sum, as the first
// run on a GPU found (sums 4x to 29x too large).
template <class T, class Op>
__device__ T block_reduce(T v, Op op, T* shared) {
  __syncthreads();
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T w = lane < warps ? shared[lane] : Op::template identity<T>();
    for (int o = 16; o > 0; o >>= 1) w = op(w, __shfl_xor_sync(0xffffffffu, w, o));
    if (lane == 0) shared[0] = w;
  }
  __syncthreads();
  return shared[0];
}

struct plus_op {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
  template <class T>
  __device__ static T identity() { return T(0); }
};
struct max_op {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
  template <class T>
  __device__ static T identity() { return -INFINITY; }
};

}  // namespace slmrec::backend::cuda_detail

#define SLMREC_CUDA_CHECK(call) ::slmrec::backend::cuda_detail::check((call), #call, __FILE__, __LINE__)
// After a kernel launch: reports a bad launch configuration at once.
#define SLMREC_CUDA_LAUNCHED(kernel) \
  ::slmrec::backend::cuda_detail::check(cudaGetLastError(), "launch of " kernel, __FILE__, __LINE__)
