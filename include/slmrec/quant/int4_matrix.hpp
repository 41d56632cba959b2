#pragma once
// 4-bit weights in blocks of Block consecutive inputs of one output row, one
// fp16 scale per (row, block) (as GGML's Q4_0), dotted against run-time int8
// activations:
//   y[r][o] = xscale[r] * sum_b wscale[o][b] * sum_{k in b} xq[r][k] * wq[o][k]  (+ bias[o]).
// Each block's integer dot is exact and every kernel does the same float
// operations in the same order on it, so they agree bit for bit with
// gemm_nt_ref, the specification.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/limits.hpp>
#include <slmrec/core/half.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/quant/activations.hpp>
#include <slmrec/quant/detail/cpu_features.hpp>
#include <slmrec/quant/int8_matrix.hpp>  // detail::tiling, for_each_tile

#if SLMREC_QUANT_X86
#include <immintrin.h>
#endif

namespace slmrec::quant {
namespace detail {

// |w| / s <= 7.5 for every w of the block: each rounds to a code in
// [-8, 7] within s/2, and the largest magnitude to +-7 (or -8 on a tie).
inline std::uint16_t int4_fit_scale(double target, float maxabs) {
  target = std::max(target, double(maxabs) / 7.5);
  std::uint16_t h = float_to_fp16(float(target));
  while (h < 0x7c00u && double(fp16_to_float(h)) < target) ++h;  // round up, never down
  require(h < 0x7c00u, "quant::int4_matrix: a block's largest weight {} is too large for an fp16 scale", maxabs);
  return h;
}

inline int int4_code(float w, float s) noexcept {
  return s == 0.0f ? 0 : int(std::clamp(std::nearbyint(w / s), -8.0f, 7.0f));
}

inline double int4_sq_error(const float* w, index n, float s) noexcept {
  double e = 0.0;
  for (index k = 0; k < n; ++k) {
    const double d = double(w[k]) - double(int4_code(w[k], s)) * double(s);
    e += d * d;
  }
  return e;
}

// The fp16 scale of one block: maxabs / 7 to start, then a small search
// over scales that still map the largest magnitude to +-7 (maxabs / d for
// d in [6.6, 7.5], each also refitted by least squares for its codes),
// keeping the one of least squared error. Four bits leave few levels, and
// where the other weights fall on them matters as much as the largest one.
inline std::uint16_t int4_block_scale(const float* w, index n) {
  float maxabs = 0.0f;
  for (index k = 0; k < n; ++k) maxabs = std::max(maxabs, std::fabs(w[k]));
  if (maxabs == 0.0f) return 0;
  const double lowest = double(maxabs) / 7.5;
  const double highest = double(maxabs) / 6.55;  // fp16 rounding up stays below maxabs / 6.5
  std::uint16_t best = int4_fit_scale(double(maxabs) / 7.0, maxabs);
  double best_error = int4_sq_error(w, n, fp16_to_float(best));
  const auto consider = [&](std::uint16_t h) {
    const double e = int4_sq_error(w, n, fp16_to_float(h));
    if (e < best_error) {
      best = h;
      best_error = e;
    }
  };
  for (int i = 0; i <= 9; ++i) {
    const std::uint16_t h = int4_fit_scale(double(maxabs) / (7.5 - 0.1 * i), maxabs);
    consider(h);
    double wq = 0.0, qq = 0.0;
    for (index k = 0; k < n; ++k) {
      const double q = int4_code(w[k], fp16_to_float(h));
      wq += double(w[k]) * q;
      qq += q * q;
    }
    if (qq > 0.0 && wq > 0.0) consider(int4_fit_scale(std::clamp(wq / qq, lowest, highest), maxabs));
  }
  return best;
}

}  // namespace detail

template <index Block = 32>
class int4_matrix {
  static_assert(Block > 0 && Block % sum_block == 0,
                "quant::int4_matrix<Block>: Block must be a positive multiple of 32");

 public:
  static constexpr index block = Block;
  // Kernel layout: outputs in panels of 16, inputs in groups of 8 held in 4
  // bytes (inputs 0-3 in the low nibbles, 4-7 in the high ones), so that one
  // 64-byte vector unpacks into two vpdpbusd operands of 16 outputs x 4
  // inputs. Codes are stored as q + 8 in [0, 15], the unsigned operand.
  static constexpr index panel = 16;
  static constexpr index group = 8;

  int4_matrix() = default;

  // w[rows, cols] row-major (out features x in features).
  static int4_matrix quantize(const float* w, index rows, index cols) {
    int4_matrix out(rows, cols, "quantize");
    for (index r = 0; r < rows; ++r) {
      const float* wr = w + r * cols;
      for (index k = 0; k < cols; ++k) {
        require(std::isfinite(wr[k]), "quant::int4_matrix::quantize: row {} of [{}, {}] holds a non-finite weight", r,
                rows, cols);
      }
      for (index b = 0; b < out.blocks_; ++b) {
        const index n = std::min(Block, cols - b * Block);
        const std::uint16_t h = detail::int4_block_scale(wr + b * Block, n);
        const float s = fp16_to_float(h);
        for (index k = 0; k < n; ++k) out.set_code(r, b * Block + k, detail::int4_code(wr[b * Block + k], s));
        out.scales_[std::size_t(out.scale_offset(r, b))] = s;
      }
    }
    return out;
  }

  // The canonical form back (a checkpoint): codes [rows, blocks * Block / 2]
  // (see codes()), fp16 scales [rows, blocks] finite. Nibbles past cols are ignored.
  static int4_matrix from_codes(std::span<const std::uint8_t> codes, std::span<const std::uint16_t> scales, index rows,
                                index cols) {
    int4_matrix out(rows, cols, "from_codes");
    const index row_bytes = out.blocks_ * Block / 2;
    require(
        codes.size() == std::size_t(rows * row_bytes),
        "quant::int4_matrix::from_codes: expected {} code bytes ([{}, {}]: {} rows of {} blocks of {} 4-bit codes), "
        "got {}",
        rows * row_bytes, rows, row_bytes, rows, out.blocks_, Block, codes.size());
    require(scales.size() == std::size_t(rows * out.blocks_),
            "quant::int4_matrix::from_codes: expected {} scales ([{}, {}]: one per row and block of {}), got {}",
            rows * out.blocks_, rows, out.blocks_, Block, scales.size());
    for (index r = 0; r < rows; ++r) {
      for (index b = 0; b < out.blocks_; ++b) {
        const std::uint16_t h = scales[std::size_t(r * out.blocks_ + b)];
        require((h & 0x7c00u) != 0x7c00u,
                "quant::int4_matrix::from_codes: scale of row {}, block {} is fp16 {:#06x} (Inf or NaN), expected a "
                "finite number",
                r, b, h);
        out.scales_[std::size_t(out.scale_offset(r, b))] = fp16_to_float(h);
      }
      for (index k = 0; k < cols; ++k) {
        const std::uint8_t byte = codes[std::size_t(r * row_bytes + k / 2)];
        out.set_code(r, k, int((k % 2 == 0) ? (byte & 0x0f) : (byte >> 4)) - 8);
      }
    }
    return out;
  }

  // [rows, blocks * Block / 2]: two codes a byte, q + 8, the even input in
  // the low nibble; 8 (q = 0) past cols.
  std::vector<std::uint8_t> codes() const {
    const index row_bytes = blocks_ * Block / 2;
    std::vector<std::uint8_t> out(std::size_t(rows_ * row_bytes), 0x88);
    for (index r = 0; r < rows_; ++r) {
      for (index k = 0; k < cols_; ++k) {
        std::uint8_t& byte = out[std::size_t(r * row_bytes + k / 2)];
        const auto nibble = static_cast<std::uint8_t>(code(r, k) + 8);
        byte = (k % 2 == 0) ? std::uint8_t((byte & 0xf0) | nibble) : std::uint8_t((byte & 0x0f) | (nibble << 4));
      }
    }
    return out;
  }
  // [rows, blocks], fp16 bits.
  std::vector<std::uint16_t> scales() const {
    std::vector<std::uint16_t> out(std::size_t(rows_ * blocks_));
    for (index r = 0; r < rows_; ++r)
      for (index b = 0; b < blocks_; ++b) out[std::size_t(r * blocks_ + b)] = float_to_fp16(scale(r, b));
    return out;
  }

  index rows() const noexcept { return rows_; }
  index cols() const noexcept { return cols_; }
  index blocks() const noexcept { return blocks_; }
  // The canonical form: half a byte per (padded) weight, two per scale.
  std::size_t storage_bytes() const noexcept { return std::size_t(rows_ * blocks_ * Block / 2 + 2 * rows_ * blocks_); }

  int code(index r, index k) const noexcept {  // in [-8, 7]
    const std::uint8_t byte = packed_[std::size_t(offset(r, k))];
    return int((k & 4) ? (byte >> 4) : (byte & 0x0f)) - 8;
  }
  float scale(index r, index b) const noexcept { return scales_[std::size_t(scale_offset(r, b))]; }

  // out[cols] = row r of the dequantized weights: an embedding-table lookup.
  void dequantize_row(index r, float* out) const {
    require(r >= 0 && r < rows_, "quant::int4_matrix::dequantize_row: row {} is out of range [0, {})", r, rows_);
    for (index b = 0; b < blocks_; ++b) {
      const float s = scale(r, b);
      const index end = std::min(cols_, (b + 1) * Block);
      for (index k = b * Block; k < end; ++k) out[k] = s * float(code(r, k));
    }
  }
  void dequantize(float* out) const {  // [rows, cols]
    for (index r = 0; r < rows_; ++r) dequantize_row(r, out + r * cols_);
  }

  // The kernel layout (see above).
  index padded_rows() const noexcept { return round_up(rows_, panel); }
  index padded_cols() const noexcept { return blocks_ * Block; }
  const std::uint8_t* packed() const noexcept { return packed_.data(); }
  // [padded_rows / panel][blocks][panel] floats, 0 past rows: one load gives
  // a panel's 16 scales of one block.
  const float* panel_scales() const noexcept { return scales_.data(); }

 private:
  int4_matrix(index rows, index cols, const char* what) : rows_(rows), cols_(cols) {
    require(rows >= 0 && cols >= 0, "quant::int4_matrix::{}: negative shape [{}, {}]", what, rows, cols);
    (void)limits::checked_mul({rows + panel, cols + Block + group}, "quant::int4_matrix");  // padding included
    blocks_ = (cols + Block - 1) / Block;
    packed_.assign(std::size_t(padded_rows() * padded_cols() / 2), 0x88);  // q = 0 everywhere
    scales_.assign(std::size_t(padded_rows() * blocks_), 0.0f);
  }

  index offset(index r, index k) const noexcept {
    return (r / panel) * panel * padded_cols() / 2 + (k / group) * panel * 4 + (r % panel) * 4 + k % 4;
  }
  index scale_offset(index r, index b) const noexcept { return ((r / panel) * blocks_ + b) * panel + r % panel; }

  void set_code(index r, index k, int q) noexcept {
    std::uint8_t& byte = packed_[std::size_t(offset(r, k))];
    const auto nibble = static_cast<std::uint8_t>(q + 8);
    byte = (k & 4) ? std::uint8_t((byte & 0x0f) | (nibble << 4)) : std::uint8_t((byte & 0xf0) | nibble);
  }

  index rows_ = 0;
  index cols_ = 0;
  index blocks_ = 0;
  std::vector<std::uint8_t> packed_;  // [padded_rows / panel][padded_cols / group][panel][4 bytes]
  std::vector<float> scales_;         // the fp16 scales, widened, in panel_scales() order
};

namespace detail {

inline float int4_output(float xscale, float acc, const float* bias, index o) noexcept {
  return bias != nullptr ? std::fma(xscale, acc, bias[o]) : xscale * acc;
}

template <index Block>
void int4_gemm_ref(const int8_rows& x, const int4_matrix<Block>& w, const float* bias, float* y) {
  const index rows = w.rows();
  for (index r = 0; r < x.m; ++r) {
    const std::int8_t* xr = x.row(r);
    for (index o = 0; o < rows; ++o) {
      float acc = 0.0f;
      for (index b = 0; b < w.blocks(); ++b) {
        std::int32_t dot = 0;
        const index end = std::min(w.cols(), (b + 1) * Block);
        for (index k = b * Block; k < end; ++k) dot += std::int32_t(xr[k]) * w.code(o, k);
        acc = std::fma(w.scale(o, b), float(dot), acc);
      }
      y[r * rows + o] = int4_output(x.scales[std::size_t(r)], acc, bias, o);
    }
  }
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

// Tiles as int8_gemm's.
template <index Block>
void int4_gemm(const int8_rows& x, const int4_matrix<Block>& w, const float* bias, float* y, kernel k) {
  if (k == kernel::ref) {
    int4_gemm_ref(x, w, bias, y);
    return;
  }
#if SLMREC_QUANT_X86
  if (x.m == 0 || w.rows() == 0) return;
  const int4_gemm_args a{x.codes.data(),
                         x.scales.data(),
                         x.block_sums.data(),
                         x.padded_cols,
                         w.packed(),
                         w.panel_scales(),
                         w.padded_cols(),
                         w.blocks(),
                         w.rows(),
                         bias,
                         y};
  const tiling tiles(x.m, w.padded_rows() / int4_matrix<Block>::panel);
  for_each_tile(tiles.count, long(x.m) * long(w.rows()) * long(w.padded_cols()), [&](index t) {
    if (k == kernel::avx512_vnni) {
      int4_vnni_tile<Block>(a, tiles.r0(t), tiles.r1(t), tiles.p0(t), tiles.np(t));
    } else {
      int4_avx2_tile<Block>(a, tiles.r0(t), tiles.r1(t), tiles.p0(t), tiles.np(t));
    }
  });
#else
  (void)x, (void)w, (void)bias, (void)y;
#endif
}

// Activations padded to whole weight blocks (and to row_align): a block
// wider than 64 inputs reaches past quantize_rows' padding.
template <index Block>
void int4_quantize_x(const float* x, index m, const int4_matrix<Block>& w, int8_rows& q) {
  quantize_rows_padded(x, m, w.cols(), round_up(w.padded_cols(), row_align), q);
}

}  // namespace detail

// y[m, rows] = x[m, cols] W^T (+ bias[rows]), overwriting y (leading
// dimension rows), with kernel k (kernel_supported(k) must hold). scratch
// holds x's codes and is reused across calls.
template <index Block>
void gemm_nt(const float* x, index m, const int4_matrix<Block>& w, const float* bias, float* y, int8_rows& scratch,
             kernel k) {
  require(kernel_supported(k), "quant::gemm_nt: this CPU cannot run the {} kernel", kernel_name(k));
  detail::int4_quantize_x(x, m, w, scratch);
  detail::int4_gemm(scratch, w, bias, y, k);
}

template <index Block>
void gemm_nt(const float* x, index m, const int4_matrix<Block>& w, const float* bias, float* y, int8_rows& scratch) {
  gemm_nt(x, m, w, bias, y, scratch, best_kernel());
}

template <index Block>
void gemm_nt(const float* x, index m, const int4_matrix<Block>& w, const float* bias, float* y) {
  thread_local int8_rows scratch;
  gemm_nt(x, m, w, bias, y, scratch, best_kernel());
}

// The two halves of gemm_nt (see int8_matrix.hpp): quantize once, multiply many.
template <index Block>
void quantize_input(const float* x, index m, const int4_matrix<Block>& w, int8_rows& q) {
  detail::int4_quantize_x(x, m, w, q);
}
template <index Block>
void gemm_nt_quantized(int8_rows& q, const int4_matrix<Block>& w, const float* bias, float* y) {
  require(q.cols == w.cols() && q.padded_cols >= w.padded_cols(),
          "quant::gemm_nt_quantized: input of width {} (padded {}), weights of width {} (padded {})", q.cols,
          q.padded_cols, w.cols(), w.padded_cols());
  require(q.has_sums,
          "quant::gemm_nt_quantized: the input was quantized without the block sums int4 weights need "
          "(quantize it with quantize_input for these weights)");
  detail::int4_gemm(q, w, bias, y, best_kernel());
}

// Plain scalar loops over the same integer arithmetic: the specification.
template <index Block>
void gemm_nt_ref(const float* x, index m, const int4_matrix<Block>& w, const float* bias, float* y) {
  int8_rows q;
  detail::int4_quantize_x(x, m, w, q);
  detail::int4_gemm_ref(q, w, bias, y);
}

}  // namespace slmrec::quant
