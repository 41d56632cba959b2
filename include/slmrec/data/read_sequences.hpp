#pragma once
// Format (a): one user per line, `user item1 item2 ...`, whitespace
// separated, items in chronological order (the S3-Rec files).
#include <cstdint>
#include <slmrec/core/error.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/detail/numeric_ids.hpp>
#include <slmrec/data/detail/text.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace slmrec::data {

// Parses the text of a format-(a) file; `source` names it in messages.
inline dataset parse_sequences(std::string_view text, const std::string& source) {
  load_report report;
  report.detected = format::sequences;
  std::vector<std::int32_t> users;
  sequence_table sequences;                            // one flat array: no per-user block or growth slack
  std::unordered_map<std::int32_t, index> first_line;  // a user given twice has no defined order
  detail::line_reader lines(text);
  std::string_view line;
  std::vector<std::int32_t> items;  // one line's items, reused
  while (lines.next(line)) {
    if (detail::is_blank(line)) {
      ++report.blank_lines;
      continue;
    }
    const index number = lines.number();
    std::string_view rest = line, token;
    detail::next_token(rest, token);
    const std::int32_t user = detail::parse_id(token, source, number, "user id");
    const auto [seen, fresh] = first_line.try_emplace(user, number);
    if (!fresh)
      fail("{}:{}: expected one line per user, found user {} again (first on line {})", source, number, user,
           seen->second);
    items.clear();
    while (detail::next_token(rest, token)) items.push_back(detail::parse_id(token, source, number, "item id"));
    if (items.empty())
      fail("{}:{}: user {} has no items: expected 'user item1 item2 ...', found only the user id", source, number,
           user);
    users.push_back(user);
    sequences.push_back(items);
  }
  report.lines_read = lines.number();
  if (users.empty())
    fail("{}:1: expected lines 'user item1 item2 ...', found {}", source,
         report.lines_read == 0 ? "an empty file" : "only blank lines");
  return detail::from_numeric(std::move(users), std::move(sequences), source, std::move(report));
}

}  // namespace slmrec::data
