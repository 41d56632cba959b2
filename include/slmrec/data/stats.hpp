#pragma once
// The summary numbers ../shared/data/README.md lists for each dataset.
#include <algorithm>
#include <cstdint>
#include <slmrec/core/types.hpp>
#include <slmrec/data/dataset.hpp>
#include <vector>

namespace slmrec::data {

struct dataset_stats {
  index users = 0;
  index items = 0;
  index interactions = 0;
  double avg_len = 0.0;
  double median_len = 0.0;  // mean of the two middle lengths when the count is even
  index min_len = 0;
  index max_len = 0;
  double density = 0.0;  // interactions / (users * items)
};

[[nodiscard]] inline dataset_stats compute_stats(const dataset& d) {
  dataset_stats s;
  s.users = d.num_users();
  s.items = d.num_items;
  if (s.users == 0) return s;
  std::vector<index> lengths;
  lengths.reserve(d.sequences.size());
  for (const auto& seq : d.sequences) lengths.push_back(static_cast<index>(seq.size()));
  std::sort(lengths.begin(), lengths.end());
  for (index len : lengths) s.interactions += len;
  const std::size_t n = lengths.size();
  s.avg_len = static_cast<double>(s.interactions) / static_cast<double>(n);
  s.median_len =
      n % 2 == 1 ? static_cast<double>(lengths[n / 2]) : 0.5 * static_cast<double>(lengths[n / 2 - 1] + lengths[n / 2]);
  s.min_len = lengths.front();
  s.max_len = lengths.back();
  if (s.items > 0)
    s.density = static_cast<double>(s.interactions) / (static_cast<double>(s.users) * static_cast<double>(s.items));
  return s;
}

// How often each item occurs: counts[i] for item i, counts[0] = 0 (padding).
[[nodiscard]] inline std::vector<std::int64_t> item_counts(const sequence_table& sequences, std::int32_t num_items) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(num_items) + 1, 0);
  for (const auto seq : sequences)
    for (std::int32_t item : seq) {
      require(item >= 1 && item <= num_items, "item_counts: item {} out of range [1, {}]", item, num_items);
      ++counts[static_cast<std::size_t>(item)];
    }
  return counts;
}

}  // namespace slmrec::data
