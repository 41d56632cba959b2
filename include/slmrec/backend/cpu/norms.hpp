#pragma once
// RMSNorm (LLaMA) and LayerNorm (SASRec) forward and backward, one row per
// token. The forward keeps the per-row statistics the backward needs.
#include <cmath>

#include <Eigen/Core>

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::backend::cpu {

template <class T>
struct norm_kernels {
  // Row reductions through Eigen's packet code: a plain `acc += ...` loop is a
  // scalar chain bound by the add latency (no reassociation without
  // -ffast-math), and these run on every token of every layer.
  using row = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
  static T dot(const T* a, const T* b, index n) { return (row(a, n) * row(b, n)).sum(); }
  static T dot3(const T* a, const T* b, const T* c, index n) { return (row(a, n) * row(b, n) * row(c, n)).sum(); }

  // y = x / sqrt(mean(x^2) + eps) * w;  rstd[r] = 1 / sqrt(mean(x_r^2) + eps)
  static void rms_norm_forward(const T* x, const T* w, T* y, T* rstd, index rows, index cols, T eps) {
    SLMREC_OMP(parallel for if (rows * cols > parallel_threshold))
    for (index r = 0; r < rows; ++r) {
      const T* xr = x + r * cols;
      T* yr = y + r * cols;
      const T ss = dot(xr, xr, cols);
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
        const T mean_dot = dot3(dyr, w, xr, cols) * s / T(cols);  // mean(dy*w*xhat)
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
      const T m = row(xr, cols).sum() / T(cols);
      const T var = (row(xr, cols) - m).square().sum();
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
        const T g_mean = dot(dyr, w, cols) / T(cols);
        const T gx_mean = (row(dyr, cols) * row(w, cols) * (row(xr, cols) - m)).sum() * s / T(cols);
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
