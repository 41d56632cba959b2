#pragma once
// Rotary position embedding and causal multi-head attention of the CPU
// backend. Sequences are short in recommendation (T around 50), so attention
// is computed directly per (sequence, head): the T x T probabilities are kept
// for the backward.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

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
  // Per (sequence, head) the keys are first transposed to [D, T], so that the
  // scores of one query against all keys are D axpy loops over the keys: they
  // vectorise without a horizontal reduction (a dot product per key over
  // D = 32 does not, without -ffast-math).
  static void attention_forward(const T* q, const T* k, const T* v, const std::int32_t* key_mask, T* out, T* probs,
                                index batch, index length, index heads, index kv_heads, index head_dim) {
    const index group = heads / kv_heads, L = length;
    const T scale = T(1) / std::sqrt(T(head_dim));
    const index q_row = heads * head_dim, kv_row = kv_heads * head_dim;
    SLMREC_OMP(parallel for collapse(2) if (batch * heads * length * length * head_dim > parallel_threshold))
    for (index b = 0; b < batch; ++b)
      for (index h = 0; h < heads; ++h) {
        T* kt = scratch(head_dim * L + L);
        T* keep = kt + head_dim * L;  // 1 = a visible key, 0 = padding
        transpose_heads(k + b * L * kv_row + (h / group) * head_dim, kv_row, kt, L, head_dim);
        for (index s = 0; s < L; ++s) keep[s] = (key_mask && key_mask[b * L + s] == 0) ? T(0) : T(1);
        for (index t = 0; t < L; ++t) {
          const T* qt = q + (b * L + t) * q_row + h * head_dim;
          T* p = probs + ((b * heads + h) * L + t) * L;
          T* o = out + (b * L + t) * q_row + h * head_dim;
          const index n = t + 1;  // causal: keys 0..t
          std::fill(p, p + L, T(0));
          for (index d = 0; d < head_dim; ++d) {
            const T qd = qt[d] * scale;
            const T* kd = kt + d * L;
            for (index s = 0; s < n; ++s) p[s] += qd * kd[s];
          }
          T max_score = -std::numeric_limits<T>::infinity();
          for (index s = 0; s < n; ++s)
            if (keep[s] != T(0)) max_score = std::max(max_score, p[s]);
          std::fill(o, o + head_dim, T(0));
          if (max_score == -std::numeric_limits<T>::infinity()) {  // no visible key
            std::fill(p, p + n, T(0));
            continue;
          }
          for (index s = 0; s < n; ++s) p[s] = exp_kernel(p[s] - max_score) * keep[s];
          T total = 0;
          for (index s = 0; s < n; ++s) total += p[s];
          const T inv = T(1) / total;
          for (index s = 0; s < n; ++s) p[s] *= inv;
          for (index s = 0; s < n; ++s) {
            if (p[s] == T(0)) continue;
            const T ps = p[s];
            const T* vs = v + (b * L + s) * kv_row + (h / group) * head_dim;
            for (index d = 0; d < head_dim; ++d) o[d] += ps * vs[d];
          }
        }
      }
  }

  // dq, dk, dv += gradients given dout. Parallel over (sequence, key/value
  // group) so that the heads sharing a key/value head never race on dk, dv.
  // V is transposed per group for the same reason the forward transposes K.
  static void attention_backward(const T* q, const T* k, const T* v, const T* probs, const T* dout, T* dq, T* dk,
                                 T* dv, index batch, index length, index heads, index kv_heads, index head_dim) {
    const index group = heads / kv_heads, L = length;
    const T scale = T(1) / std::sqrt(T(head_dim));
    const index q_row = heads * head_dim, kv_row = kv_heads * head_dim;
    SLMREC_OMP(parallel for collapse(2) if (batch * heads * length * length * head_dim > parallel_threshold))
    for (index b = 0; b < batch; ++b)
      for (index g = 0; g < kv_heads; ++g) {
        T* vt = scratch(head_dim * L + L);
        T* dp = vt + head_dim * L;
        transpose_heads(v + b * L * kv_row + g * head_dim, kv_row, vt, L, head_dim);
        for (index h = g * group; h < (g + 1) * group; ++h)
          for (index t = 0; t < L; ++t) {
            const T* p = probs + ((b * heads + h) * L + t) * L;
            const T* dot = dout + (b * L + t) * q_row + h * head_dim;
            const T* qt = q + (b * L + t) * q_row + h * head_dim;
            T* dqt = dq + (b * L + t) * q_row + h * head_dim;
            const index n = t + 1;
            std::fill(dp, dp + n, T(0));
            for (index d = 0; d < head_dim; ++d) {  // dp_s = <dout_t, v_s>
              const T od = dot[d];
              const T* vd = vt + d * L;
              for (index s = 0; s < n; ++s) dp[s] += od * vd[s];
            }
            T weighted = 0;  // sum_s p_s * dp_s
            for (index s = 0; s < n; ++s) weighted += p[s] * dp[s];
            for (index s = 0; s < n; ++s) {
              if (p[s] == T(0)) continue;
              const T ps = p[s];
              const T ds = ps * (dp[s] - weighted) * scale;  // d score (pre-scale)
              const T* ks = k + (b * L + s) * kv_row + g * head_dim;
              T* dks = dk + (b * L + s) * kv_row + g * head_dim;
              T* dvs = dv + (b * L + s) * kv_row + g * head_dim;
              for (index d = 0; d < head_dim; ++d) {
                dvs[d] += ps * dot[d];
                dqt[d] += ds * ks[d];
                dks[d] += ds * qt[d];
              }
            }
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
  // dst [D, L] = the head_dim columns of src's L rows (row stride `stride`).
  static void transpose_heads(const T* src, index stride, T* dst, index L, index head_dim) {
    for (index s = 0; s < L; ++s)
      for (index d = 0; d < head_dim; ++d) dst[d * L + s] = src[s * stride + d];
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
