#pragma once
// The int4 product's kernels over raw pointers (int4_matrix.hpp packs the
// weights and picks one): the float epilogue, the unsigned-code compensation,
// and the AVX-512 VNNI and AVX2 micro-kernels and their tiles (tiled as
// int8's, detail/int8_kernels.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/quant/activations.hpp>
#include <slmrec/quant/detail/cpu_features.hpp>
#include <slmrec/quant/detail/int8_kernels.hpp>

#if SLMREC_QUANT_X86
#include <immintrin.h>
#endif

namespace slmrec::quant::detail {

inline float int4_output(float xscale, float acc, const float* bias, index o) noexcept {
  return bias != nullptr ? std::fma(xscale, acc, bias[o]) : xscale * acc;
}

struct int4_gemm_args {
  const std::int8_t* xq;    // [m, xpc] codes
  const float* xs;          // [m]
  const std::int32_t* xbs;  // [m, xpc / sum_block] code sums
  index xpc;                // x's padded cols (>= pc)
  const std::uint8_t* w;    // int4_matrix::packed()
  const float* ws;          // int4_matrix::panel_scales()
  index pc;                 // w's padded cols: blocks * Block
  index blocks;
  index rows;         // outputs, and y's leading dimension
  const float* bias;  // [rows] or null
  float* y;           // [m, rows]
};

template <index Block>
std::int32_t int4_compensation(const int4_gemm_args& a, index r, index b) noexcept {
  // sum (q + 8) x = sum q x + 8 sum x, with sum x over the block
  const std::int32_t* s = a.xbs + r * (a.xpc / sum_block) + b * (Block / sum_block);
  std::int32_t total = 0;
  for (index j = 0; j < Block / sum_block; ++j) total += s[j];
  return 8 * total;
}

#if SLMREC_QUANT_X86

// MR rows of x against NP panels: 4 x 2 uses 8 int32 and 8 float
// accumulators plus the 4 unpacked weight vectors of a step.
template <index Block, int MR, int NP>
SLMREC_QUANT_TARGET_VNNI inline void int4_vnni_micro(const int4_gemm_args& a, index r0, index p0) {
  __m512 f[MR][NP];
  for (int r = 0; r < MR; ++r)
    for (int p = 0; p < NP; ++p) f[r][p] = _mm512_setzero_ps();
  const __m512i low = _mm512_set1_epi8(0x0f);
  const std::int8_t* x = a.xq + r0 * a.xpc;
  const std::uint8_t* w = a.w + p0 * 8 * a.pc;
  for (index b = 0; b < a.blocks; ++b) {
    __m512i acc[MR][NP];
    for (int r = 0; r < MR; ++r)
      for (int p = 0; p < NP; ++p) acc[r][p] = _mm512_setzero_si512();
    for (index k = b * Block; k < (b + 1) * Block; k += 8) {
      __m512i lo[NP], hi[NP];
      for (int p = 0; p < NP; ++p) {
        const __m512i v = _mm512_loadu_si512(w + p * 8 * a.pc + k * 8);
        lo[p] = _mm512_and_si512(v, low);
        hi[p] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
      }
      for (int r = 0; r < MR; ++r) {
        std::int32_t first, second;
        std::memcpy(&first, x + r * a.xpc + k, 4);
        std::memcpy(&second, x + r * a.xpc + k + 4, 4);
        const __m512i xl = _mm512_set1_epi32(first);
        const __m512i xh = _mm512_set1_epi32(second);
        for (int p = 0; p < NP; ++p) {
          acc[r][p] = dpbusd(acc[r][p], lo[p], xl);
          acc[r][p] = dpbusd(acc[r][p], hi[p], xh);
        }
      }
    }
    for (int r = 0; r < MR; ++r) {
      const __m512i comp = _mm512_set1_epi32(int4_compensation<Block>(a, r0 + r, b));
      for (int p = 0; p < NP; ++p) {
        const __m512 sv = _mm512_loadu_ps(a.ws + ((p0 + p) * a.blocks + b) * 16);
        // The all-ones masked form is the plain instruction; GCC 12's
        // unmasked intrinsic passes an _mm512_undefined operand that
        // -Wmaybe-uninitialized reports.
        const __m512 dot = _mm512_maskz_cvtepi32_ps(__mmask16(0xffff), _mm512_sub_epi32(acc[r][p], comp));
        f[r][p] = _mm512_fmadd_ps(sv, dot, f[r][p]);
      }
    }
  }
  for (int p = 0; p < NP; ++p) {
    const index o = (p0 + p) * 16;
    const auto mask = static_cast<__mmask16>((1u << std::min<index>(16, a.rows - o)) - 1u);
    const __m512 bv = a.bias != nullptr ? _mm512_maskz_loadu_ps(mask, a.bias + o) : _mm512_setzero_ps();
    for (int r = 0; r < MR; ++r) {
      const __m512 xs = _mm512_set1_ps(a.xs[r0 + r]);
      const __m512 v = a.bias != nullptr ? _mm512_fmadd_ps(xs, f[r][p], bv) : _mm512_mul_ps(xs, f[r][p]);
      _mm512_mask_storeu_ps(a.y + (r0 + r) * a.rows + o, mask, v);
    }
  }
}

template <index Block, int NP>
SLMREC_QUANT_TARGET_VNNI inline void int4_vnni_rows(const int4_gemm_args& a, index r0, index r1, index p0) {
  index r = r0;
  for (; r + 4 <= r1; r += 4) int4_vnni_micro<Block, 4, NP>(a, r, p0);
  if (r1 - r == 3) int4_vnni_micro<Block, 3, NP>(a, r, p0);
  if (r1 - r == 2) int4_vnni_micro<Block, 2, NP>(a, r, p0);
  if (r1 - r == 1) int4_vnni_micro<Block, 1, NP>(a, r, p0);
}

template <index Block>
SLMREC_QUANT_TARGET_VNNI inline void int4_vnni_tile(const int4_gemm_args& a, index r0, index r1, index p0, index np) {
  index p = p0;
  for (; p + 2 <= p0 + np; p += 2) int4_vnni_rows<Block, 2>(a, r0, r1, p);
  if (p < p0 + np) int4_vnni_rows<Block, 1>(a, r0, r1, p);
}

// MR rows of x against half a panel (8 outputs): maddubs(q + 8, x) with the
// stored code as the unsigned operand; its int16 pair sums (<= 2 * 15 * 127)
// can add up over 32 inputs (8 of them, <= 30480) before widening to int32.
template <index Block, int MR>
SLMREC_QUANT_TARGET_AVX2 inline void int4_avx2_micro(const int4_gemm_args& a, index r0, index p, index h) {
  __m256 f[MR];
  for (int r = 0; r < MR; ++r) f[r] = _mm256_setzero_ps();
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i ones = _mm256_set1_epi16(1);
  const std::int8_t* x = a.xq + r0 * a.xpc;
  const std::uint8_t* w = a.w + p * 8 * a.pc + h * 32;
  for (index b = 0; b < a.blocks; ++b) {
    __m256i acc[MR];
    for (int r = 0; r < MR; ++r) acc[r] = _mm256_setzero_si256();
    for (index k0 = b * Block; k0 < (b + 1) * Block; k0 += sum_block) {
      __m256i sum16[MR];
      for (int r = 0; r < MR; ++r) sum16[r] = _mm256_setzero_si256();
      for (index k = k0; k < k0 + sum_block; k += 8) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * 8));
        const __m256i lo = _mm256_and_si256(v, low);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        for (int r = 0; r < MR; ++r) {
          std::int32_t first, second;
          std::memcpy(&first, x + r * a.xpc + k, 4);
          std::memcpy(&second, x + r * a.xpc + k + 4, 4);
          const __m256i both = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(first)),
                                                _mm256_maddubs_epi16(hi, _mm256_set1_epi32(second)));
          sum16[r] = _mm256_add_epi16(sum16[r], both);
        }
      }
      for (int r = 0; r < MR; ++r) acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(sum16[r], ones));
    }
    const __m256 sv = _mm256_loadu_ps(a.ws + (p * a.blocks + b) * 16 + h * 8);
    for (int r = 0; r < MR; ++r) {
      const __m256i comp = _mm256_set1_epi32(int4_compensation<Block>(a, r0 + r, b));
      f[r] = _mm256_fmadd_ps(sv, _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r], comp)), f[r]);
    }
  }
  const index o = p * 16 + h * 8;
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(std::min<index>(8, a.rows - o))),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256 bv = a.bias != nullptr ? _mm256_maskload_ps(a.bias + o, mask) : _mm256_setzero_ps();
  for (int r = 0; r < MR; ++r) {
    const __m256 xs = _mm256_set1_ps(a.xs[r0 + r]);
    const __m256 v = a.bias != nullptr ? _mm256_fmadd_ps(xs, f[r], bv) : _mm256_mul_ps(xs, f[r]);
    _mm256_maskstore_ps(a.y + (r0 + r) * a.rows + o, mask, v);
  }
}

template <index Block>
SLMREC_QUANT_TARGET_AVX2 inline void int4_avx2_tile(const int4_gemm_args& a, index r0, index r1, index p0, index np) {
  for (index p = p0; p < p0 + np; ++p) {
    for (index h = 0; h < 2 && p * 16 + h * 8 < a.rows; ++h) {
      index r = r0;
      for (; r + 4 <= r1; r += 4) int4_avx2_micro<Block, 4>(a, r, p, h);
      if (r1 - r == 3) int4_avx2_micro<Block, 3>(a, r, p, h);
      if (r1 - r == 2) int4_avx2_micro<Block, 2>(a, r, p, h);
      if (r1 - r == 1) int4_avx2_micro<Block, 1>(a, r, p, h);
    }
  }
}

#endif  // SLMREC_QUANT_X86

}  // namespace slmrec::quant::detail
