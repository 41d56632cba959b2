#pragma once
// OpenMP through a macro, so that a consumer compiling without -fopenmp gets
// plain serial loops and no unknown-pragma warnings.
#define SLMREC_PRAGMA(x) _Pragma(#x)
#if defined(_OPENMP)
#define SLMREC_OMP(x) SLMREC_PRAGMA(omp x)
#else
#define SLMREC_OMP(x)
#endif
