#pragma once
// What a batch's mean loss divides by. A data-parallel rank sees a share of
// the global batch; if it took the mean over its own share, two ranks with
// different numbers of targets would weigh their targets differently and N
// ranks x B/N would not equal one process x B. So each rank counts its units,
// the counts are summed over the ranks, and every rank divides its sums by
// the global counts: the ranks' gradients then add up to the gradient of the
// mean over the global batch. Two kinds, because the distiller's alignment
// terms average over aligned positions, its cross-entropies over targets.
#include <array>

namespace slmrec::dist {

struct loss_units {
  double targets = 0.0;  // cells with a next-item target (cross-entropy, sampled losses, extra heads)
  double aligned = 0.0;  // positions aligned with a teacher (distillation)

  [[nodiscard]] std::array<double, 2> as_array() const { return {targets, aligned}; }
  static loss_units from_array(const std::array<double, 2>& a) { return {a[0], a[1]}; }
};

}  // namespace slmrec::dist
