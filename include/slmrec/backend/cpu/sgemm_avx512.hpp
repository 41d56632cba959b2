#pragma once
// A float32 matrix product for AVX-512 CPUs: C = alpha * op(A) op(B) + beta * C,
// row-major; the blocking, packing order and threading are sgemm_driver.hpp's,
// this file holds the AVX-512 packing and micro-kernel.
//
// Why our own: Eigen's AVX-512 GEMM reaches about half of this machine's FMA
// peak (226 of ~418 GFLOP/s on two cores, measured), OpenBLAS reaches 85% but
// brings its own threads (which fight ours for the cores) and obeys
// OPENBLAS_CORETYPE. This kernel needs neither.
//
// op(B) is packed into panels of nr = 32 columns (two zmm registers per row of
// C) and op(A) into panels of mr = 12 rows, so the micro-kernel keeps 12 x 32
// accumulators in 24 zmm registers. The B panel (kc x 32 floats = 32 KiB)
// stays in L1 while the A panels stream from L2.
//
// `blas_kernels<float>::gemm` calls this when the CPU runs AVX-512 (asked at
// run time: every vector function carries the target attribute, so a build
// without -march=native, the Python wheel's, keeps this kernel); tests hold it
// against `gemm_ref` at many shapes, transposes and tails.
#include <slmrec/core/cpu_features.hpp>
#if SLMREC_X86

#include <algorithm>
#include <cstring>

#include <slmrec/backend/cpu/sgemm_driver.hpp>
#include <slmrec/core/types.hpp>

SLMREC_AVX512_WARNINGS_OFF

namespace slmrec::backend::cpu::avx512 {

inline constexpr index sgemm_mr = 12;    // rows of C per micro-kernel (pack_a copies 8 + 4)
inline constexpr index sgemm_nr = 32;    // columns of C per micro-kernel (2 zmm)
inline constexpr index sgemm_kc = 256;   // depth of one packed slice (B panel: 32 KiB, in L1)
inline constexpr index sgemm_mc = 144;   // rows of A packed at once (144 x 256 floats: 144 KiB, in L2)
inline constexpr index sgemm_nc = 3072;  // columns of B packed at once (3 MiB, in L3)

namespace detail {

// The first n lanes of a 16-lane vector (none for n <= 0, all for n >= 16).
SLMREC_TARGET_AVX512 inline __mmask16 lane_mask(index n) {
  return n <= 0 ? __mmask16(0) : n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
}

// In-register transpose of a 16 x 16 block: r[i] holds row i on entry and
// column i on exit (unpack within 128-bit lanes, then lane shuffles).
SLMREC_TARGET_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

// Copies `count` (<= 16) rows of 16 values, src rows `ld` apart, to dst as
// 16 rows of `count` values `dst_ld` apart (a transposed block; missing rows
// read as zero, and only `count` lanes of each output row are written).
SLMREC_TARGET_AVX512 inline void transpose_block(const float* src, index ld, index count, float* dst, index dst_ld) {
  __m512 r[16];
  for (index i = 0; i < 16; ++i) r[i] = i < count ? _mm512_loadu_ps(src + i * ld) : _mm512_setzero_ps();
  transpose16(r);
  const __mmask16 keep = lane_mask(count);
  for (index i = 0; i < 16; ++i) _mm512_mask_storeu_ps(dst + i * dst_ld, keep, r[i]);
}

// `count` stored rows of kc values (ld apart) -> a k-major panel `width`
// wide: dst[kk * width + i] = src[i * ld + kk], zero for count <= i < width.
// Blocks of 16 x 16 are transposed in registers, the last kc % 16 one by one.
SLMREC_TARGET_AVX512 inline void pack_transposed(const float* src, index ld, index count, index kc, index width, float* dst) {
  const index k16 = kc / 16 * 16;
  for (index kk = 0; kk < k16; kk += 16)
    for (index c0 = 0; c0 < std::min(count, width); c0 += 16)
      transpose_block(src + c0 * ld + kk, ld, std::min<index>(16, count - c0), dst + kk * width + c0, width);
  for (index kk = 0; kk < k16; ++kk)  // transpose_block wrote only the real lanes
    for (index i = count; i < width; ++i) dst[kk * width + i] = 0.0f;
  for (index kk = k16; kk < kc; ++kk)
    for (index i = 0; i < width; ++i) dst[kk * width + i] = i < count ? src[i * ld + kk] : 0.0f;
}

// op(A)[i0 : i0+mc, p0 : p0+kc] -> panels of mr rows, k-major inside a panel:
// panel[kk * mr + r] = op(A)(i0 + panel_row + r, p0 + kk), zero past row mc.
SLMREC_TARGET_AVX512 inline void pack_a(bool trans, const float* a, index lda, index i0, index mc, index p0, index kc, float* dst) {
  constexpr index mr = sgemm_mr;
  static_assert(sgemm_mr == 12, "the transposed pack below copies 8 + 4 floats per panel row");
  if (trans) {
    // Stored [k, m]: row kk of the stored matrix holds all mc values of one
    // kk; reading it whole (instead of mr values from each of kc rows per
    // panel) touches one page per kk, not one per kk per panel.
    const index full = mc / mr * mr;
    for (index kk = 0; kk < kc; ++kk) {
      const float* src = a + (p0 + kk) * lda + i0;
      float* out = dst + kk * mr;
      for (index ir = 0; ir < full; ir += mr, out += mr * kc, src += mr) {
        _mm256_storeu_ps(out, _mm256_loadu_ps(src));
        _mm_storeu_ps(out + 8, _mm_loadu_ps(src + 8));
      }
      if (full < mc) {
        index r = 0;
        for (; r < mc - full; ++r) out[r] = src[r];
        for (; r < mr; ++r) out[r] = 0.0f;
      }
    }
    return;
  }
  // Stored [m, k]: each panel's rows transposed into it.
  for (index ir = 0; ir < mc; ir += mr, dst += mr * kc)
    pack_transposed(a + (i0 + ir) * lda + p0, lda, std::min(mr, mc - ir), kc, mr, dst);
}

// op(B)[p0 : p0+kc, j0 : j0+nc] -> panels of nr columns, k-major inside a
// panel: panel[kk * nr + c] = op(B)(p0 + kk, j0 + panel_col + c), zero past nc.
SLMREC_TARGET_AVX512 inline void pack_b(bool trans, const float* b, index ldb, index p0, index kc, index j0, index nc, float* dst) {
  constexpr index nr = sgemm_nr;
  for (index jr = 0; jr < nc; jr += nr, dst += nr * kc) {
    const index cols = std::min(nr, nc - jr);
    if (!trans) {  // stored [k, n]: one row of the panel is contiguous
      const __mmask16 m0 = lane_mask(cols), m1 = lane_mask(cols - 16);
      for (index kk = 0; kk < kc; ++kk) {
        const float* src = b + (p0 + kk) * ldb + j0 + jr;
        _mm512_store_ps(dst + kk * nr, _mm512_maskz_loadu_ps(m0, src));
        _mm512_store_ps(dst + kk * nr + 16, _mm512_maskz_loadu_ps(m1, src + 16));
      }
    } else {  // stored [n, k]: the panel's columns are stored rows
      pack_transposed(b + (j0 + jr) * ldb + p0, ldb, cols, kc, nr, dst);
    }
  }
}

// C[0:rows, 0:cols] = alpha * (Ap Bp) + beta * C for one mr x nr tile;
// beta == 0 never reads C.
SLMREC_TARGET_AVX512 inline void micro_kernel(index kc, const float* ap, const float* bp, float* c, index ldc, float alpha, float beta,
                         index rows, index cols) {
  __m512 acc[sgemm_mr][2];
#pragma GCC unroll 12
  for (index r = 0; r < sgemm_mr; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (index kk = 0; kk < kc; ++kk, ap += sgemm_mr, bp += sgemm_nr) {
    const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 12
    for (index r = 0; r < sgemm_mr; ++r) {
      const __m512 a = _mm512_set1_ps(ap[r]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  const __mmask16 m0 = lane_mask(cols), m1 = lane_mask(cols - 16);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
  for (index r = 0; r < sgemm_mr; ++r) {
    if (r >= rows) break;
    float* row = c + r * ldc;
    __m512 v0 = _mm512_mul_ps(va, acc[r][0]), v1 = _mm512_mul_ps(va, acc[r][1]);
    if (beta != 0.0f) {
      v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), v0);
      v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), v1);
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

// Every mr x nr tile of one packed block (the driver's innermost loops, here
// so the micro-kernel inlines).
SLMREC_TARGET_AVX512 inline void tiles(index kc, index mc, index nc, const float* ap, const float* bp, float* c,
                                       index ldc, float alpha, float beta) {
  for (index jr = 0; jr < nc; jr += sgemm_nr)
    for (index ir = 0; ir < mc; ir += sgemm_mr)
      micro_kernel(kc, ap + ir * kc, bp + jr * kc, c + ir * ldc + jr, ldc, alpha, beta, std::min(sgemm_mr, mc - ir),
                   std::min(sgemm_nr, nc - jr));
}

}  // namespace detail

// The kernel sgemm_driver.hpp runs.
struct sgemm_kernel {
  static constexpr index mr = sgemm_mr, nr = sgemm_nr, kc = sgemm_kc, mc = sgemm_mc, nc = sgemm_nc;
  static constexpr double fma_lanes = 32.0;  // two 16-float FMA ports
  SLMREC_TARGET_AVX512 static void pack_a(bool trans, const float* a, index lda, index i0, index mc_, index p0,
                                          index kc_, float* dst) {
    detail::pack_a(trans, a, lda, i0, mc_, p0, kc_, dst);
  }
  SLMREC_TARGET_AVX512 static void pack_b(bool trans, const float* b, index ldb, index p0, index kc_, index j0,
                                          index nc_, float* dst) {
    detail::pack_b(trans, b, ldb, p0, kc_, j0, nc_, dst);
  }
  SLMREC_TARGET_AVX512 static void tiles(index kc_, index mc_, index nc_, const float* ap, const float* bp, float* c,
                                         index ldc, float alpha, float beta) {
    detail::tiles(kc_, mc_, nc_, ap, bp, c, ldc, alpha, beta);
  }
  SLMREC_TARGET_AVX512 static void block(bool trans_a, bool trans_b, index i0, index i1, index j0, index j1, index k,
                    float alpha, const float* a, index lda, const float* b, index ldb, float beta, float* c, index ldc) {
    sgemm_detail::block<sgemm_kernel>(trans_a, trans_b, i0, i1, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
};

inline void sgemm(bool trans_a, bool trans_b, index m, index n, index k, float alpha, const float* a, index lda,
                  const float* b, index ldb, float beta, float* c, index ldc) {
  sgemm_detail::sgemm<sgemm_kernel>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace slmrec::backend::cpu::avx512

SLMREC_AVX512_WARNINGS_ON
#endif  // SLMREC_X86
