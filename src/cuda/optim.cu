// The AdamW update, elementwise over one flat range of parameters (the
// formulas of backend/cpu/optim.hpp, as torch.optim.AdamW).
#include <cmath>

#include <slmrec/backend/cuda/kernels.hpp>

#include "common.cuh"

namespace slmrec::backend {

namespace {

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, index n, float beta1, float beta2, float eps,
                             float decay, float step, float inv_sqrt_bc2) {
  for (index i = blockIdx.x * index(blockDim.x) + threadIdx.x; i < n; i += index(gridDim.x) * blockDim.x) {
    m[i] = beta1 * m[i] + (1.f - beta1) * g[i];
    v[i] = beta2 * v[i] + (1.f - beta2) * g[i] * g[i];
    p[i] = p[i] * decay - step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
  }
}

}  // namespace

void cuda_kernels::adamw_update(float* p, const float* g, float* m, float* v, index n, float lr, float beta1,
                                float beta2, float eps, float weight_decay, float bias_correction1,
                                float bias_correction2) {
  if (n <= 0) return;
  const float decay = 1.f - lr * weight_decay, step = lr / bias_correction1;
  const float inv_sqrt_bc2 = 1.f / std::sqrt(bias_correction2);
  adamw_kernel<<<cuda_detail::grid_for(n), cuda_detail::threads_per_block>>>(p, g, m, v, n, beta1, beta2, eps, decay,
                                                                              step, inv_sqrt_bc2);
  SLMREC_CUDA_LAUNCHED("adamw_kernel");
}

}  // namespace slmrec::backend
