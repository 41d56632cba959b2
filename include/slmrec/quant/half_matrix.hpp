#pragma once
// 16-bit weight storage (bf16 or fp16, rounded to nearest even), float
// arithmetic: half the memory of float weights at the accuracy of the
// 16-bit format. The product widens panels of rows to float and hands them
// to Eigen, so that its speed is Eigen's plus a conversion that is cheap
// next to the product for any m of more than a few rows.
#include <Eigen/Core>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/limits.hpp>
#include <slmrec/core/half.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/quant/scheme.hpp>

namespace slmrec::quant {
namespace detail {

// fp16 -> float, exact like fp16_to_float but without its subnormal loop,
// so that a row converts as straight-line code the compiler vectorises:
// a subnormal is renormalised by a float subtraction (exact: both operands
// are multiples of 2^-24 below 2^-13).
inline float fp16_widen(std::uint16_t h) noexcept {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t bits = std::uint32_t(h & 0x7fffu) << 13;  // exponent and mantissa, in float position
  const std::uint32_t exponent = bits & 0x0f800000u;
  bits += (127 - 15) << 23;                               // rebias
  if (exponent == 0x0f800000u) bits += (128 - 16) << 23;  // Inf or NaN: the top exponent
  if (exponent == 0) {                                    // zero or subnormal
    bits = std::bit_cast<std::uint32_t>(std::bit_cast<float>(bits + (1u << 23)) - std::bit_cast<float>(113u << 23));
  }
  return std::bit_cast<float>(bits | sign);
}

template <class Format>
struct half_format;
template <>
struct half_format<bf16> {
  static float widen(std::uint16_t h) noexcept { return bf16_to_float(h); }
  static std::uint16_t narrow(float f) noexcept { return float_to_bf16(f); }
  static constexpr std::uint16_t exponent_mask = 0x7f80u;
};
template <>
struct half_format<fp16> {
  static float widen(std::uint16_t h) noexcept { return fp16_widen(h); }
  static std::uint16_t narrow(float f) noexcept { return float_to_fp16(f); }
  static constexpr std::uint16_t exponent_mask = 0x7c00u;
};

}  // namespace detail

template <class Format>
class half_matrix {
  static_assert(std::is_same_v<Format, bf16> || std::is_same_v<Format, fp16>,
                "quant::half_matrix<Format>: Format must be quant::bf16 or quant::fp16");
  using format = detail::half_format<Format>;

 public:
  half_matrix() = default;

  // w[rows, cols] row-major (out features x in features).
  static half_matrix quantize(const float* w, index rows, index cols) {
    half_matrix out(rows, cols, "quantize");
    for (index i = 0; i < rows * cols; ++i) {
      const std::uint16_t h = format::narrow(w[i]);
      // Also catches a finite float beyond the format's range (fp16: 65504).
      require((h & format::exponent_mask) != format::exponent_mask,
              "quant::half_matrix<{}>::quantize: weight {} at row {}, col {} is not finite in {}", Format::name, w[i],
              i / std::max<index>(cols, 1), i % std::max<index>(cols, 1), Format::name);
      out.bits_[std::size_t(i)] = h;
    }
    return out;
  }

  // The canonical form back (a checkpoint): bits [rows, cols] row-major, finite.
  static half_matrix from_codes(std::span<const std::uint16_t> bits, index rows, index cols) {
    half_matrix out(rows, cols, "from_codes");
    require(bits.size() == std::size_t(rows * cols),
            "quant::half_matrix<{}>::from_codes: expected {} values ([{}, {}] row-major), got {}", Format::name,
            rows * cols, rows, cols, bits.size());
    for (index i = 0; i < rows * cols; ++i) {
      const std::uint16_t h = bits[std::size_t(i)];
      require((h & format::exponent_mask) != format::exponent_mask,
              "quant::half_matrix<{}>::from_codes: value at row {}, col {} is {:#06x} (Inf or NaN), expected a finite "
              "number",
              Format::name, i / cols, i % cols, h);
      out.bits_[std::size_t(i)] = h;
    }
    return out;
  }

  std::vector<std::uint16_t> codes() const { return bits_; }  // [rows, cols]
  index rows() const noexcept { return rows_; }
  index cols() const noexcept { return cols_; }
  std::size_t storage_bytes() const noexcept { return 2 * bits_.size(); }
  const std::uint16_t* data() const noexcept { return bits_.data(); }

  // out[n, cols] = rows [r0, r0 + n) in float.
  void dequantize_rows(index r0, index n, float* out) const noexcept {
    const std::uint16_t* h = bits_.data() + r0 * cols_;
    for (index i = 0; i < n * cols_; ++i) out[i] = format::widen(h[i]);
  }
  // out[cols] = row r: an embedding-table lookup.
  void dequantize_row(index r, float* out) const {
    require(r >= 0 && r < rows_, "quant::half_matrix<{}>::dequantize_row: row {} is out of range [0, {})", Format::name,
            r, rows_);
    dequantize_rows(r, 1, out);
  }
  void dequantize(float* out) const { dequantize_rows(0, rows_, out); }  // [rows, cols]

 private:
  half_matrix(index rows, index cols, const char* what) : rows_(rows), cols_(cols) {
    require(rows >= 0 && cols >= 0, "quant::half_matrix<{}>::{}: negative shape [{}, {}]", Format::name, what, rows,
            cols);
    bits_.resize(std::size_t(limits::checked_mul({rows, cols}, "quant::half_matrix")));
  }

  index rows_ = 0;
  index cols_ = 0;
  std::vector<std::uint16_t> bits_;  // [rows, cols]
};

// y[m, rows] = x[m, cols] W^T (+ bias[rows]), overwriting y (leading
// dimension rows). Panels of 256 weight rows are widened into a per-thread
// buffer (256 KiB at cols = 256: it stays in L2 for the product).
template <class Format>
void gemm_nt(const float* x, index m, const half_matrix<Format>& w, const float* bias, float* y) {
  using row_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  require(m >= 0, "quant::gemm_nt: negative number of rows {}", m);
  const index rows = w.rows();
  const index cols = w.cols();
  if (m == 0 || rows == 0) return;
  constexpr index panel = 256;
  const index panels = ceil_div(rows, panel);
  const auto panel_product = [&](index p) {
    thread_local std::vector<float> buffer;
    const index o0 = p * panel;
    const index n = std::min(panel, rows - o0);
    buffer.resize(std::size_t(n * cols));
    w.dequantize_rows(o0, n, buffer.data());
    Eigen::Map<row_matrix, Eigen::Unaligned, Eigen::OuterStride<>> ym(y + o0, m, n, Eigen::OuterStride<>(rows));
    if (cols == 0) {
      ym.setZero();
    } else {
      const Eigen::Map<const row_matrix> xm(x, m, cols);
      const Eigen::Map<const row_matrix> wm(buffer.data(), n, cols);
      ym.noalias() = xm * wm.transpose();
    }
    if (bias != nullptr) ym.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias + o0, n);
  };
  // Not an OpenMP if() clause: that still starts a team, a microsecond that
  // a small product cannot afford. With more than one thread here, Eigen's
  // own product runs serially inside.
  if (panels > 1 && long(m) * long(rows) * long(cols) > slmrec::backend::cpu::parallel_threshold) {
    SLMREC_OMP(parallel for schedule(static))
    for (index p = 0; p < panels; ++p) panel_product(p);
  } else {
    for (index p = 0; p < panels; ++p) panel_product(p);
  }
}

// The same product as scalar loops over the widened weights, accumulated in
// double: the reference the Eigen path must match to float rounding.
template <class Format>
void gemm_nt_ref(const float* x, index m, const half_matrix<Format>& w, const float* bias, float* y) {
  const index rows = w.rows();
  const index cols = w.cols();
  std::vector<float> row(static_cast<std::size_t>(cols));
  for (index o = 0; o < rows; ++o) {
    w.dequantize_row(o, row.data());
    for (index r = 0; r < m; ++r) {
      double acc = 0.0;
      for (index k = 0; k < cols; ++k) acc += double(x[r * cols + k]) * double(row[std::size_t(k)]);
      y[r * rows + o] = float(acc) + (bias != nullptr ? bias[o] : 0.0f);
    }
  }
}

}  // namespace slmrec::quant
