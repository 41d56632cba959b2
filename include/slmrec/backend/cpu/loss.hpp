#pragma once
// Row gathers and scatters, row softmax, and the fused loss kernels of the
// CPU backend (softmax cross-entropy over the item set, binary cross-entropy
// on sampled pairs).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <Eigen/Core>

#include <slmrec/backend/cpu/fast_math.hpp>
#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::backend::cpu {

template <class T>
struct loss_kernels {
  // Vectorised reductions (Eigen's packet code): a plain `sum += x[i]` loop
  // stays scalar without -ffast-math, and these run over every item.
  static T max_of(const T* x, index n) { return Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(x, n).maxCoeff(); }
  static T sum_of(const T* x, index n) { return Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(x, n).sum(); }

  // dst[i, :] = src[rows[i], :]
  static void gather_rows(const T* src, const std::int32_t* rows, T* dst, index n, index dim) {
    SLMREC_OMP(parallel for if (n * dim > parallel_threshold))
    for (index i = 0; i < n; ++i) std::copy(src + index(rows[i]) * dim, src + (index(rows[i]) + 1) * dim, dst + i * dim);
  }
  // dst[rows[i], :] += src[i, :]  (rows may repeat; serial for that reason)
  static void scatter_add_rows(const T* src, const std::int32_t* rows, T* dst, index n, index dim) {
    for (index i = 0; i < n; ++i) {
      T* d = dst + index(rows[i]) * dim;
      const T* s = src + i * dim;
      for (index c = 0; c < dim; ++c) d[c] += s[c];
    }
  }
  // dst[rows[i], :] = src[i, :]
  static void scatter_rows(const T* src, const std::int32_t* rows, T* dst, index n, index dim) {
    SLMREC_OMP(parallel for if (n * dim > parallel_threshold))
    for (index i = 0; i < n; ++i) std::copy(src + i * dim, src + (i + 1) * dim, dst + index(rows[i]) * dim);
  }
  // y[i, :] += s[i] * x[i, :]
  static void scale_rows_add(const T* x, const T* s, T* y, index n, index dim) {
    SLMREC_OMP(parallel for if (n * dim > parallel_threshold))
    for (index i = 0; i < n; ++i)
      for (index c = 0; c < dim; ++c) y[i * dim + c] += s[i] * x[i * dim + c];
  }
  // out[i] = <a[i, :], b[i, :]>
  static void row_dot(const T* a, const T* b, T* out, index n, index dim) {
    SLMREC_OMP(parallel for if (n * dim > parallel_threshold))
    for (index i = 0; i < n; ++i) {
      T acc = 0;
      for (index c = 0; c < dim; ++c) acc += a[i * dim + c] * b[i * dim + c];
      out[i] = acc;
    }
  }

  // In-place softmax of each row of x [n, cols].
  static void softmax_rows(T* x, index n, index cols) {
    SLMREC_OMP(parallel for if (n * cols > parallel_threshold))
    for (index i = 0; i < n; ++i) {
      T* row = x + i * cols;
      const T m = max_of(row, cols);
      for (index c = 0; c < cols; ++c) row[c] = exp_kernel(row[c] - m);
      const T inv = T(1) / sum_of(row, cols);
      for (index c = 0; c < cols; ++c) row[c] *= inv;
    }
  }

  // Softmax cross-entropy of rows of logits [n, cols] against targets [n],
  // column 0 (the padding item) excluded from the softmax. Overwrites the
  // logits with d(scale * loss)/d logits and returns the unscaled loss sum.
  static double softmax_xent_rows(T* logits, const std::int32_t* targets, index n, index cols, T scale) {
#if SLMREC_PORTABLE_AVX512  // a portable build on an AVX-512 CPU: the exp loops 16 wide (parallel.hpp)
    if (cpu_has_avx512()) return softmax_xent_rows_avx512(logits, targets, n, cols, scale);
#endif
    double total = 0.0;
    SLMREC_OMP(parallel for reduction(+ : total) if (n * cols > parallel_threshold))
    for (index i = 0; i < n; ++i) total += softmax_xent_row(logits + i * cols, targets[i], cols, scale);
    return total;
  }

 private:
  // One row of softmax_xent_rows; inlined into each copy of the loop.
  [[gnu::always_inline]] static double softmax_xent_row(T* row, index t, index cols, T scale) {
    const T m = max_of(row + 1, cols - 1);
    const T target_logit = row[t];
    for (index c = 1; c < cols; ++c) row[c] = exp_kernel(row[c] - m);
    const T sum = sum_of(row + 1, cols - 1);
    const T inv = scale / sum;
    row[0] = 0;
    for (index c = 1; c < cols; ++c) row[c] *= inv;
    row[t] -= scale;
    return std::log(double(sum)) + double(m) - double(target_logit);  // -log p_t
  }
#if SLMREC_PORTABLE_AVX512
  SLMREC_TARGET_AVX512 static double softmax_xent_rows_avx512(T* logits, const std::int32_t* targets, index n,
                                                               index cols, T scale) {
    double total = 0.0;
    SLMREC_OMP(parallel for reduction(+ : total) if (n * cols > parallel_threshold))
    for (index i = 0; i < n; ++i) total += softmax_xent_row(logits + i * cols, targets[i], cols, scale);
    return total;
  }
#endif

 public:
  // Sampled softmax cross-entropy: row i scores its target (logit pos[i])
  // against a candidate set shared by every row (logits [n, cols], column j
  // for item candidates[j]); the caller has already subtracted each logit's
  // log Q correction. A candidate equal to the row's target (an accidental
  // hit) is the target itself, not a negative, so it leaves that row's
  // softmax. Overwrites logits and pos with d(scale * loss)/d logit (exactly 0
  // at a hit) and returns the unscaled loss sum.
  static double sampled_softmax_xent_rows(T* logits, T* pos, const std::int32_t* targets,
                                          const std::int32_t* candidates, index n, index cols, T scale) {
    double total = 0.0;
    SLMREC_OMP(parallel for reduction(+ : total) if (n * cols > parallel_threshold))
    for (index i = 0; i < n; ++i) {
      T* row = logits + i * cols;
      // A hit's corrected logit equals pos[i] (same item, same correction), so
      // taking the max over every column still bounds the kept ones tightly.
      const T m = std::max(cols > 0 ? max_of(row, cols) : pos[i], pos[i]);
      for (index c = 0; c < cols; ++c) row[c] = exp_kernel(row[c] - m);
      for (index c = 0; c < cols; ++c)
        if (candidates[c] == targets[i]) row[c] = T(0);
      const T e_pos = std::exp(pos[i] - m);
      const T sum = (cols > 0 ? sum_of(row, cols) : T(0)) + e_pos;
      total += std::log(double(sum)) + double(m) - double(pos[i]);  // -log p(target)
      const T inv = scale / sum;
      for (index c = 0; c < cols; ++c) row[c] *= inv;
      pos[i] = e_pos * inv - scale;
    }
    return total;
  }

  // Binary cross-entropy on logits: label 1 for `pos`, 0 for `neg` ([n] each).
  // Writes d(scale * loss)/d logit into dpos, dneg and returns the unscaled sum.
  static double sigmoid_bce_pairs(const T* pos, const T* neg, T* dpos, T* dneg, index n, T scale) {
    double total = 0.0;
    for (index i = 0; i < n; ++i) {
      // -log sigmoid(x) = softplus(-x); -log(1 - sigmoid(x)) = softplus(x), computed stably
      auto softplus = [](double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); };
      total += softplus(-double(pos[i])) + softplus(double(neg[i]));
      const T sp = T(1) / (T(1) + std::exp(-pos[i])), sn = T(1) / (T(1) + std::exp(-neg[i]));
      dpos[i] = scale * (sp - T(1));
      dneg[i] = scale * sn;
    }
    return total;
  }
};

}  // namespace slmrec::backend::cpu
