// k-core filtering, de-duplication, id compaction, the id map and stats.
#include <catch2/catch.hpp>
#include <slmrec/data/filter.hpp>
#include <slmrec/data/id_map.hpp>
#include <slmrec/data/read_dataset.hpp>
#include <slmrec/data/stats.hpp>

#include "support/temp_dir.hpp"

using Catch::Contains;
using seqs = std::vector<std::vector<std::int32_t>>;
using names = std::vector<std::string>;
namespace data = slmrec::data;

namespace {

data::dataset make(seqs sequences, std::int32_t num_items) {
  data::dataset d;
  d.sequences = std::move(sequences);
  d.num_items = num_items;
  d.source = "hand-made";
  return d;
}

}  // namespace

TEST_CASE("k-core is iterative: a second pass removes what the first exposed", "[data][kcore]") {
  // Users 1..4, items a=1 b=2 c=3 d=4. Pass 1 removes user 4 (1 item); that
  // leaves item d with a single interaction, which pass 2 removes; then
  // every user and item has >= 2 and pass 3 changes nothing. A single pass
  // (SASRec's preprocessing) would have kept d.
  slmrec::test::temp_dir dir;
  const auto path = dir.write("k.txt", "1 1 2 3\n2 1 2\n3 1 3 4\n4 4\n");
  const auto d = data::read_dataset(path, {.input_format = data::format::sequences, .min_interactions = 2});
  CHECK(d.sequences == seqs{{1, 2, 3}, {1, 2}, {1, 3}});
  CHECK(d.num_items == 3);
  CHECK(d.report.kcore_rounds == 2);
  CHECK(d.report.users_removed_by_kcore == 1);
  CHECK(d.report.items_removed_by_kcore == 1);
  CHECK(d.report.interactions_removed_by_kcore == 2);
  CHECK(d.report.interactions_read == 9);
  CHECK(d.report.interactions_kept == 7);
  // Renumbering after removals keeps the original ids printable.
  CHECK(d.user_names == names{"1", "2", "3"});
  CHECK(d.item_names == names{"1", "2", "3"});
  CHECK(d.report.users_remapped);
  CHECK(d.report.items_remapped);
  CHECK_THAT(d.report.summary(), Contains("removed by k-core (2 rounds): 2 interactions, 1 users, 1 items"));

  const auto counts = data::item_counts(d.sequences, d.num_items);
  for (std::int32_t i = 1; i <= d.num_items; ++i) CHECK(counts[static_cast<std::size_t>(i)] >= 2);
  for (const auto& s : d.sequences) CHECK(s.size() >= 2);
}

TEST_CASE("k-core can cascade down to nothing, and says so", "[data][kcore]") {
  // A chain: each removal exposes the next.
  auto d = make({{1, 2}, {2, 3}, {3, 4}, {4, 5}}, 5);
  const auto k = data::filter_kcore(d, 2);
  CHECK(k.users_removed == 4);
  CHECK(k.items_removed == 5);
  CHECK(k.interactions_removed == 8);
  CHECK(k.rounds >= 3);
  CHECK(d.num_users() == 0);
  CHECK(d.num_items == 0);

  slmrec::test::temp_dir dir;
  const auto path = dir.write("chain.txt", "1 1 2\n2 2 3\n3 3 4\n4 4 5\n");
  REQUIRE_THROWS_WITH(data::read_dataset(path, {.min_interactions = 2}),
                      Contains("chain.txt") && Contains("no interactions left") && Contains("k-core"));
}

TEST_CASE("k-core off for k <= 1; remove_duplicates keeps the first occurrence", "[data][kcore]") {
  auto d = make({{1, 2, 1, 3, 2}, {3, 3}}, 3);
  CHECK(data::filter_kcore(d, 1).rounds == 0);
  CHECK(data::remove_duplicates(d) == 3);
  CHECK(d.sequences == seqs{{1, 2, 3}, {3}});
  REQUIRE_THROWS_WITH(data::filter_kcore(d, -1), Contains("k = -1"));
}

TEST_CASE("compact_ids drops empty users and unused items", "[data][filter]") {
  auto d = make({{4, 2}, {}, {2}}, 5);
  const auto c = data::compact_ids(d);
  CHECK(c.users_removed == 1);
  CHECK(c.items_removed == 3);
  CHECK(d.sequences == seqs{{2, 1}, {1}});
  CHECK(d.item_names == names{"2", "4"});
  CHECK(d.user_names == names{"1", "3"});
}

TEST_CASE("validate rejects items out of range", "[data][filter]") {
  auto d = make({{1, 7}}, 3);
  REQUIRE_THROWS_WITH(data::validate(d), Contains("item 7") && Contains("expected 1..3"));
}

TEST_CASE("id map round trip, written atomically", "[data][id_map]") {
  slmrec::test::temp_dir dir;
  const auto src = dir.write("r.csv", "alice,book\nbob,pen\nalice,pen\n");
  const auto d = data::read_dataset(src);
  const auto map_path = dir.path() / "ids.json";
  data::save_id_map(d, map_path);
  CHECK(std::filesystem::exists(map_path));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "ids.json.tmp"));
  const auto m = data::load_id_map(map_path);
  CHECK(m.num_users == 2);
  CHECK(m.num_items == 2);
  CHECK(m.user(0) == "alice");
  CHECK(m.item(2) == "pen");
  CHECK(m.source == d.source);
  REQUIRE_THROWS_WITH(m.item(3), Contains("out of range"));

  // Kept ids are stored as null and print as themselves.
  const auto plain = data::read_dataset(dir.write("p.txt", "1 1 2\n2 2 3\n"));
  data::save_id_map(plain, map_path);  // overwrites
  const auto pm = data::load_id_map(map_path);
  CHECK(pm.user_names.empty());
  CHECK(pm.item(3) == "3");

  const auto bad = dir.write("bad.json", "{\"slmrec_id_map\": 1, \"num_users\": 2, \"num_items\": 1, \"items\": [1]}");
  REQUIRE_THROWS_WITH(data::load_id_map(bad), Contains("bad.json") && Contains("'items'"));
  REQUIRE_THROWS_WITH(data::load_id_map(dir.write("junk.json", "{not json")), Contains("junk.json"));
}

TEST_CASE("dataset stats", "[data][stats]") {
  const auto s = data::compute_stats(make({{1}, {1, 2}, {1, 2, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, 10));
  CHECK(s.users == 4);
  CHECK(s.items == 10);
  CHECK(s.interactions == 16);
  CHECK(s.avg_len == Approx(4.0));
  CHECK(s.median_len == Approx(2.5));
  CHECK(s.min_len == 1);
  CHECK(s.max_len == 10);
  CHECK(s.density == Approx(16.0 / 40.0));
  const auto odd = data::compute_stats(make({{1}, {1, 2, 3}, {2, 3}}, 3));
  CHECK(odd.median_len == Approx(2.0));
}
