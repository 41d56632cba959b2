#pragma once
// Filters on a loaded dataset: de-duplication, iterative k-core and id
// compaction. Each returns its counts; apply_filters records them in the
// dataset's load_report, so a removal is always accounted for.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/load_options.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace slmrec::data {

struct compact_counts {
  index users_removed = 0;  // users that had no items
  index items_removed = 0;  // ids in 1..num_items that no user had
};

// Removes users without items and renumbers the remaining items 1..n keeping
// their relative order. Original ids move into user_names / item_names (the
// decimal id when the dataset had kept the file's ids), so they can still be
// printed after the renumbering.
inline compact_counts compact_ids(dataset& d) {
  validate(d);
  compact_counts counts;
  std::vector<std::int32_t> new_id(static_cast<std::size_t>(d.num_items) + 1, 0);
  for (const auto& seq : d.sequences)
    for (std::int32_t item : seq) new_id[static_cast<std::size_t>(item)] = 1;
  std::int32_t next = 0;
  for (std::int32_t i = 1; i <= d.num_items; ++i)
    if (new_id[static_cast<std::size_t>(i)] != 0) new_id[static_cast<std::size_t>(i)] = ++next;
  counts.items_removed = d.num_items - next;
  if (counts.items_removed > 0) {
    std::vector<std::string> names;
    names.reserve(static_cast<std::size_t>(next));
    for (std::int32_t i = 1; i <= d.num_items; ++i)
      if (new_id[static_cast<std::size_t>(i)] != 0)
        names.push_back(d.item_names.empty() ? std::to_string(i)
                                             : std::move(d.item_names[static_cast<std::size_t>(i - 1)]));
    d.item_names = std::move(names);
    for (std::size_t u = 0; u < d.sequences.size(); ++u)
      for (auto& item : d.sequences.mutable_row(u)) item = new_id[static_cast<std::size_t>(item)];
    d.num_items = next;
  }

  const auto empty = std::count_if(d.sequences.begin(), d.sequences.end(), [](const auto& s) { return s.empty(); });
  counts.users_removed = static_cast<index>(empty);
  if (counts.users_removed > 0) {
    std::vector<std::string> names;
    names.reserve(d.sequences.size() - static_cast<std::size_t>(empty));
    for (std::size_t u = 0; u < d.sequences.size(); ++u)
      if (!d.sequences[u].empty())
        names.push_back(d.user_names.empty() ? std::to_string(u + 1) : std::move(d.user_names[u]));
    d.sequences.erase_rows_unless([&](std::size_t u) { return !d.sequences[u].empty(); });
    d.user_names = std::move(names);
    d.sequences.compact();  // the array holds exactly the kept rows (k-core's cleared ones gone)
  }
  return counts;
}

// Keeps the first (earliest) occurrence of each (user, item) pair; returns
// how many interactions it removed. No user or item disappears entirely.
inline index remove_duplicates(dataset& d) {
  validate(d);
  // last_user[i] == u + 1 once user u has item i: one pass, no per-user set.
  std::vector<std::size_t> last_user(static_cast<std::size_t>(d.num_items) + 1, 0);
  const index before = d.num_interactions();
  d.sequences.retain([&](std::size_t u, std::int32_t item) {
    auto& mark = last_user[static_cast<std::size_t>(item)];
    if (mark == u + 1) return false;
    mark = u + 1;
    return true;
  });
  return before - d.num_interactions();
}

struct kcore_counts {
  index rounds = 0;  // passes that removed something
  index users_removed = 0;
  index items_removed = 0;
  index interactions_removed = 0;
};

// Iterative k-core: each pass removes every user and every item with fewer
// than k interactions, then recounts, until a pass removes nothing (a single
// pass, as SASRec's preprocessing, can leave users or items below k). Ids are
// compacted afterwards (see compact_ids).
inline kcore_counts filter_kcore(dataset& d, index k) {
  validate(d);
  require(k >= 0, "k-core: k = {}, expected >= 0", k);
  kcore_counts counts;
  if (k <= 1) return counts;
  const index before = d.num_interactions();
  std::vector<index> item_count(static_cast<std::size_t>(d.num_items) + 1, 0);
  std::vector<char> item_alive(item_count.size(), 0);
  for (const auto& seq : d.sequences)
    for (std::int32_t item : seq) item_alive[static_cast<std::size_t>(item)] = 1;
  std::vector<char> user_alive(d.sequences.size());
  for (std::size_t u = 0; u < d.sequences.size(); ++u) user_alive[u] = d.sequences[u].empty() ? 0 : 1;

  for (;;) {
    std::fill(item_count.begin(), item_count.end(), 0);
    for (const auto& seq : d.sequences)
      for (std::int32_t item : seq) ++item_count[static_cast<std::size_t>(item)];
    bool changed = false;
    for (std::size_t u = 0; u < d.sequences.size(); ++u)
      if (user_alive[u] && static_cast<index>(d.sequences[u].size()) < k) {
        user_alive[u] = 0;
        d.sequences.clear_row(u);
        ++counts.users_removed;
        changed = true;
      }
    bool items_changed = false;
    for (std::size_t i = 1; i < item_count.size(); ++i)
      if (item_alive[i] && item_count[i] < k) {
        item_alive[i] = 0;
        ++counts.items_removed;
        items_changed = true;
      }
    if (items_changed) {
      d.sequences.retain(
          [&](std::size_t, std::int32_t item) { return item_alive[static_cast<std::size_t>(item)] != 0; });
      changed = true;
    }
    if (!changed) break;
    ++counts.rounds;
  }
  counts.interactions_removed = before - d.num_interactions();
  compact_ids(d);
  return counts;
}

namespace detail {

// After a filter emptied users or items, ids were renumbered: say so once.
inline void note_compaction(dataset& d, const compact_counts& c, std::string_view why) {
  if (c.items_removed > 0) {
    d.report.items_remapped = true;
    d.report.notes.push_back(
        fmt::format("{} removed {} items: item ids renumbered 1..{} in their previous order; "
                    "original ids kept in item_names",
                    why, c.items_removed, d.num_items));
  }
  if (c.users_removed > 0) {
    d.report.users_remapped = true;
    d.report.notes.push_back(
        fmt::format("{} removed {} users: user ids renumbered 1..{} in their previous order; "
                    "original ids kept in user_names",
                    why, c.users_removed, d.num_users()));
  }
}

}  // namespace detail

// The optional filters of load_options, in the order they make sense: drop
// repeats first (a repeat must not count toward k), then the k-core.
inline void apply_filters(dataset& d, const load_options& options) {
  require(options.min_interactions >= 0, "{}: k-core minimum is {}, expected >= 0", d.source, options.min_interactions);
  if (options.deduplicate) d.report.duplicates_removed = remove_duplicates(d);
  if (options.min_interactions > 1) {
    const std::int32_t items_before = d.num_items;
    const index users_before = d.num_users();
    const kcore_counts k = filter_kcore(d, options.min_interactions);
    d.report.kcore_rounds = k.rounds;
    d.report.users_removed_by_kcore = k.users_removed;
    d.report.items_removed_by_kcore = k.items_removed;
    d.report.interactions_removed_by_kcore = k.interactions_removed;
    detail::note_compaction(d, {users_before - d.num_users(), static_cast<index>(items_before) - d.num_items},
                            fmt::format("{}-core filtering", options.min_interactions));
  }
  d.report.interactions_kept = d.num_interactions();
}

}  // namespace slmrec::data
