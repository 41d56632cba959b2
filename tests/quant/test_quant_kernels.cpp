// Quantized weight formats: round-trip error bounds, the canonical form,
// the run-time activation quantization, and every fast kernel against its
// scalar _ref twin (which is in turn held against a float product).
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <slmrec/core/half.hpp>
#include <slmrec/quant/activations.hpp>
#include <slmrec/quant/detail/cpu_features.hpp>
#include <slmrec/quant/half_matrix.hpp>
#include <slmrec/quant/int4_matrix.hpp>
#include <slmrec/quant/int8_matrix.hpp>

#include "support/compare.hpp"

// Inside the library's namespace: `index` would otherwise clash with POSIX ::index().
namespace slmrec::quant {
namespace {

// Normal values with a few outliers (as real weights and activations have),
// and some exact zeros.
std::vector<float> random_values(index n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::uniform_int_distribution<int> pick(0, 99);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) {
    const int p = pick(gen);
    x = p == 0 ? 0.0f : (p == 1 ? 8.0f * normal(gen) : normal(gen));
  }
  return v;
}

constexpr kernel fast_kernels[] = {kernel::avx2, kernel::avx512_vnni};

// y[m, rows] = x W^T (+ bias) in double, from float operands.
std::vector<double> float_product(const std::vector<float>& x, const std::vector<float>& w, const float* bias, index m,
                                  index rows, index cols, std::vector<double>* magnitude) {
  std::vector<double> y(static_cast<std::size_t>(m * rows));
  if (magnitude != nullptr) magnitude->assign(y.size(), 0.0);
  for (index r = 0; r < m; ++r)
    for (index o = 0; o < rows; ++o) {
      double acc = bias != nullptr ? bias[o] : 0.0, mag = bias != nullptr ? std::abs(bias[o]) : 0.0;
      for (index k = 0; k < cols; ++k) {
        const double t = double(x[std::size_t(r * cols + k)]) * double(w[std::size_t(o * cols + k)]);
        acc += t;
        mag += std::abs(t);
      }
      y[std::size_t(r * rows + o)] = acc;
      if (magnitude != nullptr) (*magnitude)[std::size_t(r * rows + o)] = mag;
    }
  return y;
}

// The activations as the kernels see them: code * scale.
std::vector<float> dequantized_rows(const int8_rows& q) {
  std::vector<float> x(static_cast<std::size_t>(q.m * q.cols));
  for (index r = 0; r < q.m; ++r)
    for (index k = 0; k < q.cols; ++k) x[std::size_t(r * q.cols + k)] = q.scales[std::size_t(r)] * float(q.row(r)[k]);
  return x;
}

template <class Matrix>
std::vector<float> dequantized(const Matrix& w) {
  std::vector<float> out(std::size_t(w.rows() * w.cols()));
  w.dequantize(out.data());
  return out;
}

const std::vector<index> ms{1, 3, 17, 128};
const std::vector<index> rows_list{1, 15, 16, 33, 257};
const std::vector<index> cols_list{1, 31, 32, 63, 64, 100, 129};

// Every shape, with and without bias, a zero row in x and in W: each fast
// kernel the CPU has against the _ref twin (they do the same integer and
// float operations, so they agree to float rounding, in fact exactly).
template <class Matrix>
void check_fast_against_ref() {
  std::uint32_t seed = 1;
  for (index m : ms)
    for (index rows : rows_list)
      for (index cols : cols_list) {
        auto x = random_values(m * cols, seed++);
        auto w = random_values(rows * cols, seed++, 0.05f);
        const auto bias = random_values(rows, seed++);
        if (m > 2) std::fill_n(x.begin() + 2 * cols, cols, 0.0f);       // row 2 of x is zero
        if (m > 16) std::fill_n(x.begin() + 4 * cols, 8 * cols, 0.0f);  // and rows 4..11, as padding is
        if (rows > 1) std::fill_n(w.begin() + 1 * cols, cols, 0.0f);    // row 1 of W is zero
        const Matrix mat = Matrix::quantize(w.data(), rows, cols);
        for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
          std::vector<float> ref(std::size_t(m * rows)), fast(ref.size());
          gemm_nt_ref(x.data(), m, mat, b, ref.data());
          for (kernel k : fast_kernels) {
            if (!kernel_supported(k)) continue;
            int8_rows scratch;
            std::fill(fast.begin(), fast.end(), -1e30f);  // every element must be written
            gemm_nt(x.data(), m, mat, b, fast.data(), scratch, k);
            INFO("kernel " << kernel_name(k) << ", m=" << m << " rows=" << rows << " cols=" << cols
                           << (b ? " with bias" : ""));
            REQUIRE(test::max_relative_error(fast, ref) <= 1e-6);
          }
        }
      }
}

// _ref against the float product of the dequantized activations and weights.
template <class Matrix>
void check_ref_against_float(index m, index rows, index cols) {
  const auto x = random_values(m * cols, 7);
  const auto w = random_values(rows * cols, 8, 0.05f);
  const auto bias = random_values(rows, 9);
  const Matrix mat = Matrix::quantize(w.data(), rows, cols);
  int8_rows q;
  quantize_rows(x.data(), m, cols, q);
  std::vector<double> magnitude;
  const auto expect = float_product(dequantized_rows(q), dequantized(mat), bias.data(), m, rows, cols, &magnitude);
  std::vector<float> y(expect.size());
  gemm_nt_ref(x.data(), m, mat, bias.data(), y.data());
  double worst = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i)
    worst = std::max(worst, std::abs(double(y[i]) - expect[i]) / std::max(magnitude[i], 1e-30));
  INFO("m=" << m << " rows=" << rows << " cols=" << cols);
  CHECK(worst < 1e-6);
}

// from_codes(codes(), scales()) gives the same matrix: identical products.
template <class Matrix>
void check_same_product(const Matrix& a, const Matrix& b, index m) {
  const auto x = random_values(m * a.cols(), 11);
  std::vector<float> ya(std::size_t(m * a.rows())), yb(ya.size());
  gemm_nt(x.data(), m, a, nullptr, ya.data());
  gemm_nt(x.data(), m, b, nullptr, yb.data());
  CHECK(ya == yb);
  CHECK(dequantized(a) == dequantized(b));
}

}  // namespace

TEST_CASE("quant kernel choice: names, the environment override, support", "[quant]") {
  CHECK(std::string(kernel_name(kernel::ref)) == "ref");
  CHECK(std::string(kernel_name(kernel::avx2)) == "avx2");
  CHECK(std::string(kernel_name(kernel::avx512_vnni)) == "vnni");
  CHECK(kernel_supported(kernel::ref));
  CHECK(kernel_supported(best_kernel()));
  if (std::getenv("SLMREC_QUANT_KERNEL") == nullptr) CHECK(detail::choose_kernel(nullptr) == best_kernel());
  CHECK(detail::choose_kernel("") == detail::choose_kernel(nullptr));  // empty means unset
  CHECK(detail::choose_kernel("ref") == kernel::ref);
  REQUIRE_THROWS_WITH(detail::choose_kernel("sse9"),
                      Catch::Contains("SLMREC_QUANT_KERNEL") && Catch::Contains("'sse9'"));
  for (kernel k : fast_kernels) {
    if (kernel_supported(k)) {
      CHECK(detail::choose_kernel(kernel_name(k)) == k);
    } else {
      WARN("this CPU lacks the " << kernel_name(k) << " kernel");
      REQUIRE_THROWS_WITH(detail::choose_kernel(kernel_name(k)), Catch::Contains("cannot run"));
    }
  }
}

TEST_CASE("quantize_rows: a hand-computed row, a zero row, padding and code sums", "[quant]") {
  const std::vector<float> x{1.0f, -2.0f, 0.5f, 0.0f, 0.0f, 0.0f};  // [2, 3]
  int8_rows q;
  quantize_rows(x.data(), 2, 3, q);
  REQUIRE(q.m == 2);
  REQUIRE(q.cols == 3);
  REQUIRE(q.padded_cols == 64);
  CHECK(q.scales[0] == 2.0f / 127.0f);
  // 1 * 127/2 = 63.5 rounds to even 64; 0.5 * 63.5 = 31.75 -> 32.
  CHECK(std::vector<int>(q.row(0), q.row(0) + 3) == std::vector<int>{64, -127, 32});
  CHECK(std::all_of(q.row(0) + 3, q.row(0) + 64, [](std::int8_t c) { return c == 0; }));
  CHECK(q.sums[0] == 64 - 127 + 32);
  CHECK(q.block_sums[0] == 64 - 127 + 32);
  CHECK(q.block_sums[1] == 0);
  CHECK(q.scales[1] == 0.0f);
  CHECK(std::all_of(q.row(1), q.row(1) + 64, [](std::int8_t c) { return c == 0; }));
  CHECK(q.sums[1] == 0);

  SECTION("codes stay in [-127, 127] and within half a step of x") {
    const auto big = random_values(5 * 100, 3);
    quantize_rows(big.data(), 5, 100, q);
    for (index r = 0; r < 5; ++r) {
      int extreme = 0;
      for (index k = 0; k < 100; ++k) {
        const int c = q.row(r)[k];
        REQUIRE(c >= -127);
        REQUIRE(c <= 127);
        extreme = std::max(extreme, std::abs(c));
        CHECK(std::abs(big[std::size_t(r * 100 + k)] - q.scales[std::size_t(r)] * float(c)) <=
              0.5f * q.scales[std::size_t(r)] * (1.0f + 1e-5f));
      }
      CHECK(extreme == 127);  // the largest magnitude uses the full range
    }
  }
  SECTION("a repeated shape reuses the buffers") {
    const auto a = random_values(4 * 70, 4);
    quantize_rows(a.data(), 4, 70, q);
    const auto* codes = q.codes.data();
    const auto* sums = q.block_sums.data();
    quantize_rows(a.data(), 4, 70, q);
    CHECK(q.codes.data() == codes);
    CHECK(q.block_sums.data() == sums);
  }
  SECTION("a non-finite value is an error naming its row") {
    std::vector<float> bad(6, 1.0f);
    bad[4] = std::nanf("");
    REQUIRE_THROWS_WITH(quantize_rows(bad.data(), 2, 3, q), Catch::Contains("row 1"));
    bad[4] = INFINITY;
    REQUIRE_THROWS_AS(quantize_rows(bad.data(), 2, 3, q), slmrec::error);
  }
}

TEST_CASE("the AVX-512 row quantizer gives the scalar one's codes and sums exactly", "[quant]") {
#if SLMREC_QUANT_X86
  if (!kernel_supported(kernel::avx512_vnni)) {
    WARN("no AVX-512 VNNI on this CPU: the vector quantizer is not used here");
    return;
  }
  for (const index n : {1, 15, 16, 17, 31, 64, 100, 176, 513}) {
    const index padded = round_up(n, row_align);
    auto x = random_values(n, std::uint32_t(100 + n));
    // Exact ties after scaling (k + 0.5 steps), a tiny row's values, a huge outlier, and an all-zero row
    // (a padded position: its own fast path, with -0.0 where x was negative).
    if (n > 3) {
      x[0] = 2.0f;
      x[1] = 0.5f;
      x[2] = -1.0f;
    }
    for (const float scale : {1.0f, 1e-35f, 3e30f, 0.0f}) {
      std::vector<float> xs(x);
      for (float& v : xs) v *= scale;
      std::vector<std::int8_t> qa(std::size_t(padded), 99), qb(std::size_t(padded), 77);
      std::vector<std::int32_t> ba(std::size_t(padded / sum_block)), bb(ba.size());
      float sa = -1, sb = -2;
      std::int32_t ta = 1, tb = 2;
      REQUIRE(detail::quantize_row_scalar(xs.data(), n, padded, qa.data(), sa, ba.data(), ta));
      REQUIRE(detail::quantize_row_avx512(xs.data(), n, padded, qb.data(), sb, bb.data(), tb));
      INFO("n " << n << " scale " << scale);
      CHECK(qa == qb);
      CHECK(sa == sb);
      CHECK(ba == bb);
      CHECK(ta == tb);
      // Without the sums (what the int8 products use): the same codes and
      // scale, and the biased copy is the codes + 128.
      std::vector<std::int8_t> qc(std::size_t(padded), 55);
      std::vector<std::uint8_t> uc(std::size_t(padded), 33);
      float sc = -3;
      std::int32_t tc = 3;
      REQUIRE(detail::quantize_row_avx512(xs.data(), n, padded, qc.data(), sc, nullptr, tc, uc.data()));
      CHECK(qc == qa);
      CHECK(sc == sa);
      for (index k = 0; k < padded; ++k) REQUIRE(int(uc[std::size_t(k)]) == int(qa[std::size_t(k)]) + 128);
    }
    x[std::size_t(n - 1)] = std::nanf("");
    std::vector<std::int8_t> q(static_cast<std::size_t>(padded));
    std::vector<std::int32_t> b(static_cast<std::size_t>(padded / sum_block));
    float sc = 0;
    std::int32_t t = 0;
    CHECK(!detail::quantize_row_avx512(x.data(), n, padded, q.data(), sc, b.data(), t));
  }
#else
  WARN("not an x86-64 build: no vector quantizer");
#endif
}

TEST_CASE("int8 weights: round trip within half a step, zeros exact", "[quant][int8]") {
  const index rows = 37, cols = 100;
  auto w = random_values(rows * cols, 21, 0.1f);
  std::fill_n(w.begin() + 5 * cols, cols, 0.0f);  // a zero row
  const auto mat = int8_matrix::quantize(w.data(), rows, cols);
  CHECK(mat.rows() == rows);
  CHECK(mat.cols() == cols);
  CHECK(mat.storage_bytes() == std::size_t(rows * cols + 4 * rows));
  const auto deq = dequantized(mat);
  const auto codes = mat.codes();
  const auto scales = mat.scales();
  CHECK(scales[5] == 0.0f);
  for (index r = 0; r < rows; ++r) {
    float maxabs = 0.0f;
    for (index k = 0; k < cols; ++k) maxabs = std::max(maxabs, std::abs(w[std::size_t(r * cols + k)]));
    CHECK(scales[std::size_t(r)] == maxabs / 127.0f);
    for (index k = 0; k < cols; ++k) {
      const std::size_t i = std::size_t(r * cols + k);
      REQUIRE(std::abs(int(codes[i])) <= 127);
      REQUIRE(std::abs(w[i] - deq[i]) <= 0.5f * scales[std::size_t(r)] * (1.0f + 1e-5f));
      if (w[i] == 0.0f) REQUIRE(deq[i] == 0.0f);
    }
  }
  std::vector<float> one(static_cast<std::size_t>(cols));
  mat.dequantize_row(17, one.data());
  CHECK(std::equal(one.begin(), one.end(), deq.begin() + 17 * cols));
  REQUIRE_THROWS_WITH(mat.dequantize_row(rows, one.data()), Catch::Contains("out of range"));
  // A row read (the item table's lookup) is codes x scale, also where cols is not a whole number of groups.
  for (const index c : {index(7), cols}) {
    const auto m = int8_matrix::quantize(w.data(), rows, c);
    const auto mc = m.codes();
    const auto ms = m.scales();
    std::vector<float> row(static_cast<std::size_t>(c));
    for (index r = 0; r < rows; ++r) {
      m.dequantize_row(r, row.data());
      for (index k = 0; k < c; ++k)
        REQUIRE(row[std::size_t(k)] == ms[std::size_t(r)] * float(mc[std::size_t(r * c + k)]));
    }
  }

  SECTION("a zero weight row gives zero output, a zero activation row gives the bias") {
    auto x = random_values(3 * cols, 22);
    std::fill_n(x.begin() + cols, cols, 0.0f);
    const auto bias = random_values(rows, 23);
    std::vector<float> y(static_cast<std::size_t>(3 * rows));
    gemm_nt(x.data(), 3, mat, nullptr, y.data());
    for (index r = 0; r < 3; ++r) CHECK(y[std::size_t(r * rows + 5)] == 0.0f);
    gemm_nt(x.data(), 3, mat, bias.data(), y.data());
    CHECK(std::equal(bias.begin(), bias.end(), y.begin() + rows));
  }
}

TEST_CASE("int8 canonical form: from_codes reproduces, bad input is named", "[quant][int8]") {
  const index rows = 19, cols = 70;
  const auto w = random_values(rows * cols, 31);
  const auto mat = int8_matrix::quantize(w.data(), rows, cols);
  const auto codes = mat.codes();
  const auto scales = mat.scales();
  const auto back = int8_matrix::from_codes(codes, scales, rows, cols);
  CHECK(back.codes() == codes);
  CHECK(back.scales() == scales);
  check_same_product(mat, back, 9);

  const std::span<const std::int8_t> short_codes(codes.data(), codes.size() - 1);
  REQUIRE_THROWS_WITH(int8_matrix::from_codes(short_codes, scales, rows, cols),
                      Catch::Contains("expected 1330 codes") && Catch::Contains("got 1329"));
  REQUIRE_THROWS_WITH(int8_matrix::from_codes(codes, std::span<const float>(scales.data(), 3), rows, cols),
                      Catch::Contains("expected 19 scales"));
  auto bad_scales = scales;
  bad_scales[4] = INFINITY;
  REQUIRE_THROWS_WITH(int8_matrix::from_codes(codes, bad_scales, rows, cols),
                      Catch::Contains("row 4") && Catch::Contains("finite"));
  auto bad_codes = codes;
  bad_codes[75] = -128;
  REQUIRE_THROWS_WITH(int8_matrix::from_codes(bad_codes, scales, rows, cols), Catch::Contains("-128"));
  std::vector<float> nan_w(4, 1.0f);
  nan_w[2] = std::nanf("");
  REQUIRE_THROWS_WITH(int8_matrix::quantize(nan_w.data(), 2, 2), Catch::Contains("row 1"));
}

TEST_CASE("int4 weights: round trip within half a step of the fp16 block scale", "[quant][int4]") {
  const index rows = 23, cols = 100;  // 4 blocks of 32, the last one partial
  auto w = random_values(rows * cols, 41, 0.1f);
  std::fill_n(w.begin() + 3 * cols, cols, 0.0f);     // a zero row
  std::fill_n(w.begin() + 4 * cols + 32, 32, 0.0f);  // a zero block
  const auto mat = int4_matrix<32>::quantize(w.data(), rows, cols);
  CHECK(mat.blocks() == 4);
  CHECK(mat.storage_bytes() == std::size_t(rows * 4 * 16 + 2 * rows * 4));
  CHECK(mat.codes().size() == std::size_t(rows * 64));
  const auto deq = dequantized(mat);
  const auto scales = mat.scales();
  double refined = 0.0, plain = 0.0;
  for (index r = 0; r < rows; ++r)
    for (index b = 0; b < 4; ++b) {
      const float s = fp16_to_float(scales[std::size_t(r * 4 + b)]);
      CHECK(s == mat.scale(r, b));
      const index end = std::min(cols, (b + 1) * 32);
      float maxabs = 0.0f;
      for (index k = b * 32; k < end; ++k) maxabs = std::max(maxabs, std::abs(w[std::size_t(r * cols + k)]));
      if (maxabs == 0.0f) {
        CHECK(s == 0.0f);
        continue;
      }
      // What maxabs / 7 rounded to fp16 would give, the unrefined scheme.
      const float s0 = fp16_to_float(float_to_fp16(maxabs / 7.0f));
      int extreme = 0;
      for (index k = b * 32; k < end; ++k) {
        const std::size_t i = std::size_t(r * cols + k);
        const int q = mat.code(r, k);
        REQUIRE(q >= -8);
        REQUIRE(q <= 7);
        extreme = std::max(extreme, std::abs(q));
        REQUIRE(std::abs(w[i] - deq[i]) <= 0.5f * s * (1.0f + 1e-5f));
        if (w[i] == 0.0f) REQUIRE(deq[i] == 0.0f);
        refined += std::pow(double(w[i]) - double(deq[i]), 2);
        const double q0 = std::clamp(std::nearbyint(double(w[i]) / s0), -8.0, 7.0);
        plain += std::pow(double(w[i]) - q0 * s0, 2);
      }
      CHECK((extreme == 7 || extreme == 8));  // the largest magnitude maps to +-7 (-8 only on a tie)
    }
  // The scale search pays: less squared error than maxabs / 7.
  INFO("refined " << refined << " plain " << plain);
  CHECK(refined < 0.95 * plain);

  SECTION("blocks of 64 and 128 inputs") {
    const auto m64 = int4_matrix<64>::quantize(w.data(), rows, cols);
    const auto m128 = int4_matrix<128>::quantize(w.data(), rows, cols);
    CHECK(m64.blocks() == 2);
    CHECK(m128.blocks() == 1);
    CHECK(m128.codes().size() == std::size_t(rows * 64));
    const auto d64 = dequantized(m64);
    for (index r = 0; r < rows; ++r)
      for (index k = 0; k < cols; ++k) {
        const std::size_t i = std::size_t(r * cols + k);
        REQUIRE(std::abs(w[i] - d64[i]) <= 0.5f * m64.scale(r, k / 64) * (1.0f + 1e-5f));
      }
  }
  SECTION("a zero row gives zero output") {
    const auto x = random_values(2 * cols, 42);
    std::vector<float> y(static_cast<std::size_t>(2 * rows));
    gemm_nt(x.data(), 2, mat, nullptr, y.data());
    CHECK(y[std::size_t(3)] == 0.0f);
    CHECK(y[std::size_t(rows + 3)] == 0.0f);
  }
}

TEST_CASE("int4 canonical form: nibble order, from_codes reproduces, bad input is named", "[quant][int4]") {
  // Row 0 = {7, -8, 1, 0, ...} * 1: low nibble the even input, stored as q + 8.
  std::vector<std::uint8_t> codes(16, 0x88);
  codes[0] = std::uint8_t((7 + 8) | ((-8 + 8) << 4));
  codes[1] = std::uint8_t((1 + 8) | (8 << 4));
  const std::vector<std::uint16_t> scales{float_to_fp16(0.5f)};
  const auto hand = int4_matrix<32>::from_codes(codes, scales, 1, 3);
  std::vector<float> row(3);
  hand.dequantize_row(0, row.data());
  CHECK(row == std::vector<float>{3.5f, -4.0f, 0.5f});
  CHECK(hand.codes() == codes);

  const index rows = 18, cols = 45;
  const auto w = random_values(rows * cols, 51);
  const auto mat = int4_matrix<32>::quantize(w.data(), rows, cols);
  const auto back = int4_matrix<32>::from_codes(mat.codes(), mat.scales(), rows, cols);
  CHECK(back.codes() == mat.codes());
  CHECK(back.scales() == mat.scales());
  check_same_product(mat, back, 5);

  const auto c = mat.codes();
  const auto s = mat.scales();
  REQUIRE_THROWS_WITH(int4_matrix<32>::from_codes(std::span<const std::uint8_t>(c.data(), 100), s, rows, cols),
                      Catch::Contains("expected 576 code bytes") && Catch::Contains("got 100"));
  REQUIRE_THROWS_WITH(int4_matrix<32>::from_codes(c, std::span<const std::uint16_t>(s.data(), 35), rows, cols),
                      Catch::Contains("expected 36 scales"));
  auto bad = s;
  bad[7] = 0x7c00;  // +Inf
  REQUIRE_THROWS_WITH(int4_matrix<32>::from_codes(c, bad, rows, cols),
                      Catch::Contains("row 3, block 1") && Catch::Contains("finite"));
}

TEST_CASE("bf16 and fp16 weights: relative error bounds, zeros, the canonical form", "[quant][half]") {
  const index rows = 33, cols = 50;
  auto w = random_values(rows * cols, 61);
  w[7] = -0.0f;
  const auto bf = half_matrix<bf16>::quantize(w.data(), rows, cols);
  const auto fp = half_matrix<fp16>::quantize(w.data(), rows, cols);
  CHECK(bf.storage_bytes() == std::size_t(2 * rows * cols));
  const auto dbf = dequantized(bf), dfp = dequantized(fp);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0.0f) {
      REQUIRE(dbf[i] == 0.0f);
      REQUIRE(dfp[i] == 0.0f);
      REQUIRE(std::signbit(dbf[i]) == std::signbit(w[i]));
      continue;
    }
    REQUIRE(std::abs(dbf[i] - w[i]) <= std::ldexp(std::abs(w[i]), -8));
    if (std::abs(w[i]) >= std::ldexp(1.0f, -14)) REQUIRE(std::abs(dfp[i] - w[i]) <= std::ldexp(std::abs(w[i]), -11));
  }
  check_same_product(bf, half_matrix<bf16>::from_codes(bf.codes(), rows, cols), 4);
  check_same_product(fp, half_matrix<fp16>::from_codes(fp.codes(), rows, cols), 4);
  REQUIRE_THROWS_WITH(half_matrix<fp16>::from_codes(std::span<const std::uint16_t>(fp.codes().data(), 10), rows, cols),
                      Catch::Contains("expected 1650 values"));
  const std::vector<float> too_big{1.0f, 70000.0f};
  REQUIRE_THROWS_WITH(half_matrix<fp16>::quantize(too_big.data(), 1, 2), Catch::Contains("col 1"));
  CHECK_NOTHROW(half_matrix<bf16>::quantize(too_big.data(), 1, 2));

  SECTION("every finite fp16 and bf16 bit pattern widens as core/half.hpp does") {
    std::vector<std::uint16_t> all_fp, all_bf;
    for (std::uint32_t h = 0; h < 65536; ++h) {
      if ((h & 0x7c00u) != 0x7c00u) all_fp.push_back(std::uint16_t(h));
      if ((h & 0x7f80u) != 0x7f80u) all_bf.push_back(std::uint16_t(h));
    }
    const auto a = half_matrix<fp16>::from_codes(all_fp, 1, index(all_fp.size()));
    const auto b = half_matrix<bf16>::from_codes(all_bf, 1, index(all_bf.size()));
    const auto da = dequantized(a), db = dequantized(b);
    bool same = true;
    for (std::size_t i = 0; i < all_fp.size(); ++i)
      same &= std::bit_cast<std::uint32_t>(da[i]) == std::bit_cast<std::uint32_t>(fp16_to_float(all_fp[i]));
    for (std::size_t i = 0; i < all_bf.size(); ++i)
      same &= std::bit_cast<std::uint32_t>(db[i]) == std::bit_cast<std::uint32_t>(bf16_to_float(all_bf[i]));
    CHECK(same);
  }
}

TEST_CASE("int8 fast kernels match gemm_nt_ref at every shape", "[quant][int8][kernels]") {
  for (kernel k : fast_kernels)
    if (!kernel_supported(k)) WARN("skipping the " << kernel_name(k) << " kernel: this CPU lacks it");
  check_fast_against_ref<int8_matrix>();
}

TEST_CASE("an input quantized for int8 weights (no code sums) is refused by int4 weights", "[quant][int4]") {
  const index m = 3, cols = 64;
  const auto x = random_values(m * cols, 7), w = random_values(16 * cols, 8);
  const auto w8 = int8_matrix::quantize(w.data(), 16, cols);
  const auto w4 = int4_matrix<32>::quantize(w.data(), 16, cols);
  int8_rows q;
  std::vector<float> y(std::size_t(m * 16));
  quantize_input(x.data(), m, w8, q);
  CHECK(!q.has_sums);
  CHECK_THROWS_WITH(gemm_nt_quantized(q, w4, nullptr, y.data()), Catch::Contains("block sums"));
  quantize_input(x.data(), m, w4, q);
  CHECK(q.has_sums);
  std::vector<float> y_ref(y.size());
  gemm_nt_quantized(q, w4, nullptr, y.data());
  gemm_nt_ref(x.data(), m, w4, nullptr, y_ref.data());
  CHECK(y == y_ref);
}

TEST_CASE("int4 fast kernels match gemm_nt_ref at every shape", "[quant][int4][kernels]") {
  for (kernel k : fast_kernels)
    if (!kernel_supported(k)) WARN("skipping the " << kernel_name(k) << " kernel: this CPU lacks it");
  check_fast_against_ref<int4_matrix<32>>();
  check_fast_against_ref<int4_matrix<64>>();
  check_fast_against_ref<int4_matrix<128>>();  // wider than quantize_rows' padding
}

TEST_CASE("the explicit ref kernel and the default overloads give the _ref result", "[quant][kernels]") {
  const index m = 6, rows = 40, cols = 72;
  const auto x = random_values(m * cols, 71);
  const auto w = random_values(rows * cols, 72);
  const auto bias = random_values(rows, 73);
  const auto a = int8_matrix::quantize(w.data(), rows, cols);
  const auto b = int4_matrix<32>::quantize(w.data(), rows, cols);
  std::vector<float> ref(std::size_t(m * rows)), y(ref.size());
  int8_rows scratch;
  gemm_nt_ref(x.data(), m, a, bias.data(), ref.data());
  gemm_nt(x.data(), m, a, bias.data(), y.data(), scratch, kernel::ref);
  CHECK(y == ref);
  gemm_nt(x.data(), m, a, bias.data(), y.data());
  CHECK(test::max_relative_error(y, ref) <= 1e-6);
  gemm_nt_ref(x.data(), m, b, bias.data(), ref.data());
  gemm_nt(x.data(), m, b, bias.data(), y.data(), scratch, kernel::ref);
  CHECK(y == ref);
  gemm_nt(x.data(), m, b, bias.data(), y.data(), scratch);  // scratch reused at another padding
  CHECK(test::max_relative_error(y, ref) <= 1e-6);
}

TEST_CASE("gemm_nt_ref equals the float product of the dequantized operands", "[quant][kernels]") {
  for (auto [m, rows, cols] : {std::tuple<index, index, index>{1, 1, 1}, {3, 15, 31}, {17, 33, 100}, {8, 70, 129}}) {
    check_ref_against_float<int8_matrix>(m, rows, cols);
    check_ref_against_float<int4_matrix<32>>(m, rows, cols);
    check_ref_against_float<int4_matrix<64>>(m, rows, cols);
  }
}

TEST_CASE("bf16 and fp16 gemm_nt match gemm_nt_ref and the float product", "[quant][half][kernels]") {
  for (const auto& shape :
       {std::tuple<index, index, index>{1, 1, 1}, {3, 15, 31}, {17, 257, 100}, {128, 600, 64}, {2, 5, 0}}) {
    // Plain variables: a lambda cannot capture structured bindings before C++20 compilers caught up.
    const index m = std::get<0>(shape), rows = std::get<1>(shape), cols = std::get<2>(shape);
    const auto x = random_values(m * cols, 81);
    const auto w = random_values(rows * cols, 82);
    const auto bias = random_values(rows, 83);
    const auto check = [&](const auto& mat) {
      std::vector<float> y(std::size_t(m * rows)), ref(y.size());
      gemm_nt(x.data(), m, mat, bias.data(), y.data());
      gemm_nt_ref(x.data(), m, mat, bias.data(), ref.data());
      std::vector<double> magnitude;
      const auto expect = float_product(x, dequantized(mat), bias.data(), m, rows, cols, &magnitude);
      double worst = 0.0, worst_ref = 0.0;
      for (std::size_t i = 0; i < y.size(); ++i) {
        const double scale = std::max(magnitude[i], 1e-30);
        worst = std::max(worst, std::abs(double(y[i]) - expect[i]) / scale);
        worst_ref = std::max(worst_ref, std::abs(double(ref[i]) - expect[i]) / scale);
      }
      INFO("m=" << m << " rows=" << rows << " cols=" << cols);
      CHECK(worst < 1e-5);
      CHECK(worst_ref < 1e-6);
    };
    check(half_matrix<bf16>::quantize(w.data(), rows, cols));
    check(half_matrix<fp16>::quantize(w.data(), rows, cols));
  }
}

}  // namespace slmrec::quant
