#pragma once
// The product of int8 activations with a range of an int8_matrix's rows:
// y[r, j] = x[r] . W[first + j], for streaming the catalog through a
// quantized item table block by block. The kernels are gemm_nt's own, run
// on the panels that cover the range, so every value equals the same
// column of the whole product bit for bit, whatever the range.
#include <algorithm>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/quant/int8_matrix.hpp>

namespace slmrec::quant {

// The plain twin: int8_gemm_ref's loops on the range.
inline void gemm_nt_range_ref(const int8_rows& x, const int8_matrix& w, index first, index count, float* y, index ldy) {
  for (index r = 0; r < x.m; ++r)
    for (index j = 0; j < count; ++j) {
      const index o = first + j;
      std::int32_t dot = 0;
      for (index k = 0; k < w.cols(); ++k) dot += std::int32_t(x.row(r)[k]) * std::int32_t(w.code(o, k));
      y[r * ldy + j] = detail::int8_output(x.scales[std::size_t(r)], w.scale(o), dot, nullptr, o);
    }
}

// x: quantize_input(q, m, w, x) done; serial (the caller splits the catalog
// over threads). scratch holds the covering panels' outputs and is reused.
inline void gemm_nt_range(int8_rows& x, const int8_matrix& w, index first, index count, float* y, index ldy,
                          std::vector<float>& scratch, kernel k = best_kernel()) {
  require(first >= 0 && count >= 0 && first + count <= w.rows(),
          "quant::gemm_nt_range: rows [{}, {}) outside the matrix's [0, {})", first, first + count, w.rows());
  require(x.cols == w.cols(), "quant::gemm_nt_range: input of width {}, weights of width {}", x.cols, w.cols());
  if (count == 0 || x.m == 0) return;
  if (k == kernel::ref) return gemm_nt_range_ref(x, w, first, count, y, ldy);
#if SLMREC_QUANT_X86
  constexpr index panel = int8_matrix::panel;
  const index p0 = first / panel, width = (ceil_div(first + count, panel) - p0) * panel;
  index np = width / panel;
  scratch.resize(std::size_t(x.m * width));
  if (k == kernel::avx512_vnni) detail::fill_biased(x);
  const index o0 = p0 * panel;
  const detail::int8_gemm_args a{
      x.codes.data(),         x.biased.data(),    x.scales.data(), x.padded_cols, w.packed() + o0 * w.padded_cols(),
      w.padded_scales() + o0, w.code_sums() + o0, width,           nullptr,       scratch.data()};
  const detail::tiling tiles(x.m, np);
  if (k == kernel::avx512_vnni && x.m <= 2) {
    // One user (or two) waits on memory, not on the multiply: panel after
    // panel is one stream through the codes, with the panels a few ahead
    // requested early, where the four-panel tiles read four streams at once.
    const index panel_bytes = panel * a.pc, ahead = 8 * panel_bytes;
    const char* codes = reinterpret_cast<const char*>(a.w);
    const char* end = reinterpret_cast<const char*>(w.packed() + w.padded_rows() * w.padded_cols());
    for (index p = 0; p < np; ++p) {
      const char* next = codes + p * panel_bytes + ahead;
      for (index b = 0; b < panel_bytes && next + b < end; b += 64) _mm_prefetch(next + b, _MM_HINT_T0);
      detail::int8_vnni_rows<1>(a, 0, x.m, p);
    }
    np = 0;  // done
  }
  for (index t = 0; t < (np > 0 ? tiles.count : 0); ++t) {
    if (k == kernel::avx512_vnni) {
      detail::int8_vnni_tile(a, tiles.r0(t), tiles.r1(t), tiles.p0(t), tiles.np(t));
    } else {
      detail::int8_avx2_tile(a, tiles.r0(t), tiles.r1(t), tiles.p0(t), tiles.np(t));
    }
  }
  for (index r = 0; r < x.m; ++r) std::copy_n(scratch.data() + r * width + (first - o0), count, y + r * ldy);
#else
  (void)scratch;
  gemm_nt_range_ref(x, w, first, count, y, ldy);
#endif
}

}  // namespace slmrec::quant
