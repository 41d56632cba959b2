// Streaming the catalog: the range kernels against their scalar twins and
// against one pass over all items, the streamed top-k against top_k_ref on
// the whole row, and the server end to end for float and int8 models with
// tied, projected and classifier heads.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <slmrec/backend/cpu/dot_rows.hpp>
#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/model/arch.hpp>
#include <slmrec/model/item_scorer.hpp>
#include <slmrec/model/quantize.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/model/serving.hpp>
#include <slmrec/model/streamed_top_k.hpp>
#include <slmrec/model/top_k.hpp>
#include <slmrec/quant/int8_range.hpp>

#include "support/histories.hpp"
#include "support/model_configs.hpp"

#include "support/random.hpp"

namespace slmrec {

namespace {
using test::normal_floats;
}  // namespace

TEST_CASE("dot_rows equals dot_rows_ref bit for bit, and a range equals the same columns of the whole", "[model]") {
  for (index d : {index(1), index(15), index(16), index(17), index(64), index(100), index(128)})
    for (index m : {index(1), index(3), index(8)}) {
      const index n = 77;
      const auto q = normal_floats(std::size_t(m * d), 1), w = normal_floats(std::size_t(n * d), 2);
      std::vector<float> fast(std::size_t(m * n)), ref(fast.size());
      backend::cpu::dot_rows(q.data(), m, w.data(), n, d, fast.data(), n);
      backend::cpu::dot_rows_ref(q.data(), m, w.data(), n, d, ref.data(), n);
      INFO("d " << d << ", m " << m);
      CHECK(fast == ref);
      for (index first : {index(0), index(5), index(31), index(76)}) {
        const index count = std::min<index>(n - first, 19);
        std::vector<float> part(std::size_t(m * count));
        backend::cpu::dot_rows(q.data() + (m - 1) * d, 1, w.data() + first * d, count, d, part.data(), count);
        for (index j = 0; j < count; ++j) CHECK(part[std::size_t(j)] == ref[std::size_t((m - 1) * n + first + j)]);
      }
      // The fixed order is still a dot product.
      double exact = 0;
      for (index k = 0; k < d; ++k) exact += double(q[std::size_t(k)]) * double(w[std::size_t(k)]);
      CHECK(ref[0] == Approx(exact).margin(1e-4));
    }
}

TEST_CASE("gemm_nt_range equals gemm_nt's columns and its scalar twin, at unaligned ranges", "[model][quant]") {
  for (index cols : {index(16), index(70), index(128)})
    for (index m : {index(1), index(2), index(5)}) {  // one or two users take their own loop
      const index rows = 100;
      const auto w = normal_floats(std::size_t(rows * cols), 3), x = normal_floats(std::size_t(m * cols), 4);
      const auto wq = quant::int8_matrix::quantize(w.data(), rows, cols);
      std::vector<float> whole(std::size_t(m * rows));
      quant::gemm_nt(x.data(), m, wq, nullptr, whole.data());
      quant::int8_rows xq;
      quant::quantize_input(x.data(), m, wq, xq);
      std::vector<float> scratch;
      for (auto [first, count] : {std::pair<index, index>{0, 100}, {1, 16}, {15, 2}, {17, 50}, {99, 1}}) {
        std::vector<float> part(std::size_t(m * count)), ref(part.size());
        quant::gemm_nt_range(xq, wq, first, count, part.data(), count, scratch);
        quant::gemm_nt_range_ref(xq, wq, first, count, ref.data(), count);
        INFO("cols " << cols << ", m " << m << ", rows [" << first << ", " << first + count << ")");
        CHECK(part == ref);
        for (index r = 0; r < m; ++r)
          for (index j = 0; j < count; ++j)
            CHECK(part[std::size_t(r * count + j)] == whole[std::size_t(r * rows + first + j)]);
      }
      std::vector<float> out(5);
      REQUIRE_THROWS_WITH(quant::gemm_nt_range(xq, wq, 98, 5, out.data(), 5, scratch), Catch::Contains("[98, 103)"));
    }
}

TEST_CASE("top_k_list over blocks, merged across ranges, equals top_k_ref on the row", "[model]") {
  rng gen(9);
  for (index n : {index(1), index(17), index(100), index(3001)})
    for (index k : {index(1), index(10), index(40)}) {
      if (k > n) continue;
      std::vector<float> s(std::size_t(n + 1));
      for (auto& x : s) x = float(gen.below(50)) * 0.5f;  // many ties
      for (std::size_t i = 1; i < s.size(); i += 29) s[i] = -std::numeric_limits<float>::infinity();
      std::vector<std::int32_t> want(static_cast<std::size_t>(k));
      model::top_k_ref(s, k, want);
      for (index block : {index(1), index(16), index(33), n}) {
        model::top_k_list a, b;  // two "threads": [1, half) and [half, n]
        a.reset(k);
        b.reset(k);
        const index half = 1 + n / 2;
        for (index first = 1; first <= n; first += block) {
          const index end = std::min(n + 1, first + block);
          for (index i = first; i < end;) {  // a block may straddle the two ranges
            const index stop = i < half ? std::min(end, half) : end;
            (i < half ? a : b).push(s.data() + i, stop - i, std::int32_t(i));
            i = stop;
          }
        }
        a.merge(b);
        INFO("n " << n << ", k " << k << ", block " << block);
        REQUIRE(a.size() == k);
        CHECK(std::vector<std::int32_t>(a.ids().begin(), a.ids().end()) == want);
      }
    }
}

namespace {
model::recommender_config small(const std::string& head, index item_dim = 0) {
  return test::small_llama(head, 1000, 8, item_dim);
}

// Each user's top-k from the scalar twin's whole row, the history at -inf.
template <class Scorer>
std::vector<std::int32_t> reference(Scorer& sc, const std::vector<std::int32_t>& items, index columns, index k,
                                    bool exclude) {
  const index v = sc.items();
  std::vector<std::int32_t> top(std::size_t(sc.users() * k));
  std::vector<float> all(std::size_t(sc.users() * v));
  sc.score_ref(0, v, all.data(), v);
  for (index u = 0; u < sc.users(); ++u) {
    const std::span<float> r(all.data() + u * v, std::size_t(v));
    if (exclude) model::exclude_items(r, 0, std::span(items).subspan(std::size_t(u * columns), std::size_t(columns)));
    model::top_k_ref(r, k, std::span(top).subspan(std::size_t(u * k), std::size_t(k)));
  }
  return top;
}

template <class Model>
void check_streamed(Model& m) {
  const index rows = 40, columns = 8, k = 10;
  const auto batch = test::mixed_histories(rows, columns, 3, 6, 1000, 5);
  model::item_scorer<Model> sc(m);
  sc.set_users(batch, rows, columns);
  for (bool exclude : {true, false}) {
    const auto want = reference(sc, batch, columns, k, exclude);
    std::vector<model::streamed_top_k_state> states;
    const auto history = [&](index u) {
      return std::span(batch).subspan(std::size_t(u * columns), std::size_t(columns));
    };
    for (index threads : {index(1), index(2), index(3)})
      for (index block : {index(0), index(16), index(48), index(1008)}) {
        std::vector<std::int32_t> got(want.size());
        model::streamed_top_k(sc, k, exclude, history, got, states, threads, block);
        INFO("threads " << threads << ", block " << block << ", exclude " << exclude);
        CHECK(got == want);
      }
  }
  // The server: a batch too small to split and one user alone get the same answer.
  model::server serve(m);
  std::vector<std::int32_t> top(std::size_t(20 * k));
  serve.recommend(std::span(batch).first(std::size_t(20 * columns)), 20, columns, k, true, top);
  model::item_scorer<Model> sc20(m);
  sc20.set_users(std::span(batch).first(std::size_t(20 * columns)), 20, columns);
  CHECK(top == reference(sc20, batch, columns, k, true));
  const std::vector<std::int32_t> one_user(batch.begin(), batch.begin() + columns);
  model::item_scorer<Model> sc1(m);
  sc1.set_users(one_user, 1, columns);
  CHECK(serve.recommend(one_user, k) == reference(sc1, one_user, columns, k, true));
  // A batch split over two workers (their replicas compute the users'
  // vectors, the catalog is streamed once): each user's answer alone. The
  // vectors may differ in the last bit between batch shapes; at these score
  // gaps that never reorders an answer.
  std::vector<std::int32_t> split_top(std::size_t(rows * k)), alone(split_top.size());
  model::server split(m, 2), single(m, 1);
  split.recommend(batch, rows, columns, k, true, split_top);
  for (index r = 0; r < rows; ++r)
    single.recommend(std::span(batch).subspan(std::size_t(r * columns), std::size_t(columns)), 1, columns, k, true,
                     std::span(alone).subspan(std::size_t(r * k), std::size_t(k)));
  CHECK(split_top == alone);
}
}  // namespace

TEST_CASE("server streams the catalog: float and int8 models, tied, projected and classifier heads", "[model]") {
  for (const auto& [head, item_dim] :
       {std::pair<std::string, index>{"tied", 0}, {"projected", 24}, {"classifier", 0}}) {
    INFO("head " << head);
    model::recommender<backend::eigen_cpu, arch::llama> fp(small(head, item_dim), false);
    fp.initialize(7);
    check_streamed(fp);
    auto q = model::quantize<quant::int8_per_channel>(fp);
    check_streamed(*q);
  }
}

// A scorer whose blocks past item 2,000 fail (a file read behind it, say):
// the error must come out of the threads as an exception, not std::terminate.
struct failing_scorer {
  [[nodiscard]] index users() const { return 4; }
  [[nodiscard]] index items() const { return 5000; }
  [[nodiscard]] index width() const { return 256; }
  void score(index first, index n, float* out, index ldo, std::vector<float>&) const {
    require(first < 2000, "block at item {}: the scorer failed", first);
    for (index u = 0; u < users(); ++u)
      for (index j = 0; j < n; ++j) out[u * ldo + j] = float((first + j) % 97);
  }
};

TEST_CASE("streamed_top_k: a scorer's exception leaves the parallel region and is rethrown", "[model]") {
  failing_scorer sc;
  std::vector<model::streamed_top_k_state> states;
  std::vector<std::int32_t> got(std::size_t(4 * 10));
  const auto history = [](index) { return std::span<const std::int32_t>(); };
  for (index threads : {index(1), index(2)})
    REQUIRE_THROWS_WITH(model::streamed_top_k(sc, 10, false, history, got, states, threads, 64),
                        Catch::Contains("the scorer failed"));
}

}  // namespace slmrec
