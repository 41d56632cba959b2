#pragma once
// int8 weights with one symmetric scale per output row (per channel), and
// y = x W^T against run-time int8 activations (one scale per row of x):
//   y[r][o] = xscale[r] * wscale[o] * sum_k xq[r][k] * wq[o][k]  (+ bias[o]).
// The integer dot is exact, so the AVX-512 VNNI, AVX2 and scalar kernels
// compute the same int32 and then the same float operations: they agree bit
// for bit, and gemm_nt_ref is the specification.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/limits.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/quant/activations.hpp>
#include <slmrec/quant/detail/cpu_features.hpp>

#if SLMREC_QUANT_X86
#include <immintrin.h>
#endif

namespace slmrec::quant {

class int8_matrix {
 public:
  // Kernel layout: outputs in panels of 16 and inputs in groups of 4, so
  // that one 64-byte vector holds 16 outputs x 4 consecutive inputs (the
  // operand layout of vpdpbusd; AVX2 reads it as two halves of 8 outputs).
  // Rows are padded to whole panels, cols to row_align, with zero codes.
  static constexpr index panel = 16;
  static constexpr index group = 4;
  // Keeps the VNNI accumulator, up to 255 * 127 * cols, inside int32.
  static constexpr index max_cols = 65536;

  int8_matrix() = default;

  // w[rows, cols] row-major (out features x in features).
  static int8_matrix quantize(const float* w, index rows, index cols) {
    int8_matrix out(rows, cols, "quantize");
    std::vector<std::int8_t> q(static_cast<std::size_t>(cols));
    for (index r = 0; r < rows; ++r) {
      float scale = 0.0f;
      require(detail::absmax_quantize(w + r * cols, cols, q.data(), scale),
              "quant::int8_matrix::quantize: row {} of [{}, {}] holds a non-finite weight", r, rows, cols);
      out.set_row(r, q.data(), scale);
    }
    return out;
  }

  // The canonical form back (a checkpoint): codes [rows, cols] row-major in
  // [-127, 127], scales [rows] finite.
  static int8_matrix from_codes(std::span<const std::int8_t> codes, std::span<const float> scales, index rows,
                                index cols) {
    int8_matrix out(rows, cols, "from_codes");
    require(codes.size() == std::size_t(rows * cols),
            "quant::int8_matrix::from_codes: expected {} codes ([{}, {}] row-major), got {}", rows * cols, rows, cols,
            codes.size());
    require(scales.size() == std::size_t(rows),
            "quant::int8_matrix::from_codes: expected {} scales (one per row), got {}", rows, scales.size());
    for (index r = 0; r < rows; ++r) {
      const float s = scales[std::size_t(r)];
      require(std::isfinite(s), "quant::int8_matrix::from_codes: scale of row {} is {}, expected a finite number", r,
              s);
      const std::int8_t* q = codes.data() + r * cols;
      for (index k = 0; k < cols; ++k) {
        // -128 has no negation in int8, which the AVX2 kernel's sign trick needs.
        require(q[k] != -128, "quant::int8_matrix::from_codes: code at row {}, col {} is -128, expected [-127, 127]", r,
                k);
      }
      out.set_row(r, q, s);
    }
    return out;
  }

  std::vector<std::int8_t> codes() const {
    std::vector<std::int8_t> out(std::size_t(rows_ * cols_));
    for (index r = 0; r < rows_; ++r)
      for (index k = 0; k < cols_; ++k) out[std::size_t(r * cols_ + k)] = code(r, k);
    return out;
  }
  std::vector<float> scales() const { return {scales_.begin(), scales_.begin() + rows_}; }

  index rows() const noexcept { return rows_; }
  index cols() const noexcept { return cols_; }
  // The canonical form: a byte per weight and a float per row.
  std::size_t storage_bytes() const noexcept { return std::size_t(rows_ * cols_ + 4 * rows_); }

  std::int8_t code(index r, index k) const noexcept { return packed_[std::size_t(offset(r, k))]; }
  float scale(index r) const noexcept { return scales_[std::size_t(r)]; }

  // out[cols] = row r of the dequantized weights: an embedding-table lookup.
  void dequantize_row(index r, float* out) const {
    require(r >= 0 && r < rows_, "quant::int8_matrix::dequantize_row: row {} is out of range [0, {})", r, rows_);
    const std::int8_t* q = packed_.data() + offset(r, 0);
    const float s = scales_[std::size_t(r)];
    // The kernel layout keeps a row's codes in runs of `group`, one run every
    // panel * group bytes: read run by run (the item table's lookup is this
    // loop, 6,400 rows for a batch of 128 users).
    const index whole = cols_ - cols_ % group;
    for (index k = 0; k < whole; k += group, q += panel * group)
      for (index j = 0; j < group; ++j) out[k + j] = s * float(q[j]);
    for (index k = whole; k < cols_; ++k) out[k] = s * float(q[k - whole]);
  }
  void dequantize(float* out) const {  // [rows, cols]
    for (index r = 0; r < rows_; ++r) dequantize_row(r, out + r * cols_);
  }

  // The kernel layout (see above).
  index padded_rows() const noexcept { return round_up(rows_, panel); }
  index padded_cols() const noexcept { return padded_cols_; }
  const std::int8_t* packed() const noexcept { return packed_.data(); }
  const float* padded_scales() const noexcept { return scales_.data(); }   // [padded_rows], 0 past rows
  const std::int32_t* code_sums() const noexcept { return sums_.data(); }  // [padded_rows]

 private:
  int8_matrix(index rows, index cols, const char* what) : rows_(rows), cols_(cols) {
    require(rows >= 0 && cols >= 0, "quant::int8_matrix::{}: negative shape [{}, {}]", what, rows, cols);
    require(cols <= max_cols, "quant::int8_matrix::{}: {} inputs, at most {} keep the int32 accumulators exact", what,
            cols, max_cols);
    (void)limits::checked_mul({rows + panel, cols + row_align}, "quant::int8_matrix");  // padding included
    padded_cols_ = round_up(cols, row_align);
    packed_.assign(std::size_t(padded_rows() * padded_cols_), 0);
    scales_.assign(std::size_t(padded_rows()), 0.0f);
    sums_.assign(std::size_t(padded_rows()), 0);
  }

  index offset(index r, index k) const noexcept {
    return (r / panel) * panel * padded_cols_ + (k / group) * panel * group + (r % panel) * group + k % group;
  }

  void set_row(index r, const std::int8_t* q, float scale) {
    std::int32_t sum = 0;
    for (index k = 0; k < cols_; ++k) {
      packed_[std::size_t(offset(r, k))] = q[k];
      sum += q[k];
    }
    scales_[std::size_t(r)] = scale;
    sums_[std::size_t(r)] = sum;
  }

  index rows_ = 0;
  index cols_ = 0;
  index padded_cols_ = 0;
  std::vector<std::int8_t> packed_;  // [padded_rows / panel][padded_cols / group][panel][group]
  std::vector<float> scales_;
  std::vector<std::int32_t> sums_;  // per row, for the VNNI kernel's unsigned-activation compensation
};

namespace detail {

// The one float epilogue every kernel applies to the exact int32 dot.
inline float int8_output(float xscale, float wscale, std::int32_t dot, const float* bias, index o) noexcept {
  const float s = xscale * wscale;
  return bias != nullptr ? std::fma(s, float(dot), bias[o]) : s * float(dot);
}

inline void int8_gemm_ref(const int8_rows& x, const int8_matrix& w, const float* bias, float* y) {
  const index rows = w.rows();
  for (index r = 0; r < x.m; ++r) {
    const std::int8_t* xr = x.row(r);
    for (index o = 0; o < rows; ++o) {
      std::int32_t dot = 0;
      for (index k = 0; k < w.cols(); ++k) dot += std::int32_t(xr[k]) * std::int32_t(w.code(o, k));
      y[r * rows + o] = int8_output(x.scales[std::size_t(r)], w.scale(o), dot, bias, o);
    }
  }
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

inline void int8_gemm(int8_rows& x, const int8_matrix& w, const float* bias, float* y, kernel k) {
  if (k == kernel::ref) {
    int8_gemm_ref(x, w, bias, y);
    return;
  }
#if SLMREC_QUANT_X86
  if (x.m == 0 || w.rows() == 0) return;
  if (k == kernel::avx512_vnni) fill_biased(x);
  const int8_gemm_args a{x.codes.data(),    x.biased.data(), x.scales.data(), x.padded_cols, w.packed(),
                         w.padded_scales(), w.code_sums(),   w.rows(),        bias,          y};
  const tiling tiles(x.m, w.padded_rows() / int8_matrix::panel);
  for_each_tile(tiles.count, long(x.m) * long(w.rows()) * long(x.padded_cols), [&](index t) {
    if (k == kernel::avx512_vnni) {
      int8_vnni_tile(a, tiles.r0(t), tiles.r1(t), tiles.p0(t), tiles.np(t));
    } else {
      int8_avx2_tile(a, tiles.r0(t), tiles.r1(t), tiles.p0(t), tiles.np(t));
    }
  });
#else
  (void)x, (void)w, (void)bias, (void)y;
#endif
}

}  // namespace detail

// y[m, rows] = x[m, cols] W^T (+ bias[rows]), overwriting y (leading
// dimension rows), with kernel k (kernel_supported(k) must hold). scratch
// holds x's codes and is reused across calls.
inline void gemm_nt(const float* x, index m, const int8_matrix& w, const float* bias, float* y, int8_rows& scratch,
                    kernel k) {
  require(kernel_supported(k), "quant::gemm_nt: this CPU cannot run the {} kernel", kernel_name(k));
  quantize_rows(x, m, w.cols(), scratch, false);  // int8 kernels need no code sums
  detail::int8_gemm(scratch, w, bias, y, k);
}

inline void gemm_nt(const float* x, index m, const int8_matrix& w, const float* bias, float* y, int8_rows& scratch) {
  gemm_nt(x, m, w, bias, y, scratch, best_kernel());
}

inline void gemm_nt(const float* x, index m, const int8_matrix& w, const float* bias, float* y) {
  thread_local int8_rows scratch;
  gemm_nt(x, m, w, bias, y, scratch, best_kernel());
}

// The two halves of gemm_nt, for an input that several matrices of the same
// width multiply (q, k and v read one x): quantize once, multiply many.
inline void quantize_input(const float* x, index m, const int8_matrix& w, int8_rows& q) {
  quantize_rows(x, m, w.cols(), q, false);  // the compensation uses the weights' sums, not the codes
}
inline void gemm_nt_quantized(int8_rows& q, const int8_matrix& w, const float* bias, float* y) {
  require(q.cols == w.cols(), "quant::gemm_nt_quantized: input of width {}, weights of width {}", q.cols, w.cols());
  detail::int8_gemm(q, w, bias, y, best_kernel());
}

// Plain scalar loops over the same integer arithmetic: the specification.
inline void gemm_nt_ref(const float* x, index m, const int8_matrix& w, const float* bias, float* y) {
  int8_rows q;
  quantize_rows(x, m, w.cols(), q);
  detail::int8_gemm_ref(q, w, bias, y);
}

}  // namespace slmrec::quant
