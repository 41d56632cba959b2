#pragma once
// Which integer kernel the quantized products run. The library is
// header-only and a consumer need not compile with -march=native, so the
// fast kernels carry their own target attributes and are picked at run time
// from what this CPU supports, once per process. SLMREC_QUANT_KERNEL=ref|avx2|vnni
// overrides the pick, to compare kernels on one machine or to rule one out.
#include <cstdlib>
#include <string_view>

#include <slmrec/core/error.hpp>

#if defined(__x86_64__)
#include <immintrin.h>

#define SLMREC_QUANT_X86 1
// Attributes, not flags: these functions may only be *called* after
// kernel_supported() said yes, but they must compile in any translation unit.
#define SLMREC_QUANT_TARGET_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define SLMREC_QUANT_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define SLMREC_QUANT_X86 0
#endif

namespace slmrec::quant {

enum class kernel { ref, avx2, avx512_vnni };

// The spelling SLMREC_QUANT_KERNEL takes.
constexpr const char* kernel_name(kernel k) noexcept {
  switch (k) {
    case kernel::ref:
      return "ref";
    case kernel::avx2:
      return "avx2";
    case kernel::avx512_vnni:
      return "vnni";
  }
  return "?";
}

// Whether this CPU (and OS: GCC's and Clang's checks include the saved
// register state) can run kernel k.
inline bool kernel_supported(kernel k) noexcept {
#if SLMREC_QUANT_X86
  __builtin_cpu_init();  // harmless after startup, needed before it
  switch (k) {
    case kernel::ref:
      return true;
    case kernel::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case kernel::avx512_vnni:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vnni");
  }
  return false;
#else
  return k == kernel::ref;
#endif
}

namespace detail {

inline constexpr const char* kernel_env = "SLMREC_QUANT_KERNEL";

// The choice for a value of SLMREC_QUANT_KERNEL (nullptr or empty: unset),
// apart from the cached best_kernel() so that tests can try values.
inline kernel choose_kernel(const char* requested) {
  if (requested == nullptr || *requested == '\0') {
    if (kernel_supported(kernel::avx512_vnni)) return kernel::avx512_vnni;
    if (kernel_supported(kernel::avx2)) return kernel::avx2;
    return kernel::ref;
  }
  const std::string_view value(requested);
  kernel k = kernel::ref;
  if (value == "ref") {
    k = kernel::ref;
  } else if (value == "avx2") {
    k = kernel::avx2;
  } else if (value == "vnni") {
    k = kernel::avx512_vnni;
  } else {
    fail("{}='{}': unknown quantized kernel; expected ref, avx2 or vnni", kernel_env, value);
  }
  require(kernel_supported(k), "{}='{}': this CPU cannot run that kernel (it lacks the instructions)", kernel_env,
          value);
  return k;
}

#if SLMREC_QUANT_X86
// acc += u8 . s8 in groups of 4 bytes (vpdpbusd). With a dozen or more live
// accumulators GCC 12 routes the intrinsic's result through a copy per
// instruction and spills (int8 ran at half speed); the asm's tied operand
// keeps each accumulator in its register. Clang does well with the intrinsic.
SLMREC_QUANT_TARGET_VNNI inline __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) noexcept {
#if defined(__GNUC__) && !defined(__clang__)
  asm("vpdpbusd {%2, %1, %0|%0, %1, %2}" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, u8, s8);
#endif
}
#endif

}  // namespace detail

// The kernel the quantized products use by default; decided on the first
// call (a bad SLMREC_QUANT_KERNEL throws there, and again on the next call).
inline kernel best_kernel() {
  static const kernel chosen = detail::choose_kernel(std::getenv(detail::kernel_env));
  return chosen;
}

}  // namespace slmrec::quant
