#pragma once
// evaluate(): ranks each evaluated user's target with a model's scores and
// averages the metrics. Generic over the scorer, so eval/ never sees a model:
//
//   auto scorer = [&](const slmrec::data::batch& in, std::span<float> scores) {
//     // in.items: [in.size, in.length] left-padded item ids (0 = padding),
//     // in.users: [in.size]; fill scores: [in.size, num_items + 1].
//   };
//   auto result = slmrec::eval::evaluate(slmrec::eval::test_view(split, data), scorer, {});
//   fmt::print("{}\n{}\n", result.protocol, result.metrics.to_string());
//
// The score buffer starts as NaN, so a scorer that leaves a row unfilled is
// reported instead of silently ranking garbage. A block scorer
// (block_ranking.hpp) is ranked in blocks of items under the full protocol,
// never holding a [batch, num_items + 1] matrix, with the same result as
// the dense ranking of its scores. Also includes every eval header.
//
// With a distributed communicator (dist/communicator.hpp) the users are split
// over the ranks (contiguous shares, data::share_of); each rank ranks its
// share, the ranks are gathered in view order and every rank accumulates all
// of them in that order: the metrics are those of one process, bit for bit
// (a user's rank does not depend on its batch-mates). A sharded view
// (--shard-data: each rank holds its own users, data/shard.hpp) is ranked
// whole on each rank, and the ranks are gathered with their user indices and
// accumulated in user order: again one process's metrics, bit for bit, when
// every user is evaluated (a --eval-users sample is drawn per rank instead).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <slmrec/core/error.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/data/batch.hpp>
#include <slmrec/dist/communicator.hpp>
#include <slmrec/eval/block_ranking.hpp>
#include <slmrec/eval/metrics.hpp>
#include <slmrec/eval/ranking.hpp>
#include <slmrec/eval/samplers.hpp>
#include <slmrec/eval/split_view.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace slmrec::eval {

enum class protocol {
  full,     // the target against every item (the honest protocol)
  sampled,  // the target against num_negatives items the user never interacted with (paper parity)
};

struct eval_options {
  protocol ranking = protocol::full;
  bool exclude_history = true;  // full ranking: the input's items are not candidates (the target always is)
  index num_negatives = 99;     // sampled ranking: 99 or 999 in the literature
  sampling negatives = sampling::uniform;
  std::uint64_t seed = 0;  // negatives (per user, so valid and test share them) and the user subset
  index batch_size = 128;
  index max_len = 50;   // the scorer sees the last max_len items of each input
  index max_users = 0;  // > 0: a seeded random subset of this many users (SASRec evaluates 10,000)
  index block_items = 4096;  // a block scorer's full ranking: items scored at a time
};

struct eval_result {
  metric_accumulator metrics;
  std::string protocol;  // print it next to the numbers: sampled and full numbers are not comparable
  index users = 0;       // evaluated
  index population = 0;  // the view's users (over every rank's shard), of which `users` were drawn

  [[nodiscard]] nlohmann::json to_json() const {
    return {{"protocol", protocol}, {"users", users}, {"metrics", metrics.to_json()}};
  }
};

namespace detail {

inline std::string describe(const split_view& view, const eval_options& o, index users, index all_users) {
  std::string who = users == all_users ? fmt::format("{} users", users)
                                       : fmt::format("a random {} of {} users (seed {})", users, all_users, o.seed);
  if (o.ranking == protocol::full)
    return fmt::format("full ranking: target vs all {} items{}, pessimistic ties, {}", view.num_items,
                       o.exclude_history ? " except those in the input" : "", who);
  return fmt::format(
      "sampled ranking: target vs {} {} negatives the user never interacted with (seed {}), "
      "pessimistic ties, {}",
      o.num_negatives, sampling_name(o.negatives), o.seed, who);
}

// Which of the view's users to evaluate, in view order.
inline std::vector<std::size_t> chosen_users(index n, const eval_options& o) {
  std::vector<std::size_t> rows(static_cast<std::size_t>(n));
  std::iota(rows.begin(), rows.end(), std::size_t{0});
  if (o.max_users <= 0 || o.max_users >= n) return rows;
  rng r = rng::derived(o.seed, 0x5EC7'0000'0000ull);  // a stream apart from the per-user negatives
  const auto keep = static_cast<std::size_t>(o.max_users);
  for (std::size_t k = 0; k < keep; ++k)
    std::swap(rows[k], rows[k + static_cast<std::size_t>(r.below(rows.size() - k))]);
  rows.resize(keep);
  std::sort(rows.begin(), rows.end());
  return rows;
}

}  // namespace detail

template <class Scorer, dist::communicator Comm = dist::none>
requires std::invocable<Scorer&, const data::batch&, std::span<float>> || block_scorer<Scorer>
[[nodiscard]] eval_result evaluate(const split_view& view, Scorer&& scorer, const eval_options& options = {},
                                   const Comm& comm = {}) {
  const index n = view.size();
  require(view.num_items >= 1, "evaluate: num_items = {}, expected >= 1", view.num_items);
  require(view.inputs.size() == view.users.size() && view.targets.size() == view.users.size(),
          "evaluate: {} users but {} inputs and {} targets", view.users.size(), view.inputs.size(),
          view.targets.size());
  require(options.batch_size > 0, "evaluate: batch_size = {}, expected > 0", options.batch_size);
  require(options.max_len > 0, "evaluate: max_len = {}, expected > 0", options.max_len);
  const bool sampled = options.ranking == protocol::sampled;
  require(!sampled || options.num_negatives > 0, "evaluate: num_negatives = {}, expected > 0", options.num_negatives);
  require(!sampled || options.negatives == sampling::uniform ||
              view.item_counts.size() == static_cast<std::size_t>(view.num_items) + 1,
          "evaluate: popularity sampling needs item counts for {} items (num_items + 1), found {}", view.num_items + 1,
          view.item_counts.size());

  const negative_sampler sampler = !sampled || options.negatives == sampling::uniform
                                       ? negative_sampler(view.num_items)
                                       : negative_sampler(view.num_items, view.item_counts);
  const bool sharded = !view.shard.whole();
  require(!sharded || (comm.size() == view.shard.parts && comm.rank() == view.shard.part),
          "evaluate: the view holds shard {} of {} of the users, but this is rank {} of {}", view.shard.part,
          view.shard.parts, comm.rank(), comm.size());
  eval_options own = options;  // a sharded view: this rank's share of a --eval-users sample, from its own users
  if (sharded && options.max_users > 0) {
    own.max_users = data::share_of(options.max_users, comm.rank(), comm.size()).count;
    own.seed = options.seed ^ (0x9E3779B97F4A7C15ull * std::uint64_t(comm.rank()));
  }
  std::vector<std::size_t> chosen = detail::chosen_users(n, sharded ? own : options);
  if (sharded && options.max_users > 0 && own.max_users == 0) chosen.clear();  // a sample smaller than the ranks
  const data::batch_share share = sharded ? data::batch_share{0, index(chosen.size())}
                                          : data::share_of(index(chosen.size()), comm.rank(), comm.size());
  const auto rows = std::span(chosen).subspan(std::size_t(share.first), std::size_t(share.count));
  const auto width = static_cast<std::size_t>(view.num_items) + 1;
  const auto length = static_cast<std::size_t>(options.max_len);

  eval_result result;
  result.users = static_cast<index>(chosen.size());
  index all_users = n;
  if (sharded) {
    double counts[2] = {double(result.users), double(n)};
    comm.allreduce_sum(counts, 2);
    result.users = index(counts[0]);
    all_users = index(counts[1]);
  }
  std::vector<std::int64_t> ranked;  // distributed: this share's ranks, in view order (sharded: user, rank pairs)
  const auto add = [&](std::size_t k, index rank) {  // k: the user's row in the view
    if constexpr (Comm::distributed) {
      require(rank >= 0, "rank {} is negative, expected a 0-based rank", rank);
      if (sharded) ranked.push_back(view.users[k]);
      ranked.push_back(rank);
    } else {
      (void)k;
      result.metrics.add(rank);
    }
  };
  result.population = all_users;
  result.protocol = detail::describe(view, options, result.users, all_users);
  data::batch in;
  std::vector<float> scores;
  std::vector<std::int32_t> seen;  // sampled ranking: the items a user interacted with
  std::vector<std::int32_t> targets;
  std::vector<streamed_rank> ranks;
  const auto user_error = [&](std::size_t k, const error& e) {
    fail("evaluate: user index {} (row {} of the view): {}", view.users[k], k, e.what());
  };
  for (std::size_t begin = 0; begin < rows.size(); begin += static_cast<std::size_t>(options.batch_size)) {
    const std::size_t count = std::min(rows.size() - begin, static_cast<std::size_t>(options.batch_size));
    in.size = static_cast<index>(count);
    in.length = options.max_len;
    in.items.resize(count * length);
    in.targets.clear();  // the scorer must not see the answers
    in.users.resize(count);
    for (std::size_t r = 0; r < count; ++r) {
      const std::size_t k = rows[begin + r];
      in.users[r] = view.users[k];
      data::left_pad(view.inputs[k], std::span(in.items).subspan(r * length, length));
    }
    if constexpr (block_scorer<Scorer>) {
      if (!sampled) {
        targets.resize(count);
        for (std::size_t r = 0; r < count; ++r) {
          const std::size_t k = rows[begin + r];
          targets[r] = view.targets[k];
          try {
            require(targets[r] >= 1 && targets[r] <= view.num_items, "target item {} out of range [1, {}]",
                    targets[r], view.num_items);
          } catch (const error& e) {
            user_error(k, e);
          }
        }
        const auto exclude = [&](index r) {
          return options.exclude_history ? std::span(view.inputs[rows[begin + std::size_t(r)]])
                                         : std::span<const std::int32_t>{};
        };
        try {
          streamed_ranks(scorer, std::as_const(in), targets, exclude, std::int32_t(view.num_items),
                         options.block_items, ranks, scores);
        } catch (const error& e) {  // a bad excluded item is found as its row starts
          fail("evaluate: {}", e.what());
        }
        for (std::size_t r = 0; r < count; ++r) try {
            add(rows[begin + r], ranks[r].finish());
          } catch (const error& e) {
            user_error(rows[begin + r], e);
          }
        continue;
      }
    }
    scores.assign(count * width, std::numeric_limits<float>::quiet_NaN());
    if constexpr (block_scorer<Scorer>) {
      scorer.set_users(std::as_const(in));
      scorer.score(0, index(width), std::span<float>(scores));
    } else {
      scorer(std::as_const(in), std::span<float>(scores));
    }

    for (std::size_t r = 0; r < count; ++r) {
      const std::size_t k = rows[begin + r];
      const std::int32_t user = view.users[k];
      const std::span<const float> row = std::span<const float>(scores).subspan(r * width, width);
      try {
        require(view.targets[k] >= 1 && view.targets[k] <= view.num_items, "target item {} out of range [1, {}]",
                view.targets[k], view.num_items);
        if (!sampled) {
          add(k, full_rank(row, view.targets[k],
                           options.exclude_history ? std::span(view.inputs[k]) : std::span<const std::int32_t>{}));
          continue;
        }
        const auto nan = std::find_if(row.begin() + 1, row.end(), [](float s) { return std::isnan(s); });
        require(nan == row.end(), "score of item {} is NaN; expected a number for every item", nan - row.begin());
        seen.clear();
        if (!view.sequences.empty()) {
          require(user >= 0 && static_cast<std::size_t>(user) < view.sequences.size(),
                  "user index out of range [0, {})", view.sequences.size());
          const auto& all = view.sequences[static_cast<std::size_t>(user)];
          seen.assign(all.begin(), all.end());
        } else {
          seen.assign(view.inputs[k].begin(), view.inputs[k].end());
        }
        seen.push_back(view.targets[k]);  // never a negative, whatever the view holds
        rng r_user = rng::derived(options.seed, static_cast<std::uint64_t>(user));
        const auto negatives = sampler.sample(options.num_negatives, seen, r_user);
        add(k, sampled_rank(row, view.targets[k], negatives));
      } catch (const error& e) {
        user_error(k, e);
      }
    }
  }
  if constexpr (Comm::distributed) {
    std::vector<std::int64_t> all;
    std::vector<index> counts;
    comm.allgatherv(std::span<const std::int64_t>(ranked), all, counts);
    if (sharded) {  // (user, rank) pairs: accumulated in user order, as one process does
      std::vector<std::pair<std::int64_t, std::int64_t>> pairs(all.size() / 2);
      for (std::size_t i = 0; i < pairs.size(); ++i) pairs[i] = {all[2 * i], all[2 * i + 1]};
      std::sort(pairs.begin(), pairs.end());
      for (const auto& [user, r] : pairs) result.metrics.add(index(r));
    } else {
      for (const auto r : all) result.metrics.add(index(r));
    }
  }
  return result;
}

}  // namespace slmrec::eval
