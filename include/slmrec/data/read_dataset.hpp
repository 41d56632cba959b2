#pragma once
// read_dataset: read a file in any supported format, apply the filters of
// load_options and return the dataset with its load_report.
#include <algorithm>
#include <filesystem>
#include <slmrec/core/error.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/detail/text.hpp>
#include <slmrec/data/filter.hpp>
#include <slmrec/data/load_options.hpp>
#include <slmrec/data/read_csv.hpp>
#include <slmrec/data/read_interactions.hpp>
#include <slmrec/data/read_recbole.hpp>
#include <slmrec/data/read_sequences.hpp>
#include <string>
#include <string_view>

namespace slmrec::data {

// Decides the format of a file from its extension, then its content:
// `.inter` or a typed `name:token` header -> recbole; `.csv` or commas ->
// csv; otherwise whitespace-separated integers, where any line with three or
// more fields means one user per line (a) and two fields everywhere means one
// interaction per line (b). (A file of two-field lines reads the same either
// way when no user repeats, so the choice cannot change the result.)
[[nodiscard]] inline format detect_format(const std::filesystem::path& path, std::string_view text) {
  const std::string extension = detail::lowercase(path.extension().string());
  if (extension == ".inter") return format::recbole;
  if (extension == ".csv") return format::csv;
  detail::line_reader lines(text);
  std::string_view line;
  while (lines.next(line))
    if (!detail::is_blank(line)) break;
  if (line.find(":token") != std::string_view::npos || line.find(":float") != std::string_view::npos)
    return format::recbole;
  if (line.find(',') != std::string_view::npos) return format::csv;
  index widest = detail::count_tokens(line);
  while (widest <= 2 && lines.next(line)) widest = std::max(widest, detail::count_tokens(line));
  return widest > 2 ? format::sequences : format::interactions;
}

// Parses text already in memory (`source` names it in messages and in the
// dataset); read_dataset is this on a file's content.
[[nodiscard]] inline dataset parse_dataset(std::string_view text, const std::string& source,
                                           const load_options& options = {}) {
  const format kind = options.input_format == format::automatic ? detect_format(source, text) : options.input_format;
  if (options.min_rating && (kind == format::sequences || kind == format::interactions))
    fail("{}: a minimum rating of {} was requested, but format '{}' has no rating column", source, *options.min_rating,
         format_name(kind));
  dataset d;
  switch (kind) {
    case format::sequences:
      d = parse_sequences(text, source);
      break;
    case format::interactions:
      d = parse_interactions(text, source);
      break;
    case format::recbole:
      d = parse_recbole(text, source, options);
      break;
    case format::csv:
      d = parse_csv(text, source, options);
      break;
    case format::automatic:
      fail("{}: internal error: format not decided", source);
  }
  apply_filters(d, options);
  if (d.report.interactions_kept == 0)
    fail("{}: no interactions left after filtering; load report:\n{}", source, d.report.summary());
  return d;
}

[[nodiscard]] inline dataset read_dataset(const std::filesystem::path& path, const load_options& options = {}) {
  return parse_dataset(detail::read_file(path), path.string(), options);
}

}  // namespace slmrec::data
