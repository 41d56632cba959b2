// bf16/fp16 conversions: hand-known bit patterns, ties to even, the edges
// (subnormals, overflow, Inf, NaN), and exhaustive round trips.
#include "slmrec/core/half.hpp"

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace {

float from_bits(std::uint32_t b) { return std::bit_cast<float>(b); }
std::uint32_t to_bits(float f) { return std::bit_cast<std::uint32_t>(f); }

bool is_bf16_nan(std::uint16_t h) { return (h & 0x7f80u) == 0x7f80u && (h & 0x007fu) != 0; }
bool is_fp16_nan(std::uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0; }

// Reference bf16 rounding: of the two bf16 neighbours of a finite f, the
// closer one (compared exactly in double), the even one on a tie.
std::uint16_t bf16_reference(float f) {
  const std::uint32_t lo = to_bits(f) & 0xffff0000u;
  const std::uint32_t hi = lo + 0x10000u;  // next bf16 away from zero (may be Inf)
  if (std::isinf(from_bits(hi))) {
    // Above the largest bf16 (2 - 2^-7) * 2^127: Inf from the halfway point to 2^128 on.
    const double halfway = std::ldexp(2.0 - std::ldexp(1.0, -8), 127);
    return static_cast<std::uint16_t>((std::abs(double{f}) >= halfway ? hi : lo) >> 16);
  }
  const double d_lo = std::abs(double{f} - double{from_bits(lo)});
  const double d_hi = std::abs(double{from_bits(hi)} - double{f});
  if (d_lo < d_hi) return static_cast<std::uint16_t>(lo >> 16);
  if (d_hi < d_lo) return static_cast<std::uint16_t>(hi >> 16);
  return static_cast<std::uint16_t>(((lo >> 16) & 1u) ? hi >> 16 : lo >> 16);
}

}  // namespace

TEST_CASE("bf16: known bit patterns", "[half][bf16]") {
  CHECK(slmrec::float_to_bf16(1.0f) == 0x3f80);
  CHECK(slmrec::float_to_bf16(-2.5f) == 0xc020);
  CHECK(slmrec::float_to_bf16(0.0f) == 0x0000);
  CHECK(slmrec::float_to_bf16(-0.0f) == 0x8000);
  CHECK(slmrec::bf16_to_float(0x3f80) == 1.0f);
  CHECK(slmrec::bf16_to_float(0xc020) == -2.5f);
  // 65504 = 0x477fe000: the dropped half 0xe000 is above the tie, rounds up to 65536.
  CHECK(slmrec::float_to_bf16(65504.0f) == 0x4780);
  CHECK(slmrec::bf16_to_float(0x4780) == 65536.0f);
  // Smallest bf16 subnormal is 2^-133, the float with bit pattern 0x00010000.
  CHECK(slmrec::bf16_to_float(0x0001) == std::ldexp(1.0f, -133));
  CHECK(to_bits(slmrec::bf16_to_float(0x0001)) == 0x00010000u);
  CHECK(slmrec::float_to_bf16(std::ldexp(1.0f, -133)) == 0x0001);
  // The smallest float subnormal is far below half of that: rounds to zero.
  CHECK(slmrec::float_to_bf16(from_bits(0x00000001u)) == 0x0000);
  STATIC_REQUIRE(slmrec::float_to_bf16(1.0f) == 0x3f80);  // usable in constant expressions
}

TEST_CASE("bf16: round to nearest, ties to even", "[half][bf16]") {
  CHECK(slmrec::float_to_bf16(from_bits(0x3f808000u)) == 0x3f80);  // 1 + 2^-8: tie, 0x3f80 is even
  CHECK(slmrec::float_to_bf16(from_bits(0x3f818000u)) == 0x3f82);  // tie, 0x3f81 is odd -> up
  CHECK(slmrec::float_to_bf16(from_bits(0x3f808001u)) == 0x3f81);  // just above the tie -> up
  CHECK(slmrec::float_to_bf16(from_bits(0x3f807fffu)) == 0x3f80);  // just below -> down
  CHECK(slmrec::float_to_bf16(from_bits(0xbf818000u)) == 0xbf82);  // negative ties mirror
  // A carry out of the mantissa moves into the exponent: (2 - 2^-9) rounds to 2.
  CHECK(slmrec::float_to_bf16(from_bits(0x3fffc000u)) == 0x4000);
}

TEST_CASE("bf16: Inf, overflow and NaN", "[half][bf16]") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(slmrec::float_to_bf16(inf) == 0x7f80);
  CHECK(slmrec::float_to_bf16(-inf) == 0xff80);
  CHECK(std::isinf(slmrec::bf16_to_float(0x7f80)));
  CHECK(slmrec::float_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);  // rounds past the largest bf16
  CHECK(slmrec::float_to_bf16(from_bits(0x7f7f7fffu)) == 0x7f7f);            // just below the halfway point
  CHECK(is_bf16_nan(slmrec::float_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload sits only in the low 16 bits must not become Inf.
  CHECK(is_bf16_nan(slmrec::float_to_bf16(from_bits(0x7f800001u))));
  CHECK(is_bf16_nan(slmrec::float_to_bf16(from_bits(0xff800001u))));
  CHECK(std::isnan(slmrec::bf16_to_float(0x7fc0)));
}

TEST_CASE("bf16: every pattern round-trips and random floats match the reference", "[half][bf16]") {
  for (std::uint32_t h = 0; h <= 0xffffu; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    if (is_bf16_nan(bits)) {
      REQUIRE(std::isnan(slmrec::bf16_to_float(bits)));
      REQUIRE(is_bf16_nan(slmrec::float_to_bf16(slmrec::bf16_to_float(bits))));
    } else {
      REQUIRE(slmrec::float_to_bf16(slmrec::bf16_to_float(bits)) == bits);
    }
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::uint32_t> any_bits;
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const float f = from_bits(any_bits(rng));
    if (!std::isfinite(f)) continue;
    REQUIRE(slmrec::float_to_bf16(f) == bf16_reference(f));
    ++checked;
  }
  CHECK(checked > 190000);
}

TEST_CASE("fp16: known bit patterns", "[half][fp16]") {
  CHECK(slmrec::float_to_fp16(1.0f) == 0x3c00);
  CHECK(slmrec::float_to_fp16(-2.5f) == 0xc100);
  CHECK(slmrec::float_to_fp16(0.0f) == 0x0000);
  CHECK(slmrec::float_to_fp16(-0.0f) == 0x8000);
  CHECK(slmrec::float_to_fp16(65504.0f) == 0x7bff);  // largest finite half
  CHECK(slmrec::fp16_to_float(0x3c00) == 1.0f);
  CHECK(slmrec::fp16_to_float(0xc100) == -2.5f);
  CHECK(slmrec::fp16_to_float(0x7bff) == 65504.0f);
  CHECK(slmrec::fp16_to_float(0x0400) == std::ldexp(1.0f, -14));  // smallest normal
  CHECK(to_bits(slmrec::fp16_to_float(0x8000)) == 0x80000000u);    // -0 keeps its sign
  STATIC_REQUIRE(slmrec::float_to_fp16(1.0f) == 0x3c00);
}

TEST_CASE("fp16: subnormals", "[half][fp16]") {
  const float smallest = std::ldexp(1.0f, -24);
  CHECK(slmrec::fp16_to_float(0x0001) == smallest);
  CHECK(slmrec::fp16_to_float(0x8001) == -smallest);
  CHECK(slmrec::fp16_to_float(0x03ff) == 1023.0f * smallest);  // largest subnormal
  CHECK(slmrec::fp16_to_float(0x0200) == std::ldexp(1.0f, -15));
  CHECK(slmrec::float_to_fp16(smallest) == 0x0001);
  CHECK(slmrec::float_to_fp16(1023.0f * smallest) == 0x03ff);
  CHECK(slmrec::float_to_fp16(std::ldexp(1.0f, -25)) == 0x0000);          // tie -> even (zero)
  CHECK(slmrec::float_to_fp16(-std::ldexp(1.0f, -25)) == 0x8000);
  CHECK(slmrec::float_to_fp16(1.5f * std::ldexp(1.0f, -25)) == 0x0001);   // above the tie
  CHECK(slmrec::float_to_fp16(3.0f * std::ldexp(1.0f, -25)) == 0x0002);   // 1.5 ulp: tie -> even 2
  CHECK(slmrec::float_to_fp16(5.0f * std::ldexp(1.0f, -25)) == 0x0002);   // 2.5 ulp: tie -> even 2
  CHECK(slmrec::float_to_fp16(1023.5f * smallest) == 0x0400);              // carries into the smallest normal
  CHECK(slmrec::float_to_fp16(std::ldexp(1.0f, -30)) == 0x0000);
  CHECK(slmrec::float_to_fp16(from_bits(0x00000001u)) == 0x0000);
}

TEST_CASE("fp16: round to nearest, ties to even", "[half][fp16]") {
  const float ulp = std::ldexp(1.0f, -10);  // at 1.0
  CHECK(slmrec::float_to_fp16(1.0f + 0.5f * ulp) == 0x3c00);   // tie, 0x3c00 even
  CHECK(slmrec::float_to_fp16(1.0f + 1.5f * ulp) == 0x3c02);   // tie, 0x3c01 odd -> up
  CHECK(slmrec::float_to_fp16(1.0f + 0.75f * ulp) == 0x3c01);
  CHECK(slmrec::float_to_fp16(2048.0f + 1.0f) == 0x6800);      // 2049: tie between 2048 and 2050 -> 2048
  CHECK(slmrec::float_to_fp16(2048.0f + 3.0f) == 0x6802);      // 2051: tie -> 2052
}

TEST_CASE("fp16: overflow, Inf and NaN", "[half][fp16]") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(slmrec::float_to_fp16(65519.0f) == 0x7bff);  // below the halfway point to 65536
  CHECK(slmrec::float_to_fp16(65520.0f) == 0x7c00);  // the tie goes to even: Inf
  CHECK(slmrec::float_to_fp16(-65520.0f) == 0xfc00);
  CHECK(slmrec::float_to_fp16(1e10f) == 0x7c00);
  CHECK(slmrec::float_to_fp16(inf) == 0x7c00);
  CHECK(slmrec::float_to_fp16(-inf) == 0xfc00);
  CHECK(slmrec::fp16_to_float(0x7c00) == inf);
  CHECK(slmrec::fp16_to_float(0xfc00) == -inf);
  CHECK(is_fp16_nan(slmrec::float_to_fp16(std::numeric_limits<float>::quiet_NaN())));
  CHECK(is_fp16_nan(slmrec::float_to_fp16(from_bits(0x7f800001u))));  // payload only in dropped bits
  CHECK(std::isnan(slmrec::fp16_to_float(0x7e00)));
  CHECK(std::isnan(slmrec::fp16_to_float(0x7c01)));
}

TEST_CASE("fp16: every pattern round-trips", "[half][fp16]") {
  for (std::uint32_t h = 0; h <= 0xffffu; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    if (is_fp16_nan(bits)) {
      REQUIRE(std::isnan(slmrec::fp16_to_float(bits)));
      REQUIRE(is_fp16_nan(slmrec::float_to_fp16(slmrec::fp16_to_float(bits))));
    } else {
      REQUIRE(slmrec::float_to_fp16(slmrec::fp16_to_float(bits)) == bits);
    }
  }
}

#if defined(__FLT16_MAX__) && !defined(__clang__)
// Where the compiler has a native _Float16, it is an independent reference.
TEST_CASE("fp16: matches the compiler's _Float16 on random floats", "[half][fp16]") {
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::uint32_t> any_bits;
  std::uniform_real_distribution<float> in_range(-70000.0f, 70000.0f);
  for (int i = 0; i < 200000; ++i) {
    // Half the draws over all bit patterns (mostly huge or tiny), half in the half range.
    const float f = (i % 2 == 0) ? from_bits(any_bits(rng)) : in_range(rng) * std::ldexp(1.0f, -(i % 40));
    if (std::isnan(f)) continue;
    const auto native = static_cast<_Float16>(f);
    REQUIRE(slmrec::float_to_fp16(f) == std::bit_cast<std::uint16_t>(native));
    REQUIRE(to_bits(slmrec::fp16_to_float(std::bit_cast<std::uint16_t>(native))) == to_bits(static_cast<float>(native)));
  }
}
#endif
