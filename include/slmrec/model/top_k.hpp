#pragma once
// The one top-k selection and the one history exclusion of the serving path,
// shared by a full score row (top_k), a stream of item blocks (top_k_list:
// the catalog is scored block by block and never held whole) and the batch
// API. Order: higher score first, ties to the smaller item id; column 0 is
// padding and never a candidate; an excluded item scores -inf (so it is
// returned only when fewer than k other items remain, as a full sort would).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <slmrec/core/cpu_features.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::model {

namespace detail {
#if SLMREC_X86
// Whether any of s[0..16) is above t, for a build that does not target AVX-512 itself.
SLMREC_TARGET_AVX512 inline bool any_above16_avx512(const float* s, float t) {
  return _mm512_cmp_ps_mask(_mm512_loadu_ps(s), _mm512_set1_ps(t), _CMP_GT_OQ) != 0;
}
#endif
}  // namespace detail

// The exclusion rule: a history item `id` is excluded from the items
// [first, end) when it is one of them; padding (0) never is.
inline bool excluded_from(std::int32_t id, index first, index end) { return id > 0 && id >= first && id < end; }

// Sets to -inf the scores of `history`'s items that fall in the block of
// items [first, first + scores.size()); ids outside it (padding, other
// blocks) are ignored.
inline void exclude_items(std::span<float> scores, index first, std::span<const std::int32_t> history) {
  const index end = first + index(scores.size());
  for (const auto id : history)
    if (excluded_from(id, first, end)) scores[std::size_t(id - first)] = -std::numeric_limits<float>::infinity();
}

// The same exclusion as a set, for a search that scores candidates one by
// one (model/indexed_search.hpp): the distinct history items of a catalog of
// num_items, sorted.
class excluded_items {
 public:
  void assign(std::span<const std::int32_t> history, index num_items) {
    ids_.clear();
    for (const auto id : history)
      if (excluded_from(id, 1, num_items + 1)) ids_.push_back(id);
    std::sort(ids_.begin(), ids_.end());
    ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
  }
  void clear() { ids_.clear(); }
  [[nodiscard]] bool contains(std::int32_t id) const { return std::binary_search(ids_.begin(), ids_.end(), id); }
  [[nodiscard]] index size() const { return index(ids_.size()); }

 private:
  std::vector<std::int32_t> ids_;
};

// The k best of a stream of (score, id) with ascending ids, kept sorted
// best first. Once the list is full only a score above the k-th can enter
// (an equal one has a larger id and loses the tie), and after the first few
// hundred items those are rare: blocks of 16 scores are tested against that
// threshold in one vector compare and skipped whole.
class top_k_list {
 public:
  void reset(index k) {
    k_ = k;
    filled_ = 0;
    score_.resize(std::size_t(k));
    id_.resize(std::size_t(k));
  }

  // Scores of the items first, first + 1, ..., first + n - 1; first must not
  // be below any id pushed before.
  void push(const float* s, index n, std::int32_t first) {
    index i = 0;
    for (; i < n && filled_ < k_; ++i) insert(s[i], first + std::int32_t(i));
    if (filled_ < k_) return;
    [[maybe_unused]] const bool avx512 = cpu_has_avx512();  // compiled for neither: asked at run time
    for (; i + 16 <= n; i += 16) {
      const float threshold = score_[std::size_t(k_ - 1)];
      bool any = false;
#if defined(__AVX512F__)
      any = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + i), _mm512_set1_ps(threshold), _CMP_GT_OQ) != 0;
#elif defined(__AVX2__)
      const __m256 t = _mm256_set1_ps(threshold);
      any = _mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + i), t, _CMP_GT_OQ),
                                            _mm256_cmp_ps(_mm256_loadu_ps(s + i + 8), t, _CMP_GT_OQ))) != 0;
#else
#if SLMREC_X86
      if (avx512) {
        any = detail::any_above16_avx512(s + i, threshold);
      } else
#endif
        for (index j = 0; j < 16; ++j) any = any || s[i + j] > threshold;
#endif
      if (!any) continue;
      for (index j = i; j < i + 16; ++j) insert(s[j], first + std::int32_t(j));
    }
    for (; i < n; ++i) insert(s[i], first + std::int32_t(i));
  }

  // Adds another list's entries (of other ids): the k best of both.
  void merge(const top_k_list& other) {
    for (index j = 0; j < other.filled_; ++j) insert(other.score_[std::size_t(j)], other.id_[std::size_t(j)]);
  }

  [[nodiscard]] index size() const {
    return filled_;
  }
  [[nodiscard]] std::span<const std::int32_t> ids() const {
    return {id_.data(), std::size_t(filled_)};
  }
  [[nodiscard]] std::span<const float> scores() const {
    return {score_.data(), std::size_t(filled_)};
  }

 private:
  static bool better(float sa, std::int32_t a, float sb, std::int32_t b) {
    return sa > sb || (sa == sb && a < b);
  }

  // Into the sorted list if it beats the worst (an insertion, dropping the worst when full).
  void insert(float s, std::int32_t id) {
    if (filled_ == k_ && !better(s, id, score_[std::size_t(k_ - 1)], id_[std::size_t(k_ - 1)])) return;
    index j = filled_ < k_ ? filled_++ : k_ - 1;
    while (j > 0 && better(s, id, score_[std::size_t(j - 1)], id_[std::size_t(j - 1)])) {
      score_[std::size_t(j)] = score_[std::size_t(j - 1)];
      id_[std::size_t(j)] = id_[std::size_t(j - 1)];
      --j;
    }
    score_[std::size_t(j)] = s;
    id_[std::size_t(j)] = id;
  }

  index k_ = 0, filled_ = 0;
  std::vector<float> score_;
  std::vector<std::int32_t> id_;
};

namespace detail {
inline void top_k_check(std::span<const float> scores, index k, std::span<std::int32_t> out) {
  const index n = index(scores.size()) - 1;
  require(k >= 1 && k <= n, "top_k: k = {} outside 1..{}", k, n);
  require(index(out.size()) >= k, "top_k: output holds {} ids, expected at least {}", out.size(), k);
}
}  // namespace detail

// The k largest of scores[1..n] (column 0 is padding), best first: one item
// at a time into a sorted list. The plain twin the tests hold top_k and
// top_k_list to.
inline void top_k_ref(std::span<const float> scores, index k, std::span<std::int32_t> out) {
  detail::top_k_check(scores, k, out);
  const auto better = [&](std::int32_t a, std::int32_t b) {
    return scores[std::size_t(a)] > scores[std::size_t(b)] ||
           (scores[std::size_t(a)] == scores[std::size_t(b)] && a < b);
  };
  index filled = 0;
  for (std::int32_t id = 1; id < std::int32_t(scores.size()); ++id) {
    if (filled == k && !better(id, out[std::size_t(k - 1)])) continue;
    index j = filled < k ? filled++ : k - 1;
    while (j > 0 && better(id, out[std::size_t(j - 1)])) {
      out[std::size_t(j)] = out[std::size_t(j - 1)];
      --j;
    }
    out[std::size_t(j)] = id;
  }
}

// top_k_ref's result in one pass (top_k_list over the whole row); with
// out_scores (not empty) their scores too.
inline void top_k(std::span<const float> scores, index k, std::span<std::int32_t> out,
                  std::span<float> out_scores = {}) {
  detail::top_k_check(scores, k, out);
  require(out_scores.empty() || index(out_scores.size()) >= k, "top_k: score output holds {} values, expected {}",
          out_scores.size(), k);
  thread_local top_k_list list;  // after a thread's first call: no allocation
  list.reset(k);
  list.push(scores.data() + 1, index(scores.size()) - 1, 1);
  std::copy_n(list.ids().begin(), k, out.begin());
  if (!out_scores.empty()) std::copy_n(list.scores().begin(), k, out_scores.begin());
}

}  // namespace slmrec::model
