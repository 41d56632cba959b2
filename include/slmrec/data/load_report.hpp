#pragma once
// An account of everything a load read, kept and removed: every count a
// filter produces lands here, so nothing is dropped without a trace.
#include <fmt/format.h>

#include <slmrec/core/types.hpp>
#include <slmrec/data/load_options.hpp>
#include <string>
#include <vector>

namespace slmrec::data {

struct load_report {
  format detected = format::automatic;  // the reader that ran
  index lines_read = 0;                 // physical lines, header and blank lines included
  index blank_lines = 0;
  bool header = false;
  index interactions_read = 0;
  index users_read = 0;
  index items_read = 0;
  // Rating threshold (load_options::min_rating).
  index removed_by_threshold = 0;
  index users_removed_by_threshold = 0;  // users left without interactions
  index items_removed_by_threshold = 0;
  // De-duplication of repeated (user, item) pairs.
  index duplicates_removed = 0;
  // Iterative k-core (load_options::min_interactions).
  index kcore_rounds = 0;
  index users_removed_by_kcore = 0;
  index items_removed_by_kcore = 0;
  index interactions_removed_by_kcore = 0;
  index interactions_kept = 0;
  bool sorted_by_timestamp = false;
  bool users_remapped = false;
  bool items_remapped = false;
  std::vector<std::string> notes;  // why ids were remapped, and the like

  // A multi-line human-readable account (for the command-line tools).
  [[nodiscard]] std::string summary() const {
    std::string out = fmt::format("format: {}{}\n", format_name(detected), header ? " (with header)" : "");
    out += fmt::format("lines read: {} ({} blank)\n", lines_read, blank_lines);
    out += fmt::format("interactions read: {} ({} users, {} items)\n", interactions_read, users_read, items_read);
    if (removed_by_threshold > 0 || users_removed_by_threshold > 0 || items_removed_by_threshold > 0)
      out += fmt::format("removed by rating threshold: {} interactions ({} users, {} items left with none)\n",
                         removed_by_threshold, users_removed_by_threshold, items_removed_by_threshold);
    if (duplicates_removed > 0) out += fmt::format("duplicates removed: {}\n", duplicates_removed);
    if (kcore_rounds > 0)
      out += fmt::format("removed by k-core ({} rounds): {} interactions, {} users, {} items\n", kcore_rounds,
                         interactions_removed_by_kcore, users_removed_by_kcore, items_removed_by_kcore);
    out += fmt::format("interactions kept: {}\n", interactions_kept);
    if (sorted_by_timestamp) out += "each user's interactions sorted by timestamp (stable)\n";
    for (const auto& note : notes) out += fmt::format("note: {}\n", note);
    return out;
  }
};

}  // namespace slmrec::data
