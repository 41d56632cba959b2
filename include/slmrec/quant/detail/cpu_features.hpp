#pragma once
// Which integer kernel the quantized products run. The library is
// header-only and a consumer need not compile with -march=native, so the
// fast kernels carry their own target attributes and are picked at run time
// from what this CPU supports (core/cpu_features.hpp), once per process.
// SLMREC_QUANT_KERNEL=ref|avx2|vnni overrides the pick, to compare kernels on
// one machine or to rule one out.
#include <cstdlib>
#include <string_view>

#include <slmrec/core/cpu_features.hpp>
#include <slmrec/core/error.hpp>

// The one CPU-feature dispatch of the library (core/cpu_features.hpp).
#define SLMREC_QUANT_X86 SLMREC_X86
#if SLMREC_X86
#define SLMREC_QUANT_TARGET_VNNI SLMREC_TARGET_AVX512_VNNI
#define SLMREC_QUANT_TARGET_AVX2 SLMREC_TARGET_AVX2
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

// Whether this CPU can run kernel k.
inline bool kernel_supported(kernel k) noexcept {
  switch (k) {
    case kernel::ref:
      return true;
    case kernel::avx2:
      return cpu_supports(simd::avx2);
    case kernel::avx512_vnni:
      return cpu_supports(simd::avx512_vnni);
  }
  return false;
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
