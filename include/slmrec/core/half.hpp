#pragma once
// bf16 and fp16 as 16-bit storage formats: checkpoints (safetensors BF16/F16)
// and compressed weights hold them, arithmetic always happens in float.
// Plain bit manipulation rather than _Float16/__bf16, so the results are the
// same on every compiler and target, and every function is constexpr.
#include <bit>
#include <cstdint>

namespace slmrec {

// bf16 is the upper half of a float: widening is exact.
constexpr float bf16_to_float(std::uint16_t h) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

// Round to nearest, ties to even (as PyTorch and the CUDA intrinsics do);
// large finite values round up to Inf, as they must.
constexpr std::uint16_t float_to_bf16(float f) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    // Truncating a NaN could clear every payload bit left and give Inf:
    // set the quiet bit so a NaN stays a NaN.
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  }
  const std::uint32_t lsb = (bits >> 16) & 1u;
  return static_cast<std::uint16_t>((bits + 0x7fffu + lsb) >> 16);
}

// IEEE 754 binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
constexpr float fp16_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) {  // Inf or NaN; the payload moves along
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);  // signed zero
    // Subnormal (mantissa * 2^-24): every one is a normal float, so shift
    // the leading one up to the implicit bit and lower the exponent to match.
    std::uint32_t e = 113;  // 127 - 14: float exponent of 2^-14
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    return std::bit_cast<float>(sign | (e << 23) | ((mantissa & 0x3ffu) << 13));
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// Round to nearest, ties to even; too large -> Inf, too small -> (signed) zero,
// subnormal results rounded correctly; NaN stays NaN (quiet).
constexpr std::uint16_t float_to_fp16(float f) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7fffffffu;

  if (magnitude > 0x7f800000u) {  // NaN: keep the top payload bits, force quiet
    return static_cast<std::uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  }
  // 65520 is halfway between the largest half (65504, odd mantissa) and 65536,
  // so it and everything above (Inf included) rounds to Inf.
  if (magnitude >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);

  if (magnitude < 0x38800000u) {  // below 2^-14: a half subnormal or zero
    // 2^-25 is exactly half the smallest subnormal 2^-24: the tie goes to even (zero).
    if (magnitude <= 0x33000000u) return sign;
    const std::uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126 - (magnitude >> 23);  // 14..24
    std::uint32_t h = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1);
    const std::uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (h & 1u))) ++h;  // may carry into the smallest normal: still right
    return static_cast<std::uint16_t>(sign | h);
  }

  // Normal: rebias the exponent (127 -> 15) and drop 13 mantissa bits.
  std::uint32_t h = (magnitude - 0x38000000u) >> 13;
  const std::uint32_t rest = magnitude & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is correct rounding
  return static_cast<std::uint16_t>(sign | h);
}

}  // namespace slmrec
