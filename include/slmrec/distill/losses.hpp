#pragma once
// The alignment losses of layer-wise distillation, between teacher states t
// and student states s ([n, d] rows, one per aligned position):
//   cosine:  1 - cos(t, s)
//   norm:    mse      mean over d of (t - s)^2            (our default)
//            squared  ||t - s||^2, the paper's formula    (d times the mse)
//            l2       ||t - s||, the released code's
// forward_backward adds d(scale * sum over rows of (w_cos * cosine + w_norm *
// norm))/ds into ds (pass scale = 1 / (rows * blocks) for a mean over both) and
// returns both terms as unweighted means over the rows.
// Per-row reductions run on the backend; only n numbers per term come back
// to the host, where the per-row coefficients of the gradient are formed.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/nn/context.hpp>

namespace slmrec::distill {

enum class norm_kind { mse, squared, l2 };

inline norm_kind parse_norm_kind(const std::string& s) {
  if (s == "mse") return norm_kind::mse;
  if (s == "squared") return norm_kind::squared;
  if (s == "l2") return norm_kind::l2;
  fail("norm loss '{}' is not one of mse, squared, l2", s);
}
inline const char* norm_kind_name(norm_kind k) {
  return k == norm_kind::mse ? "mse" : (k == norm_kind::squared ? "squared" : "l2");
}

struct alignment_terms {
  double cosine = 0.0;  // mean of 1 - cos
  double norm = 0.0;    // mean of D
};

template <backend::backend BE>
class alignment_loss {
 public:
  using T = typename BE::scalar;

  alignment_terms forward_backward(const T* t, const T* s, T* ds, index n, index d, double w_cos, double w_norm,
                                   norm_kind kind, double scale) {
    nn::ensure_size(diff_, n * d);
    nn::ensure_size(dots_, 4 * n);
    BE::copy(s, diff_.data(), n * d);
    BE::axpy(T(-1), t, diff_.data(), n * d);  // s - t
    T* ts = dots_.data();
    BE::row_dot(t, s, ts, n, d);
    BE::row_dot(t, t, ts + n, n, d);
    BE::row_dot(s, s, ts + 2 * n, n, d);
    BE::row_dot(diff_.data(), diff_.data(), ts + 3 * n, n, d);
    host_.resize(std::size_t(4 * n));
    BE::download(ts, host_.data(), 4 * n);
    coef_.resize(std::size_t(3 * n));
    alignment_terms terms;
    for (index r = 0; r < n; ++r) {
      const double dot = host_[std::size_t(r)], tt = host_[std::size_t(n + r)], ss = host_[std::size_t(2 * n + r)];
      const double dd = host_[std::size_t(3 * n + r)];
      const double nt = std::sqrt(tt), ns = std::sqrt(ss), denom = std::max(nt * ns, 1e-12);
      const double cos = dot / denom;
      terms.cosine += 1.0 - cos;
      // d(1 - cos)/ds = -t / (|t||s|) + cos * s / |s|^2
      coef_[std::size_t(r)] = T(-scale * w_cos / denom);                                  // times t
      coef_[std::size_t(n + r)] = T(ss > 0 ? scale * w_cos * cos / ss : 0.0);             // times s
      double norm = 0.0, g = 0.0;                                                         // dD/ds = g * (s - t)
      switch (kind) {
        case norm_kind::mse: norm = dd / double(d), g = 2.0 / double(d); break;
        case norm_kind::squared: norm = dd, g = 2.0; break;
        case norm_kind::l2: norm = std::sqrt(dd), g = norm > 0 ? 1.0 / norm : 0.0; break;
      }
      terms.norm += norm;
      coef_[std::size_t(2 * n + r)] = T(scale * w_norm * g);
    }
    terms.cosine /= double(n);
    terms.norm /= double(n);
    nn::ensure_size(coef_dev_, 3 * n);
    BE::upload(coef_.data(), coef_dev_.data(), 3 * n);
    BE::scale_rows_add(t, coef_dev_.data(), ds, n, d);
    BE::scale_rows_add(s, coef_dev_.data() + n, ds, n, d);
    BE::scale_rows_add(diff_.data(), coef_dev_.data() + 2 * n, ds, n, d);
    return terms;
  }

 private:
  typename BE::template buffer<T> diff_, dots_, coef_dev_;
  std::vector<T> host_, coef_;
};

}  // namespace slmrec::distill
