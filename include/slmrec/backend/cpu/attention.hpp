#pragma once
// Rotary position embedding and causal multi-head attention of the CPU
// backend. Sequences are short in recommendation (T around 50), so attention
// is computed directly per (sequence, head): the T x T probabilities are kept
// for the backward, and the loops vectorise over the head dimension.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

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
  static void attention_forward(const T* q, const T* k, const T* v, const std::int32_t* key_mask, T* out, T* probs,
                                index batch, index length, index heads, index kv_heads, index head_dim) {
    const index group = heads / kv_heads;
    const T scale = T(1) / std::sqrt(T(head_dim));
    const index q_row = heads * head_dim, kv_row = kv_heads * head_dim;
    SLMREC_OMP(parallel for collapse(2) if (batch * heads * length * length * head_dim > parallel_threshold))
    for (index b = 0; b < batch; ++b)
      for (index h = 0; h < heads; ++h) {
        const index g = h / group;
        const std::int32_t* mask = key_mask ? key_mask + b * length : nullptr;
        for (index t = 0; t < length; ++t) {
          const T* qt = q + (b * length + t) * q_row + h * head_dim;
          T* p = probs + ((b * heads + h) * length + t) * length;
          T* o = out + (b * length + t) * q_row + h * head_dim;
          T max_score = -std::numeric_limits<T>::infinity();
          for (index s = 0; s <= t; ++s) {
            if (mask && mask[s] == 0) continue;
            const T* ks = k + (b * length + s) * kv_row + g * head_dim;
            T dot = 0;
            for (index d = 0; d < head_dim; ++d) dot += qt[d] * ks[d];
            p[s] = dot * scale;
            max_score = std::max(max_score, p[s]);
          }
          T total = 0;
          for (index s = 0; s < length; ++s) {
            const bool visible = s <= t && !(mask && mask[s] == 0);
            p[s] = visible ? exp_kernel(p[s] - max_score) : T(0);
            total += p[s];
          }
          const T inv = total > T(0) ? T(1) / total : T(0);
          for (index d = 0; d < head_dim; ++d) o[d] = 0;
          for (index s = 0; s <= t; ++s) {
            p[s] *= inv;
            if (p[s] == T(0)) continue;
            const T* vs = v + (b * length + s) * kv_row + g * head_dim;
            for (index d = 0; d < head_dim; ++d) o[d] += p[s] * vs[d];
          }
        }
      }
  }

  // dq, dk, dv += gradients given dout. Parallel over (sequence, key/value
  // group) so that the heads sharing a key/value head never race on dk, dv.
  static void attention_backward(const T* q, const T* k, const T* v, const T* probs, const T* dout, T* dq, T* dk,
                                 T* dv, index batch, index length, index heads, index kv_heads, index head_dim) {
    const index group = heads / kv_heads;
    const T scale = T(1) / std::sqrt(T(head_dim));
    const index q_row = heads * head_dim, kv_row = kv_heads * head_dim;
    SLMREC_OMP(parallel for collapse(2) if (batch * heads * length * length * head_dim > parallel_threshold))
    for (index b = 0; b < batch; ++b)
      for (index g = 0; g < kv_heads; ++g) {
        T dp_buf[1024];
        T* dp = length <= 1024 ? dp_buf : new T[std::size_t(length)];
        for (index h = g * group; h < (g + 1) * group; ++h)
          for (index t = 0; t < length; ++t) {
            const T* p = probs + ((b * heads + h) * length + t) * length;
            const T* dot_ = dout + (b * length + t) * q_row + h * head_dim;
            const T* qt = q + (b * length + t) * q_row + h * head_dim;
            T* dqt = dq + (b * length + t) * q_row + h * head_dim;
            T weighted = 0;  // sum_s p_s * dp_s
            for (index s = 0; s <= t; ++s) {
              dp[s] = 0;
              if (p[s] == T(0)) continue;
              const T* vs = v + (b * length + s) * kv_row + g * head_dim;
              T* dvs = dv + (b * length + s) * kv_row + g * head_dim;
              T acc = 0;
              for (index d = 0; d < head_dim; ++d) {
                acc += dot_[d] * vs[d];
                dvs[d] += p[s] * dot_[d];
              }
              dp[s] = acc;
              weighted += p[s] * acc;
            }
            for (index s = 0; s <= t; ++s) {
              if (p[s] == T(0)) continue;
              const T ds = p[s] * (dp[s] - weighted) * scale;  // d score (pre-scale)
              const T* ks = k + (b * length + s) * kv_row + g * head_dim;
              T* dks = dk + (b * length + s) * kv_row + g * head_dim;
              for (index d = 0; d < head_dim; ++d) {
                dqt[d] += ds * ks[d];
                dks[d] += ds * qt[d];
              }
            }
          }
        if (dp != dp_buf) delete[] dp;
      }
  }

 private:
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
