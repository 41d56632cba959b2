// Pointwise activations, dropout and the embedding gather / scatter.
#include <slmrec/backend/cuda/kernels.hpp>

#include "common.cuh"

namespace slmrec::backend {

namespace {

using cuda_detail::grid_for;
using cuda_detail::threads_per_block;

#define SLMREC_FOR_EACH(i, n) \
  for (index i = blockIdx.x * index(blockDim.x) + threadIdx.x; i < (n); i += index(gridDim.x) * blockDim.x)

__device__ inline float sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

// core/hash.hpp's mix64, for the device: the same (seed, index) -> mask as the CPU.
__device__ inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__global__ void swiglu_forward_kernel(const float* gate, const float* up, float* out, index n) {
  SLMREC_FOR_EACH(i, n) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
}
__global__ void swiglu_backward_kernel(const float* gate, const float* up, const float* dout, float* dgate, float* dup,
                                       index n) {
  SLMREC_FOR_EACH(i, n) {
    const float s = sigmoid(gate[i]), silu = gate[i] * s;
    dgate[i] += dout[i] * up[i] * (s + silu * (1.f - s));
    dup[i] += dout[i] * silu;
  }
}
__global__ void relu_forward_kernel(const float* x, float* y, index n) {
  SLMREC_FOR_EACH(i, n) y[i] = x[i] > 0.f ? x[i] : 0.f;
}
__global__ void relu_backward_kernel(const float* x, const float* dy, float* dx, index n) {
  SLMREC_FOR_EACH(i, n) dx[i] += x[i] > 0.f ? dy[i] : 0.f;
}
// Exact GELU, x * Phi(x).
__global__ void gelu_forward_kernel(const float* x, float* y, index n) {
  SLMREC_FOR_EACH(i, n) y[i] = 0.5f * x[i] * (1.f + erff(x[i] * 0.70710678118654752f));
}
__global__ void gelu_backward_kernel(const float* x, const float* dy, float* dx, index n) {
  SLMREC_FOR_EACH(i, n) {
    const float cdf = 0.5f * (1.f + erff(x[i] * 0.70710678118654752f));
    const float pdf = 0.39894228040143268f * expf(-0.5f * x[i] * x[i]);
    dx[i] += dy[i] * (cdf + x[i] * pdf);
  }
}
__global__ void dropout_forward_kernel(const float* x, float* y, std::uint8_t* keep, index n, float scale,
                                       std::uint64_t threshold, std::uint64_t seed) {
  SLMREC_FOR_EACH(i, n) {
    const bool k = mix64(seed + 0x9E3779B97F4A7C15ull * std::uint64_t(i + 1)) >= threshold;
    keep[i] = k ? 1 : 0;
    y[i] = k ? x[i] * scale : 0.f;
  }
}
__global__ void dropout_backward_kernel(const std::uint8_t* keep, const float* dy, float* dx, index n, float scale) {
  SLMREC_FOR_EACH(i, n) dx[i] += keep[i] ? dy[i] * scale : 0.f;
}
__global__ void apply_mask_kernel(const std::uint8_t* keep, float* x, index n) {
  SLMREC_FOR_EACH(i, n) if (!keep[i]) x[i] = 0.f;
}
__global__ void embedding_forward_kernel(const std::int32_t* ids, const float* table, float* out, index n, index dim) {
  SLMREC_FOR_EACH(i, n * dim) out[i] = table[index(ids[i / dim]) * dim + i % dim];
}
// Rows repeat (an item seen twice in a batch): atomic adds. Row 0 is padding and never learns.
__global__ void embedding_backward_kernel(const std::int32_t* ids, const float* dout, float* dtable, index n,
                                          index dim) {
  SLMREC_FOR_EACH(i, n * dim) {
    const std::int32_t id = ids[i / dim];
    if (id != 0) atomicAdd(dtable + index(id) * dim + i % dim, dout[i]);
  }
}

#undef SLMREC_FOR_EACH

}  // namespace

void cuda_kernels::swiglu_forward(const float* gate, const float* up, float* out, index n) {
  if (n <= 0) return;
  swiglu_forward_kernel<<<grid_for(n), threads_per_block>>>(gate, up, out, n);
  SLMREC_CUDA_LAUNCHED("swiglu_forward_kernel");
}
void cuda_kernels::swiglu_backward(const float* gate, const float* up, const float* dout, float* dgate, float* dup,
                                   index n) {
  if (n <= 0) return;
  swiglu_backward_kernel<<<grid_for(n), threads_per_block>>>(gate, up, dout, dgate, dup, n);
  SLMREC_CUDA_LAUNCHED("swiglu_backward_kernel");
}
void cuda_kernels::relu_forward(const float* x, float* y, index n) {
  if (n <= 0) return;
  relu_forward_kernel<<<grid_for(n), threads_per_block>>>(x, y, n);
  SLMREC_CUDA_LAUNCHED("relu_forward_kernel");
}
void cuda_kernels::relu_backward(const float* x, const float* dy, float* dx, index n) {
  if (n <= 0) return;
  relu_backward_kernel<<<grid_for(n), threads_per_block>>>(x, dy, dx, n);
  SLMREC_CUDA_LAUNCHED("relu_backward_kernel");
}
void cuda_kernels::gelu_forward(const float* x, float* y, index n) {
  if (n <= 0) return;
  gelu_forward_kernel<<<grid_for(n), threads_per_block>>>(x, y, n);
  SLMREC_CUDA_LAUNCHED("gelu_forward_kernel");
}
void cuda_kernels::gelu_backward(const float* x, const float* dy, float* dx, index n) {
  if (n <= 0) return;
  gelu_backward_kernel<<<grid_for(n), threads_per_block>>>(x, dy, dx, n);
  SLMREC_CUDA_LAUNCHED("gelu_backward_kernel");
}
void cuda_kernels::dropout_forward(const float* x, float* y, std::uint8_t* keep, index n, float p,
                                   std::uint64_t seed) {
  if (n <= 0) return;
  // The CPU's threshold and scale, computed the same way on the host.
  const float scale = 1.f / (1.f - p);
  const auto threshold = static_cast<std::uint64_t>(double(p) * 18446744073709551616.0);
  dropout_forward_kernel<<<grid_for(n), threads_per_block>>>(x, y, keep, n, scale, threshold, seed);
  SLMREC_CUDA_LAUNCHED("dropout_forward_kernel");
}
void cuda_kernels::dropout_backward(const std::uint8_t* keep, const float* dy, float* dx, index n, float p) {
  if (n <= 0) return;
  dropout_backward_kernel<<<grid_for(n), threads_per_block>>>(keep, dy, dx, n, 1.f / (1.f - p));
  SLMREC_CUDA_LAUNCHED("dropout_backward_kernel");
}
void cuda_kernels::apply_mask(const std::uint8_t* keep, float* x, index n) {
  if (n <= 0) return;
  apply_mask_kernel<<<grid_for(n), threads_per_block>>>(keep, x, n);
  SLMREC_CUDA_LAUNCHED("apply_mask_kernel");
}
void cuda_kernels::embedding_forward(const std::int32_t* ids, const float* table, float* out, index n, index dim) {
  if (n <= 0 || dim <= 0) return;
  embedding_forward_kernel<<<grid_for(n * dim), threads_per_block>>>(ids, table, out, n, dim);
  SLMREC_CUDA_LAUNCHED("embedding_forward_kernel");
}
void cuda_kernels::embedding_backward(const std::int32_t* ids, const float* dout, float* dtable, index n, index dim) {
  if (n <= 0 || dim <= 0) return;
  embedding_backward_kernel<<<grid_for(n * dim), threads_per_block>>>(ids, dout, dtable, n, dim);
  SLMREC_CUDA_LAUNCHED("embedding_backward_kernel");
}

}  // namespace slmrec::backend
