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
// the AVX-512 kernel equals it bit for bit.
#include <cmath>
#include <cstdint>

#include <slmrec/core/types.hpp>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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

#if defined(__AVX512F__)
namespace detail {

// The all-ones masked forms are the plain instructions; GCC 12's unmasked
// intrinsics pass an _mm512_undefined operand that -Wuninitialized reports.
template <int Imm>
inline __m512 shuffle_f32x4(__m512 a, __m512 b) {
  return _mm512_maskz_shuffle_f32x4(__mmask16(0xffff), a, b, Imm);
}

// Sixteen accumulators -> one vector of their sums (lane t = a[t]), each
// summed by the tree of dot_rows_ref: halves of 8, then 4, 2, 1 elements.
inline __m512 reduce16(__m512 (&a)[16]) {
  __m512 x[8], y[4], z[2];
  for (int i = 0; i < 8; ++i)  // element e < 8 of each: a[e] + a[e + 8]
    x[i] = _mm512_add_ps(shuffle_f32x4<0x44>(a[2 * i], a[2 * i + 1]),
                         shuffle_f32x4<0xEE>(a[2 * i], a[2 * i + 1]));
  for (int i = 0; i < 4; ++i)  // per 128-bit lane (one accumulator each): e + (e + 4)
    y[i] = _mm512_add_ps(shuffle_f32x4<0x88>(x[2 * i], x[2 * i + 1]),
                         shuffle_f32x4<0xDD>(x[2 * i], x[2 * i + 1]));
  for (int i = 0; i < 2; ++i)  // e + (e + 2)
    z[i] = _mm512_add_ps(_mm512_shuffle_ps(y[2 * i], y[2 * i + 1], 0x44), _mm512_shuffle_ps(y[2 * i], y[2 * i + 1], 0xEE));
  // e + (e + 1); lane L, element e now holds a[L + 4 e]
  const __m512 s = _mm512_add_ps(_mm512_shuffle_ps(z[0], z[1], 0x88), _mm512_shuffle_ps(z[0], z[1], 0xDD));
  return _mm512_maskz_permutexvar_ps(__mmask16(0xffff),
                                     _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), s);
}

// One user against `nt` <= 16 rows of w (the rest of the tile reads as zero rows).
template <bool Full>
inline __m512 dot_tile(const float* q, const float* w, index nt, index d) {
  __m512 acc[16];
#pragma GCC unroll 16
  for (int t = 0; t < 16; ++t) acc[t] = _mm512_setzero_ps();
  for (index k = 0; k < d; k += dot_lanes) {
    const auto mask = static_cast<__mmask16>(d - k >= 16 ? 0xffffu : (1u << (d - k)) - 1u);
    const __m512 qc = _mm512_maskz_loadu_ps(mask, q + k);
#pragma GCC unroll 16
    for (int t = 0; t < 16; ++t)
      if (Full || t < nt) acc[t] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w + t * d + k), qc, acc[t]);
  }
  return reduce16(acc);
}

}  // namespace detail
#endif

inline void dot_rows(const float* q, index m, const float* w, index n, index d, float* out, index ldo) {
#if defined(__AVX512F__)
  // Items in tiles of 16 (8 KB at d 128, kept in L1 while every user reads them).
  for (index j = 0; j < n; j += 16) {
    const index nt = n - j < 16 ? n - j : 16;
    const auto store = static_cast<__mmask16>(nt == 16 ? 0xffffu : (1u << nt) - 1u);
    for (index u = 0; u < m; ++u) {
      const __m512 s = nt == 16 ? detail::dot_tile<true>(q + u * d, w + j * d, nt, d)
                                : detail::dot_tile<false>(q + u * d, w + j * d, nt, d);
      _mm512_mask_storeu_ps(out + u * ldo + j, store, s);
    }
  }
#else
  dot_rows_ref(q, m, w, n, d, out, ldo);
#endif
}

}  // namespace slmrec::backend::cpu
