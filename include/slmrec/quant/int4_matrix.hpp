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
#include <slmrec/core/half.hpp>
#include <slmrec/core/limits.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/quant/activations.hpp>
#include <slmrec/quant/detail/cpu_features.hpp>
#include <slmrec/quant/detail/int4_kernels.hpp>
#include <slmrec/quant/detail/int4_scales.hpp>

#if SLMREC_QUANT_X86
#include <immintrin.h>
#endif

namespace slmrec::quant {
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
