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

// One row's 16 lane sums: the fma chain over the chunks of 16, zero past d.
inline __m512 dot_lanes16(const float* q, const float* w, index d) {
  __m512 a = _mm512_setzero_ps();
  index k = 0;
  for (; k + 16 <= d; k += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(q + k), a);
  if (k < d) {
    const auto mask = static_cast<__mmask16>((1u << (d - k)) - 1u);
    a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w + k), _mm512_maskz_loadu_ps(mask, q + k), a);
  }
  return a;
}

// One user against nt <= 16 rows of w (missing rows read as zero): a vector
// of the 16 scores (lane t = row t), each row's lanes summed by the tree of
// dot_rows_ref: element e + (e + 8), then + 4, + 2, + 1. Rows are read one
// after the other (a single stream through memory) and folded into the tree
// as they come, so that no more than a few vectors are live.
template <bool Full>
inline __m512 dot_tile(const float* q, const float* w, index nt, index d) {
  const auto row = [&](int t) {
    return Full || t < nt ? dot_lanes16(q, w + t * d, d) : _mm512_setzero_ps();
  };
  const auto pair = [&](int t) {  // element e < 8 of each half: row[e] + row[e + 8]
    const __m512 a = row(t), b = row(t + 1);
    return _mm512_add_ps(shuffle_f32x4<0x44>(a, b), shuffle_f32x4<0xEE>(a, b));
  };
  const auto quad = [&](int t) {  // per 128-bit lane (one row each): e + (e + 4)
    const __m512 x0 = pair(t), x1 = pair(t + 2);
    return _mm512_add_ps(shuffle_f32x4<0x88>(x0, x1), shuffle_f32x4<0xDD>(x0, x1));
  };
  const __m512 y0 = quad(0), y1 = quad(4), y2 = quad(8), y3 = quad(12);
  // e + (e + 2)
  const __m512 z0 = _mm512_add_ps(_mm512_shuffle_ps(y0, y1, 0x44), _mm512_shuffle_ps(y0, y1, 0xEE));
  const __m512 z1 = _mm512_add_ps(_mm512_shuffle_ps(y2, y3, 0x44), _mm512_shuffle_ps(y2, y3, 0xEE));
  // e + (e + 1); lane L, element e now holds row L + 4 e
  const __m512 s = _mm512_add_ps(_mm512_shuffle_ps(z0, z1, 0x88), _mm512_shuffle_ps(z0, z1, 0xDD));
  return _mm512_maskz_permutexvar_ps(__mmask16(0xffff),
                                     _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), s);
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
