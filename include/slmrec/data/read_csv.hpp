#pragma once
// Format (d): comma-separated `user,item[,rating[,timestamp]]` with string
// ids, as in the raw Amazon review "ratings only" dumps. The header is
// optional; quoted fields ("a,b", "say ""hi""") are accepted.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <slmrec/core/error.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/detail/records.hpp>
#include <slmrec/data/detail/text.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace slmrec::data {

namespace detail {

// Splits one CSV line (RFC 4180 quoting, no line breaks inside quotes).
inline void split_csv(std::string_view line, std::vector<std::string>& fields, const std::string& source,
                      index number) {
  fields.clear();
  std::size_t pos = 0;
  const auto skip_blanks = [&] {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
  };
  for (;;) {
    std::string field;
    skip_blanks();
    if (pos < line.size() && line[pos] == '"') {
      ++pos;
      for (;;) {
        if (pos >= line.size())
          fail("{}:{}: expected a closing '\"' for quoted field {}, found the end of the line", source, number,
               fields.size() + 1);
        const char c = line[pos++];
        if (c != '"') {
          field += c;
        } else if (pos < line.size() && line[pos] == '"') {
          field += '"';
          ++pos;
        } else {
          break;
        }
      }
      skip_blanks();
      if (pos < line.size() && line[pos] != ',')
        fail("{}:{}: expected ',' after the closing quote of field {}, found '{}'", source, number, fields.size() + 1,
             detail::shown(line.substr(pos, 1)));
    } else {
      const auto comma = std::min(line.find(',', pos), line.size());
      field = trim(line.substr(pos, comma - pos));
      pos = comma;
    }
    fields.push_back(std::move(field));
    if (pos >= line.size()) return;
    ++pos;  // the comma
  }
}

inline std::string lowercase(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Column names we recognise in a CSV header (Amazon 2014/2018 dumps,
// RecBole-like and generic spellings).
struct csv_names {
  static constexpr std::array<std::string_view, 6> user = {"user",       "user_id",     "userid",
                                                           "reviewerid", "reviewer_id", "customer_id"};
  static constexpr std::array<std::string_view, 7> item = {"item",        "item_id",    "itemid",   "asin",
                                                           "parent_asin", "product_id", "productid"};
  static constexpr std::array<std::string_view, 4> rating = {"rating", "overall", "score", "stars"};
  static constexpr std::array<std::string_view, 5> time = {"timestamp", "time", "unixreviewtime", "unix_review_time",
                                                           "ts"};
};

template <std::size_t N>
inline index find_name(const std::vector<std::string>& fields, const std::array<std::string_view, N>& names) {
  for (std::size_t k = 0; k < fields.size(); ++k)
    if (std::find(names.begin(), names.end(), lowercase(fields[k])) != names.end()) return static_cast<index>(k);
  return -1;
}

}  // namespace detail

// Parses the text of a CSV file; `source` names it in messages.
inline dataset parse_csv(std::string_view text, const std::string& source, const load_options& options = {}) {
  load_report report;
  report.detected = format::csv;
  detail::line_reader lines(text);
  std::string_view line;
  std::vector<std::string> fields;
  bool any = false;
  while (lines.next(line)) {
    if (!detail::is_blank(line)) {
      any = true;
      break;
    }
    ++report.blank_lines;
  }
  if (!any)
    fail("{}:1: expected lines 'user,item[,rating[,timestamp]]', found {}", source,
         lines.number() == 0 ? "an empty file" : "only blank lines");

  // The first line is a header when it names a column we know, or when the
  // rating/timestamp positions hold words: ids are strings, so a two-column
  // header is only recognisable by its names.
  const index first_line = lines.number();
  detail::split_csv(line, fields, source, first_line);
  const index width = static_cast<index>(fields.size());
  double number_value = 0.0;
  const bool named = detail::find_name(fields, detail::csv_names::user) >= 0 ||
                     detail::find_name(fields, detail::csv_names::item) >= 0 ||
                     detail::find_name(fields, detail::csv_names::rating) >= 0 ||
                     detail::find_name(fields, detail::csv_names::time) >= 0;
  const bool wordy = (width >= 3 && !detail::parse_real(fields[2], number_value)) ||
                     (width >= 4 && !detail::parse_real(fields[3], number_value));
  index user_col = 0, item_col = 1, rating_col = width >= 3 ? 2 : -1, time_col = width >= 4 ? 3 : -1;
  if (named || wordy) {
    report.header = true;
    user_col = detail::find_name(fields, detail::csv_names::user);
    item_col = detail::find_name(fields, detail::csv_names::item);
    rating_col = detail::find_name(fields, detail::csv_names::rating);
    time_col = detail::find_name(fields, detail::csv_names::time);
    if (user_col < 0 || item_col < 0)
      fail(
          "{}:{}: the header does not parse: expected columns named like user,item,rating,timestamp (user/item "
          "columns are required), found '{}'",
          source, first_line, fmt::join(fields, ","));
  } else {
    if (width < 2 || width > 4)
      fail(
          "{}:{}: expected 2 to 4 comma-separated fields 'user,item[,rating[,timestamp]]' (or a header naming the "
          "columns), found {}",
          source, first_line, width);
    if (options.csv_item_first) std::swap(user_col, item_col);
  }

  detail::records rec;
  rec.has_rating = rating_col >= 0;
  rec.has_time = time_col >= 0;
  const std::vector<std::string> header_fields = report.header ? fields : std::vector<std::string>{};
  const auto describe = [&](index col, std::string_view role) {
    return report.header ? fmt::format("column '{}'", header_fields[static_cast<std::size_t>(col)])
                         : fmt::format("the {} column", role);
  };

  bool pending = !report.header;  // the first line is data when there is no header
  for (;;) {
    if (!pending) {
      if (!lines.next(line)) break;
      if (detail::is_blank(line)) {
        ++report.blank_lines;
        continue;
      }
      detail::split_csv(line, fields, source, lines.number());
    }
    pending = false;
    const index number = lines.number();
    if (static_cast<index>(fields.size()) != width)
      fail("{}:{}: expected {} comma-separated fields (as on line {}), found {}", source, number, width, first_line,
           fields.size());
    const auto& user = fields[static_cast<std::size_t>(user_col)];
    const auto& item = fields[static_cast<std::size_t>(item_col)];
    if (user.empty())
      fail("{}:{}: expected a user id in {}, found an empty field", source, number, describe(user_col, "user"));
    if (item.empty())
      fail("{}:{}: expected an item id in {}, found an empty field", source, number, describe(item_col, "item"));
    double rating = 0.0, time = 0.0;
    if (rec.has_rating && !detail::parse_real(fields[static_cast<std::size_t>(rating_col)], rating))
      fail("{}:{}: expected a numeric rating in {}, found '{}'", source, number, describe(rating_col, "rating"),
           detail::shown(fields[static_cast<std::size_t>(rating_col)]));
    if (rec.has_time && !detail::parse_real(fields[static_cast<std::size_t>(time_col)], time))
      fail("{}:{}: expected a numeric timestamp in {}, found '{}'", source, number, describe(time_col, "timestamp"),
           detail::shown(fields[static_cast<std::size_t>(time_col)]));
    rec.add(user, item, rating, time);
  }
  report.lines_read = lines.number();
  if (rec.user.empty())
    fail("{}:{}: expected interactions after the header on line {}, found none", source, first_line + 1, first_line);
  return detail::group_records(std::move(rec), source, options, std::move(report));
}

}  // namespace slmrec::data
