#pragma once
// Run-time int8 quantization of activations, the left operand of the
// quantized products: one symmetric scale per row (per token), so that one
// outlier token does not cost the others their precision.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/quant/detail/cpu_features.hpp>

namespace slmrec::quant {

// Rows are padded to this many codes so that a kernel reads whole 512-bit
// vectors and never a partial one.
inline constexpr index row_align = 64;
// The granularity of the per-block code sums (the int4 formats' block sizes
// are multiples of it).
inline constexpr index sum_block = 32;

namespace detail {

// Below this absmax, 127 / absmax is not a finite float: such rows take the
// double-precision path (they are all but zero anyway).
inline constexpr float tiny_absmax = 1e-30f;

// Symmetric absmax quantization of x[n] to codes in [-127, 127] (never
// -128, which the kernels rely on): scale = absmax / 127, code =
// nearbyint(x * (127 / absmax)) in float (ties to even); all zero gives scale
// 0 and codes 0. False, with nothing written, when a value is not finite.
// Weights and activations share it, so both round the same way; the AVX-512
// row quantizer below computes exactly the same codes.
inline bool absmax_quantize(const float* x, index n, std::int8_t* q, float& scale) {
  scale = 0.0f;
  if (n <= 0) return true;
  float maxabs = 0.0f;
  bool finite = true;
  for (index k = 0; k < n; ++k) {
    const float a = std::fabs(x[k]);
    maxabs = std::max(maxabs, a);
    finite &= a <= std::numeric_limits<float>::max();  // false for Inf and NaN
  }
  if (!finite) return false;
  if (maxabs == 0.0f) {
    std::fill(q, q + n, std::int8_t(0));
    return true;
  }
  scale = maxabs / 127.0f;
  if (maxabs < tiny_absmax) {
    const double inv = 127.0 / double(maxabs);
    for (index k = 0; k < n; ++k)
      q[k] = static_cast<std::int8_t>(std::clamp(std::nearbyint(double(x[k]) * inv), -127.0, 127.0));
    return true;
  }
  // x = {1, -2, 0.5} gives codes {64, -127, 32}: 127/2 = 63.5 is exact.
  const float inv = 127.0f / maxabs;
  for (index k = 0; k < n; ++k)
    q[k] = static_cast<std::int8_t>(std::clamp(std::nearbyint(x[k] * inv), -127.0f, 127.0f));
  return true;
}

// Codes q[0, padded) of one row (zero past n) and their per-block sums
// (unless block_sums is null), the scalar way.
inline bool quantize_row_scalar(const float* x, index n, index padded, std::int8_t* q, float& scale,
                                std::int32_t* block_sums, std::int32_t& total) {
  if (!absmax_quantize(x, n, q, scale)) return false;
  std::fill(q + n, q + padded, std::int8_t(0));
  total = 0;
  if (block_sums == nullptr) return true;  // not wanted (int8 weights)
  for (index b = 0; b < padded / sum_block; ++b) {
    std::int32_t s = 0;
    for (index k = 0; k < sum_block; ++k) s += q[b * sum_block + k];
    block_sums[b] = s;
    total += s;
  }
  return true;
}

#if SLMREC_QUANT_X86
// Codes of x[k, k + 16) (the lanes of `mask`) scaled by inv. |x| <= maxabs
// keeps x * inv within 127 (plus a rounding error far below 0.5), and the
// conversion rounds to nearest even as nearbyint does under the default
// rounding mode: no clamp, no separate rounding step.
SLMREC_QUANT_TARGET_VNNI inline __m512i codes_at(const float* x, index k, __mmask16 mask, __m512 inv) {
  const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + k), inv);
  return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// 16 codes as bytes at q + k, and (when biased is not null) + 128 at biased + k.
SLMREC_QUANT_TARGET_VNNI inline void store_codes(__m512i c, std::int8_t* q, std::uint8_t* biased, index k) {
  const __m128i codes = _mm512_cvtsepi32_epi8(c);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k), codes);
  if (biased != nullptr)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(biased + k), _mm_xor_si128(codes, _mm_set1_epi8(char(0x80))));
}

// The same row in 16-lane vectors: one pass for absmax and finiteness, one
// for codes and sums. The run-time quantization of wide activations (every
// position of every sequence in a batch) is otherwise what the int8 products
// of a small model spend most of their time on.
// With `biased`, also writes codes + 128 there (what the int8 VNNI kernel
// reads); with block_sums null, no sums (only int4 weights need them).
SLMREC_QUANT_TARGET_VNNI inline bool quantize_row_avx512(const float* x, index n, index padded, std::int8_t* q,
                                                         float& scale, std::int32_t* block_sums, std::int32_t& total,
                                                         std::uint8_t* biased = nullptr) {
  const auto lanes = [n](index k) -> __mmask16 {
    return k + 16 <= n ? __mmask16(0xFFFF) : k < n ? __mmask16((1u << (n - k)) - 1u) : __mmask16(0);
  };
  __m512 vmax = _mm512_setzero_ps();
  __mmask16 bad = 0;
  const __m512 fmax = _mm512_set1_ps(std::numeric_limits<float>::max());
  for (index k = 0; k < n; k += 16) {
    const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(lanes(k), x + k));
    vmax = _mm512_max_ps(vmax, a);
    bad |= _mm512_cmp_ps_mask(a, fmax, _CMP_NLE_UQ);  // Inf or NaN
  }
  const float maxabs = _mm512_reduce_max_ps(vmax);
  if (bad == 0 && maxabs == 0.0f) {
    // An all-zero row, as every padded position of a left-padded batch is
    // (zero item row, zero through norms, attention and FFN): common enough
    // not to send it down the scalar path.
    scale = 0.0f;
    total = 0;
    std::memset(q, 0, std::size_t(padded));
    if (biased != nullptr) std::memset(biased, 0x80, std::size_t(padded));
    if (block_sums != nullptr) std::fill(block_sums, block_sums + padded / sum_block, 0);
    return true;
  }
  if (bad != 0 || maxabs < tiny_absmax) {  // not finite, or all but zero: the scalar way
    if (!quantize_row_scalar(x, n, padded, q, scale, block_sums, total)) return false;
    if (biased != nullptr)
      for (index k = 0; k < padded; ++k) biased[k] = static_cast<std::uint8_t>(q[k] ^ 0x80);
    return true;
  }
  scale = maxabs / 127.0f;
  const __m512 inv = _mm512_set1_ps(127.0f / maxabs);
  total = 0;
  if (block_sums == nullptr) {  // codes only: no horizontal sums (a quarter less time at 64 columns)
    for (index k = 0; k < padded; k += 16) store_codes(codes_at(x, k, lanes(k), inv), q, biased, k);
    return true;
  }
  for (index b = 0; b < padded / sum_block; ++b) {
    __m512i acc = _mm512_setzero_si512();
    for (index k = b * sum_block; k < (b + 1) * sum_block; k += 16) {
      const __m512i c = codes_at(x, k, lanes(k), inv);
      acc = _mm512_add_epi32(acc, c);
      store_codes(c, q, biased, k);
    }
    block_sums[b] = _mm512_reduce_add_epi32(acc);
    total += block_sums[b];
  }
  return true;
}
#endif

}  // namespace detail

// x[m, cols] quantized per row. Owned by the caller and reused: the vectors
// only grow, so repeated shapes allocate nothing.
struct int8_rows {
  index m = 0;
  index cols = 0;
  index padded_cols = 0;                 // a multiple of row_align, >= cols
  std::vector<std::int8_t> codes;        // [m, padded_cols], in [-127, 127], zero past cols
  std::vector<float> scales;             // [m]: x ~= scale * code
  std::vector<std::int32_t> sums;        // [m]: sum of the row's codes
  std::vector<std::int32_t> block_sums;  // [m, padded_cols / sum_block]
  // [m, padded_cols]: codes + 128, for kernels whose instruction wants the
  // activation as the unsigned operand (filled by them, on demand).
  std::vector<std::uint8_t> biased;
  bool biased_ready = false;  // biased holds this x's codes (the vector quantizer writes both at once)
  bool has_sums = false;      // sums and block_sums hold this x's (int4 kernels need them, int8 ones do not)

  const std::int8_t* row(index r) const noexcept { return codes.data() + r * padded_cols; }
  index blocks_per_row() const noexcept { return padded_cols / sum_block; }
};

namespace detail {

// quantize_rows with the rows padded to `padded` codes (a multiple of
// row_align, at least cols): int4 weights with blocks wider than row_align
// need the activations padded to their own width.
inline void quantize_rows_padded(const float* x, index m, index cols, index padded, int8_rows& out,
                                 bool with_sums = true) {
  require(m >= 0 && cols >= 0, "quant::quantize_rows: negative shape [{}, {}]", m, cols);
  out.m = m;
  out.cols = cols;
  out.padded_cols = padded;
  // The buffers only grow: a model alternates wide products (every position)
  // and narrow ones (the last position), and shrinking then regrowing a
  // vector would zero the regrown part on every call.
  const auto grow = [](auto& v, index n) {
    if (v.size() < std::size_t(n)) v.resize(std::size_t(n));
  };
  grow(out.codes, m * padded);
  grow(out.scales, m);
  if (with_sums) {
    grow(out.sums, m);
    grow(out.block_sums, m * (padded / sum_block));
  }
  out.has_sums = false;
#if SLMREC_QUANT_X86
  const bool vector = best_kernel() == kernel::avx512_vnni;
#else
  const bool vector = false;
#endif
  if (vector) grow(out.biased, m * padded);
  out.biased_ready = false;
  // One row per iteration; a non-finite value is reported after the loop
  // (no exception may leave an OpenMP region).
  const auto row = [&](index r) {
    std::int8_t* q = out.codes.data() + r * padded;
    std::int32_t* bs = with_sums ? out.block_sums.data() + r * (padded / sum_block) : nullptr;
    float& scale = out.scales[std::size_t(r)];
    std::int32_t unused = 0;
    std::int32_t& total = with_sums ? out.sums[std::size_t(r)] : unused;
#if SLMREC_QUANT_X86
    if (vector)
      return quantize_row_avx512(x + r * cols, cols, padded, q, scale, bs, total, out.biased.data() + r * padded);
#endif
    return quantize_row_scalar(x + r * cols, cols, padded, q, scale, bs, total);
  };
  index bad_row = -1;
  if (m * cols >= backend::cpu::parallel_threshold * 4) {
    // A branch, not an `if` clause: the clause still starts a thread team.
    SLMREC_OMP(parallel for schedule(static) reduction(max : bad_row))
    for (index r = 0; r < m; ++r)
      if (!row(r)) bad_row = std::max(bad_row, r);
  } else {
    for (index r = 0; r < m; ++r)
      if (!row(r)) bad_row = std::max(bad_row, r);
  }
  require(bad_row < 0, "quant::quantize_rows: row {} of [{}, {}] holds a non-finite value", bad_row, m, cols);
  out.biased_ready = vector;
  out.has_sums = with_sums;
}

// codes + 128 (as bytes: code ^ 0x80), for kernels that need the activation
// unsigned; the padding becomes 128, against weights that are zero there.
inline void fill_biased(int8_rows& x) {
  const std::size_t n = std::size_t(x.m * x.padded_cols);
  if (x.biased_ready) return;
  if (x.biased.size() < n) x.biased.resize(n);
  for (std::size_t i = 0; i < n; ++i) x.biased[i] = static_cast<std::uint8_t>(x.codes[i] ^ 0x80);
  x.biased_ready = true;
}

}  // namespace detail

// Row r of x[m, cols] (row-major) quantized as detail::absmax_quantize does
// it, plus (with_sums) the code sums int4 kernels' compensations need.
inline void quantize_rows(const float* x, index m, index cols, int8_rows& out, bool with_sums = true) {
  detail::quantize_rows_padded(x, m, cols, round_up(cols, row_align), out, with_sums);
}

}  // namespace slmrec::quant
