#pragma once
// The candidates of the sampled softmax (nn/sampled_softmax_loss.hpp): per
// batch one set shared by every row, K draws with replacement from a
// proposal Q (uniform, popularity, or an even mixture of the two), kept once
// each, plus with `in_batch` the batch's own targets. Each candidate's logit
// correction is log P(item in the set): the set holds item i unless every one
// of the K draws and, in-batch, every one of the n targets missed it, so
//
//   P(i in set) = 1 - (1 - Q(i))^K * (1 - p(i))^n
//
// with p the training targets' empirical popularity. For a rare item this is
// log(K Q(i) + n p(i)), Yi et al.'s log Q; for an item drawn almost surely it
// tends to 0 instead of growing past it as the expected count would, which is
// what the set's deduplication calls for. The target of a row gets the same
// correction as when it is a candidate, so an accidental hit's logit is the
// target's own (the loss then drops it from that row's softmax).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <slmrec/core/alias_table.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::train {

enum class proposal { uniform, popularity, mixed };

[[nodiscard]] inline proposal parse_proposal(const std::string& name) {
  if (name == "uniform") return proposal::uniform;
  if (name == "popularity") return proposal::popularity;
  require(name == "mixed", "sampler '{}' is not one of uniform, popularity, mixed", name);
  return proposal::mixed;
}
[[nodiscard]] inline const char* proposal_name(proposal p) {
  return p == proposal::uniform ? "uniform" : p == proposal::popularity ? "popularity" : "mixed";
}

struct sampled_softmax_options {
  index negatives = 1024;                   // K draws a batch (with replacement; the set keeps each item once)
  proposal sampler = proposal::popularity;  // Q
  // Popularity draws from (count + 1)^power: 1 is the empirical popularity,
  // below 1 flattens it toward uniform (word2vec's 0.75) so the tail's
  // negatives come with smaller 1/Q weights.
  double popularity_power = 1.0;
  bool in_batch = false;                    // the batch's targets join the candidates
  bool log_q = true;                        // subtract log P(item in set) from every logit
};

// The candidate set of one batch, and each logit's correction.
struct candidate_set {
  std::vector<std::int32_t> items;      // sorted, unique
  std::vector<float> offsets;           // [items.size()]: log P(in set), the targets' logits are exact
};

class candidate_sampler {
 public:
  // counts: occurrences of each item in the training sequences, [num_items + 1]
  // with [0] (padding) ignored; popularity draws from counts + 1, so every
  // item can be drawn and every correction is finite.
  candidate_sampler(std::int32_t num_items, std::span<const std::int64_t> counts, const sampled_softmax_options& o)
      : n_items_(num_items), o_(o) {
    require(num_items >= 1, "sampled softmax: num_items = {}, expected >= 1", num_items);
    require(o.negatives >= 1 && o.negatives <= (index(1) << 24), "sampled softmax: --negatives {} outside 1..{}",
            o.negatives, index(1) << 24);
    require(o.popularity_power >= 0.0 && o.popularity_power <= 2.0,
            "sampled softmax: --popularity-power {} outside 0..2", o.popularity_power);
    require(counts.size() == std::size_t(num_items) + 1,
            "sampled softmax: {} item counts for {} items (expected num_items + 1)", counts.size(), num_items);
    std::vector<double> weights(counts.size(), 0.0);
    double total = 0.0;
    for (std::size_t i = 1; i < counts.size(); ++i) {
      require(counts[i] >= 0, "sampled softmax: item {} has count {}, expected >= 0", i, counts[i]);
      weights[i] = popularity_weight(counts[i]);
      smoothed_total_ += weights[i];
      total += double(counts[i]);
    }
    targets_total_ = std::max(total, 1.0);
    counts_.assign(counts.begin(), counts.end());
    if (o.sampler != proposal::uniform) popularity_ = alias_table(weights);
  }

  // Draws batch `seed`'s candidates; `targets` are the batch's target cells
  // (0 = no target), candidates themselves with --in-batch.
  void draw(std::span<const std::int32_t> targets, std::uint64_t seed, candidate_set& out) const {
    rng gen(seed);
    out.items.resize(std::size_t(o_.negatives));
    for (auto& c : out.items) c = draw_one(gen);
    index n_targets = 0;
    for (const auto t : targets)
      if (t != 0) {
        ++n_targets;
        if (o_.in_batch) out.items.push_back(t);
      }
    std::sort(out.items.begin(), out.items.end());
    out.items.erase(std::unique(out.items.begin(), out.items.end()), out.items.end());
    out.offsets.resize(out.items.size());
    for (std::size_t j = 0; j < out.items.size(); ++j) out.offsets[j] = log_inclusion(out.items[j], n_targets);
  }

  // Q(i): the probability that one draw gives item i.
  [[nodiscard]] double q(std::int32_t item) const {
    const double uniform = 1.0 / double(n_items_);
    const double popular = popularity_weight(counts_[std::size_t(item)]) / smoothed_total_;
    switch (o_.sampler) {
      case proposal::uniform: return uniform;
      case proposal::popularity: return popular;
      case proposal::mixed: return 0.5 * (uniform + popular);
    }
    return uniform;
  }

  // log P(item in the set of a batch with n_targets targets); 0 with log_q off.
  [[nodiscard]] float log_inclusion(std::int32_t item, index n_targets) const {
    if (!o_.log_q) return 0.0f;
    double log_miss = double(o_.negatives) * std::log1p(-q(item));
    if (o_.in_batch) {
      const double p = double(counts_[std::size_t(item)]) / targets_total_;
      log_miss += p < 1.0 ? double(n_targets) * std::log1p(-p) : -1e30;
    }
    return float(std::log(-std::expm1(log_miss)));
  }

  [[nodiscard]] const sampled_softmax_options& options() const { return o_; }

 private:
  [[nodiscard]] double popularity_weight(std::int64_t count) const {
    const double w = double(count) + 1.0;
    return o_.popularity_power == 1.0 ? w : std::pow(w, o_.popularity_power);
  }

  std::int32_t draw_one(rng& gen) const {
    const bool uniform = o_.sampler == proposal::uniform || (o_.sampler == proposal::mixed && gen.uniform() < 0.5);
    if (uniform) return std::int32_t(1 + gen.below(std::uint64_t(n_items_)));
    return std::int32_t(popularity_.draw(gen));
  }

  std::int32_t n_items_;
  sampled_softmax_options o_;
  std::vector<std::int64_t> counts_;
  double smoothed_total_ = 0.0, targets_total_ = 1.0;
  alias_table popularity_;
};

}  // namespace slmrec::train
