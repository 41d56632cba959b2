#pragma once
// The AdamW update of the CPU backend, one flat range of parameters at a time.
#include <cmath>
#include <cstdint>

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::backend::cpu {

template <class T>
struct optim_kernels {
  // Decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW:
  //   p <- p * (1 - lr*wd);  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
  //   p <- p - lr * (m / bc1) / (sqrt(v / bc2) + eps)
  // where bc1 = 1 - b1^t and bc2 = 1 - b2^t are the bias corrections.
  static void adamw_update(T* p, const T* g, T* m, T* v, index n, T lr, T beta1, T beta2, T eps, T weight_decay,
                           T bias_correction1, T bias_correction2) {
    const T decay = T(1) - lr * weight_decay;
    const T step = lr / bias_correction1;
    const T inv_sqrt_bc2 = T(1) / std::sqrt(bias_correction2);
    pointwise(n, [=](index i) {
      m[i] = beta1 * m[i] + (T(1) - beta1) * g[i];
      v[i] = beta2 * v[i] + (T(1) - beta2) * g[i] * g[i];
      p[i] = p[i] * decay - step * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
    });
  }

  // adamw_update on some rows of a [rows, dim] table only (a row-sparse
  // gradient: the rows a sampled loss touched), rows[i] each.
  static void adamw_update_rows(T* p, const T* g, T* m, T* v, const std::int32_t* rows, index n, index dim, T lr,
                                T beta1, T beta2, T eps, T weight_decay, T bias_correction1, T bias_correction2) {
    const T decay = T(1) - lr * weight_decay;
    const T step = lr / bias_correction1;
    const T inv_sqrt_bc2 = T(1) / std::sqrt(bias_correction2);
    SLMREC_OMP(parallel for if (n * dim > parallel_threshold))
    for (index i = 0; i < n; ++i) {
      const index o = index(rows[i]) * dim;
      for (index c = o; c < o + dim; ++c) {
        m[c] = beta1 * m[c] + (T(1) - beta1) * g[c];
        v[c] = beta2 * v[c] + (T(1) - beta2) * g[c] * g[c];
        p[c] = p[c] * decay - step * m[c] / (std::sqrt(v[c]) * inv_sqrt_bc2 + eps);
      }
    }
  }

  // The steps a row sat out, at once: s steps of adamw_update with a zero
  // gradient move row rows[i] by
  //   p <- keep[i] * p - shift[i] * m / (sqrt(v) + eps),  m <- m_scale[i] m,  v <- v_scale[i] v
  // with the per-row factors from train/adamw.hpp (keep: the weight decay's
  // product; shift: the momentum's decaying steps summed; m_scale = b1^s,
  // v_scale = b2^s).
  static void adamw_catch_up_rows(T* p, T* m, T* v, const std::int32_t* rows, index n, index dim, const T* keep,
                                  const T* shift, const T* m_scale, const T* v_scale, T eps) {
    SLMREC_OMP(parallel for if (n * dim > parallel_threshold))
    for (index i = 0; i < n; ++i) {
      const index o = index(rows[i]) * dim;
      const T k = keep[i], sh = shift[i], ms = m_scale[i], vs = v_scale[i];
      for (index c = o; c < o + dim; ++c) {
        p[c] = p[c] * k - sh * m[c] / (std::sqrt(v[c]) + eps);
        m[c] *= ms;
        v[c] *= vs;
      }
    }
  }
};

}  // namespace slmrec::backend::cpu
