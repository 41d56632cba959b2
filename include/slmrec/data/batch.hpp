#pragma once
// Training batches: fixed-length rows, LEFT-padded with 0 so the most recent
// item always sits in the last column (where a causal model reads its
// prediction), truncated from the left so the most recent items are kept.
// Buffers are plain row-major int32 vectors any backend can upload.
#include <algorithm>
#include <cstdint>
#include <slmrec/core/error.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/data/sequence_table.hpp>
#include <span>
#include <utility>
#include <vector>

namespace slmrec::data {

enum class target_mode {
  every_position,  // targets[t] = the item after items[t] (SASRec-style); 0 where padded
  last_position,   // only the last column has a target (E4SRec-style); the rest are 0
};

struct batch_options {
  index batch_size = 128;
  index max_len = 50;
  target_mode targets = target_mode::every_position;
  bool shuffle = true;
  std::uint64_t seed = 0;
  bool drop_last = false;  // drop a final batch smaller than batch_size
};

struct batch {
  index size = 0;                     // rows
  index length = 0;                   // columns (max_len)
  std::vector<std::int32_t> items;    // [size, length], 0 = padding
  std::vector<std::int32_t> targets;  // [size, length], 0 = no target here (a loss skips those)
  std::vector<std::int32_t> users;    // [size], user index of each row

  [[nodiscard]] std::int32_t item(index row, index col) const {
    return items[static_cast<std::size_t>(row * length + col)];
  }
  [[nodiscard]] std::int32_t target(index row, index col) const {
    return targets[static_cast<std::size_t>(row * length + col)];
  }
};

// Writes the last row.size() items of `seq` right-aligned into `row`, with 0
// before them when `seq` is shorter.
inline void left_pad(std::span<const std::int32_t> seq, std::span<std::int32_t> row) {
  const std::size_t kept = std::min(seq.size(), row.size());
  const std::size_t pad = row.size() - kept;
  std::fill(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(pad), 0);
  std::copy(seq.end() - static_cast<std::ptrdiff_t>(kept), seq.end(), row.begin() + static_cast<std::ptrdiff_t>(pad));
}

// One training row from a sequence of at least 2 items: the inputs are all
// items but the last, the targets the same items shifted by one.
inline void fill_training_row(std::span<const std::int32_t> seq, target_mode mode, std::span<std::int32_t> items,
                              std::span<std::int32_t> targets) {
  require(seq.size() >= 2, "training row: a sequence of {} items has no next-item target", seq.size());
  require(items.size() == targets.size(), "training row: {} item columns but {} target columns", items.size(),
          targets.size());
  left_pad(seq.first(seq.size() - 1), items);
  if (mode == target_mode::every_position) {
    // Inputs and targets have the same length, so they pad alike: a padded
    // input position gets target 0 (nothing to predict there).
    left_pad(seq.subspan(1), targets);
  } else {
    std::fill(targets.begin(), targets.end(), 0);
    if (!targets.empty()) targets.back() = seq.back();
  }
}

// The batch of rows for `users` (indices into `sequences`, each >= 2 items).
inline void make_training_batch(const sequence_table& sequences, std::span<const std::int32_t> users,
                                const batch_options& options, batch& out) {
  require(options.max_len > 0, "batch: max_len = {}, expected > 0", options.max_len);
  out.size = static_cast<index>(users.size());
  out.length = options.max_len;
  const auto cells = static_cast<std::size_t>(out.size * out.length);
  out.items.resize(cells);
  out.targets.resize(cells);
  out.users.assign(users.begin(), users.end());
  const auto width = static_cast<std::size_t>(out.length);
  for (std::size_t r = 0; r < users.size(); ++r) {
    const auto u = users[r];
    require(u >= 0 && static_cast<std::size_t>(u) < sequences.size(), "batch: user index {} out of range [0, {})", u,
            sequences.size());
    fill_training_row(sequences[static_cast<std::size_t>(u)], options.targets,
                      std::span(out.items).subspan(r * width, width), std::span(out.targets).subspan(r * width, width));
  }
}

// Rows [first, first + count) of a batch of `rows` belong to share `part` of
// `parts`: contiguous blocks of rows / parts rows, the first rows % parts
// shares one row more (so no two differ by more than one row; with fewer
// rows than parts the last shares are empty).
struct batch_share {
  index first = 0, count = 0;
};
[[nodiscard]] inline batch_share share_of(index rows, index part, index parts) {
  require(parts >= 1 && part >= 0 && part < parts, "batch share {} of {}: expected 0 <= part < parts", part, parts);
  const index base = rows / parts, extra = rows % parts;
  return {part * base + std::min(part, extra), base + (part < extra ? 1 : 0)};
}

// Iterates the training examples of an epoch in batches: one example per user
// with at least 2 training items (the last max_len transitions of that
// user's sequence). The order is reshuffled per epoch from (seed, epoch), so
// any epoch's order can be reproduced without replaying the earlier ones.
// `sequences` must outlive the batcher.
class batcher {
 public:
  batcher(const sequence_table& sequences, const batch_options& options) : sequences_(&sequences), options_(options) {
    require(options.batch_size > 0, "batcher: batch_size = {}, expected > 0", options.batch_size);
    require(options.max_len > 0, "batcher: max_len = {}, expected > 0", options.max_len);
    for (std::size_t u = 0; u < sequences.size(); ++u) {
      for (std::size_t t = 0; t < sequences[u].size(); ++t)
        require(sequences[u][t] > 0,
                "batcher: user index {} position {} holds item {}, expected an id >= 1 (0 is "
                "padding)",
                u, t, sequences[u][t]);
      if (sequences[u].size() >= 2)
        examples_.push_back(static_cast<std::int32_t>(u));
      else
        ++skipped_users_;
    }
    start_epoch(0);
  }
  batcher(sequence_table&&, const batch_options&) = delete;  // it keeps a reference: no temporaries

  [[nodiscard]] index num_examples() const { return static_cast<index>(examples_.size()); }
  [[nodiscard]] index batch_size() const { return options_.batch_size; }
  // Users with fewer than 2 training items: nothing to predict from them.
  [[nodiscard]] index skipped_users() const { return skipped_users_; }
  [[nodiscard]] index num_batches() const {
    const index n = num_examples();
    return options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
  }
  // The example (user) order of the current epoch.
  [[nodiscard]] std::span<const std::int32_t> order() const { return order_; }

  // Rewinds to the first batch of `epoch`, shuffled by Fisher–Yates when asked.
  void start_epoch(std::uint64_t epoch) {
    order_ = examples_;
    cursor_ = 0;
    if (!options_.shuffle) return;
    rng r = rng::derived(options_.seed, epoch);
    for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[r.below(i)]);
  }

  // Fills `out` with the next batch; false (and `out` untouched) when the epoch is done.
  bool next(batch& out) { return next(out, 0, 1); }

  // Data parallelism: the next global batch (batch_size rows, as next()
  // would give) cut into `parts` shares, of which `out` gets share `part`
  // (share_of below). Every part sees the same global order, so the shares
  // of one step are disjoint and together are the batch one process takes.
  bool next(batch& out, index part, index parts) {
    const index n = num_examples();
    const index rows = std::min(options_.batch_size, n - cursor_);
    if (rows <= 0 || (options_.drop_last && rows < options_.batch_size)) return false;
    const batch_share s = share_of(rows, part, parts);
    make_training_batch(
        *sequences_,
        std::span(order_).subspan(static_cast<std::size_t>(cursor_ + s.first), static_cast<std::size_t>(s.count)),
        options_, out);
    cursor_ += rows;
    return true;
  }

  // Examples of the epoch not handed out yet.
  [[nodiscard]] index remaining() const { return num_examples() - cursor_; }

  // Sharded data parallelism (data/shard.hpp): the next `rows` examples of
  // this rank's own order (fewer, or none, when fewer remain); the caller
  // decides how many each step takes, so that every rank takes the same
  // number of steps.
  void next_rows(batch& out, index rows) {
    require(rows >= 0, "batcher: {} rows asked for, expected >= 0", rows);
    rows = std::min(rows, remaining());
    make_training_batch(*sequences_,
                        std::span(order_).subspan(static_cast<std::size_t>(cursor_), static_cast<std::size_t>(rows)),
                        options_, out);
    cursor_ += rows;
  }

 private:
  const sequence_table* sequences_;
  batch_options options_;
  std::vector<std::int32_t> examples_;
  std::vector<std::int32_t> order_;
  index cursor_ = 0;
  index skipped_users_ = 0;
};

}  // namespace slmrec::data
