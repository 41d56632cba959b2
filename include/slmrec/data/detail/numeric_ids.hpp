#pragma once
// Turns the integer ids of formats (a) and (b) into a dataset: ids are kept
// when they are dense (exactly 1..n, as in every file of ../shared/data),
// otherwise renumbered in increasing id order with the originals kept as
// names, and the report says so.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <slmrec/core/error.hpp>
#include <slmrec/data/dataset.hpp>
#include <string>
#include <vector>

namespace slmrec::data::detail {

// users[k] is the (distinct) id of the k-th user in file order, sequences[k] its items.
inline dataset from_numeric(std::vector<std::int32_t> users, sequence_table sequences, const std::string& source,
                            load_report report) {
  require(users.size() == sequences.size(), "{}: {} user ids for {} sequences", source, users.size(), sequences.size());
  dataset d;
  d.source = source;

  // The distinct item ids, increasing. A presence bitmap over 1..largest id
  // finds them in one pass when it is no larger than the ids themselves (a
  // million-user file: 20 million ids, a 1M-bit map, where copying and
  // sorting every id took a second and doubled the load's peak memory); a
  // few huge ids fall back to copying and sorting.
  std::vector<std::int32_t> distinct;
  std::size_t interactions = 0;
  std::int32_t largest = 0;
  for (const auto seq : sequences) {
    interactions += seq.size();
    for (const std::int32_t item : seq) largest = std::max(largest, item);
  }
  report.interactions_read = static_cast<index>(interactions);
  if (static_cast<std::size_t>(largest) <= 32 * interactions + 4096) {
    std::vector<bool> present(static_cast<std::size_t>(largest) + 1, false);
    for (const auto seq : sequences)
      for (const std::int32_t item : seq) present[static_cast<std::size_t>(item)] = true;
    for (std::int32_t id = 1; id <= largest; ++id)
      if (present[static_cast<std::size_t>(id)]) distinct.push_back(id);
  } else {
    distinct.reserve(interactions);
    for (const auto seq : sequences) distinct.insert(distinct.end(), seq.begin(), seq.end());
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  }
  report.items_read = static_cast<index>(distinct.size());
  report.users_read = static_cast<index>(users.size());
  d.num_items = static_cast<std::int32_t>(distinct.size());
  // Ids are positive and distinct, so they are 1..n exactly when the largest is n.
  if (!distinct.empty() && distinct.back() != d.num_items) {
    for (std::size_t u = 0; u < sequences.size(); ++u)
      for (auto& item : sequences.mutable_row(u))
        item =
            static_cast<std::int32_t>(std::lower_bound(distinct.begin(), distinct.end(), item) - distinct.begin()) + 1;
    d.item_names.reserve(distinct.size());
    for (std::int32_t id : distinct) d.item_names.push_back(std::to_string(id));
    report.items_remapped = true;
    report.notes.push_back(
        fmt::format("item ids are not dense ({} distinct ids, largest {}): renumbered 1..{} in "
                    "increasing id order; original ids kept in item_names",
                    distinct.size(), distinct.back(), distinct.size()));
  }

  std::vector<std::size_t> order(users.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return users[a] < users[b]; });
  const auto largest_user = users.empty() ? 0 : users[order.back()];
  if (largest_user != static_cast<std::int32_t>(users.size())) {
    d.user_names.reserve(users.size());
    for (std::size_t k : order) d.user_names.push_back(std::to_string(users[k]));
    report.users_remapped = true;
    report.notes.push_back(
        fmt::format("user ids are not dense ({} users, largest id {}): renumbered 1..{} in "
                    "increasing id order; original ids kept in user_names",
                    users.size(), largest_user, users.size()));
  }
  if (std::is_sorted(users.begin(), users.end())) {
    d.sequences = std::move(sequences);  // file order is id order (every file of ../shared/data): no copy
  } else {
    d.sequences.reserve(sequences.size(), std::size_t(sequences.total_items()));
    for (std::size_t k : order) d.sequences.push_back(sequences[k]);
  }
  d.report = std::move(report);
  return d;
}

}  // namespace slmrec::data::detail
