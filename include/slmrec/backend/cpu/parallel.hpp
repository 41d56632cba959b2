#pragma once
// The elementwise loop every activation runs, at the CPU's width, and the
// size below which a loop stays serial (OpenMP itself: core/omp.hpp).
#include <slmrec/core/cpu_features.hpp>
#include <slmrec/core/omp.hpp>

namespace slmrec::backend::cpu {
// Below this many scalar operations a parallel region costs more than it saves.
inline constexpr long parallel_threshold = 1 << 15;

// f(i) for every i in [0, n) as one vector loop, split over the threads when
// n is large. A branch rather than `parallel for simd if (...)`: GCC 12
// compiles that clause's serial fallback without vectorising it (a SwiGLU of
// 30,000 elements 7x slower), and inference makes many such small calls.
// A build without AVX-512 flags (the Python wheel, a consumer's portable
// build) would run these loops 4 floats wide: on a CPU with AVX-512 the same
// loop runs 16 wide in a copy compiled for it (core/cpu_features.hpp's one
// check). The copy holds the OpenMP pragmas itself: GCC outlines a parallel
// region from the function that contains it, with that function's target, so
// a region inlined from a plain function would stay plain. A build with the
// flags has one copy, as before.
#define SLMREC_POINTWISE_LOOP(n, f)          \
  if ((n) > parallel_threshold) {            \
    SLMREC_OMP(parallel for simd)            \
    for (long i = 0; i < (n); ++i) (f)(i);   \
  } else {                                   \
    SLMREC_OMP(simd)                         \
    for (long i = 0; i < (n); ++i) (f)(i);   \
  }

#if SLMREC_X86 && !defined(__AVX512F__)
#define SLMREC_PORTABLE_AVX512 1
template <class F>
SLMREC_TARGET_AVX512 void pointwise_avx512(long n, F& f) {
  SLMREC_POINTWISE_LOOP(n, f)
}
#else
#define SLMREC_PORTABLE_AVX512 0
#endif

template <class F>
inline void pointwise(long n, F&& f) {
#if SLMREC_PORTABLE_AVX512
  if (cpu_has_avx512()) {
    pointwise_avx512(n, f);
    return;
  }
#endif
  SLMREC_POINTWISE_LOOP(n, f)
}
}  // namespace slmrec::backend::cpu
