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
#include <slmrec/quant/detail/int8_kernels.hpp>

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
