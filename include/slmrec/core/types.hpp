#pragma once
// Basic vocabulary types shared by every folder.
#include <cstddef>
#include <cstdint>
#include <limits>

namespace slmrec {

// Signed index type for sizes and loops (as Eigen::Index): no unsigned
// wrap-around in `t - 1` style arithmetic.
using index = std::ptrdiff_t;

// Whole blocks of y needed to hold x, and x rounded up to them (x >= 0, y > 0):
// the blocking and padding arithmetic of the kernels.
constexpr index ceil_div(index x, index y) noexcept {
  return (x + y - 1) / y;
}
constexpr index round_up(index x, index y) noexcept {
  return ceil_div(x, y) * y;
}

// `depth<dynamic>` selects a run-time number of layers, as Eigen's `Dynamic`.
inline constexpr index dynamic = -1;

template <index N>
struct depth {
  static_assert(N == dynamic || N >= 1, "slmrec::depth<N>: a stack needs at least one layer (or depth<dynamic>)");
  static constexpr index value = N;
  static constexpr bool is_dynamic = (N == dynamic);
};

}  // namespace slmrec
