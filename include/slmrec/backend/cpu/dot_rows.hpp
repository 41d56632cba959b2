#pragma once
// dot_rows: the scores of a block of item rows for a few users,
// out[u, j] = q[u] . w[j], with one arithmetic for every score whatever the
// number of users, the block it falls in or its position in the block:
//   acc[l] = fma chains over the 16 lanes l (element 16 c + l of q and w,
//            zero past d, c ascending, starting from 0);
//   score  = ((acc[l] + acc[l+8]) halved again by +4, +2, +1: a fixed tree.
// That makes a block-by-block scan of the catalog (serving's streamed top-k,
// the streamed full ranking of eval) see exactly the scores a whole-catalog
// pass would, and a target's score computed alone equal to the same item's
// score inside a block. dot_rows_ref is the same arithmetic in scalar code;
// the AVX-512 and AVX2 kernels (dot_rows_avx512, dot_rows_avx2) equal it bit
// for bit, and dot_rows picks the best the CPU runs at run time
// (core/cpu_features.hpp), so a build without -march=native (where std::fma
// is a library call) keeps them.
#include <cmath>
#include <cstdint>

#include <slmrec/backend/cpu/sgemm_avx2.hpp>
#include <slmrec/core/cpu_features.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::backend::cpu {

inline constexpr index dot_lanes = 16;

// q [m, d] (leading dimension d), w [n, d] (leading dimension d) -> out [m, n]
// (leading dimension ldo).
inline void dot_rows_ref(const float* q, index m, const float* w, index n, index d, float* out, index ldo) {
  const index chunks = (d + dot_lanes - 1) / dot_lanes;
  for (index u = 0; u < m; ++u)
    for (index j = 0; j < n; ++j) {
      float acc[dot_lanes] = {};
      for (index c = 0; c < chunks; ++c)
        for (index l = 0; l < dot_lanes; ++l) {
          const index k = c * dot_lanes + l;
          acc[l] = k < d ? std::fma(w[j * d + k], q[u * d + k], acc[l]) : std::fma(0.0f, 0.0f, acc[l]);
        }
      for (index half = dot_lanes / 2; half >= 1; half /= 2)
        for (index l = 0; l < half; ++l) acc[l] = acc[l] + acc[l + half];
      out[u * ldo + j] = acc[0];
    }
}

#if SLMREC_X86
namespace detail {

// The all-ones masked forms are the plain instructions; GCC 12's unmasked
// intrinsics pass an _mm512_undefined operand that -Wuninitialized reports.
template <int Imm>
SLMREC_TARGET_AVX512 inline __m512 shuffle_f32x4(__m512 a, __m512 b) {
  return _mm512_maskz_shuffle_f32x4(__mmask16(0xffff), a, b, Imm);
}

// One row's 16 lane sums: the fma chain over the chunks of 16, zero past d.
SLMREC_TARGET_AVX512 inline __m512 dot_lanes16(const float* q, const float* w, index d) {
  __m512 a = _mm512_setzero_ps();
  index k = 0;
  for (; k + 16 <= d; k += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(q + k), a);
  if (k < d) {
    const auto mask = static_cast<__mmask16>((1u << (d - k)) - 1u);
    a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w + k), _mm512_maskz_loadu_ps(mask, q + k), a);
  }
  return a;
}

// Stages one and two of the tree on rows t..t+3: per 128-bit lane (one row each), e + (e + 8), then e + (e + 4).
SLMREC_TARGET_AVX512 inline __m512 fold4(__m512 r0, __m512 r1, __m512 r2, __m512 r3) {
  const __m512 x0 = _mm512_add_ps(shuffle_f32x4<0x44>(r0, r1), shuffle_f32x4<0xEE>(r0, r1));
  const __m512 x1 = _mm512_add_ps(shuffle_f32x4<0x44>(r2, r3), shuffle_f32x4<0xEE>(r2, r3));
  return _mm512_add_ps(shuffle_f32x4<0x88>(x0, x1), shuffle_f32x4<0xDD>(x0, x1));
}
// Stages three and four on four fold4 results (rows 0-3, 4-7, 8-11, 12-15), then rows in lane order.
SLMREC_TARGET_AVX512 inline __m512 fold_last(__m512 y0, __m512 y1, __m512 y2, __m512 y3) {
  const __m512 z0 = _mm512_add_ps(_mm512_shuffle_ps(y0, y1, 0x44), _mm512_shuffle_ps(y0, y1, 0xEE));
  const __m512 z1 = _mm512_add_ps(_mm512_shuffle_ps(y2, y3, 0x44), _mm512_shuffle_ps(y2, y3, 0xEE));
  const __m512 s = _mm512_add_ps(_mm512_shuffle_ps(z0, z1, 0x88), _mm512_shuffle_ps(z0, z1, 0xDD));
  return _mm512_maskz_permutexvar_ps(__mmask16(0xffff),
                                     _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), s);
}

// One user against nt <= 16 rows of w (missing rows read as zero): a vector
// of the 16 scores (lane t = row t), each row's lanes summed by the tree of
// dot_rows_ref. Rows are read one after the other (a single stream through
// memory) and folded into the tree as they come, so that few vectors are live.
// (Helpers, not lambdas: a lambda does not inherit its function's target attribute.)
template <bool Full>
SLMREC_TARGET_AVX512 inline __m512 dot_row_or_zero(const float* q, const float* w, index nt, index d, int t) {
  return Full || t < nt ? dot_lanes16(q, w + t * d, d) : _mm512_setzero_ps();
}
// Named in order: as function arguments the rows would be read in whatever order the compiler
// evaluates them (GCC: last first), a backward walk the prefetcher follows worse.
template <bool Full>
SLMREC_TARGET_AVX512 inline __m512 dot_group4(const float* q, const float* w, index nt, index d, int t) {
  const __m512 r0 = dot_row_or_zero<Full>(q, w, nt, d, t), r1 = dot_row_or_zero<Full>(q, w, nt, d, t + 1),
               r2 = dot_row_or_zero<Full>(q, w, nt, d, t + 2), r3 = dot_row_or_zero<Full>(q, w, nt, d, t + 3);
  return fold4(r0, r1, r2, r3);
}
template <bool Full>
SLMREC_TARGET_AVX512 inline __m512 dot_tile(const float* q, const float* w, index nt, index d) {
  const __m512 y0 = dot_group4<Full>(q, w, nt, d, 0), y1 = dot_group4<Full>(q, w, nt, d, 4),
               y2 = dot_group4<Full>(q, w, nt, d, 8), y3 = dot_group4<Full>(q, w, nt, d, 12);
  return fold_last(y0, y1, y2, y3);
}

// One row's chunk for two users: ra += w . x, rb += w . y.
SLMREC_TARGET_AVX512 inline void fma_row_users2(__mmask16 mask, __m512 x, __m512 y, const float* w, __m512& ra,
                                                __m512& rb) {
  const __m512 wv = _mm512_maskz_loadu_ps(mask, w);
  ra = _mm512_fmadd_ps(wv, x, ra);
  rb = _mm512_fmadd_ps(wv, y, rb);
}

// Two users against 8 rows (t0..t0+7 of a full tile): each row's chunk is
// loaded once for both, so the loads no longer outnumber the FMAs (the
// batch's bound). Per (user, row) the same chain as dot_lanes16.
SLMREC_TARGET_AVX512 inline void dot_rows8_users2(const float* qa, const float* qb, const float* w, index d,
                                                  __m512& ya0, __m512& ya1, __m512& yb0, __m512& yb1) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
  for (index k = 0; k < d; k += 16) {
    const auto mask = static_cast<__mmask16>(d - k >= 16 ? 0xffffu : (1u << (d - k)) - 1u);
    const __m512 x = _mm512_maskz_loadu_ps(mask, qa + k), y = _mm512_maskz_loadu_ps(mask, qb + k);
    const float* wk = w + k;
    fma_row_users2(mask, x, y, wk, a0, b0), fma_row_users2(mask, x, y, wk + d, a1, b1);
    fma_row_users2(mask, x, y, wk + 2 * d, a2, b2), fma_row_users2(mask, x, y, wk + 3 * d, a3, b3);
    fma_row_users2(mask, x, y, wk + 4 * d, a4, b4), fma_row_users2(mask, x, y, wk + 5 * d, a5, b5);
    fma_row_users2(mask, x, y, wk + 6 * d, a6, b6), fma_row_users2(mask, x, y, wk + 7 * d, a7, b7);
  }
  ya0 = fold4(a0, a1, a2, a3);
  ya1 = fold4(a4, a5, a6, a7);
  yb0 = fold4(b0, b1, b2, b3);
  yb1 = fold4(b4, b5, b6, b7);
}

}  // namespace detail

// The AVX-512 kernel; call it only where cpu_supports(simd::avx512).
SLMREC_TARGET_AVX512 inline void dot_rows_avx512(const float* q, index m, const float* w, index n, index d, float* out,
                                                 index ldo) {
  // Items in tiles of 16 (8 KB at d 128, kept in L1 while every user reads them).
  for (index j = 0; j < n; j += 16) {
    const index nt = n - j < 16 ? n - j : 16;
    const auto store = static_cast<__mmask16>(nt == 16 ? 0xffffu : (1u << nt) - 1u);
    index u = 0;
    if (nt == 16)
      for (; u + 2 <= m; u += 2) {
        __m512 a0, a1, a2, a3, b0, b1, b2, b3;
        detail::dot_rows8_users2(q + u * d, q + (u + 1) * d, w + j * d, d, a0, a1, b0, b1);
        detail::dot_rows8_users2(q + u * d, q + (u + 1) * d, w + (j + 8) * d, d, a2, a3, b2, b3);
        _mm512_storeu_ps(out + u * ldo + j, detail::fold_last(a0, a1, a2, a3));
        _mm512_storeu_ps(out + (u + 1) * ldo + j, detail::fold_last(b0, b1, b2, b3));
      }
    for (; u < m; ++u) {
      const __m512 s = nt == 16 ? detail::dot_tile<true>(q + u * d, w + j * d, nt, d)
                                : detail::dot_tile<false>(q + u * d, w + j * d, nt, d);
      _mm512_mask_storeu_ps(out + u * ldo + j, store, s);
    }
  }
}

namespace detail {
// The 16 lanes of one row's chain as two 8-lane halves (lanes 0-7, 8-15); zero past d.
SLMREC_TARGET_AVX2 inline __m256 masked_load8(const float* p, index count) {
  return count >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, avx2::detail::lane_mask(count));
}
// dot_rows_ref's tree on the two halves: (l + (l + 8)), then +4, +2, +1.
SLMREC_TARGET_AVX2 inline float fold16(__m256 lo, __m256 hi) {
  const __m256 s8 = _mm256_add_ps(lo, hi);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}
}  // namespace detail

// The AVX2 kernel, for CPUs without AVX-512 (the wheel's build would otherwise
// run dot_rows_ref, whose std::fma is a library call there): the same chains
// and tree, bit for bit, four rows per pass so each chunk of q is loaded once
// for them. Call it only where cpu_supports(simd::avx2).
SLMREC_TARGET_AVX2 inline void dot_rows_avx2(const float* q, index m, const float* w, index n, index d, float* out,
                                             index ldo) {
  constexpr index rows = 4;
  for (index j = 0; j < n; j += rows) {
    const index nt = n - j < rows ? n - j : rows;
    for (index u = 0; u < m; ++u) {
      __m256 lo[rows], hi[rows];
      for (index t = 0; t < rows; ++t) lo[t] = hi[t] = _mm256_setzero_ps();
      for (index k = 0; k < d; k += 16) {
        const __m256 x0 = detail::masked_load8(q + u * d + k, d - k);
        const __m256 x1 = detail::masked_load8(q + u * d + k + 8, d - k - 8);
        for (index t = 0; t < rows; ++t) {
          if (t >= nt) break;
          const float* wr = w + (j + t) * d + k;
          lo[t] = _mm256_fmadd_ps(detail::masked_load8(wr, d - k), x0, lo[t]);
          hi[t] = _mm256_fmadd_ps(detail::masked_load8(wr + 8, d - k - 8), x1, hi[t]);
        }
      }
      for (index t = 0; t < nt; ++t) out[u * ldo + j + t] = detail::fold16(lo[t], hi[t]);
    }
  }
}
#endif

inline void dot_rows(const float* q, index m, const float* w, index n, index d, float* out, index ldo) {
#if SLMREC_X86
  if (cpu_has_avx512()) return dot_rows_avx512(q, m, w, n, d, out, ldo);
  if (cpu_has_avx2()) return dot_rows_avx2(q, m, w, n, d, out, ldo);
#endif
  dot_rows_ref(q, m, w, n, d, out, ldo);
}

}  // namespace slmrec::backend::cpu
