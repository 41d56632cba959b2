// RMSNorm and LayerNorm, forward and backward: one warp per row for the
// per-row work, column sums (blas.cu) for the weight and bias gradients.
#include <slmrec/backend/cuda/kernels.hpp>

#include "common.cuh"

namespace slmrec::backend {

namespace {

using cuda_detail::grid_for_rows;
using cuda_detail::threads_per_block;
using cuda_detail::warp_sum;

// Grid-stride over rows, one warp each.
#define SLMREC_FOR_EACH_ROW(r, rows)                                                                  \
  for (index r = (blockIdx.x * index(blockDim.x) + threadIdx.x) / 32; r < (rows);                   \
       r += index(gridDim.x) * blockDim.x / 32)

__global__ void rms_forward_kernel(const float* x, const float* w, float* y, float* rstd, index rows, index cols,
                                   float eps) {
  const int lane = threadIdx.x % 32;
  SLMREC_FOR_EACH_ROW(r, rows) {
    const float* xr = x + r * cols;
    float ss = 0.f;
    for (index c = lane; c < cols; c += 32) ss += xr[c] * xr[c];
    ss = warp_sum(ss);
    const float s = 1.f / sqrtf(ss / float(cols) + eps);
    if (lane == 0) rstd[r] = s;
    for (index c = lane; c < cols; c += 32) y[r * cols + c] = xr[c] * s * w[c];
  }
}

__global__ void rms_backward_kernel(const float* x, const float* w, const float* rstd, const float* dy, float* dx,
                                    index rows, index cols) {
  const int lane = threadIdx.x % 32;
  SLMREC_FOR_EACH_ROW(r, rows) {
    const float* xr = x + r * cols;
    const float* dyr = dy + r * cols;
    float acc = 0.f;
    for (index c = lane; c < cols; c += 32) acc += dyr[c] * w[c] * xr[c];
    const float s = rstd[r];
    const float mean_dot = warp_sum(acc) * s / float(cols);  // mean(dy * w * xhat)
    for (index c = lane; c < cols; c += 32) dx[r * cols + c] += s * (dyr[c] * w[c] - xr[c] * s * mean_dot);
  }
}

__global__ void layer_forward_kernel(const float* x, const float* w, const float* b, float* y, float* mean,
                                     float* rstd, index rows, index cols, float eps) {
  const int lane = threadIdx.x % 32;
  SLMREC_FOR_EACH_ROW(r, rows) {
    const float* xr = x + r * cols;
    float sum = 0.f;
    for (index c = lane; c < cols; c += 32) sum += xr[c];
    const float m = warp_sum(sum) / float(cols);
    float var = 0.f;
    for (index c = lane; c < cols; c += 32) var += (xr[c] - m) * (xr[c] - m);
    const float s = 1.f / sqrtf(warp_sum(var) / float(cols) + eps);
    if (lane == 0) {
      mean[r] = m;
      rstd[r] = s;
    }
    for (index c = lane; c < cols; c += 32) y[r * cols + c] = (xr[c] - m) * s * w[c] + b[c];
  }
}

__global__ void layer_backward_kernel(const float* x, const float* w, const float* mean, const float* rstd,
                                      const float* dy, float* dx, index rows, index cols) {
  const int lane = threadIdx.x % 32;
  SLMREC_FOR_EACH_ROW(r, rows) {
    const float* xr = x + r * cols;
    const float* dyr = dy + r * cols;
    const float m = mean[r], s = rstd[r];
    float g = 0.f, gx = 0.f;
    for (index c = lane; c < cols; c += 32) {
      g += dyr[c] * w[c];
      gx += dyr[c] * w[c] * (xr[c] - m);
    }
    const float g_mean = warp_sum(g) / float(cols), gx_mean = warp_sum(gx) * s / float(cols);
    for (index c = lane; c < cols; c += 32)
      dx[r * cols + c] += s * (dyr[c] * w[c] - g_mean - (xr[c] - m) * s * gx_mean);
  }
}

#undef SLMREC_FOR_EACH_ROW

}  // namespace

void cuda_kernels::rms_norm_forward(const float* x, const float* w, float* y, float* rstd, index rows, index cols,
                                    float eps) {
  if (rows <= 0) return;
  rms_forward_kernel<<<grid_for_rows(rows), threads_per_block>>>(x, w, y, rstd, rows, cols, eps);
  SLMREC_CUDA_LAUNCHED("rms_forward_kernel");
}

void cuda_kernels::rms_norm_backward(const float* x, const float* w, const float* rstd, const float* dy, float* dx,
                                     float* dw, index rows, index cols) {
  if (rows <= 0) return;
  if (dx != nullptr) {
    rms_backward_kernel<<<grid_for_rows(rows), threads_per_block>>>(x, w, rstd, dy, dx, rows, cols);
    SLMREC_CUDA_LAUNCHED("rms_backward_kernel");
  }
  if (dw != nullptr) cuda_detail::column_sums(dy, x, rstd, nullptr, dw, rows, cols);  // dy * x * rstd
}

void cuda_kernels::layer_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean,
                                      float* rstd, index rows, index cols, float eps) {
  if (rows <= 0) return;
  layer_forward_kernel<<<grid_for_rows(rows), threads_per_block>>>(x, w, b, y, mean, rstd, rows, cols, eps);
  SLMREC_CUDA_LAUNCHED("layer_forward_kernel");
}

void cuda_kernels::layer_norm_backward(const float* x, const float* w, const float* mean, const float* rstd,
                                       const float* dy, float* dx, float* dw, float* db, index rows, index cols) {
  if (rows <= 0) return;
  if (dx != nullptr) {
    layer_backward_kernel<<<grid_for_rows(rows), threads_per_block>>>(x, w, mean, rstd, dy, dx, rows, cols);
    SLMREC_CUDA_LAUNCHED("layer_backward_kernel");
  }
  if (dw != nullptr) cuda_detail::column_sums(dy, x, rstd, mean, dw, rows, cols);  // dy * (x - mean) * rstd
  if (db != nullptr) cuda_detail::column_sums(dy, nullptr, nullptr, nullptr, db, rows, cols);
}

}  // namespace slmrec::backend
