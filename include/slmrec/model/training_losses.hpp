#pragma once
// The training losses of a recommender (model/recommender.hpp derives from
// this): full cross-entropy, the multi-supervision heads' cross-entropy,
// SASRec's sampled BCE and the sampled softmax, all in one frame: the rows of
// the trimmed batch that have a target are gathered, the loss adds its
// gradient into them, they are scattered back and the encoder's backward runs.
// The losses own their buffers; the model gives them its encoder, its head
// (head_loss: which table and queries a loss scores with) and the row
// tracking of its item-sized gradients.
#include <algorithm>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/model/head.hpp>
#include <slmrec/nn/parameters.hpp>
#include <slmrec/nn/sampled_softmax_loss.hpp>
#include <slmrec/nn/softmax_loss.hpp>

namespace slmrec::model {

template <class Model, class BE>
class training_losses {
  using T = typename BE::scalar;
  Model& self() { return static_cast<Model&>(*this); }
  friend Model;

 public:
  // Cross-entropy over all items at the rows of the last encode() whose
  // target (one per trimmed cell, [batch * length]) is not 0; mean over those
  // rows. Runs the whole backward. Returns the mean loss (0 rows: 0).
  // `denominator` > 0 replaces the count of rows the mean divides by (every
  // loss below takes it): data-parallel ranks pass the global batch's count,
  // so their gradients add up to the global mean (dist/loss_units.hpp).
  double train_cross_entropy(std::span<const std::int32_t> targets, std::span<const T* const> extra = {},
                             double denominator = 0.0) {
    static_assert(Model::trainable,
                  "slmrec: a quantized recommender is inference-only; train the float model, then model::quantize it");
    select_rows(targets);
    const double den = mean_denominator(denominator);
    return selected_rows_loss(
        extra, [&](const T* h, T* dh, index m) { return head_cross_entropy(h, dh, m, 1.0 / den); }, den);
  }

  // Multi-supervision: the extra head j (its own norm, then the model's item
  // scoring) on layer config().aux_layers[j]'s output, cross-entropy at the
  // targets' rows. Adds d(weight * loss)/d(layer output) into dlayer [rows, dim]
  // and the head's parameter gradients; call after encode(), before the main
  // backward that reads dlayer as an extra gradient. Returns the mean loss.
  double aux_cross_entropy(std::span<const std::int32_t> targets, index j, double weight, T* dlayer,
                           double denominator = 0.0) {
    static_assert(Model::trainable,
                  "slmrec: a quantized recommender is inference-only; train the float model, then model::quantize it");
    select_rows(targets);
    const index m = index(sel_rows_.size()), d = self().cfg_.dim;
    if (m == 0) return 0.0;
    auto& norm = self().aux_norms_[std::size_t(j)];
    nn::ensure_size(aux_in_, m * d);
    nn::ensure_size(aux_h_, m * d);
    nn::ensure_size(daux_h_, m * d);
    nn::ensure_size(daux_in_, m * d);
    BE::gather_rows(self().stack_.output(self().cfg_.aux_layers[std::size_t(j)]), sel_dev_.data(), aux_in_.data(), m,
                    d);
    norm.forward(aux_in_.data(), aux_h_.data(), m);
    BE::fill(daux_h_.data(), m * d, T(0));
    const double den = mean_denominator(denominator);
    const double loss = head_cross_entropy(aux_h_.data(), daux_h_.data(), m, weight / den) / den;
    BE::fill(daux_in_.data(), m * d, T(0));
    norm.backward(aux_in_.data(), daux_h_.data(), daux_in_.data(), m);
    BE::scatter_add_rows(daux_in_.data(), sel_dev_.data(), dlayer, m, d);
    return loss;
  }

  // SASRec's objective: binary cross-entropy of each target against one
  // negative (`negatives`, same layout as targets). Tied head only.
  double train_sampled_bce(std::span<const std::int32_t> targets, std::span<const std::int32_t> negatives,
                           double denominator = 0.0) {
    static_assert(Model::trainable,
                  "slmrec: a quantized recommender is inference-only; train the float model, then model::quantize it");
    require(
        std::holds_alternative<head::tied<BE, typename Model::linear_type, typename Model::table_type>>(self().head_),
        "the sampled BCE loss scores with the item table: it needs the tied head");
    select_rows(targets);
    std::vector<std::int32_t> neg(sel_rows_.size());
    for (std::size_t i = 0; i < sel_rows_.size(); ++i) neg[i] = negatives[std::size_t(sel_rows_[i])];
    self().upload_ints(neg, neg_dev_);
    self().touch_item_rows(sel_targets_);
    self().touch_item_rows(neg);
    const double den = mean_denominator(denominator);
    return selected_rows_loss(
        {},
        [&](const T* h, T* dh, index m) {
          return bce_.forward_backward(h, self().items_.weight.value, tgt_dev_.data(), neg_dev_.data(), m,
                                       self().cfg_.dim, dh, self().items_.weight.grad, 1.0 / den);
        },
        den);
  }

  // Sampled softmax (nn/sampled_softmax_loss.hpp): each target against the
  // shared `candidates`, each candidate's logit corrected by its log Q
  // (candidate_offsets, one per candidate; zeros for no correction; the
  // target's logit is exact). Any head. Runs the whole backward;
  // returns the mean loss. The item table's gradient touches only the rows
  // used, which a row-tracked store (enable_sparse_item_gradients) exploits.
  double train_sampled_softmax(std::span<const std::int32_t> targets, std::span<const std::int32_t> candidates,
                               std::span<const float> candidate_offsets, double denominator = 0.0) {
    static_assert(Model::trainable,
                  "slmrec: a quantized recommender is inference-only; train the float model, then model::quantize it");
    if constexpr (!backend::sampled_softmax_ops<BE>) {
      fail("the sampled softmax loss does not run on the {} backend yet; use --loss ce there", BE::name);
    } else {
      require(candidate_offsets.size() == candidates.size(), "sampled softmax: {} corrections for {} candidates",
              candidate_offsets.size(), candidates.size());
      for (const auto c : candidates)
        require(c >= 1 && c <= self().cfg_.num_items, "sampled softmax: candidate item {} outside 1..{}", c,
                self().cfg_.num_items);
      select_rows(targets);
      self().upload_floats(candidate_offsets, cand_offsets_dev_);
      self().upload_ints(candidates, cand_dev_);
      const index c = index(candidates.size());
      const double den = mean_denominator(denominator);
      return selected_rows_loss(
          {},
          [&](const T* h, T* dh, index m) {
            return self().head_loss(h, dh, m, [&](const T* q, const T* table, T* dq, T* dtable, index dim) {
              self().touch_table_rows(dtable, sel_targets_);
              self().touch_table_rows(dtable, candidates);
              return sampled_.forward_backward(q, table, tgt_dev_.data(), cand_dev_.data(), cand_offsets_dev_.data(), m,
                                               c, dim, dq, dtable, 1.0 / den);
            });
          },
          den);
    }
  }

 protected:
  // What a loss's mean divides by: the selected rows, unless a caller gives the global count.
  [[nodiscard]] double mean_denominator(double given) const {
    return given > 0.0 ? given : double(std::max<std::size_t>(sel_rows_.size(), 1));
  }

  void select_rows(std::span<const std::int32_t> targets) {
    require(index(targets.size()) == self().in_.rows(), "loss: {} targets for a trimmed batch of {} cells",
            targets.size(), self().in_.rows());
    sel_rows_.clear();
    sel_targets_.clear();
    for (index r = 0; r < self().in_.rows(); ++r) {
      const auto t = targets[std::size_t(r)];
      if (t == 0) continue;
      require(t > 0 && t <= self().cfg_.num_items, "loss: target item {} outside 1..{}", t, self().cfg_.num_items);
      sel_rows_.push_back(std::int32_t(r));
      sel_targets_.push_back(t);
    }
    self().upload_ints(sel_rows_, sel_dev_);
    self().upload_ints(sel_targets_, tgt_dev_);
  }

  // The shared frame of the training losses: gather the final states of the
  // selected rows, let `loss(h, dh, m)` return its summed loss and add the
  // gradient of the mean into dh, scatter dh back and run the encoder's
  // backward (with `extra` gradients at block outputs). Returns the mean.
  template <class Loss>
  double selected_rows_loss(std::span<const T* const> extra, Loss&& loss, double den) {
    const index m = index(sel_rows_.size()), d = self().cfg_.dim;
    nn::ensure_size(dhidden_, self().in_.rows() * d);
    BE::fill(dhidden_.data(), self().in_.rows() * d, T(0));
    double mean = 0.0;
    if (m > 0) {
      nn::ensure_size(sel_h_, m * d);
      nn::ensure_size(dsel_h_, m * d);
      BE::fill(dsel_h_.data(), m * d, T(0));
      BE::gather_rows(self().hidden_.data(), sel_dev_.data(), sel_h_.data(), m, d);
      mean = loss(sel_h_.data(), dsel_h_.data(), m) / den;
      BE::scatter_add_rows(dsel_h_.data(), sel_dev_.data(), dhidden_.data(), m, d);
    }
    self().backward_encoder(dhidden_.data(), extra);
    return mean;
  }

  // Cross-entropy of the m selected rows h against every item; adds into dh
  // and the head's parameter gradients. Returns the summed loss.
  double head_cross_entropy(const T* h, T* dh, index m, double scale) {
    const index v = self().cfg_.num_items + 1;
    return self().head_loss(h, dh, m, [&](const T* q, const T* table, T* dq, T* dtable, index dim) {
      self().touch_all_table_rows(dtable);
      return ce_.forward_backward(q, table, nullptr, tgt_dev_.data(), m, v, dim, dq, dtable, nullptr, scale);
    });
  }

  nn::full_softmax_loss<BE> ce_;
  nn::sampled_bce_loss<BE> bce_;
  nn::sampled_softmax_loss<BE> sampled_;
  std::vector<std::int32_t> sel_rows_, sel_targets_;  // the cells with a target, and their targets
  typename BE::template buffer<std::int32_t> sel_dev_, tgt_dev_, neg_dev_, cand_dev_;
  typename BE::template buffer<T> cand_offsets_dev_, dhidden_, sel_h_, dsel_h_;
  typename BE::template buffer<T> aux_in_, aux_h_, daux_h_, daux_in_;  // multi-supervision heads
};

}  // namespace slmrec::model
