#pragma once
// Format (c): RecBole atomic files (`.inter`). Tab-separated; the first line
// declares typed fields, e.g. `user_id:token<TAB>item_id:token<TAB>rating:float
// <TAB>timestamp:float`, in any order; rating and timestamp are optional.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <slmrec/core/error.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/detail/records.hpp>
#include <slmrec/data/detail/text.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace slmrec::data {

namespace detail {

inline void split_tabs(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  for (;;) {
    const auto tab = line.find('\t');
    fields.push_back(trim(line.substr(0, tab)));
    if (tab == std::string_view::npos) return;
    line.remove_prefix(tab + 1);
  }
}

inline index find_column(const std::vector<std::string>& names, std::string_view wanted) {
  for (std::size_t k = 0; k < names.size(); ++k)
    if (names[k] == wanted) return static_cast<index>(k);
  return -1;
}

}  // namespace detail

// Parses the text of a RecBole `.inter` file; `source` names it in messages.
inline dataset parse_recbole(std::string_view text, const std::string& source, const load_options& options = {}) {
  load_report report;
  report.detected = format::recbole;
  report.header = true;
  detail::line_reader lines(text);
  std::string_view line;
  bool has_header = false;
  while (lines.next(line)) {
    if (!detail::is_blank(line)) {
      has_header = true;
      break;
    }
    ++report.blank_lines;
  }
  if (!has_header)
    fail("{}:1: expected a RecBole header such as 'user_id:token<TAB>item_id:token', found {}", source,
         lines.number() == 0 ? "an empty file" : "only blank lines");

  const index header_line = lines.number();
  std::vector<std::string_view> fields;
  detail::split_tabs(line, fields);
  std::vector<std::string> names;
  constexpr std::array<std::string_view, 4> types = {"token", "token_seq", "float", "float_seq"};
  for (std::size_t k = 0; k < fields.size(); ++k) {
    const auto field = fields[k];
    const auto colon = field.rfind(':');
    const auto type = colon == std::string_view::npos ? std::string_view{} : field.substr(colon + 1);
    if (colon == std::string_view::npos || colon == 0 || std::find(types.begin(), types.end(), type) == types.end())
      fail(
          "{}:{}: the header does not parse: expected tab-separated 'name:type' fields with type token, token_seq, "
          "float or float_seq, found '{}' as field {}",
          source, header_line, detail::shown(field), k + 1);
    names.emplace_back(field.substr(0, colon));
  }
  const index user_col = detail::find_column(names, options.user_column);
  const index item_col = detail::find_column(names, options.item_column);
  const index rating_col = detail::find_column(names, options.rating_column);
  const index time_col = detail::find_column(names, options.timestamp_column);
  if (user_col < 0 || item_col < 0) {
    std::string found;
    for (const auto& name : names) found += (found.empty() ? "" : ", ") + detail::shown(name);
    fail("{}:{}: missing column: expected fields '{}' and '{}' in the header, found {}", source, header_line,
         options.user_column, options.item_column, found);
  }

  detail::records rec;
  rec.has_rating = rating_col >= 0;
  rec.has_time = time_col >= 0;
  while (lines.next(line)) {
    if (detail::is_blank(line)) {
      ++report.blank_lines;
      continue;
    }
    const index number = lines.number();
    detail::split_tabs(line, fields);
    if (fields.size() != names.size())
      fail("{}:{}: expected {} tab-separated fields as declared by the header on line {}, found {}", source, number,
           names.size(), header_line, fields.size());
    const auto user = fields[static_cast<std::size_t>(user_col)];
    const auto item = fields[static_cast<std::size_t>(item_col)];
    if (user.empty())
      fail("{}:{}: expected a user id in field '{}', found an empty field", source, number,
           names[static_cast<std::size_t>(user_col)]);
    if (item.empty())
      fail("{}:{}: expected an item id in field '{}', found an empty field", source, number,
           names[static_cast<std::size_t>(item_col)]);
    double rating = 0.0, time = 0.0;
    if (rec.has_rating && !detail::parse_real(fields[static_cast<std::size_t>(rating_col)], rating))
      fail("{}:{}: expected a number in field '{}', found '{}'", source, number, options.rating_column,
           detail::shown(fields[static_cast<std::size_t>(rating_col)]));
    if (rec.has_time && !detail::parse_real(fields[static_cast<std::size_t>(time_col)], time))
      fail("{}:{}: expected a number in field '{}', found '{}'", source, number, options.timestamp_column,
           detail::shown(fields[static_cast<std::size_t>(time_col)]));
    rec.add(user, item, rating, time);
  }
  report.lines_read = lines.number();
  if (rec.user.empty())
    fail("{}:{}: expected interactions after the header on line {}, found none", source, header_line + 1, header_line);
  return detail::group_records(std::move(rec), source, options, std::move(report));
}

}  // namespace slmrec::data
