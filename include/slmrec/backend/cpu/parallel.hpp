#pragma once
// OpenMP through a macro, so that a consumer compiling without -fopenmp gets
// plain serial loops and no unknown-pragma warnings.
#define SLMREC_PRAGMA(x) _Pragma(#x)
#if defined(_OPENMP)
#define SLMREC_OMP(x) SLMREC_PRAGMA(omp x)
#else
#define SLMREC_OMP(x)
#endif

namespace slmrec::backend::cpu {
// Below this many scalar operations a parallel region costs more than it saves.
inline constexpr long parallel_threshold = 1 << 15;

// f(i) for every i in [0, n) as one vector loop, split over the threads when
// n is large. A branch rather than `parallel for simd if (...)`: GCC 12
// compiles that clause's serial fallback without vectorising it (a SwiGLU of
// 30,000 elements 7x slower), and inference makes many such small calls.
template <class F>
inline void pointwise(long n, F&& f) {
  if (n > parallel_threshold) {
    SLMREC_OMP(parallel for simd)
    for (long i = 0; i < n; ++i) f(i);
  } else {
    SLMREC_OMP(simd)
    for (long i = 0; i < n; ++i) f(i);
  }
}
}  // namespace slmrec::backend::cpu
