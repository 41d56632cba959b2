#pragma once
// The int8 product's kernels over raw pointers (int8_matrix.hpp packs the
// weights and picks one): the float epilogue they share, the AVX-512 VNNI and
// AVX2 micro-kernels and their tiles, and the tiling with its rule for when a
// product runs in parallel. The int4 kernels reuse the tiling.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/quant/detail/cpu_features.hpp>

#if SLMREC_QUANT_X86
#include <immintrin.h>
#endif

namespace slmrec::quant::detail {

// The one float epilogue every kernel applies to the exact int32 dot.
inline float int8_output(float xscale, float wscale, std::int32_t dot, const float* bias, index o) noexcept {
  const float s = xscale * wscale;
  return bias != nullptr ? std::fma(s, float(dot), bias[o]) : s * float(dot);
}

struct int8_gemm_args {
  const std::int8_t* xq;     // [m, pc] codes
  const std::uint8_t* xu;    // [m, pc] codes + 128 (VNNI only)
  const float* xs;           // [m]
  index pc;                  // padded cols, of x and of w
  const std::int8_t* w;      // int8_matrix::packed()
  const float* ws;           // [padded rows]
  const std::int32_t* wsum;  // [padded rows]
  index rows;                // outputs, and y's leading dimension
  const float* bias;         // [rows] or null
  float* y;                  // [m, rows]
};

#if SLMREC_QUANT_X86

// MR rows of x against NP panels (16 * NP outputs): 4 x 4 keeps 16 of the 32
// zmm registers as accumulators, so each weight load feeds 4 vpdpbusd and
// each activation broadcast 4.
template <int MR, int NP>
SLMREC_QUANT_TARGET_VNNI inline void int8_vnni_micro(const int8_gemm_args& a, index r0, index p0) {
  __m512i acc[MR][NP];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 16
    for (int p = 0; p < NP; ++p) acc[r][p] = _mm512_setzero_si512();
  const std::uint8_t* x = a.xu + r0 * a.pc;
  const std::int8_t* w = a.w + p0 * 16 * a.pc;
  for (index k = 0; k < a.pc; k += 4) {
    __m512i wv[NP];
#pragma GCC unroll 16
    for (int p = 0; p < NP; ++p) wv[p] = _mm512_loadu_si512(w + p * 16 * a.pc + k * 16);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      std::int32_t four;
      std::memcpy(&four, x + r * a.pc + k, 4);
      const __m512i xb = _mm512_set1_epi32(four);
#pragma GCC unroll 16
      for (int p = 0; p < NP; ++p) acc[r][p] = dpbusd(acc[r][p], xb, wv[p]);
    }
  }
#pragma GCC unroll 16
  for (int p = 0; p < NP; ++p) {
    const index o = (p0 + p) * 16;
    const auto mask = static_cast<__mmask16>((1u << std::min<index>(16, a.rows - o)) - 1u);
    const __m512 wsv = _mm512_loadu_ps(a.ws + o);
    // sum (x + 128) w = sum x w + 128 sum w. The all-ones masked forms
    // here and below are the plain instructions; GCC 12's unmasked
    // intrinsics pass an _mm512_undefined operand that -Wmaybe-uninitialized
    // reports.
    const __m512i comp = _mm512_maskz_slli_epi32(__mmask16(0xffff), _mm512_loadu_si512(a.wsum + o), 7);
    const __m512 bv = a.bias != nullptr ? _mm512_maskz_loadu_ps(mask, a.bias + o) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 dot = _mm512_maskz_cvtepi32_ps(__mmask16(0xffff), _mm512_sub_epi32(acc[r][p], comp));
      const __m512 s = _mm512_mul_ps(_mm512_set1_ps(a.xs[r0 + r]), wsv);
      const __m512 v = a.bias != nullptr ? _mm512_fmadd_ps(s, dot, bv) : _mm512_mul_ps(s, dot);
      _mm512_mask_storeu_ps(a.y + (r0 + r) * a.rows + o, mask, v);
    }
  }
}

template <int NP>
SLMREC_QUANT_TARGET_VNNI inline void int8_vnni_rows(const int8_gemm_args& a, index r0, index r1, index p0) {
  index r = r0;
  for (; r + 4 <= r1; r += 4) int8_vnni_micro<4, NP>(a, r, p0);
  if (r1 - r == 3) int8_vnni_micro<3, NP>(a, r, p0);
  if (r1 - r == 2) int8_vnni_micro<2, NP>(a, r, p0);
  if (r1 - r == 1) int8_vnni_micro<1, NP>(a, r, p0);
}

SLMREC_QUANT_TARGET_VNNI inline void int8_vnni_tile(const int8_gemm_args& a, index r0, index r1, index p0, index np) {
  if (np == 4) int8_vnni_rows<4>(a, r0, r1, p0);
  if (np == 3) int8_vnni_rows<3>(a, r0, r1, p0);
  if (np == 2) int8_vnni_rows<2>(a, r0, r1, p0);
  if (np == 1) int8_vnni_rows<1>(a, r0, r1, p0);
}

// MR rows of x against one panel, as two halves of 8 outputs. x * w as
// maddubs(|x|, w * sign(x)): the unsigned operand must be the activation's
// magnitude, and |codes| <= 127 keeps the int16 pair sums (<= 2 * 127 * 127)
// from saturating.
template <int MR>
SLMREC_QUANT_TARGET_AVX2 inline void int8_avx2_micro(const int8_gemm_args& a, index r0, index p) {
  __m256i acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  const std::int8_t* x = a.xq + r0 * a.pc;
  const std::int8_t* w = a.w + p * 16 * a.pc;
  for (index k = 0; k < a.pc; k += 4) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * 16));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * 16 + 32));
    for (int r = 0; r < MR; ++r) {
      std::int32_t four;
      std::memcpy(&four, x + r * a.pc + k, 4);
      const __m256i xb = _mm256_set1_epi32(four);
      const __m256i xa = _mm256_abs_epi8(xb);
      acc[r][0] =
          _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(xa, _mm256_sign_epi8(w0, xb)), ones));
      acc[r][1] =
          _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(xa, _mm256_sign_epi8(w1, xb)), ones));
    }
  }
  for (int h = 0; h < 2; ++h) {
    const index o = p * 16 + h * 8;
    if (o >= a.rows) break;
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(std::min<index>(8, a.rows - o))),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 wsv = _mm256_loadu_ps(a.ws + o);
    const __m256 bv = a.bias != nullptr ? _mm256_maskload_ps(a.bias + o, mask) : _mm256_setzero_ps();
    for (int r = 0; r < MR; ++r) {
      const __m256 dot = _mm256_cvtepi32_ps(acc[r][h]);
      const __m256 s = _mm256_mul_ps(_mm256_set1_ps(a.xs[r0 + r]), wsv);
      const __m256 v = a.bias != nullptr ? _mm256_fmadd_ps(s, dot, bv) : _mm256_mul_ps(s, dot);
      _mm256_maskstore_ps(a.y + (r0 + r) * a.rows + o, mask, v);
    }
  }
}

SLMREC_QUANT_TARGET_AVX2 inline void int8_avx2_tile(const int8_gemm_args& a, index r0, index r1, index p0, index np) {
  for (index p = p0; p < p0 + np; ++p) {  // one panel (16 * pc bytes) stays in L1 across the rows
    index r = r0;
    for (; r + 4 <= r1; r += 4) int8_avx2_micro<4>(a, r, p);
    if (r1 - r == 3) int8_avx2_micro<3>(a, r, p);
    if (r1 - r == 2) int8_avx2_micro<2>(a, r, p);
    if (r1 - r == 1) int8_avx2_micro<1>(a, r, p);
  }
}

#endif  // SLMREC_QUANT_X86

// Tiles of (32 rows of x) x (4 panels = 64 outputs); tile t covers panel
// group t / row_tiles, so a thread's static share of consecutive tiles
// reuses its weights from cache.
struct tiling {
  static constexpr index rows = 32;
  static constexpr index panels = 4;
  index m, total_panels, row_tiles, count;
  tiling(index m_, index total_panels_)
      : m(m_),
        total_panels(total_panels_),
        row_tiles(ceil_div(m_, rows)),
        count(row_tiles * ceil_div(total_panels_, panels)) {}
  index p0(index t) const noexcept { return (t / row_tiles) * panels; }
  index np(index t) const noexcept { return std::min(panels, total_panels - p0(t)); }
  index r0(index t) const noexcept { return (t % row_tiles) * rows; }
  index r1(index t) const noexcept { return std::min(m, r0(t) + rows); }
};

// Multiply-adds below which an integer product runs on one thread: a
// parallel region costs a few microseconds to start and join, which the VNNI
// kernel (several hundred MAC per nanosecond) spends on about two million.
inline constexpr long integer_parallel_work = 1L << 21;

// Runs tile(t) for every tile, in parallel when the product is large enough.
// The serial branch is separate rather than an OpenMP if() clause, which
// still costs a team start (about a microsecond, as much as a small product).
template <class Tile>
void for_each_tile(index count, long work, const Tile& tile) {
  if (work > integer_parallel_work) {
    SLMREC_OMP(parallel for schedule(static))
    for (index t = 0; t < count; ++t) tile(t);
  } else {
    for (index t = 0; t < count; ++t) tile(t);
  }
}

}  // namespace slmrec::quant::detail
