#pragma once
// int8 weights with one scale per output row, in a device backend's memory
// (backend::cuda): the storage of quant::int8_per_channel layers on the GPU.
// The codes are made on the host by int8_matrix (the same quantizer, the
// same checks) and uploaded row-major, rows padded to a multiple of 4 codes;
// products quantize their input rows on the device and run the backend's
// int8_ops (src/cuda/quant.cu): exact int32 dots and int8_output's float
// epilogue, so the results equal the CPU reference kernel's.
#include <cstdint>
#include <span>
#include <vector>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/quant/int8_matrix.hpp>

namespace slmrec::quant {

template <class BE>
class device_int8_matrix {
  static_assert(backend::int8_ops<BE>, "quant::device_int8_matrix needs the backend's int8 kernel group "
                                       "(backend::int8_ops: quantize_rows_int8, int8_gemm_nt, dequantize_int8_rows)");

 public:
  device_int8_matrix() = default;

  // w [rows, cols] row-major on the host.
  static device_int8_matrix quantize(const float* w, index rows, index cols) {
    return from_host(int8_matrix::quantize(w, rows, cols));
  }
  static device_int8_matrix from_codes(std::span<const std::int8_t> codes, std::span<const float> scales, index rows,
                                       index cols) {
    return from_host(int8_matrix::from_codes(codes, scales, rows, cols));
  }
  static device_int8_matrix from_host(const int8_matrix& h) {
    device_int8_matrix d;
    d.rows_ = h.rows();
    d.cols_ = h.cols();
    d.stride_ = round_up(h.cols(), 4);
    std::vector<std::int8_t> padded(std::size_t(d.rows_ * d.stride_), 0);
    const auto codes = h.codes();
    for (index r = 0; r < d.rows_; ++r)
      std::copy_n(codes.data() + r * d.cols_, d.cols_, padded.data() + r * d.stride_);
    d.codes_.resize(padded.size());
    BE::upload(padded.data(), d.codes_.data(), index(padded.size()));
    const auto scales = h.scales();
    d.scales_.resize(scales.size());
    BE::upload(scales.data(), d.scales_.data(), index(scales.size()));
    return d;
  }

  // The canonical form back on the host (checkpoints, tests).
  [[nodiscard]] std::vector<std::int8_t> codes() const {
    std::vector<std::int8_t> padded(std::size_t(rows_ * stride_)), out(std::size_t(rows_ * cols_));
    BE::download(codes_.data(), padded.data(), index(padded.size()));
    for (index r = 0; r < rows_; ++r) std::copy_n(padded.data() + r * stride_, cols_, out.data() + r * cols_);
    return out;
  }
  [[nodiscard]] std::vector<float> scales() const {
    std::vector<float> out(static_cast<std::size_t>(rows_));
    BE::download(scales_.data(), out.data(), rows_);
    return out;
  }

  [[nodiscard]] index rows() const noexcept { return rows_; }
  [[nodiscard]] index cols() const noexcept { return cols_; }
  [[nodiscard]] std::size_t storage_bytes() const noexcept { return std::size_t(rows_ * cols_ + 4 * rows_); }

  // out [n, cols] = the dequantized rows ids[0, n) (device ids, in range: checked by the caller).
  void dequantize_rows(const std::int32_t* ids, float* out, index n) const {
    BE::dequantize_int8_rows(ids, codes_.data(), scales_.data(), n, cols_, stride_, out);
  }

  // y [m, rows] = x [m, cols] W^T (+ bias), every pointer in device memory.
  void gemm_nt(const float* x, index m, const float* bias, float* y) const {
    if (index(x_codes_.size()) < m * stride_) x_codes_.resize(std::size_t(m * stride_));
    if (index(x_scales_.size()) < m) x_scales_.resize(std::size_t(m));
    BE::quantize_rows_int8(x, m, cols_, stride_, x_codes_.data(), x_scales_.data());
    BE::int8_gemm_nt(x_codes_.data(), x_scales_.data(), m, codes_.data(), scales_.data(), rows_, stride_, bias, y);
  }

 private:
  index rows_ = 0, cols_ = 0, stride_ = 0;
  typename BE::template buffer<std::int8_t> codes_;  // [rows, stride]
  typename BE::template buffer<float> scales_;       // [rows]
  // The input's codes, reused across calls (a model runs one forward at a time).
  mutable typename BE::template buffer<std::int8_t> x_codes_;
  mutable typename BE::template buffer<float> x_scales_;
};

// The free-function form the quantized layers call, as for the host formats.
template <class BE>
void gemm_nt(const float* x, index m, const device_int8_matrix<BE>& w, const float* bias, float* y) {
  w.gemm_nt(x, m, bias, y);
}

}  // namespace slmrec::quant
