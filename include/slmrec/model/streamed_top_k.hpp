#pragma once
// Each user's top-k over the whole catalog without a [users x items] score
// matrix: the items are scored in blocks for every user of the batch at
// once (one read of the item rows per batch, not per user), each block goes
// through the history exclusion into the users' top_k_list, and the blocks
// are split over the threads, whose lists are merged at the end. Serving is
// bound by reading the item table, so one user gets every core too.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/first_error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/model/top_k.hpp>

namespace slmrec::model {

// A thread's lists and buffers, kept by the caller across calls (no allocation after the first).
struct streamed_top_k_state {
  std::vector<top_k_list> lists;  // [users]
  std::vector<float> scores;      // [users, block]
  std::vector<float> scratch;     // the scorer's
};

// Items per block: the block's scores for all users stay in L2 (about
// 512 KB) while their top-k lists read them, and there are several blocks
// per thread to balance. A multiple of 16 (int8 panels, vector tiles).
inline index streamed_block_items(index users, index items, index threads) {
  const index by_cache = std::clamp<index>((index(1) << 17) / std::max<index>(users, 1), 256, 16384);
  const index by_balance = std::max<index>(256, ceil_div(items, 4 * threads));
  return round_up(std::min(by_cache, by_balance), 16);
}

// sc: a scorer with users(), items() and score(first, count, out, ldo,
// scratch) (item_scorer). history(u): user u's items, excluded when
// exclude_history. out: [users, k], best first; out_scores (unless empty):
// their scores [users, k]. threads 0: OpenMP's count; block 0:
// streamed_block_items (a multiple of 16 otherwise too, for tests).
template <class Scorer, class History>
void streamed_top_k(Scorer& sc, index k, bool exclude_history, const History& history, std::span<std::int32_t> out,
                    std::vector<streamed_top_k_state>& states, index threads = 0, index block = 0,
                    std::span<float> out_scores = {}) {
  const index users = sc.users(), v = sc.items();
#if defined(_OPENMP)
  if (threads <= 0) threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  threads = 1;
#endif
  // Below about a million multiply-adds a parallel region costs more than it saves.
  if (users * v * sc.width() < (index(1) << 20)) threads = 1;
  if (block <= 0) block = streamed_block_items(users, v, threads);
  const index blocks = ceil_div(v, block);
  // Every allocation before the region: nothing in it may throw outside capture.
  if (index(states.size()) < threads) states.resize(std::size_t(threads));
  for (index t = 0; t < threads; ++t) {
    auto& st = states[std::size_t(t)];
    st.lists.resize(std::size_t(users));
    for (auto& l : st.lists) l.reset(k);
    st.scores.resize(std::size_t(users * block));
  }
  index team = 1;
  first_error error;
  SLMREC_OMP(parallel num_threads(int(threads)) if (threads > 1)) {
#if defined(_OPENMP)
    const index me = omp_get_thread_num();
    SLMREC_OMP(single) team = omp_get_num_threads();
#else
    const index me = 0;
#endif
    auto& st = states[std::size_t(me)];
    // Static chunks: each thread's blocks ascend, as top_k_list::push requires.
    SLMREC_OMP(for schedule(static))
    for (index b = 0; b < blocks; ++b)
      error.capture([&] {
        const index first = b * block, n = std::min(block, v - first);
        sc.score(first, n, st.scores.data(), n, st.scratch);
        const index skip = first == 0 ? 1 : 0;  // column 0 is padding
        for (index u = 0; u < users; ++u) {
          const std::span<float> s(st.scores.data() + u * n, std::size_t(n));
          if (exclude_history) exclude_items(s, first, history(u));
          st.lists[std::size_t(u)].push(s.data() + skip, n - skip, std::int32_t(first + skip));
        }
      });
  }
  error.rethrow();
  for (index u = 0; u < users; ++u) {
    auto& best = states[0].lists[std::size_t(u)];
    for (index t = 1; t < team; ++t) best.merge(states[std::size_t(t)].lists[std::size_t(u)]);
    std::copy_n(best.ids().begin(), k, out.begin() + std::ptrdiff_t(u * k));
    if (!out_scores.empty()) std::copy_n(best.scores().begin(), k, out_scores.begin() + std::ptrdiff_t(u * k));
  }
}

}  // namespace slmrec::model
