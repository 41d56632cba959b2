#pragma once
// Format (b): one interaction per line, `user item`, whitespace separated;
// a user's lines are contiguous and chronological (SASRec / BERT4Rec files).
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

// Parses the text of a format-(b) file; `source` names it in messages.
inline dataset parse_interactions(std::string_view text, const std::string& source) {
  load_report report;
  report.detected = format::interactions;
  std::vector<std::int32_t> users;
  sequence_table sequences;
  // The line each user started on: the order of a user whose lines are split
  // by other users' lines is not chronological by construction, so we refuse.
  std::unordered_map<std::int32_t, index> first_line;
  detail::line_reader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (detail::is_blank(line)) {
      ++report.blank_lines;
      continue;
    }
    const index number = lines.number();
    std::string_view rest = line, user_token, item_token, extra;
    detail::next_token(rest, user_token);
    if (!detail::next_token(rest, item_token))
      fail("{}:{}: expected 2 fields 'user item', found 1 ('{}'): missing item column", source, number,
           detail::shown(user_token));
    if (detail::next_token(rest, extra))
      fail("{}:{}: expected 2 fields 'user item', found {}", source, number, 2 + 1 + detail::count_tokens(rest));
    const std::int32_t user = detail::parse_id(user_token, source, number, "user id");
    const std::int32_t item = detail::parse_id(item_token, source, number, "item id");
    if (users.empty() || users.back() != user) {
      const auto [seen, fresh] = first_line.try_emplace(user, number);
      if (!fresh)
        fail(
            "{}:{}: expected each user's lines to be contiguous, found user {} again after other users (its lines "
            "started on line {})",
            source, number, user, seen->second);
      users.push_back(user);
      sequences.push_empty();
    }
    sequences.append_to_last(item);
  }
  report.lines_read = lines.number();
  if (users.empty())
    fail("{}:1: expected lines 'user item', found {}", source,
         report.lines_read == 0 ? "an empty file" : "only blank lines");
  return detail::from_numeric(std::move(users), std::move(sequences), source, std::move(report));
}

}  // namespace slmrec::data
