#pragma once
// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_: if the
// L2 norm of all gradients together exceeds max_norm, scale them all by
// max_norm / (norm + 1e-6). Returns the norm before clipping (for logging and
// NaN detection). A row-tracked table (a sampled loss's item table) is read
// in its touched rows only: the others hold zeros, so the norm is the same.
#include <cmath>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::train {

template <backend::backend BE>
double global_grad_norm(nn::parameter_store<BE>& params) {
  double ss = 0.0;
  for (const auto& e : params.entries())
    params.for_each_grad_run(e, [&](const auto* g, index n) { ss += BE::sum_squares(g, n); });
  return std::sqrt(ss);
}

template <backend::backend BE>
double clip_grad_norm(nn::parameter_store<BE>& params, double max_norm) {
  using T = typename BE::scalar;
  const double norm = global_grad_norm(params);
  if (max_norm > 0.0 && std::isfinite(norm) && norm > max_norm) {
    const T factor = T(max_norm / (norm + 1e-6));
    for (const auto& e : params.entries()) params.for_each_grad_run(e, [&](T* g, index n) { BE::scale(g, n, factor); });
  }
  return norm;
}

}  // namespace slmrec::train
