// Format (c) RecBole `.inter`: typed header, string ids, timestamps, ratings.
#include <catch2/catch.hpp>
#include <slmrec/data/read_dataset.hpp>

#include "support/temp_dir.hpp"

using Catch::Contains;
using seqs = std::vector<std::vector<std::int32_t>>;
using names = std::vector<std::string>;
namespace data = slmrec::data;

TEST_CASE("recbole: columns in any order, ids by first appearance, stable sort by timestamp", "[data][recbole]") {
  slmrec::test::temp_dir dir;
  const auto path = dir.write("toy.inter",
                              "timestamp:float\titem_id:token\tuser_id:token\trating:float\n"
                              "30\tbook\talice\t5\n"
                              "10\tpen\talice\t4\n"
                              "20\tpen\tbob\t3\n"
                              "30\tink\talice\t5\n"  // ties with "book": file order kept
                              "5\tbook\tbob\t1\n");
  const auto d = data::read_dataset(path);
  CHECK(d.report.detected == data::format::recbole);
  CHECK(d.report.header);
  CHECK(d.report.sorted_by_timestamp);
  CHECK(d.user_names == names{"alice", "bob"});
  CHECK(d.item_names == names{"book", "pen", "ink"});
  CHECK(d.sequences == seqs{{2, 1, 3}, {1, 2}});
  CHECK(d.report.users_remapped);
  CHECK(d.report.items_remapped);
  CHECK(d.report.interactions_read == 5);
  CHECK(d.report.interactions_kept == 5);

  SECTION("rating threshold counts what it removes, including emptied users and items") {
    const auto t = data::read_dataset(path, {.min_rating = 4.0});
    CHECK(t.report.removed_by_threshold == 2);
    CHECK(t.report.users_removed_by_threshold == 1);  // bob rated 3 and 1
    CHECK(t.report.items_removed_by_threshold == 0);
    CHECK(t.user_names == names{"alice"});
    CHECK(t.sequences == seqs{{2, 1, 3}});
    CHECK(t.report.interactions_kept == 3);
    const auto all = data::read_dataset(path, {.min_rating = 5.0});
    CHECK(all.item_names == names{"book", "ink"});
    CHECK(all.report.items_removed_by_threshold == 1);
    CHECK(all.sequences == seqs{{1, 2}});
    REQUIRE_THROWS_WITH(data::read_dataset(path, {.min_rating = 6.0}), Contains("no interactions left"));
  }
}

TEST_CASE("recbole: rating and timestamp are optional; CRLF, no final newline", "[data][recbole]") {
  slmrec::test::temp_dir dir;
  const auto path = dir.write("plain.inter", "user_id:token\titem_id:token\r\nu1\ti2\r\nu1\ti1\r\n\r\nu2\ti1");
  const auto d = data::read_dataset(path);
  CHECK_FALSE(d.report.sorted_by_timestamp);
  CHECK(d.sequences == seqs{{1, 2}, {2}});
  CHECK(d.item_names == names{"i2", "i1"});
  CHECK(d.report.lines_read == 5);
  CHECK(d.report.blank_lines == 1);
  REQUIRE_THROWS_WITH(data::read_dataset(path, {.min_rating = 3.0}),
                      Contains("plain.inter") && Contains("no rating column"));
}

TEST_CASE("recbole: custom field names", "[data][recbole]") {
  slmrec::test::temp_dir dir;
  const auto path = dir.write("custom.txt", "uid:token\tiid:token\nA\tX\n");
  const auto d =
      data::read_dataset(path, {.input_format = data::format::recbole, .user_column = "uid", .item_column = "iid"});
  CHECK(d.sequences == seqs{{1}});
}

TEST_CASE("recbole: bad input names the file, the line and what was expected", "[data][recbole][errors]") {
  slmrec::test::temp_dir dir;
  const auto fails = [&](const std::string& name, std::string_view text) {
    return [&dir, name, text] { (void)data::read_dataset(dir.write(name, text)); };
  };
  REQUIRE_THROWS_WITH(fails("untyped.inter", "user_id\titem_id\nu\ti\n")(),
                      Contains("untyped.inter:1:") && Contains("header does not parse") && Contains("'user_id'"));
  REQUIRE_THROWS_WITH(
      fails("badtype.inter", "\nuser_id:token\titem_id:string\nu\ti\n")(),
      Contains("badtype.inter:2:") && Contains("header does not parse") && Contains("'item_id:string'"));
  REQUIRE_THROWS_WITH(fails("noitem.inter", "user_id:token\trating:float\nu\t1\n")(),
                      Contains("noitem.inter:1:") && Contains("missing column") && Contains("'item_id'"));
  REQUIRE_THROWS_WITH(
      fails("short.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\nu\ti\t1\t2\nu\tj\t3\n")(),
      Contains("short.inter:3:") && Contains("expected 4 tab-separated fields") && Contains("found 3"));
  REQUIRE_THROWS_WITH(
      fails("rating.inter", "user_id:token\titem_id:token\trating:float\nu\ti\t1\nu\tj\tgood\n")(),
      Contains("rating.inter:3:") && Contains("expected a number in field 'rating'") && Contains("'good'"));
  REQUIRE_THROWS_WITH(fails("nan.inter", "user_id:token\titem_id:token\ttimestamp:float\nu\ti\tnan\n")(),
                      Contains("nan.inter:2:") && Contains("'timestamp'"));
  REQUIRE_THROWS_WITH(fails("emptyid.inter", "user_id:token\titem_id:token\nu\t\n")(),
                      Contains("emptyid.inter:2:") && Contains("expected an item id"));
  REQUIRE_THROWS_WITH(fails("header_only.inter", "user_id:token\titem_id:token\n")(),
                      Contains("header_only.inter:2:") && Contains("found none"));
  REQUIRE_THROWS_WITH(fails("empty.inter", "")(), Contains("empty.inter:1:") && Contains("empty file"));
}
