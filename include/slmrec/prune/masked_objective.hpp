#pragma once
// masked_objective<O>: any training objective (next-item, distillation) with
// pruning masks held through every step: the values are masked before the
// forward and the gradients after the backward, so a pruned weight stays
// exactly zero and clipping sees only the weights that live.
#include <cstdint>
#include <span>

#include <nlohmann/json.hpp>

#include <slmrec/data/batch.hpp>
#include <slmrec/prune/mask.hpp>

namespace slmrec::prune {

template <class Objective, class Masks>
class masked_objective {
 public:
  masked_objective(Objective& inner, const Masks& masks) : inner_(inner), masks_(masks) {}

  double train_step(const data::batch& b, std::uint64_t seed) {
    masks_.apply_values(inner_.parameters());
    const double loss = inner_.train_step(b, seed);
    masks_.apply_grads(inner_.parameters());
    return loss;
  }
  void score(const data::batch& b, std::span<float> scores) {
    masks_.apply_values(inner_.parameters());  // the optimiser has moved nothing it may not, but be exact
    inner_.score(b, scores);
  }
  auto& parameters() { return inner_.parameters(); }
  [[nodiscard]] index max_len() const { return inner_.max_len(); }
  [[nodiscard]] nlohmann::json config_json() const {
    auto j = inner_.config_json();
    j["prune"] = {{"masked_weights", masks_.pruned()}, {"sparsity", masks_.sparsity()}};
    return j;
  }

 private:
  Objective& inner_;
  const Masks& masks_;
};

}  // namespace slmrec::prune
