// The hand-vectorised kernels picked at run time (core/cpu_features.hpp) in a
// translation unit compiled without -march=native: each kernel the CPU can run
// against its _ref twin, and the dispatchers against the kernel they pick.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include <slmrec/backend/cpu/dot_rows.hpp>
#include <slmrec/backend/cpu/fast_math.hpp>
#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/cpu_features.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/model/top_k.hpp>
#include <slmrec/quant/detail/cpu_features.hpp>

#include "support/attention_pair.hpp"
#include "support/compare.hpp"
#include "support/random.hpp"

namespace slmrec {

namespace {

using test::normal_floats;

using test::relative_error;

}  // namespace

TEST_CASE("this test is compiled without AVX-512 flags, as the wheel is", "[simd]") {
#if defined(__AVX512F__) || defined(__AVX2__)
  FAIL("compiled with -mavx2/-mavx512f (or -march=native): the run-time dispatch is not what runs here");
#endif
  // The levels nest: a CPU with a level has every level below it.
  CHECK(cpu_supports(simd::plain));
  if (cpu_supports(simd::avx512_vnni)) CHECK(cpu_supports(simd::avx512));
  if (cpu_supports(simd::avx512)) CHECK(cpu_supports(simd::avx2));
  CHECK(cpu_has_avx512() == cpu_supports(simd::avx512));
  // The quantized kernels ask the same questions.
  CHECK(quant::kernel_supported(quant::kernel::avx2) == cpu_supports(simd::avx2));
  CHECK(quant::kernel_supported(quant::kernel::avx512_vnni) == cpu_supports(simd::avx512_vnni));
  CHECK(quant::detail::choose_kernel(nullptr) == (cpu_supports(simd::avx512_vnni) ? quant::kernel::avx512_vnni
                                                  : cpu_supports(simd::avx2)      ? quant::kernel::avx2
                                                                                  : quant::kernel::ref));
  // SLMREC_SIMD caps every answer (ctest runs this binary again under avx2 and plain).
  if (const char* cap = std::getenv("SLMREC_SIMD"); cap != nullptr && std::string(cap) == "avx2") {
    CHECK(simd_cap() == simd::avx2);
    CHECK_FALSE(cpu_has_avx512());
  }
  if (const char* cap = std::getenv("SLMREC_SIMD"); cap != nullptr && std::string(cap) == "plain") {
    CHECK(simd_cap() == simd::plain);
    CHECK_FALSE(cpu_has_avx2());
    CHECK(quant::detail::choose_kernel(nullptr) == quant::kernel::ref);
  }
}

TEST_CASE("the float32 gemm: the AVX-512 and AVX2 kernels against gemm_ref, and gemm picks the best", "[simd]") {
  using kernels = backend::cpu::blas_kernels<float>;
  const std::tuple<index, index, index> shapes[] = {{8, 1, 1},     {13, 33, 17},   {25, 47, 255},
                                                    {11, 31, 257}, {145, 70, 300}, {150, 70, 300}};
  for (auto [m, n, k] : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.0f, -0.5f}) {
          const index lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
          const auto a = normal_floats(std::size_t((ta ? k : m) * lda), 1),
                     b = normal_floats(std::size_t((tb ? n : k) * ldb), 2);
          const auto c0 = normal_floats(std::size_t(m * ldc), 3);
          auto picked = c0, ref = c0;
          kernels::gemm(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, beta, picked.data(), ldc);
          kernels::gemm_ref(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, beta, ref.data(), ldc);
          INFO("m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb << " beta=" << beta);
          CHECK(relative_error(picked, ref) < 2e-6);
#if SLMREC_X86
          if (cpu_supports(simd::avx2)) {
            auto fast = c0;
            backend::cpu::avx2::sgemm(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, beta, fast.data(), ldc);
            CHECK(relative_error(fast, ref) < 2e-6);
            if (!cpu_has_avx512()) CHECK(fast == picked);  // the dispatcher ran this kernel, not Eigen
          }
          if (cpu_supports(simd::avx512)) {
            auto fast = c0;
            backend::cpu::avx512::sgemm(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, beta, fast.data(), ldc);
            CHECK(relative_error(fast, ref) < 2e-6);
            CHECK(fast == picked);  // the dispatcher ran this kernel
          }
#endif
        }
  if (!cpu_supports(simd::avx2)) WARN("this CPU has no AVX2 (or SLMREC_SIMD=plain): only the portable gemm ran");
}

TEST_CASE("dot_rows: the AVX-512 and AVX2 kernels equal dot_rows_ref bit for bit, and dot_rows is the same", "[simd]") {
  for (index d : {index(1), index(15), index(16), index(17), index(100), index(128)})
    for (index m : {index(1), index(2), index(3), index(8)}) {
      const index n = 77;
      const auto q = normal_floats(std::size_t(m * d), 4), w = normal_floats(std::size_t(n * d), 5);
      std::vector<float> picked(std::size_t(m * n)), ref(picked.size());
      backend::cpu::dot_rows(q.data(), m, w.data(), n, d, picked.data(), n);
      backend::cpu::dot_rows_ref(q.data(), m, w.data(), n, d, ref.data(), n);
      INFO("d " << d << ", m " << m);
      CHECK(picked == ref);
#if SLMREC_X86
      if (cpu_supports(simd::avx2)) {
        std::vector<float> fast(picked.size());
        backend::cpu::dot_rows_avx2(q.data(), m, w.data(), n, d, fast.data(), n);
        CHECK(fast == ref);
      }
      if (cpu_supports(simd::avx512)) {
        std::vector<float> fast(picked.size());
        backend::cpu::dot_rows_avx512(q.data(), m, w.data(), n, d, fast.data(), n);
        CHECK(fast == ref);
      }
#endif
    }
}

TEST_CASE("attention: the AVX-512 kernels against the _ref twins, and the dispatcher picks them", "[simd]") {
  using kernels = backend::cpu::attention_kernels<float>;
  // Grouped heads, left padding, lengths and head sizes off the 16-lane grid and past one 64-column block.
  for (auto [B, T, H, KV, D] : {std::tuple<index, index, index, index, index>{2, 7, 4, 2, 6},
                                {3, 50, 4, 4, 32},
                                {2, 70, 2, 1, 80},
                                {1, 129, 3, 3, 20}}) {
    const auto qn = std::size_t(B * T * H * D), kn = std::size_t(B * T * KV * D);
    const auto q = normal_floats(qn, 21), k = normal_floats(kn, 22), v = normal_floats(kn, 23),
               dout = normal_floats(qn, 24);
    std::vector<std::int32_t> mask(std::size_t(B * T), 1);
    for (index b = 0; b < B; ++b)
      for (index s = 0; s < std::min<index>(3 * b, T - 1); ++s) mask[std::size_t(b * T + s)] = 0;
    // Gradients start at 0.5: the backward adds into them.
    const auto [got, want] = test::run_attention_pair<kernels>({B, T, H, KV, D}, q, k, v, dout, mask, 0.5f);
    INFO("B=" << B << " T=" << T << " H=" << H << " KV=" << KV << " D=" << D);
    for (const auto& [name, field] : test::attention_fields<float>) {
      INFO(name);
      CHECK(relative_error(got.*field, want.*field) < 1e-6);
    }
#if SLMREC_X86
    if (!cpu_supports(simd::avx512)) continue;
    // The dispatcher ran the AVX-512 kernel, not Eigen's loops: the same bits as a direct call.
    std::vector<float> head_out(std::size_t(T * H * D)), head_probs(std::size_t(T * T));
    const index h = 1, g = h / (H / KV);  // sequence 0, head 1 (unpadded)
    backend::cpu::avx512::attention_head_forward(q.data() + h * D, H * D, k.data() + g * D, v.data() + g * D, KV * D,
                                                 mask.data(), head_out.data(), head_probs.data(), T, D,
                                                 1.0f / std::sqrt(float(D)));
    CHECK(std::equal(head_probs.begin(), head_probs.end(), got.probs.begin() + std::ptrdiff_t(h * T * T)));
#endif
  }
  if (!cpu_supports(simd::avx512)) WARN("this CPU has no AVX-512: only the Eigen attention ran");
}

TEST_CASE("top_k_list's block skipping keeps the k best of a full sort", "[simd]") {
  for (index n : {index(15), index(100), index(1000)})
    for (index k : {index(1), index(10)}) {
      auto s = normal_floats(std::size_t(n), std::uint64_t(n + k));
      s[std::size_t(n / 2)] = s[std::size_t(n / 3)];  // a tie: the smaller id wins
      model::top_k_list list;
      list.reset(k);
      list.push(s.data(), n, 7);
      std::vector<std::int32_t> order(static_cast<std::size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](auto a, auto b) { return s[std::size_t(a)] > s[std::size_t(b)]; });
      REQUIRE(list.size() == std::min(k, n));
      for (index j = 0; j < list.size(); ++j) {
        CHECK(list.ids()[std::size_t(j)] == order[std::size_t(j)] + 7);
        CHECK(list.scores()[std::size_t(j)] == s[std::size_t(order[std::size_t(j)])]);
      }
    }
}

}  // namespace slmrec

namespace slmrec {

TEST_CASE("exp_fast's rounding, in the baseline's vector form, is nearbyint's, ties included", "[simd]") {
  using backend::cpu::round_to_integer;
  std::vector<float> values = {0.0f,   -0.0f,   0.5f,        -0.5f,        1.5f,   -1.5f,   2.5f,       -2.5f,
                               127.5f, -126.5f, 0.49999997f, -0.49999997f, 128.0f, -128.0f, 4194303.5f, -4194303.5f};
  for (const float v : test::normal_floats(4096, 7)) values.push_back(60.0f * v);
  for (int k = -260; k <= 260; ++k) values.push_back(0.5f * float(k));  // every half in exp_fast's range
  for (const float v : values) {
    INFO("v = " << v);
    // The same integer; the sign of a zero may differ (-0.3 gives +0, nearbyint -0), which exp_fast's
    // n * ln 2 and its integer conversion do not see.
    CHECK(round_to_integer(v) == std::nearbyint(v));
  }
  // And exp_fast stays within its stated error against std::exp here too.
  for (const float z : test::normal_floats(4096, 8)) {
    const float x = 30.0f * z;
    const double want = std::exp(double(std::clamp(x, -87.3f, 88.3f)));
    CHECK(std::abs(double(backend::cpu::exp_fast(x)) - want) <= 3e-7 * want);
  }
}

}  // namespace slmrec

namespace slmrec {

TEST_CASE("the elementwise and softmax loops at the CPU's width agree with plain arithmetic", "[simd]") {
  using kernels = backend::eigen_cpu;
  const index n = 40'000;  // above the parallel threshold: the threaded loop too
  const auto gate = test::normal_floats(std::size_t(n), 11), up = test::normal_floats(std::size_t(n), 12);
  std::vector<float> out(static_cast<std::size_t>(n));
  kernels::swiglu_forward(gate.data(), up.data(), out.data(), n);
  for (index i = 0; i < n; i += 97) {
    const double g = gate[std::size_t(i)], want = g / (1.0 + std::exp(-g)) * up[std::size_t(i)];
    CHECK(std::abs(out[std::size_t(i)] - want) <= 1e-6 * (1.0 + std::abs(want)));
  }
  // Cross-entropy rows: the loss against a double-precision softmax, the gradient rows summing to 0.
  const index rows = 3, cols = 5000;
  auto logits = test::normal_floats(std::size_t(rows * cols), 13);
  const std::vector<std::int32_t> targets = {1, 777, 4999};
  double want = 0.0;
  for (index r = 0; r < rows; ++r) {
    double m = -1e30, sum = 0.0;
    for (index c = 1; c < cols; ++c) m = std::max(m, double(logits[std::size_t(r * cols + c)]));
    for (index c = 1; c < cols; ++c) sum += std::exp(double(logits[std::size_t(r * cols + c)]) - m);
    want += std::log(sum) + m - logits[std::size_t(r * cols + targets[std::size_t(r)])];
  }
  const double got =
      backend::cpu::loss_kernels<float>::softmax_xent_rows(logits.data(), targets.data(), rows, cols, 1.0f);
  CHECK(std::abs(got - want) <= 1e-5 * want);
  for (index r = 0; r < rows; ++r) {
    double total = 0.0;
    for (index c = 0; c < cols; ++c) total += logits[std::size_t(r * cols + c)];
    CHECK(std::abs(total) <= 1e-5);
  }
}

}  // namespace slmrec
