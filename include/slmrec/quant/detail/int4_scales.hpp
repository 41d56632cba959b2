#pragma once
// The fp16 scale of one int4 block (int4_matrix.hpp): fitted so every weight
// rounds to a code in [-8, 7], then searched for the least squared error.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include <slmrec/core/error.hpp>
#include <slmrec/core/half.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::quant::detail {

// |w| / s <= 7.5 for every w of the block: each rounds to a code in
// [-8, 7] within s/2, and the largest magnitude to +-7 (or -8 on a tie).
inline std::uint16_t int4_fit_scale(double target, float maxabs) {
  target = std::max(target, double(maxabs) / 7.5);
  std::uint16_t h = float_to_fp16(float(target));
  while (h < 0x7c00u && double(fp16_to_float(h)) < target) ++h;  // round up, never down
  require(h < 0x7c00u, "quant::int4_matrix: a block's largest weight {} is too large for an fp16 scale", maxabs);
  return h;
}

inline int int4_code(float w, float s) noexcept {
  return s == 0.0f ? 0 : int(std::clamp(std::nearbyint(w / s), -8.0f, 7.0f));
}

inline double int4_sq_error(const float* w, index n, float s) noexcept {
  double e = 0.0;
  for (index k = 0; k < n; ++k) {
    const double d = double(w[k]) - double(int4_code(w[k], s)) * double(s);
    e += d * d;
  }
  return e;
}

// The fp16 scale of one block: maxabs / 7 to start, then a small search
// over scales that still map the largest magnitude to +-7 (maxabs / d for
// d in [6.6, 7.5], each also refitted by least squares for its codes),
// keeping the one of least squared error. Four bits leave few levels, and
// where the other weights fall on them matters as much as the largest one.
inline std::uint16_t int4_block_scale(const float* w, index n) {
  float maxabs = 0.0f;
  for (index k = 0; k < n; ++k) maxabs = std::max(maxabs, std::fabs(w[k]));
  if (maxabs == 0.0f) return 0;
  const double lowest = double(maxabs) / 7.5;
  const double highest = double(maxabs) / 6.55;  // fp16 rounding up stays below maxabs / 6.5
  std::uint16_t best = int4_fit_scale(double(maxabs) / 7.0, maxabs);
  double best_error = int4_sq_error(w, n, fp16_to_float(best));
  const auto consider = [&](std::uint16_t h) {
    const double e = int4_sq_error(w, n, fp16_to_float(h));
    if (e < best_error) {
      best = h;
      best_error = e;
    }
  };
  for (int i = 0; i <= 9; ++i) {
    const std::uint16_t h = int4_fit_scale(double(maxabs) / (7.5 - 0.1 * i), maxabs);
    consider(h);
    double wq = 0.0, qq = 0.0;
    for (index k = 0; k < n; ++k) {
      const double q = int4_code(w[k], fp16_to_float(h));
      wq += double(w[k]) * q;
      qq += q * q;
    }
    if (qq > 0.0 && wq > 0.0) consider(int4_fit_scale(std::clamp(wq / qq, lowest, highest), maxabs));
  }
  return best;
}

}  // namespace slmrec::quant::detail
