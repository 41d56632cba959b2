#pragma once
// Matrix products and elementwise vector kernels of the CPU backend.
// Float32 products with at least 8 rows go to our AVX-512 kernel
// (sgemm_avx512.hpp) when the CPU runs AVX-512, else to our AVX2 one
// (sgemm_avx2.hpp) when it runs AVX2 and FMA (asked at run time, so a build
// without -march=native keeps them); everything else goes
// through Eigen (which threads with OpenMP, or forwards to OpenBLAS when
// EIGEN_USE_BLAS is defined). Defining SLMREC_EIGEN_GEMM keeps every product
// on Eigen (for comparisons). `gemm_ref` is the plain triple loop the tests
// hold both against.
#include <Eigen/Core>

#include <cstring>
#include <type_traits>

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/backend/cpu/sgemm_avx2.hpp>
#include <slmrec/backend/cpu/sgemm_avx512.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::backend::cpu {

template <class T>
struct blas_kernels {
  using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using matrix_map = Eigen::Map<row_matrix, Eigen::Unaligned, Eigen::OuterStride<>>;
  using const_matrix_map = Eigen::Map<const row_matrix, Eigen::Unaligned, Eigen::OuterStride<>>;

  // C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C. A is stored [m,k]
  // (or [k,m] when trans_a), B is stored [k,n] (or [n,k] when trans_b).
  static void gemm(bool trans_a, bool trans_b, index m, index n, index k, T alpha, const T* a, index lda, const T* b,
                   index ldb, T beta, T* c, index ldc) {
    if (m == 0 || n == 0) return;
#if SLMREC_X86 && !defined(SLMREC_EIGEN_GEMM) && !defined(EIGEN_USE_BLAS)
    // Fewer rows than that: packing B would cost more than the product
    // (one user's scores are a matrix-vector product, which Eigen does well).
    if constexpr (std::is_same_v<T, float>) {
      if (m >= 8 && cpu_has_avx512()) return avx512::sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      if (m >= 8 && cpu_has_avx2()) return avx2::sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
#endif
    matrix_map cm(c, m, n, Eigen::OuterStride<>(ldc));
    if (beta == T(0)) {
      cm.setZero();
    } else if (beta != T(1)) {
      cm *= beta;
    }
    if (k == 0) return;
    const_matrix_map am(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
    const_matrix_map bm(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
    if (!trans_a && !trans_b) cm.noalias() += alpha * am * bm;
    if (!trans_a && trans_b) cm.noalias() += alpha * am * bm.transpose();
    if (trans_a && !trans_b) cm.noalias() += alpha * am.transpose() * bm;
    if (trans_a && trans_b) cm.noalias() += alpha * am.transpose() * bm.transpose();
  }

  // `count` independent products; operand i starts at a + i*stride_a, etc.
  static void gemm_strided_batched(bool trans_a, bool trans_b, index m, index n, index k, T alpha, const T* a,
                                   index lda, index stride_a, const T* b, index ldb, index stride_b, T beta, T* c,
                                   index ldc, index stride_c, index count) {
    for (index i = 0; i < count; ++i)
      gemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta, c + i * stride_c, ldc);
  }

  static void gemm_ref(bool trans_a, bool trans_b, index m, index n, index k, T alpha, const T* a, index lda,
                       const T* b, index ldb, T beta, T* c, index ldc) {
    for (index i = 0; i < m; ++i)
      for (index j = 0; j < n; ++j) {
        double acc = 0.0;
        for (index p = 0; p < k; ++p) {
          const T av = trans_a ? a[p * lda + i] : a[i * lda + p];
          const T bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
          acc += double(av) * double(bv);
        }
        const T old = beta == T(0) ? T(0) : beta * c[i * ldc + j];
        c[i * ldc + j] = old + alpha * T(acc);
      }
  }

  static void fill(T* x, index n, T value) {
    if (value == T(0)) {
      if (n > 0) std::memset(x, 0, sizeof(T) * std::size_t(n));
      return;
    }
    for (index i = 0; i < n; ++i) x[i] = value;
  }
  static void copy(const T* x, T* y, index n) {
    if (n > 0 && x != y) std::memcpy(y, x, sizeof(T) * std::size_t(n));
  }
  // Host <-> backend memory: the same memory on the CPU.
  template <class U>
  static void upload(const U* host, U* dev, index n) {
    if (n > 0 && host != dev) std::memcpy(dev, host, sizeof(U) * std::size_t(n));
  }
  template <class U>
  static void download(const U* dev, U* host, index n) {
    if (n > 0 && host != dev) std::memcpy(host, dev, sizeof(U) * std::size_t(n));
  }
  // y += alpha * x
  static void axpy(T alpha, const T* x, T* y, index n) {
    pointwise(n, [=](index i) { y[i] += alpha * x[i]; });
  }
  // y = a + b (y may alias a or b)
  static void add(const T* a, const T* b, T* y, index n) {
    pointwise(n, [=](index i) { y[i] = a[i] + b[i]; });
  }
  static void scale(T* x, index n, T alpha) {
    pointwise(n, [=](index i) { x[i] *= alpha; });
  }
  static double sum_squares(const T* x, index n) {
    double acc = 0.0;
    SLMREC_OMP(parallel for simd reduction(+ : acc) if (n > parallel_threshold))
    for (index i = 0; i < n; ++i) acc += double(x[i]) * double(x[i]);
    return acc;
  }
  // y[r, :] += bias
  static void add_bias(T* y, const T* bias, index rows, index cols) {
    SLMREC_OMP(parallel for if (rows * cols > parallel_threshold))
    for (index r = 0; r < rows; ++r)
      for (index c = 0; c < cols; ++c) y[r * cols + c] += bias[c];
  }
  // dbias += column sums of dy
  static void bias_backward(const T* dy, T* dbias, index rows, index cols) {
    for (index r = 0; r < rows; ++r)
      for (index c = 0; c < cols; ++c) dbias[c] += dy[r * cols + c];
  }
};

}  // namespace slmrec::backend::cpu
