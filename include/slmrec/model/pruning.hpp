#pragma once
// What a recommender's Prune policy (prune/policy.hpp) adds to it, as a base
// class (as training_losses adds the losses): nothing for prune::none and
// prune::structured (the config's shapes say it all), and for a trainable
// prune::masked<Scope> model its masks: magnitude pruning that zeroes the
// weights, the masks recovered from a reloaded model's zeros, and the
// masking of the decoder's gradients that recommender::backward_encoder
// calls after every backward, so every objective trains a pruned model alike.
#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/parameters.hpp>
#include <slmrec/prune/magnitude.hpp>
#include <slmrec/prune/mask.hpp>
#include <slmrec/prune/policy.hpp>

namespace slmrec::model {

template <class Model, backend::backend BE, class Prune, bool Trainable>
class pruning {
 protected:
  void mask_gradients(nn::parameter_store<BE>&) const {}
};

template <class Model, backend::backend BE, class Scope>
class pruning<Model, BE, prune::masked<Scope>, true> {
 public:
  // Magnitude pruning of the decoder's matrices to `sparsity` (a fraction of
  // their weights, per matrix or globally as Scope says): the pruned weights
  // become zero and, their gradients masked after every backward, stay zero.
  const prune::mask_set<BE>& prune_magnitude(double sparsity) {
    auto& ps = model().parameters();
    masks_ = prune::magnitude(ps, {sparsity, Scope::where});
    masks_.apply_values(ps);
    return masks_;
  }
  // After loading the weights of a model pruned before: its zeros are its masks.
  const prune::mask_set<BE>& restore_masks() {
    auto& ps = model().parameters();
    masks_ = prune::mask_set<BE>::from_zeros(ps, prune::prunable_matrices(ps));
    return masks_;
  }
  const prune::mask_set<BE>& masks() const { return masks_; }

 protected:
  void mask_gradients(nn::parameter_store<BE>& ps) const { masks_.apply_grads(ps); }

 private:
  Model& model() { return static_cast<Model&>(*this); }
  prune::mask_set<BE> masks_;
};

}  // namespace slmrec::model
