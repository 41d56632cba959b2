#pragma once
// Rotary position embedding and causal multi-head attention of the CPU
// backend. Sequences are short in recommendation (T around 50), so attention
// is computed directly per (sequence, head): the T x T probabilities are kept
// for the backward. On a CPU with AVX-512 the float kernels run
// backend/cpu/attention_avx512.hpp's, in any build; the Eigen loops here serve
// other CPUs and double.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include <slmrec/backend/cpu/attention_avx512.hpp>
#include <slmrec/backend/cpu/fast_math.hpp>
#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::backend::cpu {

template <class T>
struct attention_kernels {
  // Hugging Face "rotate_half" RoPE, in place on x [rows, heads, head_dim]:
  // dimension i pairs with i + head_dim/2. cos/sin are [max_positions, head_dim/2].
  static void rope_forward(T* x, const std::int32_t* positions, const T* cos, const T* sin, index rows, index heads,
                           index head_dim) {
    rotate(x, positions, cos, sin, rows, heads, head_dim, T(1));
  }
  // The rotation is orthogonal: its transpose rotates by the opposite angle.
  static void rope_backward(T* dx, const std::int32_t* positions, const T* cos, const T* sin, index rows, index heads,
                            index head_dim) {
    rotate(dx, positions, cos, sin, rows, heads, head_dim, T(-1));
  }

  // Causal attention with grouped-query heads and a key padding mask.
  // q, out: [B, T, H, D]; k, v: [B, T, KV, D]; probs: [B, H, T, T];
  // key_mask: [B, T] (1 = a real item, 0 = padding; nullptr = no padding).
  // A query with no visible key (a padded position at the left edge) gets a
  // zero output instead of NaN.
  //
  // Per (sequence, head) the work is two small matrix products, S = Q K^T and
  // O = P V, each a [T, T] or [T, D] block that Eigen computes with its
  // register-blocked kernel (single-threaded inside the parallel loop), and a
  // masked row softmax in between. Computing S over the full T x T and
  // masking afterwards wastes the upper triangle but keeps every inner loop
  // a whole-register one; per-query loops were bound by their FMA latency.
  static void attention_forward(const T* q, const T* k, const T* v, const std::int32_t* key_mask, T* out, T* probs,
                                index batch, index length, index heads, index kv_heads, index head_dim) {
    const index group = heads / kv_heads, L = length;
    const T scale = T(1) / std::sqrt(T(head_dim));
    const index q_row = heads * head_dim, kv_row = kv_heads * head_dim;
#if SLMREC_X86
    if constexpr (std::is_same_v<T, float>) if (cpu_has_avx512()) {
      SLMREC_OMP(parallel for collapse(2) if (batch * heads * length * length * head_dim > parallel_threshold))
      for (index b = 0; b < batch; ++b)
        for (index h = 0; h < heads; ++h)
          avx512::attention_head_forward(q + b * L * q_row + h * head_dim, q_row, k + b * L * kv_row + h / group * head_dim,
                                         v + b * L * kv_row + h / group * head_dim, kv_row,
                                         key_mask ? key_mask + b * L : nullptr, out + b * L * q_row + h * head_dim,
                                         probs + (b * heads + h) * L * L, L, head_dim, scale);
      return;
    }
#endif
    SLMREC_OMP(parallel for collapse(2) if (batch * heads * length * length * head_dim > parallel_threshold))
    for (index b = 0; b < batch; ++b)
      for (index h = 0; h < heads; ++h) {
        const index g = h / group;
        const const_strided Q(q + b * L * q_row + h * head_dim, L, head_dim, stride(q_row));
        const const_strided K(k + b * L * kv_row + g * head_dim, L, head_dim, stride(kv_row));
        const const_strided V(v + b * L * kv_row + g * head_dim, L, head_dim, stride(kv_row));
        dense P(probs + (b * heads + h) * L * L, L, L);
        strided O(out + b * L * q_row + h * head_dim, L, head_dim, stride(q_row));
        P.noalias() = Q * K.transpose();
        const std::int32_t* mask = key_mask ? key_mask + b * L : nullptr;
        for (index t = 0; t < L; ++t) softmax_causal_row(P.data() + t * L, t, L, mask, scale);
        O.noalias() = P * V;
      }
  }

  // Inference: the one query of each sequence's last position against all of
  // its keys. q, out: [B, H, D]; k, v: [B, T, KV, D]; key_mask as above.
  // Equals the last row of attention_forward (tested).
  static void attention_last(const T* q, const T* k, const T* v, const std::int32_t* key_mask, T* out, index batch,
                             index length, index heads, index kv_heads, index head_dim) {
    const index group = heads / kv_heads, L = length;
    const T scale = T(1) / std::sqrt(T(head_dim));
    const index q_row = heads * head_dim, kv_row = kv_heads * head_dim;
#if SLMREC_X86
    if constexpr (std::is_same_v<T, float>) if (cpu_has_avx512()) {
      SLMREC_OMP(parallel for collapse(2) if (batch * heads * length * head_dim > parallel_threshold))
      for (index b = 0; b < batch; ++b)
        for (index h = 0; h < heads; ++h)
          avx512::attention_head_last(q + b * q_row + h * head_dim, k + b * L * kv_row + h / group * head_dim,
                                      v + b * L * kv_row + h / group * head_dim, kv_row,
                                      key_mask ? key_mask + b * L : nullptr, out + b * q_row + h * head_dim, L, head_dim,
                                      scale);
      return;
    }
#endif
    SLMREC_OMP(parallel for collapse(2) if (batch * heads * length * head_dim > parallel_threshold))
    for (index b = 0; b < batch; ++b)
      for (index h = 0; h < heads; ++h) {
        const index g = h / group;
        using vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
        const Eigen::Map<const vector> query(q + b * q_row + h * head_dim, head_dim);
        const const_strided K(k + b * L * kv_row + g * head_dim, L, head_dim, stride(kv_row));
        const const_strided V(v + b * L * kv_row + g * head_dim, L, head_dim, stride(kv_row));
        Eigen::Map<vector> p(scratch(L), L);
        Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> o(out + b * q_row + h * head_dim, head_dim);
        p.noalias() = K * query;
        // The forward's row softmax with t = L - 1: every key is causally visible.
        softmax_causal_row(p.data(), L - 1, L, key_mask ? key_mask + b * L : nullptr, scale);
        o.noalias() = p.transpose() * V;  // all zero when no key is visible
      }
  }

  // dq, dk, dv += gradients given dout. Parallel over (sequence, key/value
  // group) so that the heads sharing a key/value head never race on dk, dv.
  // With dP = dO V^T and dS = P o (dP - rowsum(P o dP)) / sqrt(D):
  // dQ += dS K, dK += dS^T Q, dV += P^T dO, each a small Eigen product.
  static void attention_backward(const T* q, const T* k, const T* v, const T* probs, const T* dout, T* dq, T* dk,
                                 T* dv, index batch, index length, index heads, index kv_heads, index head_dim) {
    const index group = heads / kv_heads, L = length;
    const T scale = T(1) / std::sqrt(T(head_dim));
    const index q_row = heads * head_dim, kv_row = kv_heads * head_dim;
#if SLMREC_X86
    if constexpr (std::is_same_v<T, float>) if (cpu_has_avx512()) {
      SLMREC_OMP(parallel for collapse(2) if (batch * heads * length * length * head_dim > parallel_threshold))
      for (index b = 0; b < batch; ++b)
        for (index g = 0; g < kv_heads; ++g) {
          const index q_at = b * L * q_row + g * group * head_dim, kv_at = b * L * kv_row + g * head_dim;
          avx512::attention_group_backward(q + q_at, q_row, k + kv_at, v + kv_at, kv_row,
                                           probs + (b * heads + g * group) * L * L, dout + q_at, dq + q_at, dk + kv_at,
                                           dv + kv_at, group, L, head_dim, scale);
        }
      return;
    }
#endif
    SLMREC_OMP(parallel for collapse(2) if (batch * heads * length * length * head_dim > parallel_threshold))
    for (index b = 0; b < batch; ++b)
      for (index g = 0; g < kv_heads; ++g) {
        dense dS(scratch(L * L), L, L);
        const const_strided K(k + b * L * kv_row + g * head_dim, L, head_dim, stride(kv_row));
        const const_strided V(v + b * L * kv_row + g * head_dim, L, head_dim, stride(kv_row));
        strided dK(dk + b * L * kv_row + g * head_dim, L, head_dim, stride(kv_row));
        strided dV(dv + b * L * kv_row + g * head_dim, L, head_dim, stride(kv_row));
        for (index h = g * group; h < (g + 1) * group; ++h) {
          const const_strided Q(q + b * L * q_row + h * head_dim, L, head_dim, stride(q_row));
          const const_strided dO(dout + b * L * q_row + h * head_dim, L, head_dim, stride(q_row));
          strided dQ(dq + b * L * q_row + h * head_dim, L, head_dim, stride(q_row));
          const const_dense P(probs + (b * heads + h) * L * L, L, L);
          dS.noalias() = dO * V.transpose();  // dP
          for (index t = 0; t < L; ++t) {
            const T* p = P.data() + t * L;
            T* d = dS.data() + t * L;
            T weighted = 0;
            for (index s = 0; s < L; ++s) weighted += p[s] * d[s];
            for (index s = 0; s < L; ++s) d[s] = p[s] * (d[s] - weighted) * scale;
          }
          dQ.noalias() += dS * K;
          dK.noalias() += dS.transpose() * Q;
          dV.noalias() += P.transpose() * dO;
        }
      }
  }

  // Plain twins of the two kernels above, straight from the formulas, for the
  // tests: softmax(q k^T / sqrt(D) + causal and padding mask) v and its
  // gradients, with no transposes and no skipped zeros.
  static void attention_forward_ref(const T* q, const T* k, const T* v, const std::int32_t* key_mask, T* out,
                                    T* probs, index batch, index length, index heads, index kv_heads, index head_dim) {
    const index group = heads / kv_heads, L = length, q_row = heads * head_dim, kv_row = kv_heads * head_dim;
    for (index b = 0; b < batch; ++b)
      for (index h = 0; h < heads; ++h)
        for (index t = 0; t < L; ++t) {
          T* p = probs + ((b * heads + h) * L + t) * L;
          const auto visible = [&](index s) { return s <= t && !(key_mask && key_mask[b * L + s] == 0); };
          T m = -std::numeric_limits<T>::infinity(), total = 0;
          for (index s = 0; s < L; ++s) {
            T dot = 0;
            for (index d = 0; d < head_dim; ++d)
              dot += q[(b * L + t) * q_row + h * head_dim + d] * k[(b * L + s) * kv_row + (h / group) * head_dim + d];
            p[s] = dot / std::sqrt(T(head_dim));
            if (visible(s)) m = std::max(m, p[s]);
          }
          for (index s = 0; s < L; ++s) total += (p[s] = visible(s) ? std::exp(p[s] - m) : T(0));
          for (index s = 0; s < L; ++s) p[s] = total > 0 ? p[s] / total : T(0);
          for (index d = 0; d < head_dim; ++d) {
            T acc = 0;
            for (index s = 0; s < L; ++s) acc += p[s] * v[(b * L + s) * kv_row + (h / group) * head_dim + d];
            out[(b * L + t) * q_row + h * head_dim + d] = acc;
          }
        }
  }
  static void attention_backward_ref(const T* q, const T* k, const T* v, const T* probs, const T* dout, T* dq, T* dk,
                                     T* dv, index batch, index length, index heads, index kv_heads, index head_dim) {
    const index group = heads / kv_heads, L = length, q_row = heads * head_dim, kv_row = kv_heads * head_dim;
    const T scale = T(1) / std::sqrt(T(head_dim));
    std::vector<T> dp(static_cast<std::size_t>(L));
    for (index b = 0; b < batch; ++b)
      for (index h = 0; h < heads; ++h)
        for (index t = 0; t < L; ++t) {
          const T* p = probs + ((b * heads + h) * L + t) * L;
          const T* o = dout + (b * L + t) * q_row + h * head_dim;
          T weighted = 0;
          for (index s = 0; s < L; ++s) {
            const index kv = (b * L + s) * kv_row + (h / group) * head_dim;
            dp[std::size_t(s)] = 0;
            for (index d = 0; d < head_dim; ++d) {
              dp[std::size_t(s)] += o[d] * v[kv + d];
              dv[kv + d] += p[s] * o[d];
            }
            weighted += p[s] * dp[std::size_t(s)];
          }
          for (index s = 0; s < L; ++s) {
            const index kv = (b * L + s) * kv_row + (h / group) * head_dim, qi = (b * L + t) * q_row + h * head_dim;
            const T ds = p[s] * (dp[std::size_t(s)] - weighted) * scale;
            for (index d = 0; d < head_dim; ++d) {
              dq[qi + d] += ds * k[kv + d];
              dk[kv + d] += ds * q[qi + d];
            }
          }
        }
  }

 private:
  // Per-thread scratch that only grows: no allocation in a steady training loop.
  static T* scratch(index n) {
    static thread_local std::vector<T> buf;
    if (index(buf.size()) < n) buf.resize(std::size_t(n));
    return buf.data();
  }
  using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using stride = Eigen::OuterStride<>;
  using strided = Eigen::Map<row_matrix, Eigen::Unaligned, stride>;
  using const_strided = Eigen::Map<const row_matrix, Eigen::Unaligned, stride>;
  using dense = Eigen::Map<row_matrix>;
  using const_dense = Eigen::Map<const row_matrix>;

  // Row t of the scores, in place: scale, causal and padding mask (keys
  // s > t or padded get probability 0), softmax. No visible key: all zero.
  static void softmax_causal_row(T* p, index t, index L, const std::int32_t* mask, T scale) {
    T max_score = -std::numeric_limits<T>::infinity();
    for (index s = 0; s <= t; ++s)
      if (!(mask && mask[s] == 0)) max_score = std::max(max_score, p[s]);
    if (max_score == -std::numeric_limits<T>::infinity()) {
      std::fill(p, p + L, T(0));
      return;
    }
    const T shift = max_score * scale;
    for (index s = 0; s <= t; ++s) p[s] = exp_kernel(p[s] * scale - shift);
    if (mask)
      for (index s = 0; s <= t; ++s)
        if (mask[s] == 0) p[s] = T(0);
    T total = 0;
    for (index s = 0; s <= t; ++s) total += p[s];
    const T inv = T(1) / total;
    for (index s = 0; s <= t; ++s) p[s] *= inv;
    std::fill(p + t + 1, p + L, T(0));
  }

  static void rotate(T* x, const std::int32_t* positions, const T* cos, const T* sin, index rows, index heads,
                     index head_dim, T direction) {
    const index half = head_dim / 2;
    SLMREC_OMP(parallel for if (rows * heads * head_dim > parallel_threshold))
    for (index r = 0; r < rows; ++r) {
      const T* c = cos + index(positions[r]) * half;
      const T* s = sin + index(positions[r]) * half;
      for (index h = 0; h < heads; ++h) {
        T* xh = x + (r * heads + h) * head_dim;
        for (index i = 0; i < half; ++i) {
          const T a = xh[i], b = xh[i + half], sn = direction * s[i];
          xh[i] = a * c[i] - b * sn;
          xh[i + half] = b * c[i] + a * sn;
        }
      }
    }
  }
};

}  // namespace slmrec::backend::cpu
