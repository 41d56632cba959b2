// Format (b) `user item` per line: parsing and every bad input.
#include <catch2/catch.hpp>
#include <slmrec/data/read_dataset.hpp>

#include "support/temp_dir.hpp"

using Catch::Contains;
using seqs = std::vector<std::vector<std::int32_t>>;
namespace data = slmrec::data;

namespace {

data::dataset load(const slmrec::test::temp_dir& dir, const std::string& name, std::string_view text) {
  return data::read_dataset(dir.write(name, text), {.input_format = data::format::interactions});
}

}  // namespace

TEST_CASE("interactions: contiguous users in chronological order", "[data][interactions]") {
  slmrec::test::temp_dir dir;
  const auto d = load(dir, "b.txt", "1 3\n1 1\n1 2\n2 2\n3 1\n3 3\n");
  CHECK(d.sequences == seqs{{3, 1, 2}, {2}, {1, 3}});
  CHECK(d.num_items == 3);
  CHECK(d.report.detected == data::format::interactions);
  CHECK(d.report.interactions_read == 6);
  CHECK(d.report.users_read == 3);
  CHECK(d.user_names.empty());
  CHECK(d.item_names.empty());
}

TEST_CASE("interactions: CRLF and a missing final newline", "[data][interactions]") {
  slmrec::test::temp_dir dir;
  const auto d = load(dir, "crlf.txt", "1 3\r\n1 1\r\n\r\n2 2\r\n2 1");
  CHECK(d.sequences == seqs{{3, 1}, {2, 1}});
  CHECK(d.report.lines_read == 5);
  CHECK(d.report.blank_lines == 1);
}

TEST_CASE("interactions: sparse ids are renumbered in increasing order", "[data][interactions]") {
  slmrec::test::temp_dir dir;
  const auto d = load(dir, "sparse.txt", "10 5\n10 9\n4 9\n");
  CHECK(d.sequences == seqs{{2}, {1, 2}});
  CHECK(d.user_names == std::vector<std::string>{"4", "10"});
  CHECK(d.item_names == std::vector<std::string>{"5", "9"});
  CHECK(d.report.notes.size() == 2);
}

TEST_CASE("interactions: bad input names the file, the line and what was expected", "[data][interactions][errors]") {
  slmrec::test::temp_dir dir;
  const auto fails = [&](const std::string& name, std::string_view text) {
    return [&dir, name, text] { (void)load(dir, name, text); };
  };
  REQUIRE_THROWS_WITH(fails("split.txt", "1 1\n1 2\n2 3\n1 4\n")(), Contains("split.txt:4:") &&
                                                                        Contains("contiguous") && Contains("user 1") &&
                                                                        Contains("started on line 1"));
  REQUIRE_THROWS_WITH(fails("missing.txt", "1 1\n2\n")(), Contains("missing.txt:2:") &&
                                                              Contains("expected 2 fields 'user item', found 1") &&
                                                              Contains("missing item column"));
  REQUIRE_THROWS_WITH(fails("extra.txt", "1 1\n2 3 4 5\n")(),
                      Contains("extra.txt:2:") && Contains("expected 2 fields 'user item', found 4"));
  REQUIRE_THROWS_WITH(fails("word.txt", "1 1\r\nbob 2\r\n")(),
                      Contains("word.txt:2:") && Contains("expected a positive integer user id") && Contains("'bob'"));
  REQUIRE_THROWS_WITH(fails("neg.txt", "1 1\n2 -2\n")(), Contains("neg.txt:2:") && Contains("'-2'"));
  REQUIRE_THROWS_WITH(fails("empty.txt", "")(), Contains("empty.txt:1:") && Contains("empty file"));
}
