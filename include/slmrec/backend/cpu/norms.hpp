#pragma once
// RMSNorm (LLaMA) and LayerNorm (SASRec) forward and backward, one row per
// token. The forward keeps the per-row statistics the backward needs.
#include <cmath>

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::backend::cpu {

template <class T>
struct norm_kernels {
  // y = x / sqrt(mean(x^2) + eps) * w;  rstd[r] = 1 / sqrt(mean(x_r^2) + eps)
  static void rms_norm_forward(const T* x, const T* w, T* y, T* rstd, index rows, index cols, T eps) {
    SLMREC_OMP(parallel for if (rows * cols > parallel_threshold))
    for (index r = 0; r < rows; ++r) {
      const T* xr = x + r * cols;
      T* yr = y + r * cols;
      T ss = 0;
      for (index c = 0; c < cols; ++c) ss += xr[c] * xr[c];
      const T s = T(1) / std::sqrt(ss / T(cols) + eps);
      rstd[r] = s;
      for (index c = 0; c < cols; ++c) yr[c] = xr[c] * s * w[c];
    }
  }

  // dx += rstd * (dy*w - xhat * mean(dy*w*xhat));  dw += sum_r dy * xhat
  static void rms_norm_backward(const T* x, const T* w, const T* rstd, const T* dy, T* dx, T* dw, index rows,
                                index cols) {
    if (dx != nullptr) {
      SLMREC_OMP(parallel for if (rows * cols > parallel_threshold))
      for (index r = 0; r < rows; ++r) {
        const T* xr = x + r * cols;
        const T* dyr = dy + r * cols;
        T* dxr = dx + r * cols;
        const T s = rstd[r];
        T dot = 0;
        for (index c = 0; c < cols; ++c) dot += dyr[c] * w[c] * xr[c];
        const T mean_dot = dot * s / T(cols);  // mean(dy*w*xhat)
        for (index c = 0; c < cols; ++c) dxr[c] += s * (dyr[c] * w[c] - xr[c] * s * mean_dot);
      }
    }
    if (dw != nullptr)
      for (index r = 0; r < rows; ++r) {
        const T s = rstd[r];
        for (index c = 0; c < cols; ++c) dw[c] += dy[r * cols + c] * x[r * cols + c] * s;
      }
  }

  // y = (x - mean) * rstd * w + b
  static void layer_norm_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, index rows, index cols,
                                 T eps) {
    SLMREC_OMP(parallel for if (rows * cols > parallel_threshold))
    for (index r = 0; r < rows; ++r) {
      const T* xr = x + r * cols;
      T* yr = y + r * cols;
      T m = 0;
      for (index c = 0; c < cols; ++c) m += xr[c];
      m /= T(cols);
      T var = 0;
      for (index c = 0; c < cols; ++c) var += (xr[c] - m) * (xr[c] - m);
      const T s = T(1) / std::sqrt(var / T(cols) + eps);
      mean[r] = m;
      rstd[r] = s;
      for (index c = 0; c < cols; ++c) yr[c] = (xr[c] - m) * s * w[c] + b[c];
    }
  }

  // dx += rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy*w
  static void layer_norm_backward(const T* x, const T* w, const T* mean, const T* rstd, const T* dy, T* dx, T* dw,
                                  T* db, index rows, index cols) {
    if (dx != nullptr) {
      SLMREC_OMP(parallel for if (rows * cols > parallel_threshold))
      for (index r = 0; r < rows; ++r) {
        const T* xr = x + r * cols;
        const T* dyr = dy + r * cols;
        T* dxr = dx + r * cols;
        const T m = mean[r], s = rstd[r];
        T g_mean = 0, gx_mean = 0;
        for (index c = 0; c < cols; ++c) {
          const T g = dyr[c] * w[c];
          g_mean += g;
          gx_mean += g * (xr[c] - m) * s;
        }
        g_mean /= T(cols);
        gx_mean /= T(cols);
        for (index c = 0; c < cols; ++c) dxr[c] += s * (dyr[c] * w[c] - g_mean - (xr[c] - m) * s * gx_mean);
      }
    }
    for (index r = 0; r < rows; ++r) {
      const T m = mean[r], s = rstd[r];
      for (index c = 0; c < cols; ++c) {
        if (dw != nullptr) dw[c] += dy[r * cols + c] * (x[r * cols + c] - m) * s;
        if (db != nullptr) db[c] += dy[r * cols + c];
      }
    }
  }
};

}  // namespace slmrec::backend::cpu
