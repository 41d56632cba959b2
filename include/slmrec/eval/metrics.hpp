#pragma once
// Ranking metrics of one target from its 0-based rank r among the
// candidates: HR@k = [r < k], NDCG@k = 1/log2(r + 2) when r < k else 0,
// MRR = 1/(r + 1). With a single target per user HR@k equals Recall@k.
#include <fmt/format.h>

#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <string>
#include <string_view>

namespace slmrec::eval {

[[nodiscard]] inline double hit_rate(index rank, index k) { return rank < k ? 1.0 : 0.0; }

[[nodiscard]] inline double ndcg(index rank, index k) {
  return rank < k ? 1.0 / std::log2(static_cast<double>(rank) + 2.0) : 0.0;
}

[[nodiscard]] inline double reciprocal_rank(index rank) { return 1.0 / (static_cast<double>(rank) + 1.0); }

// Sums the metrics over users; means() divides by the number of users added.
class metric_accumulator {
 public:
  static constexpr std::array<std::string_view, 8> names = {"HR@1",   "HR@5",    "HR@10",   "HR@20",
                                                            "NDCG@5", "NDCG@10", "NDCG@20", "MRR"};

  void add(index rank) {
    require(rank >= 0, "metric_accumulator: rank {} is negative, expected a 0-based rank", rank);
    sums_[0] += hit_rate(rank, 1);
    sums_[1] += hit_rate(rank, 5);
    sums_[2] += hit_rate(rank, 10);
    sums_[3] += hit_rate(rank, 20);
    sums_[4] += ndcg(rank, 5);
    sums_[5] += ndcg(rank, 10);
    sums_[6] += ndcg(rank, 20);
    sums_[7] += reciprocal_rank(rank);
    ++count_;
  }

  // Adds another accumulator's users (e.g. one per thread or per shard).
  void merge(const metric_accumulator& other) {
    for (std::size_t m = 0; m < sums_.size(); ++m) sums_[m] += other.sums_[m];
    count_ += other.count_;
  }

  [[nodiscard]] index count() const { return count_; }

  // Means in `names` order; all 0 when no user was added.
  [[nodiscard]] std::array<double, 8> means() const {
    std::array<double, 8> out{};
    if (count_ == 0) return out;
    for (std::size_t m = 0; m < sums_.size(); ++m) out[m] = sums_[m] / static_cast<double>(count_);
    return out;
  }

  [[nodiscard]] double mean(std::string_view name) const {
    for (std::size_t m = 0; m < names.size(); ++m)
      if (names[m] == name) return means()[m];
    fail("unknown metric '{}': expected HR@1, HR@5, HR@10, HR@20, NDCG@5, NDCG@10, NDCG@20 or MRR", name);
  }

  // {"HR@1": ..., ..., "MRR": ...}: the eight means, nothing else.
  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json j = nlohmann::json::object();
    const auto m = means();
    for (std::size_t k = 0; k < names.size(); ++k) j[std::string(names[k])] = m[k];
    return j;
  }

  // One line, "HR@1 0.0123  HR@5 ...", for logs.
  [[nodiscard]] std::string to_string() const {
    std::string out;
    const auto m = means();
    for (std::size_t k = 0; k < names.size(); ++k) out += fmt::format("{}{} {:.4f}", k ? "  " : "", names[k], m[k]);
    return out;
  }

 private:
  std::array<double, 8> sums_{};
  index count_ = 0;
};

}  // namespace slmrec::eval
