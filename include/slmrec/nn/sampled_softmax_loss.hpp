#pragma once
// sampled_softmax_loss: softmax cross-entropy of each row's target against a
// candidate set shared by the whole batch instead of every item, the
// standard large-vocabulary estimator (Jean et al. 2015; for recommendation,
// Yi et al. 2019, RecSys). Each candidate's logit is corrected by subtracting
// its log Q, the log of the probability that the draw put it in the set (the
// caller's sampler says what that is; zeros switch the correction off), so
// that sum_j exp(z_j) over the set is an unbiased (Horvitz-Thompson) estimate
// of the sum over every item. The target's own logit is exact: it is in every
// row's softmax by construction, not by chance, so it is not corrected
// (Blanc & Rendle 2018; correcting it too scales the negatives' sum by the
// target's Q, which underweights the negatives of rare targets: 3-9% of
// NDCG@10 on Beauty, docs/scaling.md). A candidate equal to a
// row's target is dropped from that row's softmax (an accidental hit). Only
// the candidates' and the targets' table rows get a gradient, so the cost
// grows with the candidates, not the catalog.
//
//   loss_i = -s_i + log(exp(s_i) + sum_{j : c_j != t_i} exp(z_ij))
//   s_i = h_i . w[t_i],   z_ij = h_i . w[c_j] - o(c_j)
#include <algorithm>
#include <cstdint>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/context.hpp>
#include <slmrec/nn/softmax_loss.hpp>

namespace slmrec::nn {

template <backend::backend BE>
class sampled_softmax_loss {
 public:
  using T = typename BE::scalar;

  // Logits per chunk of rows, as full_softmax_loss: bounds the [rows, candidates] buffer.
  static constexpr index default_chunk_elements = full_softmax_loss<BE>::default_chunk_elements;

  explicit sampled_softmax_loss(index chunk_elements = default_chunk_elements) : chunk_elements_(chunk_elements) {}

  // h [n, d]; table [items + 1, d]; targets [n]; candidates [c] (item ids,
  // repeats allowed) and their corrections candidate_offsets [c]; all in
  // backend memory. Adds d(scale * loss)/d h into dh and d/d table into the
  // target and candidate rows of dtable (each may be null). Returns the loss
  // summed over rows.
  double forward_backward(const T* h, const T* table, const std::int32_t* targets, const std::int32_t* candidates,
                          const T* candidate_offsets, index n, index c, index d, T* dh, T* dtable, double scale)
    requires backend::sampled_softmax_ops<BE>
  {
    ensure_size(cand_rows_, c * d);
    ensure_size(dcand_rows_, c * d);
    ensure_size(target_rows_, n * d);
    ensure_size(pos_, n);
    ensure_size(neg_offsets_, c);
    BE::gather_rows(table, candidates, cand_rows_.data(), c, d);
    BE::gather_rows(table, targets, target_rows_.data(), n, d);
    BE::fill(neg_offsets_.data(), c, T(0));
    BE::axpy(T(-1), candidate_offsets, neg_offsets_.data(), c);
    BE::row_dot(h, target_rows_.data(), pos_.data(), n, d);
    BE::fill(dcand_rows_.data(), c * d, T(0));

    const index chunk = rows_per_chunk(chunk_elements_, c);
    ensure_size(logits_, std::min(chunk, n) * c);
    double total = 0.0;
    for (index r0 = 0; r0 < n; r0 += chunk) {
      const index rows = std::min(chunk, n - r0);
      T* z = logits_.data();
      if (c > 0) {
        BE::gemm(false, true, rows, c, d, T(1), h + r0 * d, d, cand_rows_.data(), d, T(0), z, c);
        BE::add_bias(z, neg_offsets_.data(), rows, c);
      }
      total += BE::sampled_softmax_xent_rows(z, pos_.data() + r0, targets + r0, candidates, rows, c, T(scale));
      if (c > 0) {
        if (dh != nullptr) BE::gemm(false, false, rows, d, c, T(1), z, c, cand_rows_.data(), d, T(1), dh + r0 * d, d);
        if (dtable != nullptr) BE::gemm(true, false, c, d, rows, T(1), z, c, h + r0 * d, d, T(1), dcand_rows_.data(), d);
      }
    }
    // pos_ now holds d loss / d s_i.
    if (dh != nullptr) BE::scale_rows_add(target_rows_.data(), pos_.data(), dh, n, d);
    if (dtable != nullptr) {
      BE::scatter_add_rows(dcand_rows_.data(), candidates, dtable, c, d);
      BE::fill(target_rows_.data(), n * d, T(0));  // reused: d(target row) = d s_i * h_i
      BE::scale_rows_add(h, pos_.data(), target_rows_.data(), n, d);
      BE::scatter_add_rows(target_rows_.data(), targets, dtable, n, d);
    }
    return total;
  }

 private:
  index chunk_elements_;
  typename BE::template buffer<T> cand_rows_, dcand_rows_, target_rows_, pos_, neg_offsets_, logits_;
};

}  // namespace slmrec::nn
