#pragma once
// The in-memory dataset every reader produces: one chronological item
// sequence per user, item ids dense from 1 so that 0 stays free for padding,
// all users' items in one flat array (data/sequence_table.hpp).
#include <cstdint>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/data/load_report.hpp>
#include <slmrec/data/sequence_table.hpp>
#include <slmrec/data/shard.hpp>
#include <string>
#include <vector>

namespace slmrec::data {

struct dataset {
  // sequences[u] = the items of user u + 1 in chronological order; ids 1..num_items.
  sequence_table sequences;
  std::int32_t num_items = 0;
  // Original ids when the reader renumbered them (user_names[u] for user u + 1,
  // item_names[i - 1] for item i); empty when the file's ids were kept.
  std::vector<std::string> user_names;
  std::vector<std::string> item_names;
  std::string source;  // the file it came from
  load_report report;  // what the load read, kept and removed
  // Data parallelism (--shard-data): the users this rank holds; the others' sequences are empty.
  data::shard shard;

  [[nodiscard]] index num_users() const { return static_cast<index>(sequences.size()); }

  [[nodiscard]] index num_interactions() const { return sequences.total_items(); }

  // The id the input file used for user index u (0-based) and item id i.
  [[nodiscard]] std::string user_name(index u) const {
    require(u >= 0 && u < num_users(), "user index {} out of range [0, {})", u, num_users());
    return user_names.empty() ? std::to_string(u + 1) : user_names[static_cast<std::size_t>(u)];
  }
  [[nodiscard]] std::string item_name(std::int32_t item) const {
    require(item >= 1 && item <= num_items, "item id {} out of range [1, {}]", item, num_items);
    return item_names.empty() ? std::to_string(item) : item_names[static_cast<std::size_t>(item - 1)];
  }
};

// Checks the invariants the rest of the library relies on (every item in
// 1..num_items, name tables empty or of the right size), naming the first
// violation: datasets can be built by hand, not only by the readers.
inline void validate(const dataset& d) {
  require(d.num_items >= 0, "dataset {}: num_items is {}, expected >= 0", d.source, d.num_items);
  require(d.user_names.empty() || d.user_names.size() == d.sequences.size(), "dataset {}: {} user names for {} users",
          d.source, d.user_names.size(), d.sequences.size());
  require(d.item_names.empty() || d.item_names.size() == static_cast<std::size_t>(d.num_items),
          "dataset {}: {} item names for {} items", d.source, d.item_names.size(), d.num_items);
  for (std::size_t u = 0; u < d.sequences.size(); ++u)
    for (std::size_t t = 0; t < d.sequences[u].size(); ++t) {
      const std::int32_t item = d.sequences[u][t];
      require(item >= 1 && item <= d.num_items, "dataset {}: user index {} position {} has item {}, expected 1..{}",
              d.source, u, t, item, d.num_items);
    }
}

// Data parallelism (--shard-data): empties the sequences of every user outside
// shard `s` (their memory freed: the array is rebuilt with this shard's items
// only); indices and item ids stay as they were.
inline void keep_shard(dataset& d, const shard& s) {
  require(s.parts >= 1 && s.part >= 0 && s.part < s.parts, "shard {} of {}: expected 0 <= part < parts", s.part,
          s.parts);
  require(d.shard.whole(), "{}: the dataset is already shard {} of {}", d.source, d.shard.part, d.shard.parts);
  d.sequences.retain([&](std::size_t u, std::int32_t) { return s.holds(index(u)); });
  d.shard = s;
}

}  // namespace slmrec::data
