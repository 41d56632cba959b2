// Row gathers and scatters, row dot products, the row softmax and the fused
// loss kernels (softmax cross-entropy over the item set, binary cross-entropy
// on sampled pairs). The losses' sums come back to the host in double.
#include <slmrec/backend/cuda/kernels.hpp>

#include "common.cuh"

namespace slmrec::backend {

namespace {

using cuda_detail::grid_for;
using cuda_detail::grid_for_rows;
using cuda_detail::threads_per_block;

#define SLMREC_FOR_EACH(i, n) \
  for (index i = blockIdx.x * index(blockDim.x) + threadIdx.x; i < (n); i += index(gridDim.x) * blockDim.x)

__global__ void gather_rows_kernel(const float* src, const std::int32_t* rows, float* dst, index n, index dim) {
  SLMREC_FOR_EACH(i, n * dim) dst[i] = src[index(rows[i / dim]) * dim + i % dim];
}
__global__ void scatter_add_rows_kernel(const float* src, const std::int32_t* rows, float* dst, index n, index dim) {
  SLMREC_FOR_EACH(i, n * dim) atomicAdd(dst + index(rows[i / dim]) * dim + i % dim, src[i]);
}
__global__ void scatter_rows_kernel(const float* src, const std::int32_t* rows, float* dst, index n, index dim) {
  SLMREC_FOR_EACH(i, n * dim) dst[index(rows[i / dim]) * dim + i % dim] = src[i];
}
__global__ void scale_rows_add_kernel(const float* x, const float* s, float* y, index n, index dim) {
  SLMREC_FOR_EACH(i, n * dim) y[i] += s[i / dim] * x[i];
}
__global__ void row_dot_kernel(const float* a, const float* b, float* out, index n, index dim) {
  const int lane = threadIdx.x % 32;
  for (index r = (blockIdx.x * index(blockDim.x) + threadIdx.x) / 32; r < n; r += index(gridDim.x) * blockDim.x / 32) {
    float acc = 0.f;
    for (index c = lane; c < dim; c += 32) acc += a[r * dim + c] * b[r * dim + c];
    acc = cuda_detail::warp_sum(acc);
    if (lane == 0) out[r] = acc;
  }
}

// One block per row.
__global__ void softmax_rows_kernel(float* x, index cols) {
  __shared__ float reduce[32];
  float* row = x + blockIdx.x * cols;
  float m = -INFINITY;
  for (index c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, row[c]);
  m = cuda_detail::block_reduce(m, cuda_detail::max_op{}, reduce);
  float total = 0.f;
  for (index c = threadIdx.x; c < cols; c += blockDim.x) total += (row[c] = expf(row[c] - m));
  const float inv = 1.f / cuda_detail::block_reduce(total, cuda_detail::plus_op{}, reduce);
  for (index c = threadIdx.x; c < cols; c += blockDim.x) row[c] *= inv;
}

// One block per row of logits: -log softmax(row)[target] over columns 1..cols-1
// (column 0, padding, is excluded), added into `sum`; the row is overwritten
// with d(scale * loss)/d logits.
__global__ void softmax_xent_kernel(float* logits, const std::int32_t* targets, index cols, float scale,
                                    double* sum) {
  __shared__ float reduce[32];
  __shared__ float target_logit;
  float* row = logits + blockIdx.x * cols;
  const index t = targets[blockIdx.x];
  if (threadIdx.x == 0) target_logit = row[t];
  float m = -INFINITY;
  for (index c = 1 + threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, row[c]);
  m = cuda_detail::block_reduce(m, cuda_detail::max_op{}, reduce);  // its barriers also publish target_logit
  float total = 0.f;
  for (index c = 1 + threadIdx.x; c < cols; c += blockDim.x) total += (row[c] = expf(row[c] - m));
  total = cuda_detail::block_reduce(total, cuda_detail::plus_op{}, reduce);
  const float inv = scale / total;
  for (index c = 1 + threadIdx.x; c < cols; c += blockDim.x) row[c] *= inv;
  __syncthreads();
  if (threadIdx.x == 0) {
    row[0] = 0.f;
    row[t] -= scale;
    atomicAdd(sum, log(double(total)) + double(m) - double(target_logit));
  }
}

__device__ inline double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

__global__ void sigmoid_bce_kernel(const float* pos, const float* neg, float* dpos, float* dneg, index n, float scale,
                                   double* sum) {
  __shared__ double reduce[32];
  double acc = 0.0;
  SLMREC_FOR_EACH(i, n) {
    acc += softplus(-double(pos[i])) + softplus(double(neg[i]));
    const float sp = 1.f / (1.f + expf(-pos[i])), sn = 1.f / (1.f + expf(-neg[i]));
    dpos[i] = scale * (sp - 1.f);
    dneg[i] = scale * sn;
  }
  acc = cuda_detail::block_reduce(acc, cuda_detail::plus_op{}, reduce);
  if (threadIdx.x == 0) atomicAdd(sum, acc);
}

#undef SLMREC_FOR_EACH

}  // namespace

void cuda_kernels::gather_rows(const float* src, const std::int32_t* rows, float* dst, index n, index dim) {
  if (n <= 0 || dim <= 0) return;
  gather_rows_kernel<<<grid_for(n * dim), threads_per_block>>>(src, rows, dst, n, dim);
  SLMREC_CUDA_LAUNCHED("gather_rows_kernel");
}
void cuda_kernels::scatter_add_rows(const float* src, const std::int32_t* rows, float* dst, index n, index dim) {
  if (n <= 0 || dim <= 0) return;
  scatter_add_rows_kernel<<<grid_for(n * dim), threads_per_block>>>(src, rows, dst, n, dim);
  SLMREC_CUDA_LAUNCHED("scatter_add_rows_kernel");
}
void cuda_kernels::scatter_rows(const float* src, const std::int32_t* rows, float* dst, index n, index dim) {
  if (n <= 0 || dim <= 0) return;
  scatter_rows_kernel<<<grid_for(n * dim), threads_per_block>>>(src, rows, dst, n, dim);
  SLMREC_CUDA_LAUNCHED("scatter_rows_kernel");
}
void cuda_kernels::scale_rows_add(const float* x, const float* s, float* y, index n, index dim) {
  if (n <= 0 || dim <= 0) return;
  scale_rows_add_kernel<<<grid_for(n * dim), threads_per_block>>>(x, s, y, n, dim);
  SLMREC_CUDA_LAUNCHED("scale_rows_add_kernel");
}
void cuda_kernels::row_dot(const float* a, const float* b, float* out, index n, index dim) {
  if (n <= 0) return;
  row_dot_kernel<<<grid_for_rows(n), threads_per_block>>>(a, b, out, n, dim);
  SLMREC_CUDA_LAUNCHED("row_dot_kernel");
}
void cuda_kernels::softmax_rows(float* x, index n, index cols) {
  if (n <= 0 || cols <= 0) return;
  softmax_rows_kernel<<<unsigned(n), threads_per_block>>>(x, cols);
  SLMREC_CUDA_LAUNCHED("softmax_rows_kernel");
}
double cuda_kernels::softmax_xent_rows(float* logits, const std::int32_t* targets, index n, index cols, float scale) {
  if (n <= 0) return 0.0;
  double* sum = cuda_detail::device_sum_reset();
  softmax_xent_kernel<<<unsigned(n), threads_per_block>>>(logits, targets, cols, scale, sum);
  SLMREC_CUDA_LAUNCHED("softmax_xent_kernel");
  return cuda_detail::device_sum_read();
}
double cuda_kernels::sigmoid_bce_pairs(const float* pos, const float* neg, float* dpos, float* dneg, index n,
                                       float scale) {
  if (n <= 0) return 0.0;
  double* sum = cuda_detail::device_sum_reset();
  sigmoid_bce_kernel<<<std::min(grid_for(n), 1024u), threads_per_block>>>(pos, neg, dpos, dneg, n, scale, sum);
  SLMREC_CUDA_LAUNCHED("sigmoid_bce_kernel");
  return cuda_detail::device_sum_read();
}

}  // namespace slmrec::backend
