// Approximate item search (include/slmrec/index/, model/indexed_search.hpp):
// with ef covering the catalog the index path answers exactly what exact
// scoring answers (every head, both spaces, history excluded); an exact head
// holds the items of largest norm and none of them is missed; an index
// round-trips through a checkpoint directory; a stale, damaged, truncated,
// forged or missing index is refused with a message naming the file and the fix.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <filesystem>
#include <string>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/digest.hpp>
#include <slmrec/index/checkpoint_index.hpp>
#include <slmrec/index/exact_head.hpp>
#include <slmrec/model/indexed_search.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/model/serving.hpp>
#include <slmrec/train/checkpoint.hpp>

#include "support/histories.hpp"
#include "support/temp_dir.hpp"
#include "support/model_configs.hpp"

namespace slmrec {

namespace {
using cpu = backend::eigen_cpu;
using model_t = model::recommender<cpu, arch::llama>;

model::recommender_config config(const std::string& head, index item_dim = 0) {
  return test::small_llama(head, 300, 12, item_dim);
}

ann::hnsw_index build_for(model_t& m, ann::space_kind space) {
  const auto rows = model::scored_item_rows(m);
  return ann::hnsw_index::build(rows, m.config().num_items + 1, model::scored_width(m),
                                {.space = space, .m = 8, .ef_construction = 100, .seed = 3});
}

// A checkpoint directory holding m's weights and an index built from them.
void write_indexed_checkpoint(const std::filesystem::path& dir, model_t& m) {
  train::save_model(dir, {{"model", m.config()}}, m.parameters());
  const auto identity = ann::checkpoint_identity(dir);
  ann::save_checkpoint_index(dir, build_for(m, ann::space_kind::inner_product), identity, model::scored_tensor_name(m),
                             3);
}

std::string read(const std::filesystem::path& p) { return io::read_file(p); }

// Replaces dir's index.hnsw and records the new bytes' digest, as a forger would.
void write_with_matching_digest(const std::filesystem::path& dir, const std::string& graph_bytes) {
  io::write_file_atomically(dir / "index.hnsw", graph_bytes);
  auto meta = nlohmann::json::parse(read(dir / "index.json"));
  meta["index"]["digest"] = digest_hex(graph_bytes);
  io::write_file_atomically(dir / "index.json", meta.dump());
}
// The exact and the approximate server's top-k of every row of a left-padded batch [rows, columns].
struct answers {
  std::vector<std::int32_t> exact, approximate;
};
answers both_answers(model::server<model_t>& exact, model::server<model_t>& approximate,
                     const std::vector<std::int32_t>& batch, index rows, index columns, index k, bool exclude) {
  answers a{std::vector<std::int32_t>(std::size_t(rows * k)), std::vector<std::int32_t>(std::size_t(rows * k))};
  exact.recommend(batch, rows, columns, k, exclude, a.exact);
  approximate.recommend(batch, rows, columns, k, exclude, a.approximate);
  return a;
}
}  // namespace

TEST_CASE("the index path's top-k equals exact top-k when ef covers the catalog", "[index]") {
  for (const auto& [head, item_dim] : {std::pair<std::string, index>{"tied", 0}, {"projected", 16}, {"classifier", 0}})
    for (const auto space : {ann::space_kind::inner_product, ann::space_kind::l2_mips}) {
      CAPTURE(head, ann::space_name(space));
      model_t m(config(head, item_dim), false);
      m.initialize(11);
      auto idx = build_for(m, space);
      model::indexed_search search(m, idx, /*ef=*/300);
      model::server exact(m), approximate(m);
      approximate.set_approximate(&search);

      const index rows = 24, columns = 12, k = 10;
      const auto batch = test::mixed_histories(rows, columns, 4, 6, 300, 7);
      for (const bool exclude : {true, false}) {
        const auto [want, got] = both_answers(exact, approximate, batch, rows, columns, k, exclude);
        REQUIRE(got == want);
      }
      // One user with a history longer than max_len: the exclusion covers all of it.
      std::vector<std::int32_t> history;
      for (std::int32_t i = 0; i < 40; ++i) history.push_back(1 + (i * 37) % 300);
      const auto want = exact.recommend(history, k, true);
      REQUIRE(approximate.recommend(history, k, true) == want);
      for (const auto id : want) REQUIRE(std::find(history.begin(), history.end(), id) == history.end());
      // k close to the catalog: fewer candidates than k survive the exclusion, every item is scored.
      REQUIRE(approximate.recommend(history, 295, true) == exact.recommend(history, 295, true));
    }
}

TEST_CASE("an index of a small ef still returns k distinct items outside the history, best first", "[index]") {
  model_t m(config("tied"), false);
  m.initialize(5);
  auto idx = build_for(m, ann::space_kind::inner_product);
  model::indexed_search search(m, idx, /*ef=*/1);
  const std::vector<std::int32_t> history{4, 8, 15, 16, 23, 42};
  std::vector<std::int32_t> top(10);
  search.recommend(history, 10, true, top);
  const auto rows = model::scored_item_rows(m);
  std::vector<float> h(32);
  m.last_hidden(history, 1, index(history.size()), h);
  float previous = std::numeric_limits<float>::infinity();
  for (const auto id : top) {
    REQUIRE(id >= 1);
    REQUIRE(std::count(top.begin(), top.end(), id) == 1);
    REQUIRE(std::find(history.begin(), history.end(), id) == history.end());
    const float s = ann::detail::dot(h.data(), &rows[std::size_t(id) * 32], 32);
    REQUIRE(s <= previous);
    previous = s;
  }
}

TEST_CASE("an exact head holds the items of largest norm, ties to the smaller id, never the padding row", "[index]") {
  // [6 rows, 2]: row 0 (padding) has the largest norm; rows 2 and 4 tie.
  const std::vector<float> table{9, 9, 1, 0, 0, 3, 2, 1, 3, 0, 0, 1};
  const auto one = ann::exact_head::build(table, 6, 2, 1);
  REQUIRE(std::vector(one.ids().begin(), one.ids().end()) == std::vector<std::int32_t>{2});
  const auto head = ann::exact_head::build(table, 6, 2, 3);
  REQUIRE(std::vector(head.ids().begin(), head.ids().end()) == std::vector<std::int32_t>{2, 3, 4});
  REQUIRE(head.contains(4));
  REQUIRE_FALSE(head.contains(0));
  REQUIRE_FALSE(head.contains(5));
  REQUIRE(ann::exact_head::build(table, 6, 2, 0).size() == 0);
  REQUIRE_THROWS_WITH(ann::exact_head::build(table, 6, 2, 6), Catch::Contains("a head of 6 items from a catalog of 5"));
  // The 2 best for q = (1, 1) among the head (scores 3, 3, 3 for rows 2, 3, 4), 4 skipped: 2 and 3.
  std::vector<std::pair<float, std::int32_t>> best{{-1.0f, 99}};  // appended to, not replaced
  const std::vector<float> q{1, 1};
  head.append_best(
      q.data(), 2, [](std::int32_t id) { return id == 4; }, best);
  std::sort(best.begin() + 1, best.end(), ann::scored_before);
  REQUIRE(best == std::vector<std::pair<float, std::int32_t>>{{-1.0f, 99}, {3.0f, 2}, {3.0f, 3}});
}

TEST_CASE("with an exact head the index path never misses a head item of the exact top-k", "[index]") {
  for (const auto& head : {std::string("tied"), std::string("classifier")}) {
    CAPTURE(head);
    model_t m(config(head), false);
    m.initialize(13);
    auto idx = build_for(m, ann::space_kind::l2_mips);
    // ef 1: the graph alone misses most of the top 10; a head of 40 of the 300 items is found whatever the graph does.
    model::indexed_search search(m, idx, /*ef=*/1, /*exact_head=*/40);
    REQUIRE(search.exact_head_size() == 40);
    const auto rows = model::scored_item_rows(m);
    const auto members = ann::exact_head::build(rows, 301, model::scored_width(m), 40);
    model::server exact(m), approximate(m);
    approximate.set_approximate(&search);
    const index n = 24, columns = 12, k = 10;
    const auto batch = test::mixed_histories(n, columns, 4, 6, 300, 17);
    for (const bool exclude : {true, false}) {
      const auto [want, got] = both_answers(exact, approximate, batch, n, columns, k, exclude);
      index head_answers = 0;
      for (index r = 0; r < n; ++r) {
        const auto mine = std::span(got).subspan(std::size_t(r * k), std::size_t(k));
        for (index j = 0; j < k; ++j) {
          const auto id = want[std::size_t(r * k + j)];
          if (!members.contains(id)) continue;
          ++head_answers;
          REQUIRE(std::find(mine.begin(), mine.end(), id) != mine.end());
        }
      }
      REQUIRE(head_answers >= n);  // the property was exercised
    }
    // A head covering the catalog: the graph adds nothing and the answer is exact, history excluded or not.
    search.set_exact_head(300);
    for (const bool exclude : {true, false}) {
      const auto [want, got] = both_answers(exact, approximate, batch, n, columns, k, exclude);
      REQUIRE(got == want);
    }
    REQUIRE_THROWS_WITH(search.set_exact_head(301), Catch::Contains("an exact head of 301 items, expected 0..300"));
  }
}

TEST_CASE("an index round-trips through a checkpoint directory", "[index]") {
  test::temp_dir tmp;
  const auto dir = tmp.path() / "ckpt";
  model_t m(config("tied"), false);
  m.initialize(2);
  write_indexed_checkpoint(dir, m);

  const auto meta = nlohmann::json::parse(read(dir / "index.json"));
  CHECK(meta["num_items"] == 300);
  CHECK(meta["dim"] == 32);
  CHECK(meta["space"] == "ip");
  CHECK(meta["m"] == 8);
  CHECK(meta["ef_construction"] == 100);
  CHECK(meta["vectors"] == "item_embedding.weight");
  CHECK(meta["checkpoint"]["digest"] == digest_hex(read(dir / "model.safetensors")));
  CHECK(meta["index"]["digest"] == digest_hex(read(dir / "index.hnsw")));

  auto built = build_for(m, ann::space_kind::inner_product);
  auto loaded = ann::load_checkpoint_index(dir);
  CHECK(loaded.serialize() == read(dir / "index.hnsw"));
  const auto rows = model::scored_item_rows(m);
  std::vector<std::int32_t> a, b;
  for (std::int32_t id = 1; id <= 300; id += 13) {  // item rows as queries: the same graph answers the same
    const std::span q(&rows[std::size_t(id) * 32], 32);
    built.search(q, 10, 20, a);
    loaded.search(q, 10, 20, b);
    REQUIRE(a == b);
    REQUIRE(a.size() == 10);
  }
}

TEST_CASE("a missing, stale or damaged index is refused before hnswlib reads it", "[index]") {
  test::temp_dir tmp;
  const auto dir = tmp.path() / "ckpt";
  model_t m(config("tied"), false);
  m.initialize(2);

  SECTION("missing: how to build one") {
    train::save_model(dir, {{"model", m.config()}}, m.parameters());
    REQUIRE_THROWS_WITH(ann::load_checkpoint_index(dir),
                        Catch::Contains("has no index") && Catch::Contains("index.json") &&
                            Catch::Contains("slmrec index --checkpoint " + dir.string()));
  }
  write_indexed_checkpoint(dir, m);
  const auto graph = dir / "index.hnsw";
  const std::string bytes = read(graph);

  SECTION("stale: the checkpoint was retrained") {
    const std::string meta = read(dir / "index.json");
    m.initialize(3);
    train::save_model(dir, {{"model", m.config()}}, m.parameters());  // replaces the directory: put the old index back
    io::write_file_atomically(graph, bytes);
    io::write_file_atomically(dir / "index.json", meta);
    REQUIRE_THROWS_WITH(ann::load_checkpoint_index(dir),
                        Catch::Contains("index in " + dir.string() + " was built for a different checkpoint") &&
                            Catch::Contains("rebuild it with `slmrec index --checkpoint " + dir.string() + "`"));
  }
  SECTION("damaged: a flipped byte") {
    std::string flipped = bytes;
    flipped[bytes.size() / 2] = char(flipped[bytes.size() / 2] ^ 0x10);
    io::write_file_atomically(graph, flipped);
    REQUIRE_THROWS_WITH(ann::load_checkpoint_index(dir), Catch::Contains(graph.string() + ": digest") &&
                                                             Catch::Contains("the index is damaged") &&
                                                             Catch::Contains("slmrec index --checkpoint"));
  }
  SECTION("damaged: truncated") {
    io::write_file_atomically(graph, bytes.substr(0, bytes.size() - 100));
    REQUIRE_THROWS_WITH(ann::load_checkpoint_index(dir),
                        Catch::Contains(graph.string() + ": " + std::to_string(bytes.size() - 100) + " bytes, expected " +
                                        std::to_string(bytes.size())));
  }
  SECTION("forged: a matching digest over a bad graph is caught by the structure check") {
    // A neighbour id far outside the graph in node 0's bottom list (96 bytes of header, then its count).
    std::string forged = bytes;
    const std::uint32_t count = 1, id = 1u << 30;
    std::memcpy(forged.data() + 96, &count, 4);
    std::memcpy(forged.data() + 100, &id, 4);
    write_with_matching_digest(dir, forged);
    REQUIRE_THROWS_WITH(ann::load_checkpoint_index(dir),
                        Catch::Contains(graph.string() + ": node 0 level 0: neighbour 1073741824"));
  }
  SECTION("forged: a header that claims more nodes") {
    std::string forged = bytes;
    const std::size_t many = 1ull << 40;
    std::memcpy(forged.data() + 8, &many, 8);
    write_with_matching_digest(dir, forged);
    REQUIRE_THROWS_WITH(ann::load_checkpoint_index(dir),
                        Catch::Contains("header field max_elements is 1099511627776, expected 300"));
  }
}

TEST_CASE("digest64 changes with any single bit and with the length", "[index]") {
  std::string s(1000, 'a');
  const auto base = digest64(s);
  CHECK(digest64(s) == base);
  for (std::size_t i : {0, 31, 32, 500, 999}) {
    std::string t = s;
    t[i] = char(t[i] ^ 1);
    CHECK(digest64(t) != base);
  }
  CHECK(digest64(s.substr(0, 999)) != base);
  CHECK(digest_hex(s).size() == 16);
}

}  // namespace slmrec
