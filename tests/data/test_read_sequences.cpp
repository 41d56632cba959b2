// Format (a) `user item1 item2 ...`: parsing, id handling and every bad input.
#include <catch2/catch.hpp>
#include <slmrec/data/read_dataset.hpp>

#include "support/temp_dir.hpp"

using Catch::Contains;
using seqs = std::vector<std::vector<std::int32_t>>;
namespace data = slmrec::data;

namespace {

data::dataset load(const slmrec::test::temp_dir& dir, const std::string& name, std::string_view text) {
  return data::read_dataset(dir.write(name, text), {.input_format = data::format::sequences});
}

}  // namespace

TEST_CASE("sequences: dense ids are kept and counted", "[data][sequences]") {
  slmrec::test::temp_dir dir;
  const auto d = load(dir, "a.txt", "1 1 2 3\n2 2 3\n3 4 1\n");
  CHECK(d.sequences == seqs{{1, 2, 3}, {2, 3}, {4, 1}});
  CHECK(d.num_items == 4);
  CHECK(d.user_names.empty());
  CHECK(d.item_names.empty());
  CHECK(d.source == (dir.path() / "a.txt").string());
  CHECK(d.report.detected == data::format::sequences);
  CHECK(d.report.lines_read == 3);
  CHECK(d.report.interactions_read == 7);
  CHECK(d.report.interactions_kept == 7);
  CHECK(d.report.users_read == 3);
  CHECK(d.report.items_read == 4);
  CHECK_FALSE(d.report.users_remapped);
  CHECK_FALSE(d.report.items_remapped);
  CHECK(d.report.notes.empty());
}

TEST_CASE("sequences: CRLF, blank lines, tabs and a missing final newline", "[data][sequences]") {
  slmrec::test::temp_dir dir;
  const auto d = load(dir, "crlf.txt", "1 1 2 3\r\n\r\n2\t2  3\r\n   \n3 4 1");
  CHECK(d.sequences == seqs{{1, 2, 3}, {2, 3}, {4, 1}});
  CHECK(d.report.lines_read == 5);
  CHECK(d.report.blank_lines == 2);
  CHECK(d.report.interactions_kept == 7);
}

TEST_CASE("sequences: users are placed by id, sparse ids are renumbered and reported", "[data][sequences]") {
  slmrec::test::temp_dir dir;
  SECTION("dense user ids out of order") {
    const auto d = load(dir, "order.txt", "2 1 2\n1 2 1\n");
    CHECK(d.sequences == seqs{{2, 1}, {1, 2}});
    CHECK(d.user_names.empty());
  }
  SECTION("sparse item ids") {
    const auto d = load(dir, "items.txt", "1 10 20\n2 20 30 10\n");
    CHECK(d.sequences == seqs{{1, 2}, {2, 3, 1}});
    CHECK(d.num_items == 3);
    CHECK(d.item_names == std::vector<std::string>{"10", "20", "30"});
    CHECK(d.item_name(3) == "30");
    CHECK(d.report.items_remapped);
    CHECK_FALSE(d.report.users_remapped);
    REQUIRE(d.report.notes.size() == 1);
    CHECK_THAT(d.report.notes[0], Contains("item ids are not dense"));
  }
  SECTION("a few huge item ids (distinct ids by sorting, not by a bitmap over 1..2e9)") {
    const auto d = load(dir, "huge.txt", "1 2000000000 7\n2 7 1500000000\n");
    CHECK(d.sequences == seqs{{3, 1}, {1, 2}});
    CHECK(d.item_names == std::vector<std::string>{"7", "1500000000", "2000000000"});
    CHECK(d.report.items_read == 3);
    CHECK(d.report.interactions_read == 4);
  }
  SECTION("sparse user ids") {
    const auto d = load(dir, "users.txt", "7 1 2\n3 2 1\n");
    CHECK(d.sequences == seqs{{2, 1}, {1, 2}});
    CHECK(d.user_names == std::vector<std::string>{"3", "7"});
    CHECK(d.user_name(1) == "7");
    CHECK(d.report.users_remapped);
  }
}

TEST_CASE("sequences: bad input names the file, the line and what was expected", "[data][sequences][errors]") {
  slmrec::test::temp_dir dir;
  const auto fails = [&](const std::string& name, std::string_view text) {
    return [&dir, name, text] { (void)load(dir, name, text); };
  };
  REQUIRE_THROWS_AS(fails("x.txt", "1 2\n2 x\n")(), slmrec::error);
  REQUIRE_THROWS_WITH(
      fails("nonnumeric.txt", "1 1 2\n2 1 x3 4\n")(),
      Contains("nonnumeric.txt:2:") && Contains("expected a positive integer item id") && Contains("'x3'"));
  REQUIRE_THROWS_WITH(fails("negative.txt", "1 1 2\n\n3 -4 2\n")(), Contains("negative.txt:3:") && Contains("'-4'"));
  REQUIRE_THROWS_WITH(fails("zero.txt", "0 1 2\n")(), Contains("zero.txt:1:") && Contains("user id") &&
                                                          Contains("reserved for padding") && Contains("'0'"));
  REQUIRE_THROWS_WITH(fails("zero_item.txt", "1 1 2\n2 0\n")(), Contains("zero_item.txt:2:") && Contains("'0'"));
  REQUIRE_THROWS_WITH(fails("float.txt", "1 1.5\n")(), Contains("float.txt:1:") && Contains("'1.5'"));
  REQUIRE_THROWS_WITH(fails("huge.txt", "1 3000000000\n")(), Contains("huge.txt:1:") && Contains("3000000000"));
  REQUIRE_THROWS_WITH(fails("empty.txt", "")(), Contains("empty.txt:1:") && Contains("empty file"));
  REQUIRE_THROWS_WITH(fails("blank.txt", "\n  \r\n")(), Contains("blank.txt:1:") && Contains("only blank lines"));
  REQUIRE_THROWS_WITH(fails("no_items.txt", "1 1 2\r\n2\r\n3 1\r\n")(),
                      Contains("no_items.txt:2:") && Contains("user 2 has no items") && Contains("only the user id"));
  REQUIRE_THROWS_WITH(fails("twice.txt", "1 1 2\n2 1\n1 3\n")(),
                      Contains("twice.txt:3:") && Contains("one line per user") && Contains("first on line 1"));
}

TEST_CASE("sequences: a missing file is an error naming it", "[data][sequences][errors]") {
  slmrec::test::temp_dir dir;
  REQUIRE_THROWS_WITH(data::read_dataset(dir.path() / "absent.txt"),
                      Contains("absent.txt") && Contains("no such file"));
  REQUIRE_THROWS_WITH(data::read_dataset(dir.path()), Contains("directory"));
}
