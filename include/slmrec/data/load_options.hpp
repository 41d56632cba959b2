#pragma once
// What to read and which filters to apply while loading a dataset.
#include <optional>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <string>
#include <string_view>

namespace slmrec::data {

// The file formats we read (see ../shared/data/README.md).
enum class format {
  automatic,     // decide from the extension and the content
  sequences,     // (a) `user item1 item2 ...` per line (S3-Rec files)
  interactions,  // (b) `user item` per line, a user's lines contiguous and chronological (SASRec/BERT4Rec)
  recbole,       // (c) RecBole atomic `.inter`: tab-separated with a typed header
  csv,           // (d) `user,item[,rating[,timestamp]]` with string ids (raw Amazon dumps)
};

[[nodiscard]] inline std::string_view format_name(format f) {
  switch (f) {
    case format::automatic:
      return "auto";
    case format::sequences:
      return "sequences";
    case format::interactions:
      return "interactions";
    case format::recbole:
      return "recbole";
    case format::csv:
      return "csv";
  }
  return "unknown";
}

// The inverse of format_name (as typed on a command line).
[[nodiscard]] inline format parse_format(std::string_view name) {
  for (format f : {format::automatic, format::sequences, format::interactions, format::recbole, format::csv})
    if (name == format_name(f)) return f;
  fail("unknown data format '{}': expected auto, sequences, interactions, recbole or csv", name);
}

struct load_options {
  format input_format = format::automatic;
  // Keep only interactions whose rating is >= this (needs a rating column).
  std::optional<double> min_rating{};
  // Keep only the earliest of repeated (user, item) interactions.
  bool deduplicate = false;
  // Iterative k-core: repeat until every user and item has >= k interactions.
  // 0 or 1 switches it off.
  index min_interactions = 0;
  // Amazon 2018 "ratings only" CSVs are item,user,rating,timestamp; the 2014
  // ones are user,item,rating,timestamp. Only used for a CSV without header.
  bool csv_item_first = false;
  // RecBole field names (RecBole's USER_ID_FIELD, ITEM_ID_FIELD, ...).
  std::string user_column = "user_id";
  std::string item_column = "item_id";
  std::string rating_column = "rating";
  std::string timestamp_column = "timestamp";
};

}  // namespace slmrec::data
