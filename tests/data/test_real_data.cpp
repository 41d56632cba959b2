// The real files of ../shared/data: the statistics in its README.
#include <catch2/catch.hpp>
#include <slmrec/data/read_dataset.hpp>
#include <slmrec/data/split.hpp>
#include <slmrec/data/stats.hpp>

namespace data = slmrec::data;

TEST_CASE("S3-Rec Beauty.txt (format a) matches the README", "[data][real]") {
  const auto d = data::read_dataset(SLMREC_SHARED_DIR "/data/s3rec_beauty/Beauty.txt");
  CHECK(d.report.detected == data::format::sequences);
  CHECK_FALSE(d.report.users_remapped);
  CHECK_FALSE(d.report.items_remapped);
  CHECK(d.report.notes.empty());
  const auto s = data::compute_stats(d);
  CHECK(s.users == 22363);
  CHECK(s.items == 12101);
  CHECK(s.interactions == 198502);
  CHECK(s.avg_len == Approx(8.88).margin(0.005));
  CHECK(s.min_len == 5);
  CHECK(s.median_len == 6);
  CHECK(s.max_len == 204);
  CHECK(100 * s.density == Approx(0.073).margin(0.0005));

  const auto split = data::leave_one_out(d);
  CHECK(split.train_only_users == 0);  // min length 5
  CHECK(split.test.size() == 22363);
}

TEST_CASE("SASRec Video.txt (format b) matches the README", "[data][real]") {
  const auto d = data::read_dataset(SLMREC_SHARED_DIR "/data/sasrec_video_games/Video.txt");
  CHECK(d.report.detected == data::format::interactions);
  CHECK_FALSE(d.report.users_remapped);
  CHECK_FALSE(d.report.items_remapped);
  const auto s = data::compute_stats(d);
  CHECK(s.users == 31013);
  CHECK(s.items == 23715);
  CHECK(s.interactions == 287107);
  CHECK(s.avg_len == Approx(9.26).margin(0.005));
  CHECK(s.min_len == 1);
  CHECK(s.median_len == 6);
  CHECK(s.max_len == 860);

  const auto split = data::leave_one_out(d);
  CHECK(split.train_only_users == 112);  // README: 30 users with 1 interaction, 82 with 2
  CHECK(split.test.size() == 31013 - 112);
}
