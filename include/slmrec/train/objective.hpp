#pragma once
// Objectives the trainer optimises. The trainer knows only this interface; it
// never knows whether a step is plain next-item prediction or distillation.
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/core/hash.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/data/batch.hpp>
#include <slmrec/dist/loss_units.hpp>
#include <slmrec/model/item_scorer.hpp>
#include <slmrec/prune/mask.hpp>
#include <slmrec/train/candidate_sampler.hpp>

namespace slmrec::train {

// o.train_step(batch, seed): forward and backward of one batch, gradients
// added into o.parameters(); returns the batch's mean loss.
// o.score(batch, scores): scores [batch.size, items + 1] of the next item for
// validation. o.config_json(): what a checkpoint's config.json records.
template <class O>
concept objective = requires(O& o, const data::batch& b, std::uint64_t seed, std::span<float> scores) {
  { o.train_step(b, seed) } -> std::convertible_to<double>;
  o.score(b, scores);
  o.parameters();
  { o.max_len() } -> std::convertible_to<index>;
  { o.config_json() } -> std::convertible_to<nlohmann::json>;
};

// An objective data-parallel training can split: o.loss_units(batch) counts
// what its mean loss divides by, and o.train_step(batch, seed, global) divides
// by the global batch's counts instead (dist/loss_units.hpp).
template <class O>
concept shardable_objective = objective<O> && requires(O& o, const data::batch& b, std::uint64_t seed,
                                                       const dist::loss_units& u) {
  { o.loss_units(b) } -> std::convertible_to<dist::loss_units>;
  { o.train_step(b, seed, u) } -> std::convertible_to<double>;
};

// Cells of a batch with a next-item target: what the next-item losses average over.
inline double count_targets(const data::batch& b) {
  return double(std::count_if(b.targets.begin(), b.targets.end(), [](std::int32_t t) { return t != 0; }));
}

enum class loss_kind { cross_entropy, sampled_bce, sampled_softmax };

// Next-item prediction for one recommender: softmax cross-entropy over all
// items, SASRec's binary cross-entropy with one uniform negative per target
// (never an item of that row nor the target itself), or the sampled softmax
// against a candidate set shared by the batch (catalog scale; the item
// table's gradient and update then touch only the rows the batch used).
template <class Model>
class next_item_objective {
 public:
  next_item_objective(Model& model, loss_kind loss) : model_(model), loss_(loss) {
    require(loss != loss_kind::sampled_softmax, "the sampled softmax objective is made from its candidate sampler");
  }
  next_item_objective(Model& model, candidate_sampler sampler)
      : model_(model), loss_(loss_kind::sampled_softmax), sampler_(std::move(sampler)) {
    model_.enable_sparse_item_gradients();
  }

  double train_step(const data::batch& b, std::uint64_t seed, const dist::loss_units& global = {}) {
    const double den = global.targets;  // 0: the batch's own count
    model_.encode(b.items, b.size, b.length, true, seed);
    const auto& in = model_.input();
    targets_.resize(std::size_t(in.rows()));
    for (index r = 0; r < in.batch; ++r)
      for (index t = 0; t < in.length; ++t)
        targets_[std::size_t(r * in.length + t)] = b.target(r, in.first_column + t);
    if (loss_ == loss_kind::cross_entropy) return model_.train_cross_entropy(targets_, {}, den);
    if (loss_ == loss_kind::sampled_softmax) {
      sampler_->draw(targets_, mix64(seed ^ 0x5A3D'50F7ull), candidates_);
      return model_.train_sampled_softmax(targets_, candidates_.items, candidates_.offsets, den);
    }
    sample_negatives(in.batch, in.length, mix64(seed ^ 0xBCEull));
    return model_.train_sampled_bce(targets_, negatives_, den);
  }
  [[nodiscard]] dist::loss_units loss_units(const data::batch& b) const { return {count_targets(b), 0.0}; }

  void score(const data::batch& b, std::span<float> scores) { model_.score_last(b.items, b.size, b.length, scores); }
  // Validation's full ranking streams the catalog through this where the model allows it.
  auto& block_scorer()
  requires model::scores_item_ranges<Model>
  {
    return model::item_scorer_of(model_, block_scorer_);
  }
  auto& parameters() { return model_.parameters(); }
  [[nodiscard]] index max_len() const { return model_.config().max_len; }
  [[nodiscard]] nlohmann::json config_json() const {
    nlohmann::json j = {{"model", model_.config()}};
    prune::record_pruning(model_, j);
    if (sampler_) {
      const auto& o = sampler_->options();
      j["loss"] = {{"kind", "sampled_softmax"}, {"negatives", o.negatives}, {"sampler", proposal_name(o.sampler)},
                   {"popularity_power", o.popularity_power}, {"in_batch", o.in_batch}, {"log_q", o.log_q}};
    }
    return j;
  }
  Model& model() { return model_; }

 private:
  void sample_negatives(index rows, index length, std::uint64_t seed) {
    const auto& items = model_.input().items;
    const auto num_items = std::uint64_t(model_.config().num_items);
    rng gen(seed);
    negatives_.assign(targets_.size(), 0);
    for (index r = 0; r < rows; ++r) {
      const auto row = std::span(items).subspan(std::size_t(r * length), std::size_t(length));
      for (index t = 0; t < length; ++t) {
        const auto cell = std::size_t(r * length + t);
        if (targets_[cell] == 0) continue;
        require(num_items > std::uint64_t(length) + 1, "sampled BCE: too few items ({}) to draw negatives", num_items);
        std::int32_t neg = 0;
        do {
          neg = std::int32_t(1 + gen.below(num_items));
        } while (neg == targets_[cell] || std::find(row.begin(), row.end(), neg) != row.end());
        negatives_[cell] = neg;
      }
    }
  }

  Model& model_;
  std::unique_ptr<model::item_scorer<Model>> block_scorer_;
  loss_kind loss_;
  std::optional<candidate_sampler> sampler_;
  candidate_set candidates_;
  std::vector<std::int32_t> targets_, negatives_;
};

}  // namespace slmrec::train
