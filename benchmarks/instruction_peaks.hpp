#pragma once
// Single-core multiply-accumulate throughput of the two instructions the
// float32 and int8 products are made of: vfmadd231ps zmm (16 float MACs) and
// vpdpbusd zmm (64 u8 x s8 MACs). 24 independent accumulators hide the
// latency, so the loops measure issue throughput: the ceiling of any kernel.
// Their ratio bounds what int8 can gain over float32 on this CPU, whatever
// the kernel around the instruction.
#include <algorithm>
#include <chrono>
#include <cstdint>

#include <slmrec/quant/detail/cpu_features.hpp>

#if SLMREC_QUANT_X86
#include <immintrin.h>
#endif

namespace slmrec::bench {

struct mac_peaks {
  double float32_gmacs = 0;  // 0: not measured (no AVX-512 here)
  double int8_gmacs = 0;
};

#if SLMREC_QUANT_X86
namespace detail {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One asm block for the whole loop, 24 instructions per iteration on the
// fixed accumulators zmm8-zmm31 (zmm0 and zmm1 the operands): with an array
// of accumulators GCC kept them in memory and the loop measured the
// store-to-load round trip instead of the instruction.
#define SLMREC_MAC3(op, a, b, c) \
  op " %%zmm0, %%zmm1, %%zmm" #a "\n\t" op " %%zmm0, %%zmm1, %%zmm" #b "\n\t" op " %%zmm0, %%zmm1, %%zmm" #c "\n\t"
#define SLMREC_MAC24(op)                                                                                          \
  SLMREC_MAC3(op, 8, 9, 10)                                                                                       \
  SLMREC_MAC3(op, 11, 12, 13) SLMREC_MAC3(op, 14, 15, 16) SLMREC_MAC3(op, 17, 18, 19) SLMREC_MAC3(op, 20, 21, 22) \
      SLMREC_MAC3(op, 23, 24, 25) SLMREC_MAC3(op, 26, 27, 28) SLMREC_MAC3(op, 29, 30, 31)
#define SLMREC_COPY3(a, b, c) \
  "vmovdqa32 %%zmm0, %%zmm" #a "\n\tvmovdqa32 %%zmm0, %%zmm" #b "\n\tvmovdqa32 %%zmm0, %%zmm" #c "\n\t"
#define SLMREC_INIT24                                                                                 \
  SLMREC_COPY3(8, 9, 10)                                                                              \
  SLMREC_COPY3(11, 12, 13) SLMREC_COPY3(14, 15, 16) SLMREC_COPY3(17, 18, 19) SLMREC_COPY3(20, 21, 22) \
      SLMREC_COPY3(23, 24, 25) SLMREC_COPY3(26, 27, 28) SLMREC_COPY3(29, 30, 31)
#define SLMREC_MAC_LOOP(op, bytes_or_floats)                                                                        \
  asm volatile("vpbroadcastd %1, %%zmm0\n\tvpbroadcastd %1, %%zmm1\n\t" SLMREC_INIT24                               \
               "1:\n\t" SLMREC_MAC24(op) "dec %0\n\tjnz 1b"                                                         \
               : "+r"(n)                                                                                            \
               : "r"(bytes_or_floats)                                                                               \
               : "xmm0", "xmm1", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",     \
                 "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", \
                 "xmm28", "xmm29", "xmm30", "xmm31", "cc")

// The accumulators start as copies of the operand and are never read: the
// values do not matter to the timing, only that they stay ordinary numbers
// (float: all zeros; int8: bytes of 1, int32 sums far from overflow).
__attribute__((target("avx512f"))) inline double fma_gmacs(long iterations) {
  long n = iterations;
  const std::int32_t operand = 0;  // 0.0f: no denormals, no growth
  const auto t0 = std::chrono::steady_clock::now();
  SLMREC_MAC_LOOP("vfmadd231ps", operand);
  return double(iterations) * 24 * 16 / seconds_since(t0) / 1e9;
}

__attribute__((target("avx512f,avx512vnni"))) inline double dpbusd_gmacs(long iterations) {
  long n = iterations;
  const std::int32_t operand = 0x01010101;
  const auto t0 = std::chrono::steady_clock::now();
  SLMREC_MAC_LOOP("vpdpbusd", operand);
  return double(iterations) * 24 * 64 / seconds_since(t0) / 1e9;
}

#undef SLMREC_MAC_LOOP
#undef SLMREC_MAC24
#undef SLMREC_MAC3
#undef SLMREC_INIT24
#undef SLMREC_COPY3

}  // namespace detail
#endif

// The best of `rounds` runs of each loop (the VM's noise only slows it).
inline mac_peaks measure_mac_peaks(int rounds = 5, long iterations = 20'000'000) {
  mac_peaks p;
#if SLMREC_QUANT_X86
  if (!quant::kernel_supported(quant::kernel::avx512_vnni)) return p;
  for (int r = 0; r < rounds; ++r) {
    p.float32_gmacs = std::max(p.float32_gmacs, detail::fma_gmacs(iterations));
    p.int8_gmacs = std::max(p.int8_gmacs, detail::dpbusd_gmacs(iterations));
  }
#else
  (void)rounds, (void)iterations;
#endif
  return p;
}

}  // namespace slmrec::bench
