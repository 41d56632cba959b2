#pragma once
// What this CPU can run, asked at run time: the one dispatch of every
// hand-vectorised CPU kernel (the float32 GEMM, attention, dot_rows, the
// quantized products). SLMREC_SIMD=plain|avx2|avx512|avx512_vnni in the
// environment caps the answer (as MKL_ENABLE_INSTRUCTIONS does MKL's), so the
// slower paths can be tested and timed on a faster CPU. The library is
// header-only and a consumer (or the Python wheel) need not compile with
// -march=native, so the fast kernels carry target attributes instead of
// relying on flags: they compile in any translation unit and may only be
// called after cpu_supports() said yes.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SLMREC_X86 1
#define SLMREC_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define SLMREC_TARGET_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define SLMREC_TARGET_AVX2 __attribute__((target("avx2,fma")))
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps(), which its
// -Wuninitialized reports at every inlined call (GCC bug 105593): the headers
// of AVX-512 kernels open with the first and close with the second.
#if defined(__clang__)  // Clang knows no -Wmaybe-uninitialized
#define SLMREC_AVX512_WARNINGS_OFF \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#else
#define SLMREC_AVX512_WARNINGS_OFF                                                      \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wuninitialized\"") \
      _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#endif
#define SLMREC_AVX512_WARNINGS_ON _Pragma("GCC diagnostic pop")
#include <immintrin.h>
#else
#define SLMREC_X86 0
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace slmrec {

enum class simd {
  plain,        // portable C++ (the _ref kernels)
  avx2,         // AVX2 and FMA
  avx512,       // AVX-512 F (float kernels)
  avx512_vnni,  // AVX-512 F, BW and VNNI (int8 products)
};

// The level SLMREC_SIMD allows (read once; unset: no cap; an unknown value is
// reported on stderr once and ignored).
inline simd simd_cap() noexcept {
  static const simd cap = [] {
    const char* v = std::getenv("SLMREC_SIMD");
    if (v == nullptr || *v == '\0') return simd::avx512_vnni;
    constexpr std::pair<const char*, simd> names[] = {
        {"plain", simd::plain}, {"avx2", simd::avx2}, {"avx512", simd::avx512}, {"avx512_vnni", simd::avx512_vnni}};
    for (const auto& [name, level] : names)
      if (std::strcmp(v, name) == 0) return level;
    std::fprintf(stderr, "slmrec: SLMREC_SIMD=%s is not one of plain, avx2, avx512, avx512_vnni: ignored\n", v);
    return simd::avx512_vnni;
  }();
  return cap;
}

// Whether this CPU (and OS: GCC's and Clang's checks include the saved
// register state) can run code for `level`, and SLMREC_SIMD allows it.
inline bool cpu_supports(simd level) noexcept {
  if (level > simd_cap()) return false;
#if SLMREC_X86
  __builtin_cpu_init();  // harmless after startup, needed before it
  switch (level) {
    case simd::plain:
      return true;
    case simd::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case simd::avx512:
      return __builtin_cpu_supports("avx512f") && cpu_supports(simd::avx2);
    case simd::avx512_vnni:
      return cpu_supports(simd::avx512) && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vnni");
  }
  return false;
#else
  return level == simd::plain;
#endif
}

// Asked once per process, for the kernels called in inner loops.
inline bool cpu_has_avx512() noexcept {
  static const bool yes = cpu_supports(simd::avx512);
  return yes;
}
inline bool cpu_has_avx2() noexcept {
  static const bool yes = cpu_supports(simd::avx2);
  return yes;
}

}  // namespace slmrec
