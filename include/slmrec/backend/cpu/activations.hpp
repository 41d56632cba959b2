#pragma once
// Pointwise activations (SwiGLU, ReLU, GELU), dropout and the embedding
// gather / scatter of the CPU backend.
#include <cmath>
#include <cstdint>
#include <numbers>

#include <slmrec/backend/cpu/fast_math.hpp>
#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/hash.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::backend::cpu {

template <class T>
struct activation_kernels {
  static T sigmoid(T x) { return T(1) / (T(1) + exp_kernel(-x)); }

  // out = silu(gate) * up
  static void swiglu_forward(const T* gate, const T* up, T* out, index n) {
    pointwise(n, [=](index i) { out[i] = gate[i] * sigmoid(gate[i]) * up[i]; });
  }
  // dgate += dout * up * silu'(gate);  dup += dout * silu(gate)
  static void swiglu_backward(const T* gate, const T* up, const T* dout, T* dgate, T* dup, index n) {
    pointwise(n, [=](index i) {
      const T s = sigmoid(gate[i]);
      const T silu = gate[i] * s;
      dgate[i] += dout[i] * up[i] * (s + silu * (T(1) - s));
      dup[i] += dout[i] * silu;
    });
  }

  static void relu_forward(const T* x, T* y, index n) {
    pointwise(n, [=](index i) { y[i] = x[i] > T(0) ? x[i] : T(0); });
  }
  static void relu_backward(const T* x, const T* dy, T* dx, index n) {
    pointwise(n, [=](index i) { dx[i] += x[i] > T(0) ? dy[i] : T(0); });
  }

  // Exact GELU, x * Phi(x), as torch.nn.GELU() by default.
  static void gelu_forward(const T* x, T* y, index n) {
    SLMREC_OMP(parallel for if (n > parallel_threshold))
    for (index i = 0; i < n; ++i) y[i] = T(0.5) * x[i] * (T(1) + std::erf(x[i] * T(std::numbers::sqrt2 / 2)));
  }
  static void gelu_backward(const T* x, const T* dy, T* dx, index n) {
    const T inv_sqrt_2pi = T(0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2);
    SLMREC_OMP(parallel for if (n > parallel_threshold))
    for (index i = 0; i < n; ++i) {
      const T cdf = T(0.5) * (T(1) + std::erf(x[i] * T(std::numbers::sqrt2 / 2)));
      const T pdf = inv_sqrt_2pi * std::exp(T(-0.5) * x[i] * x[i]);
      dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
  }

  // Inverted dropout: y = x * keep / (1 - p). `keep` (one byte per element)
  // is kept for the backward.
  static void dropout_forward(const T* x, T* y, std::uint8_t* keep, index n, T p, std::uint64_t seed) {
    const T scale = T(1) / (T(1) - p);
    const auto threshold = static_cast<std::uint64_t>(double(p) * 18446744073709551616.0);
    SLMREC_OMP(parallel for if (n > parallel_threshold))
    for (index i = 0; i < n; ++i) {
      const bool k = mix64(seed + 0x9E3779B97F4A7C15ull * std::uint64_t(i + 1)) >= threshold;
      keep[i] = k ? 1 : 0;
      y[i] = k ? x[i] * scale : T(0);
    }
  }
  static void dropout_backward(const std::uint8_t* keep, const T* dy, T* dx, index n, T p) {
    const T scale = T(1) / (T(1) - p);
    pointwise(n, [=](index i) { dx[i] += keep[i] ? dy[i] * scale : T(0); });
  }

  // x[i] = 0 where keep[i] == 0: pruning masks held through training.
  static void apply_mask(const std::uint8_t* keep, T* x, index n) {
    pointwise(n, [=](index i) { x[i] = keep[i] ? x[i] : T(0); });
  }

  // out[i, :] = table[ids[i], :]
  static void embedding_forward(const std::int32_t* ids, const T* table, T* out, index n, index dim) {
    SLMREC_OMP(parallel for if (n * dim > parallel_threshold))
    for (index i = 0; i < n; ++i) {
      const T* src = table + index(ids[i]) * dim;
      T* dst = out + i * dim;
      for (index c = 0; c < dim; ++c) dst[c] = src[c];
    }
  }
  // dtable[ids[i], :] += dout[i, :], except row 0 (padding), which never learns.
  static void embedding_backward(const std::int32_t* ids, const T* dout, T* dtable, index n, index dim) {
    for (index i = 0; i < n; ++i) {
      if (ids[i] == 0) continue;
      T* dst = dtable + index(ids[i]) * dim;
      const T* src = dout + i * dim;
      for (index c = 0; c < dim; ++c) dst[c] += src[c];
    }
  }
};

}  // namespace slmrec::backend::cpu
