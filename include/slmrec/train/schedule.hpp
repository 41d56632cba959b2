#pragma once
// Learning-rate schedules: linear warm-up, then cosine decay to
// min_ratio * lr at the last step (or a constant rate after warm-up).
#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::train {

struct lr_schedule {
  double lr = 1e-3;
  index warmup_steps = 0;
  index total_steps = 1;
  std::string kind = "cosine";  // "cosine" | "constant"
  double min_ratio = 0.0;

  // The rate for 0-based step `step`.
  [[nodiscard]] double at(index step) const {
    require(kind == "cosine" || kind == "constant", "schedule '{}' is not one of cosine, constant", kind);
    if (warmup_steps > 0 && step < warmup_steps) return lr * double(step + 1) / double(warmup_steps);
    if (kind == "constant") return lr;
    const double span = double(std::max<index>(1, total_steps - warmup_steps));
    const double progress = std::clamp(double(step - warmup_steps) / span, 0.0, 1.0);
    return lr * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
  }
};

}  // namespace slmrec::train
