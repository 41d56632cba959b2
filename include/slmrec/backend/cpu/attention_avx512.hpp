#pragma once
// Causal attention of one (sequence, head) for AVX-512 CPUs: the forward,
// the backward and the last-position inference of backend/cpu/attention.hpp,
// which calls these when the CPU runs AVX-512 (asked at run time, as for the
// GEMM) and keeps its Eigen loops for other CPUs and for double.
//
// Why our own: the four small products per head (S = Q K^T and O = P V, T x T
// by D) were Eigen's, whose packet width is fixed by the compiler flags; in a
// build without -march=native (the Python wheel) they ran 4 floats wide and
// made the teacher's inference a fifth slower than the native build. These
// kernels carry their target attribute, so every build runs them 16 wide.
// They are also quicker than Eigen's AVX-512 products at these sizes (no
// packing; the causal triangle skipped).
//
// Every product is C (+)= A B with A read one element at a time (broadcast)
// and B one row at a time: a block of up to 4 rows of C by up to 64 columns
// (16 zmm accumulators) walks k once. K and V are transposed into scratch
// where a product needs them as B's columns; P^T and dS^T are read in place by
// swapping A's strides. Where A or C is causal (zero above the diagonal, or
// below it for the transposes), each row block's k range and column range
// stop at its last row. Tested against attention_forward_ref /
// attention_backward_ref (tests/nn and tests/simd, the latter compiled
// without -march=native).
#include <slmrec/core/cpu_features.hpp>
#if SLMREC_X86

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include <slmrec/backend/cpu/sgemm_avx512.hpp>
#include <slmrec/core/types.hpp>

SLMREC_AVX512_WARNINGS_OFF

namespace slmrec::backend::cpu::avx512 {
namespace attention_detail {

// Per-thread scratch that only grows: no allocation in a steady training loop.
inline float* scratch(index n) {
  static thread_local std::vector<float> buf;
  if (index(buf.size()) < n) buf.resize(std::size_t(n));
  return buf.data();
}

inline index round_up16(index n) { return (n + 15) / 16 * 16; }

// C[R rows, NC * 16 columns, the last chunk cut to `last`] (+)= sum over
// k in [k0, k1) of A[r, k] B[k, :], A[r, k] = a[r * ars + k * aks].
template <int R, int NC, bool Accumulate>
SLMREC_TARGET_AVX512 inline void rows_block(const float* a, index ars, index aks, index k0, index k1, const float* b,
                                            index ldb, float* c, index ldc, __mmask16 last) {
  __m512 acc[R][NC];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NC; ++j) acc[r][j] = _mm512_setzero_ps();
  for (index k = k0; k < k1; ++k) {
    const float* brow = b + k * ldb;
    __m512 bv[NC];
#pragma GCC unroll 4
    for (int j = 0; j < NC; ++j)
      bv[j] = j + 1 < NC ? _mm512_loadu_ps(brow + 16 * j) : _mm512_maskz_loadu_ps(last, brow + 16 * j);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * ars + k * aks]);
#pragma GCC unroll 4
      for (int j = 0; j < NC; ++j) acc[r][j] = _mm512_fmadd_ps(av, bv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NC; ++j) {
      float* out = c + r * ldc + 16 * j;
      const __mmask16 keep = j + 1 < NC ? __mmask16(0xFFFF) : last;
      __m512 v = acc[r][j];
      if constexpr (Accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(keep, out));
      _mm512_mask_storeu_ps(out, keep, v);
    }
}

template <int R, bool Accumulate>
SLMREC_TARGET_AVX512 inline void rows_block_nc(index nc, const float* a, index ars, index aks, index k0, index k1,
                                               const float* b, index ldb, float* c, index ldc, __mmask16 last) {
  switch (nc) {
    case 1: return rows_block<R, 1, Accumulate>(a, ars, aks, k0, k1, b, ldb, c, ldc, last);
    case 2: return rows_block<R, 2, Accumulate>(a, ars, aks, k0, k1, b, ldb, c, ldc, last);
    case 3: return rows_block<R, 3, Accumulate>(a, ars, aks, k0, k1, b, ldb, c, ldc, last);
    default: return rows_block<R, 4, Accumulate>(a, ars, aks, k0, k1, b, ldb, c, ldc, last);
  }
}

// C[m, n] (+)= A B over the ranges the causal structure leaves: for the row
// block [r0, r1), k runs over k_range(r0, r1) and columns over
// [0, min(n, n_end(r1))). Entries of A outside its k range must be zero;
// columns of C past n_end are left as they were.
template <bool Accumulate, class KRange, class NEnd>
SLMREC_TARGET_AVX512 inline void small_product(index m, index n, const float* a, index ars, index aks, const float* b,
                                               index ldb, float* c, index ldc, KRange k_range, NEnd n_end) {
  constexpr index rows = 4, cols = 64;
  for (index r0 = 0; r0 < m; r0 += rows) {
    const index r = std::min(rows, m - r0), r1 = r0 + r;
    const auto [k0, k1] = k_range(r0, r1);
    const index ne = std::min(n, n_end(r1));
    for (index n0 = 0; n0 < ne; n0 += cols) {
      const index width = std::min(cols, ne - n0), nc = (width + 15) / 16;
      const __mmask16 last = detail::lane_mask(width - 16 * (nc - 1));
      const float* ar = a + r0 * ars;
      const float* bn = b + n0;
      float* cr = c + r0 * ldc + n0;
      switch (r) {
        case 1: rows_block_nc<1, Accumulate>(nc, ar, ars, aks, k0, k1, bn, ldb, cr, ldc, last); break;
        case 2: rows_block_nc<2, Accumulate>(nc, ar, ars, aks, k0, k1, bn, ldb, cr, ldc, last); break;
        case 3: rows_block_nc<3, Accumulate>(nc, ar, ars, aks, k0, k1, bn, ldb, cr, ldc, last); break;
        default: rows_block_nc<4, Accumulate>(nc, ar, ars, aks, k0, k1, bn, ldb, cr, ldc, last); break;
      }
    }
  }
}

// x [rows, d] (rows ld apart) -> xt [d, rows] (rows_padded apart): 16 x 16
// blocks in registers, the last d % 16 columns one by one.
SLMREC_TARGET_AVX512 inline void transpose_rows(const float* x, index ld, index rows, index d, float* xt,
                                                index rows_padded) {
  const index d16 = d / 16 * 16;
  for (index d0 = 0; d0 < d16; d0 += 16)
    for (index s0 = 0; s0 < rows; s0 += 16)
      detail::transpose_block(x + s0 * ld + d0, ld, std::min<index>(16, rows - s0), xt + d0 * rows_padded + s0,
                              rows_padded);
  for (index s = 0; s < rows; ++s)
    for (index j = d16; j < d; ++j) xt[j * rows_padded + s] = x[s * ld + j];
}

// exp_fast (backend/cpu/fast_math.hpp) on 16 lanes: the same range reduction
// and polynomial, relative error below 3e-7.
SLMREC_TARGET_AVX512 inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(y, _mm512_castsi512_ps(bits));
}

// The keys row t may see in the 16 lanes from s0: s <= t and not padding.
SLMREC_TARGET_AVX512 inline __mmask16 visible_keys(index s0, index t, const std::int32_t* key_mask) {
  __mmask16 m = detail::lane_mask(t + 1 - s0);
  if (key_mask)
    m = _mm512_mask_cmpneq_epi32_mask(m, _mm512_maskz_loadu_epi32(m, key_mask + s0), _mm512_setzero_si512());
  return m;
}

// Row t of the scores, in place (length L): scale, causal and padding mask,
// softmax; masked keys and keys after t get 0, and a row with no visible key
// is all zero (the contract of attention_kernels::softmax_causal_row).
SLMREC_TARGET_AVX512 inline void softmax_causal_row(float* p, index t, index L, const std::int32_t* key_mask,
                                                    float scale) {
  __m512 top = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (index s0 = 0; s0 <= t; s0 += 16) {
    const __mmask16 m = visible_keys(s0, t, key_mask);
    top = _mm512_mask_max_ps(top, m, top, _mm512_maskz_loadu_ps(m, p + s0));
  }
  const float max_score = _mm512_reduce_max_ps(top);
  if (max_score == -std::numeric_limits<float>::infinity()) {
    std::fill(p, p + L, 0.0f);
    return;
  }
  const __m512 vscale = _mm512_set1_ps(scale), shift = _mm512_set1_ps(max_score * scale);
  __m512 sum = _mm512_setzero_ps();
  for (index s0 = 0; s0 <= t; s0 += 16) {
    const __mmask16 m = visible_keys(s0, t, key_mask);
    const __m512 e = _mm512_maskz_mov_ps(m, exp16(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(m, p + s0), vscale, shift)));
    sum = _mm512_add_ps(sum, e);
    _mm512_mask_storeu_ps(p + s0, detail::lane_mask(L - s0), e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (index s0 = 0; s0 <= t; s0 += 16) {
    const __mmask16 m = detail::lane_mask(std::min(t + 1, L) - s0);
    _mm512_mask_storeu_ps(p + s0, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p + s0), inv));
  }
  const index written = (t + 16) / 16 * 16;  // the chunks above wrote zeros up to here
  if (written < L) std::fill(p + written, p + L, 0.0f);
}

// Row t of dS from row t of dP (in d, in place) and of P:
// d[s] = p[s] (d[s] - sum_s' p[s'] d[s']) scale for s <= t, 0 after.
SLMREC_TARGET_AVX512 inline void softmax_backward_row(const float* p, float* d, index t, index L, float scale) {
  __m512 weighted = _mm512_setzero_ps();
  for (index s0 = 0; s0 <= t; s0 += 16) {
    const __mmask16 m = detail::lane_mask(t + 1 - s0);
    weighted = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, p + s0), _mm512_maskz_loadu_ps(m, d + s0), weighted);
  }
  const __m512 w = _mm512_set1_ps(_mm512_reduce_add_ps(weighted)), vscale = _mm512_set1_ps(scale);
  for (index s0 = 0; s0 <= t; s0 += 16) {
    const __mmask16 m = detail::lane_mask(t + 1 - s0);
    const __m512 ds = _mm512_mul_ps(
        _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p + s0), _mm512_sub_ps(_mm512_maskz_loadu_ps(m, d + s0), w)), vscale);
    _mm512_mask_storeu_ps(d + s0, detail::lane_mask(L - s0), _mm512_maskz_mov_ps(m, ds));
  }
  const index written = (t + 16) / 16 * 16;
  if (written < L) std::fill(d + written, d + L, 0.0f);
}

// Rows [r0, r1) of a causal A (row r nonzero up to column r): k up to r1.
inline auto causal_k(index /*r0*/, index r1) { return std::pair<index, index>{0, r1}; }

}  // namespace attention_detail

// One (sequence, head) of attention_kernels<float>::attention_forward:
// q, out: L rows q_stride apart; k, v: L rows kv_stride apart; probs: [L, L];
// key_mask: L entries or nullptr.
SLMREC_TARGET_AVX512 inline void attention_head_forward(const float* q, index q_stride, const float* k, const float* v,
                                                        index kv_stride, const std::int32_t* key_mask, float* out,
                                                        float* probs, index L, index D, float scale) {
  using namespace attention_detail;
  const index lp = round_up16(L);
  float* kt = scratch(D * lp);
  transpose_rows(k, kv_stride, L, D, kt, lp);
  const auto all_d = [D](index, index) { return std::pair<index, index>{0, D}; };
  // S = Q K^T, each row block's columns up to its last row (the causal triangle).
  small_product<false>(L, L, q, q_stride, 1, kt, lp, probs, L, all_d, [](index r1) { return r1; });
  for (index t = 0; t < L; ++t) softmax_causal_row(probs + t * L, t, L, key_mask, scale);
  // O = P V, P zero after the diagonal.
  small_product<false>(L, D, probs, L, 1, v, kv_stride, out, q_stride, causal_k, [D](index) { return D; });
}

// The last position's query only (attention_kernels<float>::attention_last):
// q, out: D values.
SLMREC_TARGET_AVX512 inline void attention_head_last(const float* q, const float* k, const float* v, index kv_stride,
                                                     const std::int32_t* key_mask, float* out, index L, index D,
                                                     float scale) {
  using namespace attention_detail;
  const index lp = round_up16(L);
  float* kt = scratch(D * lp + lp);
  float* p = kt + D * lp;
  transpose_rows(k, kv_stride, L, D, kt, lp);
  small_product<false>(1, L, q, 0, 1, kt, lp, p, L, [D](index, index) { return std::pair<index, index>{0, D}; },
                       [L](index) { return L; });
  softmax_causal_row(p, L - 1, L, key_mask, scale);
  small_product<false>(1, D, p, 0, 1, v, kv_stride, out, 0, [L](index, index) { return std::pair<index, index>{0, L}; },
                       [D](index) { return D; });
}

// One (sequence, key/value head) of attention_kernels<float>::attention_backward:
// the `group` query heads sharing it are h0, h0 + 1, ...; q, dout, dq hold
// them head_dim (D) apart inside rows q_stride apart; probs holds their
// [L, L] blocks one after the other.
SLMREC_TARGET_AVX512 inline void attention_group_backward(const float* q, index q_stride, const float* k,
                                                          const float* v, index kv_stride, const float* probs,
                                                          const float* dout, float* dq, float* dk, float* dv,
                                                          index group, index L, index D, float scale) {
  using namespace attention_detail;
  const index lp = round_up16(L);
  float* vt = scratch(D * lp + L * L);
  float* ds = vt + D * lp;
  transpose_rows(v, kv_stride, L, D, vt, lp);
  const auto all_d = [D](index, index) { return std::pair<index, index>{0, D}; };
  const auto d_cols = [D](index) { return D; };
  // Rows [r0, r1) of a transposed causal matrix (row s nonzero from column s).
  const auto from_diagonal = [L](index r0, index) { return std::pair<index, index>{r0, L}; };
  for (index h = 0; h < group; ++h) {
    const float* qh = q + h * D;
    const float* doh = dout + h * D;
    const float* p = probs + h * L * L;
    float* dqh = dq + h * D;
    small_product<false>(L, L, doh, q_stride, 1, vt, lp, ds, L, all_d, [](index r1) { return r1; });  // dP = dO V^T
    for (index t = 0; t < L; ++t) softmax_backward_row(p + t * L, ds + t * L, t, L, scale);
    small_product<true>(L, D, ds, L, 1, k, kv_stride, dqh, q_stride, causal_k, d_cols);      // dQ += dS K
    small_product<true>(L, D, ds, 1, L, qh, q_stride, dk, kv_stride, from_diagonal, d_cols);  // dK += dS^T Q
    small_product<true>(L, D, p, 1, L, doh, q_stride, dv, kv_stride, from_diagonal, d_cols);  // dV += P^T dO
  }
}

}  // namespace slmrec::backend::cpu::avx512

SLMREC_AVX512_WARNINGS_ON

#endif  // SLMREC_X86
