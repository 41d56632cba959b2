// Matrix products through cuBLAS and the elementwise vector kernels.
//
// cuBLAS is column-major; our matrices are row-major. A row-major [m, n]
// matrix with leading dimension ld is, byte for byte, the column-major [n, m]
// matrix with the same ld: its transpose. So C = op(A) op(B) (row-major) is
// computed as C^T = op(B)^T op(A)^T (column-major): the operands swap places
// and each keeps its own transpose flag.
#include <limits>
#include <string>

#include <slmrec/backend/cuda/kernels.hpp>

#include "common.cuh"

namespace slmrec::backend {

namespace {

using cuda_detail::grid_for;
using cuda_detail::threads_per_block;

int checked_int(index v, const char* what) {
  if (v < 0 || v > index(std::numeric_limits<int>::max()))
    cuda_detail::cuda_fail(std::string("cuBLAS argument ") + what, ("out of int range: " + std::to_string(v)).c_str(),
                           __FILE__, __LINE__);
  return int(v);
}

cublasComputeType_t compute_type(cuda_math math) {
  return math == cuda_math::bf16 ? CUBLAS_COMPUTE_32F_FAST_16BF : CUBLAS_COMPUTE_32F;
}

__global__ void fill_kernel(float* x, index n, float value) {
  for (index i = blockIdx.x * index(blockDim.x) + threadIdx.x; i < n; i += index(gridDim.x) * blockDim.x) x[i] = value;
}
__global__ void axpy_kernel(float alpha, const float* x, float* y, index n) {
  for (index i = blockIdx.x * index(blockDim.x) + threadIdx.x; i < n; i += index(gridDim.x) * blockDim.x)
    y[i] += alpha * x[i];
}
__global__ void add_kernel(const float* a, const float* b, float* y, index n) {
  for (index i = blockIdx.x * index(blockDim.x) + threadIdx.x; i < n; i += index(gridDim.x) * blockDim.x)
    y[i] = a[i] + b[i];
}
__global__ void scale_kernel(float* x, index n, float alpha) {
  for (index i = blockIdx.x * index(blockDim.x) + threadIdx.x; i < n; i += index(gridDim.x) * blockDim.x) x[i] *= alpha;
}
__global__ void sum_squares_kernel(const float* x, index n, double* sum) {
  __shared__ double shared[32];
  double acc = 0.0;
  for (index i = blockIdx.x * index(blockDim.x) + threadIdx.x; i < n; i += index(gridDim.x) * blockDim.x)
    acc += double(x[i]) * double(x[i]);
  acc = cuda_detail::block_reduce(acc, cuda_detail::plus_op{}, shared);
  if (threadIdx.x == 0) atomicAdd(sum, acc);
}
__global__ void add_bias_kernel(float* y, const float* bias, index rows, index cols) {
  const index n = rows * cols;
  for (index i = blockIdx.x * index(blockDim.x) + threadIdx.x; i < n; i += index(gridDim.x) * blockDim.x)
    y[i] += bias[i % cols];
}

}  // namespace

namespace cuda_detail {
// Column sums of a [rows, cols] product of up to three row-major factors,
// added into out[cols]: sum_r a[r,c] * (b ? b[r,c] : 1) * (row_scale ? row_scale[r] : 1).
// Blocks take a chunk of rows and one column per thread (coalesced reads),
// then add their partial sums with one atomic per column.
__global__ void column_sums_kernel(const float* a, const float* b, const float* row_scale, const float* row_shift,
                                   float* out, index rows, index cols, index rows_per_block) {
  const index c = blockIdx.x * index(blockDim.x) + threadIdx.x;
  if (c >= cols) return;
  const index r0 = blockIdx.y * rows_per_block, r1 = min(rows, r0 + rows_per_block);
  float acc = 0.f;
  for (index r = r0; r < r1; ++r) {
    float v = a[r * cols + c];
    if (b != nullptr) v *= row_shift != nullptr ? (b[r * cols + c] - row_shift[r]) : b[r * cols + c];
    if (row_scale != nullptr) v *= row_scale[r];
    acc += v;
  }
  atomicAdd(out + c, acc);
}

void column_sums(const float* a, const float* b, const float* row_scale, const float* row_shift, float* out,
                 index rows, index cols) {
  if (rows <= 0 || cols <= 0) return;
  constexpr index rows_per_block = 64;
  const dim3 grid(unsigned((cols + threads_per_block - 1) / threads_per_block),
                  unsigned((rows + rows_per_block - 1) / rows_per_block));
  column_sums_kernel<<<grid, threads_per_block>>>(a, b, row_scale, row_shift, out, rows, cols, rows_per_block);
  SLMREC_CUDA_LAUNCHED("column_sums_kernel");
}
}  // namespace cuda_detail

void cuda_kernels::gemm_as(cuda_math math, bool trans_a, bool trans_b, index m, index n, index k, float alpha,
                           const float* a, index lda, const float* b, index ldb, float beta, float* c, index ldc) {
  if (m == 0 || n == 0) return;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  SLMREC_CUDA_CHECK(cublasGemmEx(cuda_detail::cublas(), op_b, op_a, checked_int(n, "n"), checked_int(m, "m"),
                                 checked_int(k, "k"), &alpha, b, CUDA_R_32F, checked_int(ldb, "ldb"), a, CUDA_R_32F,
                                 checked_int(lda, "lda"), &beta, c, CUDA_R_32F, checked_int(ldc, "ldc"),
                                 compute_type(math), CUBLAS_GEMM_DEFAULT));
}

void cuda_kernels::gemm_strided_batched_as(cuda_math math, bool trans_a, bool trans_b, index m, index n, index k,
                                           float alpha, const float* a, index lda, index stride_a, const float* b,
                                           index ldb, index stride_b, float beta, float* c, index ldc, index stride_c,
                                           index count) {
  if (m == 0 || n == 0 || count == 0) return;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  SLMREC_CUDA_CHECK(cublasGemmStridedBatchedEx(
      cuda_detail::cublas(), op_b, op_a, checked_int(n, "n"), checked_int(m, "m"), checked_int(k, "k"), &alpha, b,
      CUDA_R_32F, checked_int(ldb, "ldb"), (long long)stride_b, a, CUDA_R_32F, checked_int(lda, "lda"),
      (long long)stride_a, &beta, c, CUDA_R_32F, checked_int(ldc, "ldc"), (long long)stride_c,
      checked_int(count, "batch count"), compute_type(math), CUBLAS_GEMM_DEFAULT));
}

void cuda_kernels::fill(float* x, index n, float value) {
  if (n <= 0) return;
  if (value == 0.f) {
    SLMREC_CUDA_CHECK(cudaMemsetAsync(x, 0, sizeof(float) * std::size_t(n), 0));
    return;
  }
  fill_kernel<<<grid_for(n), threads_per_block>>>(x, n, value);
  SLMREC_CUDA_LAUNCHED("fill_kernel");
}
void cuda_kernels::copy(const float* x, float* y, index n) {
  if (n > 0 && x != y)
    SLMREC_CUDA_CHECK(cudaMemcpyAsync(y, x, sizeof(float) * std::size_t(n), cudaMemcpyDeviceToDevice, 0));
}
void cuda_kernels::axpy(float alpha, const float* x, float* y, index n) {
  if (n <= 0) return;
  axpy_kernel<<<grid_for(n), threads_per_block>>>(alpha, x, y, n);
  SLMREC_CUDA_LAUNCHED("axpy_kernel");
}
void cuda_kernels::add(const float* a, const float* b, float* y, index n) {
  if (n <= 0) return;
  add_kernel<<<grid_for(n), threads_per_block>>>(a, b, y, n);
  SLMREC_CUDA_LAUNCHED("add_kernel");
}
void cuda_kernels::scale(float* x, index n, float alpha) {
  if (n <= 0) return;
  scale_kernel<<<grid_for(n), threads_per_block>>>(x, n, alpha);
  SLMREC_CUDA_LAUNCHED("scale_kernel");
}
double cuda_kernels::sum_squares(const float* x, index n) {
  if (n <= 0) return 0.0;
  double* sum = cuda_detail::device_sum_reset();
  sum_squares_kernel<<<std::min(grid_for(n), 1024u), threads_per_block>>>(x, n, sum);
  SLMREC_CUDA_LAUNCHED("sum_squares_kernel");
  return cuda_detail::device_sum_read();
}
void cuda_kernels::add_bias(float* y, const float* bias, index rows, index cols) {
  if (rows <= 0 || cols <= 0) return;
  add_bias_kernel<<<grid_for(rows * cols), threads_per_block>>>(y, bias, rows, cols);
  SLMREC_CUDA_LAUNCHED("add_bias_kernel");
}
void cuda_kernels::bias_backward(const float* dy, float* dbias, index rows, index cols) {
  cuda_detail::column_sums(dy, nullptr, nullptr, nullptr, dbias, rows, cols);
}

}  // namespace slmrec::backend
