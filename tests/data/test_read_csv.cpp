// Format (d) CSV `user,item,rating,timestamp` (raw Amazon dumps).
#include <catch2/catch.hpp>
#include <slmrec/data/read_dataset.hpp>

#include "support/temp_dir.hpp"

using Catch::Contains;
using seqs = std::vector<std::vector<std::int32_t>>;
using names = std::vector<std::string>;
namespace data = slmrec::data;

TEST_CASE("csv: Amazon ratings dump without header", "[data][csv]") {
  slmrec::test::temp_dir dir;
  const auto path = dir.write("ratings_Beauty.csv",
                              "A39HTATAQ9V7YF,0205616461,5.0,1369699200\n"
                              "A3JM6GV9MNOF9X,0558925278,3.0,1355443200\n"
                              "A39HTATAQ9V7YF,0558925278,4.0,1355443100\n");
  const auto d = data::read_dataset(path);
  CHECK(d.report.detected == data::format::csv);
  CHECK_FALSE(d.report.header);
  CHECK(d.user_names == names{"A39HTATAQ9V7YF", "A3JM6GV9MNOF9X"});
  CHECK(d.item_names == names{"0205616461", "0558925278"});  // leading zeros kept: ids are strings
  CHECK(d.sequences == seqs{{2, 1}, {2}});
  CHECK(d.report.sorted_by_timestamp);

  SECTION("item-first column order (Amazon 2018)") {
    const auto f = data::read_dataset(path, {.csv_item_first = true});
    CHECK(f.user_names == names{"0205616461", "0558925278"});
  }
}

TEST_CASE("csv: header, reordered columns, quotes, CRLF, no final newline", "[data][csv]") {
  slmrec::test::temp_dir dir;
  const auto path = dir.write("reviews.txt",
                              "asin,reviewerID,overall,unixReviewTime\r\n"
                              "\"B,1\",u1,5,300\r\n"
                              "B2, \"u \"\"quoted\"\"\" ,4,100\r\n"
                              "\r\n"
                              "B2,u1,2,200");
  const auto d = data::read_dataset(path);
  CHECK(d.report.detected == data::format::csv);
  CHECK(d.report.header);
  CHECK(d.user_names == names{"u1", "u \"quoted\""});
  CHECK(d.item_names == names{"B,1", "B2"});
  CHECK(d.sequences == seqs{{2, 1}, {2}});
  CHECK(d.report.lines_read == 5);
  CHECK(d.report.blank_lines == 1);
}

TEST_CASE("csv: two columns, no header, file order", "[data][csv]") {
  slmrec::test::temp_dir dir;
  const auto d = data::read_dataset(dir.write("pairs.csv", "a,x\nb,y\na,y\n"));
  CHECK_FALSE(d.report.sorted_by_timestamp);
  CHECK(d.sequences == seqs{{1, 2}, {2}});
}

TEST_CASE("csv: de-duplication keeps the earliest repeat and counts the rest", "[data][csv]") {
  slmrec::test::temp_dir dir;
  const auto path = dir.write("dups.csv", "user,item,rating,timestamp\nA,X,5,3\nA,X,4,1\nA,Y,5,2\nB,X,1,1\n");
  const auto kept = data::read_dataset(path);
  CHECK(kept.sequences == seqs{{1, 2, 1}, {1}});
  CHECK(kept.report.duplicates_removed == 0);
  const auto d = data::read_dataset(path, {.deduplicate = true});
  CHECK(d.sequences == seqs{{1, 2}, {1}});
  CHECK(d.report.duplicates_removed == 1);
  CHECK(d.report.interactions_kept == 3);
}

TEST_CASE("csv: bad input names the file, the line and what was expected", "[data][csv][errors]") {
  slmrec::test::temp_dir dir;
  const auto fails = [&](const std::string& name, std::string_view text) {
    return [&dir, name, text] { (void)data::read_dataset(dir.write(name, text)); };
  };
  REQUIRE_THROWS_WITH(fails("quote.csv", "a,b,5,1\n\"a,b,5,1\n")(),
                      Contains("quote.csv:2:") && Contains("closing '\"'"));
  REQUIRE_THROWS_WITH(fails("after.csv", "\"a\"x,b\n")(), Contains("after.csv:1:") && Contains("expected ','"));
  REQUIRE_THROWS_WITH(fails("width.csv", "a,b,5,1\na,c,4\n")(),
                      Contains("width.csv:2:") && Contains("expected 4 comma-separated fields") && Contains("found 3"));
  REQUIRE_THROWS_WITH(fails("rating.csv", "a,b,5,1\na,c,4,2\nb,c,five,3\n")(),
                      Contains("rating.csv:3:") && Contains("expected a numeric rating") && Contains("'five'"));
  REQUIRE_THROWS_WITH(
      fails("time.csv", "user,item,rating,timestamp\na,c,4,2\nb,c,5,2020-01-01\n")(),
      Contains("time.csv:3:") && Contains("numeric timestamp in column 'timestamp'") && Contains("'2020-01-01'"));
  REQUIRE_THROWS_WITH(fails("header.csv", "who,what,how,when\na,b,1,2\n")(),
                      Contains("header.csv:1:") && Contains("header does not parse") && Contains("who,what,how,when"));
  REQUIRE_THROWS_WITH(fails("wide.csv", "a,b,1,2,3\n")(), Contains("wide.csv:1:") &&
                                                              Contains("expected 2 to 4 comma-separated fields") &&
                                                              Contains("found 5"));
  REQUIRE_THROWS_WITH(fails("emptyuser.csv", "a,b\n,c\n")(), Contains("emptyuser.csv:2:") && Contains("user id"));
  REQUIRE_THROWS_WITH(fails("header_only.csv", "user,item\n")(),
                      Contains("header_only.csv:2:") && Contains("found none"));
  REQUIRE_THROWS_WITH(fails("empty.csv", "\r\n")(), Contains("empty.csv:1:") && Contains("only blank lines"));
}

TEST_CASE("format detection from extension and content", "[data][detect]") {
  using data::detect_format;
  using data::format;
  CHECK(detect_format("x.inter", "1 2 3") == format::recbole);
  CHECK(detect_format("x.CSV", "1 2 3") == format::csv);
  CHECK(detect_format("x.txt", "\nuser_id:token\titem_id:token\n") == format::recbole);
  CHECK(detect_format("x.txt", "a,b,1,2\n") == format::csv);
  CHECK(detect_format("x.txt", "1 2\n1 3\n2 5 6\n") == format::sequences);
  CHECK(detect_format("x.txt", "1 2\n1 3\n2 5\n") == format::interactions);
  CHECK(data::parse_format("recbole") == format::recbole);
  REQUIRE_THROWS_WITH(data::parse_format("parquet"), Contains("parquet"));
}
