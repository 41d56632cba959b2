#pragma once
// AdamW over a parameter_store: decoupled weight decay (applied only to the
// parameters whose spec says `decay`, i.e. matrices, not norms, biases or
// embeddings) and bias correction. State lives in flat buffers with the
// store's layout, so a checkpoint saves three arrays.
#include <cmath>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::train {

struct adamw_config {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

template <backend::backend BE>
class adamw {
 public:
  using T = typename BE::scalar;

  adamw() = default;
  adamw(nn::parameter_store<BE>& params, const adamw_config& cfg) : params_(&params), cfg_(cfg) {
    m_.assign(std::size_t(params.total_size()), T(0));
    v_.assign(std::size_t(params.total_size()), T(0));
  }

  // One update with learning rate `lr` (the schedule's value for this step).
  void step(double lr) {
    ++t_;
    const double bc1 = 1.0 - std::pow(cfg_.beta1, double(t_));
    const double bc2 = 1.0 - std::pow(cfg_.beta2, double(t_));
    for (const auto& e : params_->entries()) {
      if (!e.spec.trainable) continue;
      const double wd = e.spec.decay ? cfg_.weight_decay : 0.0;
      BE::adamw_update(params_->value(e), params_->grad(e), m_.data() + e.offset, v_.data() + e.offset, e.size, T(lr),
                       T(cfg_.beta1), T(cfg_.beta2), T(cfg_.eps), T(wd), T(bc1), T(bc2));
    }
  }
  void step() { step(cfg_.lr); }

  [[nodiscard]] long long steps() const { return t_; }
  void set_steps(long long t) { t_ = t; }
  [[nodiscard]] const adamw_config& config() const { return cfg_; }
  T* first_moment() { return m_.data(); }
  T* second_moment() { return v_.data(); }
  [[nodiscard]] index state_size() const { return index(m_.size()); }

 private:
  nn::parameter_store<BE>* params_ = nullptr;
  adamw_config cfg_{};
  long long t_ = 0;
  typename BE::template buffer<T> m_, v_;
};

}  // namespace slmrec::train
