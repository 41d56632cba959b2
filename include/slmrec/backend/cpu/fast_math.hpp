#pragma once
// exp for the softmax kernels, written so the compiler vectorises it (libm's
// expf is a scalar call, and softmax over 12,000 items per row spends a
// quarter of a training step there). Cody–Waite range reduction and the
// Cephes polynomial: relative error below 3e-7 on the float range (tested
// against std::exp). Double precision keeps std::exp: it is what the
// gradient checks run in.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace slmrec::backend::cpu {

// Every step is branch-free and has a vector form (min/max, nearbyint, an
// integer shift, a bit copy): std::floor or a ternary clamp here keeps GCC
// from vectorising the loops that call this (checked with -fopt-info-vec).
inline float exp_fast(float x) {
  x = std::min(std::max(x, -87.3f), 88.3f);  // keeps 2^n a normal float
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

template <class T>
inline T exp_kernel(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return exp_fast(x);
  } else {
    return std::exp(x);
  }
}

}  // namespace slmrec::backend::cpu
