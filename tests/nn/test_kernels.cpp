// The CPU backend's fast kernels against plain reference loops.
#include <catch2/catch.hpp>

#include <limits>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/nn/softmax_loss.hpp>

#include "support/attention_pair.hpp"
#include "support/gradcheck.hpp"

// Inside the library's namespace: `index` would otherwise clash with POSIX ::index().
namespace slmrec {

TEST_CASE("gemm matches gemm_ref for every transpose, odd sizes, alpha and beta", "[backend]") {
  using be = backend::eigen_cpu;
  for (auto [m, n, k] : {std::tuple{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {64, 31, 129}}) {
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.0f, 1.0f, 0.5f}) {
          const auto a64 = test::random_vector(m * k, 1), b64 = test::random_vector(k * n, 2),
                     c64 = test::random_vector(m * n, 3);
          std::vector<float> a(a64.begin(), a64.end()), b(b64.begin(), b64.end()), c(c64.begin(), c64.end());
          auto c_ref = c;
          const index lda = ta ? m : k, ldb = tb ? k : n;
          be::gemm(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, beta, c.data(), n);
          be::gemm_ref(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, beta, c_ref.data(), n);
          const std::vector<double> x(c.begin(), c.end()), y(c_ref.begin(), c_ref.end());
          INFO("m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb << " beta=" << beta);
          CHECK(test::symmetric_relative_error(x, y) < 1e-6);
        }
  }
}

TEST_CASE("the AVX-512 float32 gemm matches gemm_ref across its blocking and tails", "[backend]") {
  if (!cpu_supports(simd::avx512)) {
    WARN("this CPU has no AVX-512: the kernel is not run");
    return;
  }
  using kernels = backend::cpu::blas_kernels<float>;
  namespace fast = backend::cpu::avx512;
  // Shapes that cross every boundary of the kernel: micro-tile rows (12) and
  // columns (32), the 16-wide transposes of the packers, the k slice (256),
  // the row block (144), the column block (3072), and the threaded path
  // (m n k > 2e6).
  const std::tuple<index, index, index> shapes[] = {{8, 1, 1},     {12, 32, 16},  {13, 33, 17},   {25, 47, 255},
                                                    {37, 64, 256}, {11, 31, 257}, {145, 70, 300}, {301, 129, 513},
                                                    {9, 3100, 20}, {150, 70, 300}};
  for (auto [m, n, k] : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.0f, 1.0f, -0.5f}) {
          // Leading dimensions wider than the matrices, so a kernel that
          // assumes packed rows fails.
          const index lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
          const auto a64 = test::random_vector((ta ? k : m) * lda, 1), b64 = test::random_vector((tb ? n : k) * ldb, 2),
                     c64 = test::random_vector(m * ldc, 3);
          std::vector<float> a(a64.begin(), a64.end()), b(b64.begin(), b64.end()), c(c64.begin(), c64.end());
          // With beta = 0, C must not be read: NaN there may not leak through.
          if (beta == 0.0f)
            for (index i = 0; i < m; ++i) c[std::size_t(i * ldc)] = std::numeric_limits<float>::quiet_NaN();
          auto c_ref = c;
          fast::sgemm(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
          kernels::gemm_ref(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, beta, c_ref.data(), ldc);
          INFO("m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb << " beta=" << beta);
          // The padding columns between rows of C are left untouched.
          for (index i = 0; i < m; ++i)
            for (index j = n; j < ldc; ++j) REQUIRE(c[std::size_t(i * ldc + j)] == c_ref[std::size_t(i * ldc + j)]);
          const std::vector<double> x(c.begin(), c.end()), y(c_ref.begin(), c_ref.end());
          CHECK(test::symmetric_relative_error(x, y) < 2e-6);
        }
}

TEST_CASE("gemm with leading dimensions larger than the matrix", "[backend]") {
  using be = backend::eigen_cpu_f64;
  // A is the left 2x3 block of a 2x5 array; C the middle block of a 2x6 array.
  std::vector<double> a{1, 2, 3, 99, 99, 4, 5, 6, 99, 99};
  std::vector<double> b{1, 0, 0, 1, 1, 1};  // 3x2
  std::vector<double> c(12, -1.0);
  be::gemm(false, false, 2, 2, 3, 1.0, a.data(), 5, b.data(), 2, 0.0, c.data() + 1, 6);
  CHECK(c == std::vector<double>{-1, 4, 5, -1, -1, -1, -1, 10, 11, -1, -1, -1});
}

TEST_CASE("attention probabilities: causal, masked, normalised", "[backend]") {
  using be = backend::eigen_cpu_f64;
  const index B = 1, T = 4, H = 2, D = 4;
  const auto q = test::random_vector(B * T * H * D, 1), k = test::random_vector(B * T * H * D, 2),
             v = test::random_vector(B * T * H * D, 3);
  const std::vector<std::int32_t> mask{0, 1, 1, 1};
  std::vector<double> out(q.size()), probs(std::size_t(B * H * T * T));
  be::attention_forward(q.data(), k.data(), v.data(), mask.data(), out.data(), probs.data(), B, T, H, H, D);
  for (index h = 0; h < H; ++h)
    for (index t = 0; t < T; ++t) {
      const double* p = &probs[std::size_t((h * T + t) * T)];
      double total = 0;
      for (index s = 0; s < T; ++s) {
        if (s > t || s == 0) CHECK(p[s] == 0.0);
        total += p[s];
      }
      CHECK(total == Approx(t == 0 ? 0.0 : 1.0));
    }
}

// On a CPU with AVX-512 the float kernels are backend/cpu/attention_avx512.hpp's
// and the double ones Eigen's loops (the path of other CPUs): both against the twins.
template <class be>
void check_attention_against_ref() {
  using T = typename be::scalar;
  for (auto [B, T_, H, KV, D] : {std::tuple{1, 1, 1, 1, 2},
                                 {2, 7, 4, 2, 6},
                                 {3, 50, 4, 4, 32},
                                 {2, 33, 6, 1, 16},
                                 {2, 70, 2, 2, 80},
                                 {1, 129, 3, 1, 20}}) {
    const index L = T_;
    const auto qn = std::size_t(B * L * H * D), kn = std::size_t(B * L * KV * D);
    const auto to_t = [](const std::vector<double>& x) { return std::vector<T>(x.begin(), x.end()); };
    const auto q = to_t(test::random_vector(index(qn), 1)), k = to_t(test::random_vector(index(kn), 2)),
               v = to_t(test::random_vector(index(kn), 3)), dout = to_t(test::random_vector(index(qn), 4));
    std::vector<std::int32_t> mask(std::size_t(B * L), 1);
    for (index b = 0; b < B; ++b)  // left padding of b cells in row b
      for (index s = 0; s < std::min<index>(b, L - 1); ++s) mask[std::size_t(b * L + s)] = 0;
    const auto [got, want] = test::run_attention_pair<be>({B, L, H, KV, D}, q, k, v, dout, mask, T(0));
    const auto err = [](const std::vector<T>& a, const std::vector<T>& b) {
      return test::symmetric_relative_error(std::vector<double>(a.begin(), a.end()),
                                            std::vector<double>(b.begin(), b.end()));
    };
    INFO("B=" << B << " T=" << L << " H=" << H << " KV=" << KV << " D=" << D << " scalar bytes " << sizeof(T));
    for (const auto& [name, field] : test::attention_fields<T>) {
      INFO(name);
      CHECK(err(got.*field, want.*field) < 1e-5);
    }
  }
}

TEST_CASE("attention kernels match their plain _ref twins (GQA, padding, odd sizes)", "[backend]") {
  check_attention_against_ref<backend::eigen_cpu>();
  check_attention_against_ref<backend::eigen_cpu_f64>();
}

TEST_CASE("exp_fast: relative error below 3e-7 over the float range", "[backend]") {
  double worst = 0.0;
  for (double x = -87.0; x <= 88.3; x += 0.0137) {
    const float xf = float(x);
    const double ref = std::exp(double(xf));  // the function's error, not the input's rounding
    worst = std::max(worst, std::abs(double(backend::cpu::exp_fast(xf)) - ref) / ref);
  }
  CHECK(worst < 3e-7);
  CHECK(backend::cpu::exp_fast(0.0f) == 1.0f);
  CHECK(backend::cpu::exp_fast(-1000.0f) < 1e-37f);  // clamped, never NaN
  CHECK(std::isfinite(backend::cpu::exp_fast(1000.0f)));
}

TEST_CASE("softmax_rows and the fused cross-entropy kernel against plain formulas", "[backend]") {
  using be = backend::eigen_cpu_f64;
  const index n = 3, cols = 7;
  const auto logits = test::random_vector(n * cols, 9, 3.0);
  auto p = logits;
  be::softmax_rows(p.data(), n, cols);
  for (index i = 0; i < n; ++i) {
    double z = 0;
    for (index c = 0; c < cols; ++c) z += std::exp(logits[std::size_t(i * cols + c)]);
    for (index c = 0; c < cols; ++c)
      CHECK(p[std::size_t(i * cols + c)] == Approx(std::exp(logits[std::size_t(i * cols + c)]) / z));
  }
  // Cross-entropy excludes column 0 (padding): p over columns 1..cols-1.
  const std::vector<std::int32_t> targets{1, 6, 3};
  auto g = logits;
  const double loss = be::softmax_xent_rows(g.data(), targets.data(), n, cols, 0.5);
  double expected = 0;
  for (index i = 0; i < n; ++i) {
    double z = 0;
    for (index c = 1; c < cols; ++c) z += std::exp(logits[std::size_t(i * cols + c)]);
    expected += std::log(z) - logits[std::size_t(i * cols + targets[std::size_t(i)])];
    CHECK(g[std::size_t(i * cols)] == 0.0);
    for (index c = 1; c < cols; ++c) {
      const double pc = std::exp(logits[std::size_t(i * cols + c)]) / z;
      CHECK(g[std::size_t(i * cols + c)] == Approx(0.5 * (pc - (c == targets[std::size_t(i)] ? 1.0 : 0.0))));
    }
  }
  CHECK(loss == Approx(expected));
}

TEST_CASE("chunked full-softmax loss equals the unchunked formula, gradients included", "[nn][gradcheck]") {
  using be = backend::eigen_cpu_f64;
  const index n = 40, items = 70000, d = 3;
  nn::full_softmax_loss<be> loss(items * 29);  // chunks of 29 rows, so two chunks
  REQUIRE(loss.chunk_rows(items) == 29);
  const auto h = test::random_vector(n * d, 1, 0.5), w = test::random_vector(items * d, 2, 0.5);
  std::vector<std::int32_t> targets(static_cast<std::size_t>(n));
  for (index i = 0; i < n; ++i) targets[std::size_t(i)] = std::int32_t(1 + (i * 7919) % (items - 1));
  std::vector<double> dh(h.size(), 0.0), dw(w.size(), 0.0);
  const double total = loss.forward_backward(h.data(), w.data(), nullptr, targets.data(), n, items, d, dh.data(),
                                             dw.data(), nullptr, 1.0);
  double expected = 0;
  std::vector<double> dh_ref(h.size(), 0.0);
  for (index i = 0; i < n; ++i) {
    std::vector<double> z(static_cast<std::size_t>(items));
    double m = -1e300, s = 0;
    for (index v = 1; v < items; ++v) {
      double acc = 0;
      for (index c = 0; c < d; ++c) acc += h[std::size_t(i * d + c)] * w[std::size_t(v * d + c)];
      z[std::size_t(v)] = acc;
      m = std::max(m, acc);
    }
    for (index v = 1; v < items; ++v) s += std::exp(z[std::size_t(v)] - m);
    expected += std::log(s) + m - z[std::size_t(targets[std::size_t(i)])];
    for (index v = 1; v < items; ++v) {
      const double g = std::exp(z[std::size_t(v)] - m) / s - (v == targets[std::size_t(i)] ? 1.0 : 0.0);
      for (index c = 0; c < d; ++c) dh_ref[std::size_t(i * d + c)] += g * w[std::size_t(v * d + c)];
    }
  }
  CHECK(total == Approx(expected).epsilon(1e-12));
  CHECK(test::symmetric_relative_error(dh, dh_ref) < 1e-12);
}

}  // namespace slmrec
