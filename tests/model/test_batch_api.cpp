// The xtensor batch API and NumPy interop: scores, top-k, embeddings, .npy files
// read back by NumPy itself where it is installed (else by xtensor).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <unistd.h>
#include <xtensor/xnpy.hpp>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/model/arch.hpp>
#include <slmrec/model/batch_api.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/model/replica.hpp>
#include <slmrec/model/serving.hpp>

#include "support/histories.hpp"
#include "support/temp_dir.hpp"

namespace slmrec {

namespace {
model::recommender_config tiny() {
  model::recommender_config c;
  c.arch = "llama";
  c.num_items = 30;
  c.dim = 8;
  c.heads = 2;
  c.layers = 1;
  c.max_len = 6;
  return c;
}
}  // namespace

TEST_CASE("batch API: scores, top-k without history, embeddings", "[model]") {
  model::recommender<backend::eigen_cpu, arch::llama> m(tiny(), false);
  m.initialize(4);
  const std::vector<std::vector<std::int32_t>> seqs{{3, 4, 5}, {7, 1, 9, 2, 8, 6, 30}};
  const auto batch = model::pad_sequences(seqs, 6);
  CHECK(batch(0, 0) == 0);
  CHECK(batch(0, 5) == 5);
  CHECK(batch(1, 0) == 1);  // the oldest item (7) no longer fits
  const auto scores = model::score(m, batch);
  REQUIRE(scores.shape(1) == 31);
  const auto top = model::recommend(m, batch, 5);
  for (std::size_t r = 0; r < 2; ++r) {
    for (std::size_t j = 0; j < 5; ++j) {
      for (auto item : seqs[r]) CHECK(top(r, j) != item);
      if (j > 0) CHECK(scores(r, std::size_t(top(r, j - 1))) >= scores(r, std::size_t(top(r, j))));
    }
  }
  const auto users = model::user_embeddings(m, batch);
  CHECK(users.shape(0) == 2);
  CHECK(users.shape(1) == 8);
  // The tied head scores an item as <user embedding, item embedding>.
  const auto items = model::item_embeddings(m);
  double dot = 0;
  for (std::size_t c = 0; c < 8; ++c) dot += double(users(1, c)) * double(items(7, c));
  CHECK(scores(1, 7) == Approx(dot).epsilon(1e-5));
  REQUIRE_THROWS_WITH(model::recommend(m, batch, 31), Catch::Contains("k = 31"));
}

TEST_CASE("top_k: best first, ties to the smaller id, against a full sort", "[model]") {
  const std::vector<float> scores{9.f, 0.5f, 2.f, 2.f, -1.f, 7.f, 2.f, 0.5f};  // column 0 is padding
  std::vector<std::int32_t> top(4);
  model::top_k(scores, 4, top);
  CHECK(top == std::vector<std::int32_t>{5, 2, 3, 6});
  rng gen(3);
  std::vector<float> many(1001);
  for (auto& x : many) x = float(gen.below(50));  // many ties
  std::vector<std::int32_t> ids(1000), fast(25);
  std::iota(ids.begin(), ids.end(), 1);
  std::stable_sort(ids.begin(), ids.end(), [&](auto a, auto b) { return many[std::size_t(a)] > many[std::size_t(b)]; });
  model::top_k(many, 25, fast);
  CHECK(std::equal(fast.begin(), fast.end(), ids.begin()));
  REQUIRE_THROWS_WITH(model::top_k(scores, 8, top), Catch::Contains("k = 8"));
}

TEST_CASE("top_k (vector skip) equals top_k_ref: ties, -inf, NaN, sizes around the 16-wide blocks", "[model]") {
  rng gen(8);
  for (index n : {index(1), index(15), index(16), index(17), index(100), index(12'101)})
    for (index k : {index(1), index(10), index(40)}) {
      if (k > n) continue;
      std::vector<float> scores(static_cast<std::size_t>(n + 1));
      for (auto& x : scores) x = float(gen.below(200)) * 0.25f;  // many ties
      for (std::size_t i = 1; i < scores.size(); i += 37) scores[i] = -std::numeric_limits<float>::infinity();
      if (n > 50) scores[50] = std::nanf("");
      std::vector<std::int32_t> fast(static_cast<std::size_t>(k)), ref(fast.size());
      model::top_k(scores, k, fast);
      model::top_k_ref(scores, k, ref);
      INFO("n " << n << ", k " << k);
      CHECK(fast == ref);
    }
}

TEST_CASE("server: one user and a batch agree with the batch API's recommend", "[model]") {
  model::recommender<backend::eigen_cpu, arch::llama> m(tiny(), false);
  m.initialize(4);
  const std::vector<std::vector<std::int32_t>> seqs{{3, 4, 5}, {7, 1, 9, 2, 8, 6, 30}};
  const auto batch = model::pad_sequences(seqs, 6);
  const auto expected = model::recommend(m, batch, 5);
  model::server serve(m);
  std::vector<std::int32_t> top(10);
  serve.recommend(std::span(batch.data(), batch.size()), 2, 6, 5, true, top);
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t j = 0; j < 5; ++j) CHECK(top[r * 5 + j] == expected(r, j));
  // One user: the longer history is read through its last 6 items, and
  // all 7 (the oldest included) are excluded from the answer.
  const auto one = serve.recommend(seqs[1], 5);
  const auto six = model::recommend(m, batch, 6);
  std::vector<std::int32_t> without_7;
  for (std::size_t j = 0; j < 6; ++j)
    if (six(1, j) != 7) without_7.push_back(six(1, j));
  for (std::size_t j = 0; j < 5; ++j) CHECK(one[j] == without_7[j]);
  REQUIRE_THROWS_WITH(serve.recommend(std::vector<std::int32_t>{}, 5), Catch::Contains("history is empty"));
}

TEST_CASE("server: a batch split over workers answers each user as alone, and follows the model's weights", "[model]") {
  // float64, so that a user's scores do not depend on the product shapes the batch is cut into.
  auto cfg = tiny();
  cfg.max_len = 12;
  model::recommender<backend::eigen_cpu_f64, arch::llama> m(cfg, false);
  m.initialize(4);
  const index rows = 100, columns = 12, k = 5;
  const auto batch = test::mixed_histories(rows, columns, 11, 5, 30, 4);
  const auto alone = [&](model::server<decltype(m)>& s) {
    std::vector<std::int32_t> top(std::size_t(rows * k));
    for (index r = 0; r < rows; ++r)
      s.recommend(std::span(batch).subspan(std::size_t(r * columns), std::size_t(columns)), 1, columns, k, true,
                  std::span(top).subspan(std::size_t(r * k), std::size_t(k)));
    return top;
  };
  model::server split(m, 3), single(m, 1);  // 3 workers, whatever the thread count: a thread may run several
  std::vector<std::int32_t> top(std::size_t(rows * k));
  split.recommend(batch, rows, columns, k, true, top);
  CHECK(top == alone(single));
  // The workers' replicas share the model's float weights: new weights reach them.
  m.initialize(11);
  split.recommend(batch, rows, columns, k, true, top);
  CHECK(top == alone(single));
  // A bad id is reported with its row in the batch as given.
  auto bad = batch;
  bad[std::size_t(77 * columns + columns - 1)] = 31;
  REQUIRE_THROWS_WITH(split.recommend(bad, rows, columns, k, true, top), Catch::Contains("row 77 holds item id 31"));
}

TEST_CASE("inference_replica: borrows the model's float weights, allocates none, scores as the model", "[model]") {
  auto cfg = tiny();
  cfg.head = "classifier";  // an item-sized matrix besides the table
  model::recommender<backend::eigen_cpu_f64, arch::llama> m(cfg, false);
  m.initialize(3);
  const auto replica = model::inference_replica(m);
  CHECK(replica->parameters().total_size() == 0);
  CHECK(m.parameters().total_size() > 0);
  const index rows = 7, columns = 6, v = cfg.num_items + 1;
  const auto batch = test::mixed_histories(rows, columns, 5, 2, 30, 4);
  std::vector<float> ours(std::size_t(rows * v)), theirs(ours.size());
  m.score_last(batch, rows, columns, ours);
  replica->score_last(batch, rows, columns, theirs);
  CHECK(ours == theirs);
  m.initialize(8);  // the replica reads the model's weights, not a copy
  m.score_last(batch, rows, columns, ours);
  replica->score_last(batch, rows, columns, theirs);
  CHECK(ours == theirs);
}

TEST_CASE("item embeddings exported to .npy read back with their values and shape", "[model][io]") {
  model::recommender<backend::eigen_cpu, arch::llama> m(tiny(), false);
  m.initialize(5);
  const auto table = model::item_embeddings(m);
  const test::temp_dir tmp;
  const auto& dir = tmp.path();
  const auto file = dir / "items.npy";
  io::write_file_atomically(file, xt::dump_npy(table));
  // xtensor reads its own file back ...
  const auto back = xt::load_npy<float>(file.string());
  REQUIRE(back.shape() == std::vector<std::size_t>{31, 8});
  CHECK(back == table);
  // ... and NumPy agrees, where Debian's python3-numpy is installed.
  if (std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0) {
    const auto out = dir / "check.txt";
    const std::string cmd = "/usr/bin/python3 -c \"import numpy as n; a = n.load('" + file.string() + "'); open('" +
                            out.string() +
                            "', 'w').write('%s %s %.6f %.6f' % (a.shape, a.dtype, a[0].sum(), a[7, 3]))\"";
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK(io::read_file(out) == fmt::format("(31, 8) float32 0.000000 {:.6f}", table(7, 3)));
  } else {
    WARN("python3-numpy not installed: checked with xtensor only");
  }
}

}  // namespace slmrec
