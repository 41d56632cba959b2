#pragma once
// The string-id formats (RecBole, CSV) first collect flat interaction
// records; group_records then applies the rating threshold, groups them per
// user, sorts each user's interactions by timestamp and builds the dataset.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <slmrec/core/error.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/filter.hpp>
#include <slmrec/data/load_options.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace slmrec::data::detail {

struct string_hash {
  using is_transparent = void;  // look up string_views without building a std::string
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// Numbers distinct strings 0, 1, 2, ... in order of first appearance.
class interner {
 public:
  std::int32_t intern(std::string_view name) {
    if (const auto found = ids_.find(name); found != ids_.end()) return found->second;
    const auto id = static_cast<std::int32_t>(names_.size());
    names_.emplace_back(name);
    ids_.emplace(std::string(name), id);
    return id;
  }
  [[nodiscard]] std::size_t size() const { return names_.size(); }
  [[nodiscard]] std::vector<std::string> take_names() { return std::move(names_); }

 private:
  std::unordered_map<std::string, std::int32_t, string_hash, std::equal_to<>> ids_;
  std::vector<std::string> names_;
};

struct records {
  interner users, items;
  std::vector<std::int32_t> user, item;  // interned indices, 0-based
  std::vector<double> rating, time;      // filled only when the file has the column
  bool has_rating = false;
  bool has_time = false;

  void add(std::string_view user_name, std::string_view item_name, double r, double t) {
    user.push_back(users.intern(user_name));
    item.push_back(items.intern(item_name));
    if (has_rating) rating.push_back(r);
    if (has_time) time.push_back(t);
  }
};

inline dataset group_records(records&& rec, const std::string& source, const load_options& options,
                             load_report report) {
  const std::size_t n = rec.user.size();
  report.interactions_read = static_cast<index>(n);
  report.users_read = static_cast<index>(rec.users.size());
  report.items_read = static_cast<index>(rec.items.size());
  report.users_remapped = report.items_remapped = true;
  report.notes.push_back(
      "user and item ids are strings: numbered 1..n in order of first appearance; originals kept in "
      "user_names/item_names");

  std::vector<char> keep(n, 1);
  if (options.min_rating) {
    require(rec.has_rating, "{}: a minimum rating of {} was requested, but the file has no rating column", source,
            *options.min_rating);
    for (std::size_t k = 0; k < n; ++k)
      if (!(rec.rating[k] >= *options.min_rating)) {
        keep[k] = 0;
        ++report.removed_by_threshold;
      }
  }

  // Counting sort by user keeps each user's records in file order, so the
  // stable sort below leaves equal timestamps in file order too.
  const std::size_t num_users = rec.users.size();
  std::vector<std::size_t> start(num_users + 1, 0);
  for (std::size_t k = 0; k < n; ++k)
    if (keep[k]) ++start[static_cast<std::size_t>(rec.user[k]) + 1];
  for (std::size_t u = 0; u < num_users; ++u) start[u + 1] += start[u];
  std::vector<std::size_t> grouped(start.back());
  {
    std::vector<std::size_t> fill(start.begin(), start.end() - 1);
    for (std::size_t k = 0; k < n; ++k)
      if (keep[k]) grouped[fill[static_cast<std::size_t>(rec.user[k])]++] = k;
  }

  dataset d;
  d.source = source;
  d.num_items = static_cast<std::int32_t>(rec.items.size());
  d.sequences.reserve(num_users, grouped.size());
  for (std::size_t u = 0; u < num_users; ++u) {
    const auto first = grouped.begin() + static_cast<std::ptrdiff_t>(start[u]);
    const auto last = grouped.begin() + static_cast<std::ptrdiff_t>(start[u + 1]);
    if (rec.has_time)
      std::stable_sort(first, last, [&](std::size_t a, std::size_t b) { return rec.time[a] < rec.time[b]; });
    d.sequences.push_empty();
    for (auto it = first; it != last; ++it) d.sequences.append_to_last(rec.item[*it] + 1);
  }
  report.sorted_by_timestamp = rec.has_time;
  d.user_names = rec.users.take_names();
  d.item_names = rec.items.take_names();
  d.report = std::move(report);

  const compact_counts c = compact_ids(d);
  d.report.users_removed_by_threshold = c.users_removed;
  d.report.items_removed_by_threshold = c.items_removed;
  return d;
}

}  // namespace slmrec::data::detail
