#pragma once
// A float32 matrix product for CPUs with AVX2 and FMA but no AVX-512:
// C = alpha * op(A) op(B) + beta * C, row-major, through sgemm_driver.hpp.
//
// Why: a build without -march=native (the Python wheel's, a consumer's
// default) compiles Eigen for SSE2, four floats wide and no FMA; on such a CPU
// this kernel runs eight wide with FMA. On AVX-512 CPUs sgemm_avx512.hpp is
// chosen before it; SLMREC_SIMD=avx2 (core/cpu_features.hpp) selects it there,
// which is how the tests and benchmarks reach it on such a machine.
//
// The micro-kernel keeps a 6 x 16 tile of C in 12 ymm registers (two per row),
// with the B row in two more and A's broadcast in one: 15 of the 16. Packing
// is plain C++ compiled for AVX2 (the compiler vectorises the contiguous
// copies): it is O(k (m + n)) against the product's O(m n k).
#include <slmrec/core/cpu_features.hpp>
#if SLMREC_X86

#include <algorithm>

#include <slmrec/backend/cpu/sgemm_driver.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::backend::cpu::avx2 {

namespace detail {

inline constexpr index mr = 6, nr = 16;

// Lanes 0..n-1 of an 8-lane mask (none for n <= 0, all for n >= 8).
SLMREC_TARGET_AVX2 inline __m256i lane_mask(index n) {
  const int lanes = int(std::clamp<index>(n, 0, 8));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// C[0:rows, 0:cols] = alpha * (Ap Bp) + beta * C for one mr x nr tile;
// beta == 0 never reads C.
SLMREC_TARGET_AVX2 inline void micro_kernel(index kc, const float* ap, const float* bp, float* c, index ldc,
                                            float alpha, float beta, index rows, index cols) {
  __m256 acc[mr][2];
#pragma GCC unroll 6
  for (index r = 0; r < mr; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (index kk = 0; kk < kc; ++kk, ap += mr, bp += nr) {
    const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
#pragma GCC unroll 6
    for (index r = 0; r < mr; ++r) {
      const __m256 a = _mm256_broadcast_ss(ap + r);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (cols == nr) {  // whole rows: plain loads and stores (masked stores are microcoded on some CPUs)
#pragma GCC unroll 6
    for (index r = 0; r < mr; ++r) {  // constant indices keep acc in registers
      if (r >= rows) break;
      float* row = c + r * ldc;
      __m256 v0 = _mm256_mul_ps(va, acc[r][0]), v1 = _mm256_mul_ps(va, acc[r][1]);
      if (beta != 0.0f) {
        v0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), v0);
        v1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8), v1);
      }
      _mm256_storeu_ps(row, v0);
      _mm256_storeu_ps(row + 8, v1);
    }
    return;
  }
  const __m256i m0 = lane_mask(cols), m1 = lane_mask(cols - 8);
#pragma GCC unroll 6
  for (index r = 0; r < mr; ++r) {
    if (r >= rows) break;
    float* row = c + r * ldc;
    __m256 v0 = _mm256_mul_ps(va, acc[r][0]), v1 = _mm256_mul_ps(va, acc[r][1]);
    if (beta != 0.0f) {
      v0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(row, m0), v0);
      v1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(row + 8, m1), v1);
    }
    _mm256_maskstore_ps(row, m0, v0);
    _mm256_maskstore_ps(row + 8, m1, v1);
  }
}

}  // namespace detail

// The kernel sgemm_driver.hpp runs. kc x nr floats of B (16 KiB) stay in L1;
// mc x kc of A (144 KiB) in L2.
struct sgemm_kernel {
  static constexpr index mr = detail::mr, nr = detail::nr, kc = 256, mc = 144, nc = 3072;
  static constexpr double fma_lanes = 16.0;  // two 8-float FMA ports

  // op(A)[i0 : i0+mc, p0 : p0+kc] -> panels of mr rows, k-major inside a panel,
  // zero past row mc.
  SLMREC_TARGET_AVX2 static void pack_a(bool trans, const float* a, index lda, index i0, index m_rows, index p0,
                                        index depth, float* dst) {
    for (index ir = 0; ir < m_rows; ir += mr, dst += mr * depth) {
      const index rows = std::min(mr, m_rows - ir);
      for (index kk = 0; kk < depth; ++kk) {
        float* out = dst + kk * mr;
        for (index r = 0; r < mr; ++r)
          out[r] = r >= rows ? 0.0f : trans ? a[(p0 + kk) * lda + i0 + ir + r] : a[(i0 + ir + r) * lda + p0 + kk];
      }
    }
  }

  // op(B)[p0 : p0+kc, j0 : j0+nc] -> panels of nr columns, k-major inside a
  // panel, zero past column nc.
  SLMREC_TARGET_AVX2 static void pack_b(bool trans, const float* b, index ldb, index p0, index depth, index j0,
                                        index n_cols, float* dst) {
    for (index jr = 0; jr < n_cols; jr += nr, dst += nr * depth) {
      const index cols = std::min(nr, n_cols - jr);
      if (!trans) {  // stored [k, n]: a panel row is contiguous
        for (index kk = 0; kk < depth; ++kk) {
          const float* src = b + (p0 + kk) * ldb + j0 + jr;
          float* out = dst + kk * nr;
          for (index c = 0; c < nr; ++c) out[c] = c < cols ? src[c] : 0.0f;
        }
      } else {  // stored [n, k]: the panel's columns are stored rows
        for (index c = 0; c < nr; ++c) {
          const float* src = b + (j0 + jr + c) * ldb + p0;
          for (index kk = 0; kk < depth; ++kk) dst[kk * nr + c] = c < cols ? src[kk] : 0.0f;
        }
      }
    }
  }

  // Every mr x nr tile of one packed block.
  SLMREC_TARGET_AVX2 static void tiles(index depth, index m_rows, index n_cols, const float* ap, const float* bp,
                                       float* c, index ldc, float alpha, float beta) {
    for (index jr = 0; jr < n_cols; jr += nr)
      for (index ir = 0; ir < m_rows; ir += mr)
        detail::micro_kernel(depth, ap + ir * depth, bp + jr * depth, c + ir * ldc + jr, ldc, alpha, beta,
                             std::min(mr, m_rows - ir), std::min(nr, n_cols - jr));
  }

  SLMREC_TARGET_AVX2 static void block(bool trans_a, bool trans_b, index i0, index i1, index j0, index j1, index k,
                    float alpha, const float* a, index lda, const float* b, index ldb, float beta, float* c,
                    index ldc) {
    sgemm_detail::block<sgemm_kernel>(trans_a, trans_b, i0, i1, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
};

inline void sgemm(bool trans_a, bool trans_b, index m, index n, index k, float alpha, const float* a, index lda,
                  const float* b, index ldb, float beta, float* c, index ldc) {
  sgemm_detail::sgemm<sgemm_kernel>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace slmrec::backend::cpu::avx2

#endif  // SLMREC_X86
