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

// Rounds to the nearest integer, ties to even, for |v| < 2^22, in a form
// every x86 level vectorises. std::nearbyint is one instruction from SSE4.1
// (roundps) but a library call per element below it, the portable wheel's
// baseline (SSE2), where that made SwiGLU a fifth of the teacher's inference
// (perf, bench_presets --preset teacher). Adding 1.5 * 2^23 leaves no bits
// below the units place, so the sum rounds v exactly as nearbyint does in the
// default rounding mode (a zero may come out +0 where nearbyint gives -0,
// which exp_fast does not see); nothing here can contract it into an FMA
// (SSE2 has none), and builds with SSE4.1 keep nearbyint, bit for bit as
// before.
inline float round_to_integer(float v) {
#if defined(__SSE4_1__) || !defined(__x86_64__)
  return std::nearbyint(v);
#else
  constexpr float shifter = 12582912.0f;  // 1.5 * 2^23
  return (v + shifter) - shifter;
#endif
}

// Every step is branch-free and has a vector form (min/max, the rounding
// above, an integer shift, a bit copy): std::floor or a ternary clamp here
// keeps GCC from vectorising the loops that call this (checked with
// -fopt-info-vec).
inline float exp_fast(float x) {
  x = std::min(std::max(x, -87.3f), 88.3f);  // keeps 2^n a normal float
  const float n = round_to_integer(x * 1.44269504088896341f);
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
