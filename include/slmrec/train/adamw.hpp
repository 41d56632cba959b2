#pragma once
// AdamW over a parameter_store: decoupled weight decay (applied only to the
// parameters whose spec says `decay`, i.e. matrices, not norms, biases or
// embeddings) and bias correction. State lives in flat buffers with the
// store's layout, so a checkpoint saves three arrays.
//
// A row-tracked table (nn::parameter_store::enable_row_tracking: the item
// table under a sampled loss) is updated only in the rows its gradient
// touched, each row with its own step count for the bias correction ("lazy
// Adam" with per-row steps): the moments of the other rows do not decay and
// those rows do not move, so a step costs what the batch touched, not the
// table. A row updated at every step moves exactly as under dense AdamW.
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <slmrec/core/error.hpp>

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
    for (const auto& e : params.entries())
      if (params.row_tracked(e)) row_steps_.push_back({e.spec.name, std::vector<std::int64_t>(std::size_t(rows(e)), 0)});
  }

  // One update with learning rate `lr` (the schedule's value for this step).
  void step(double lr) {
    ++t_;
    const double bc1 = 1.0 - std::pow(cfg_.beta1, double(t_));
    const double bc2 = 1.0 - std::pow(cfg_.beta2, double(t_));
    for (const auto& e : params_->entries()) {
      if (!e.spec.trainable) continue;
      const double wd = e.spec.decay ? cfg_.weight_decay : 0.0;
      if (params_->row_tracked(e)) {
        step_rows(e, lr, wd);
        continue;
      }
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
  // Per-row step counts of a row-tracked table (empty span for any other parameter).
  std::span<std::int64_t> row_steps(const std::string& name) {
    for (auto& [n, steps] : row_steps_)
      if (n == name) return steps;
    return {};
  }

 private:
  static index rows(const typename nn::parameter_store<BE>::entry& e) { return e.spec.shape.front(); }

  void step_rows(const typename nn::parameter_store<BE>::entry& e, double lr, double wd) {
    if constexpr (backend::row_sparse_optim_ops<BE>) {
      const auto touched = params_->touched_rows(e);
      auto steps = row_steps(e.spec.name);
      require(index(steps.size()) == rows(e), "adamw: no per-row step counts for '{}' (row tracking was enabled "
              "after the optimiser was made)", e.spec.name);
      rows_.clear();
      if (touched.all) {
        for (index r = 0; r < rows(e); ++r) rows_.push_back(std::int32_t(r));
      } else {
        rows_.assign(touched.rows.begin(), touched.rows.end());
      }
      bc1_.resize(rows_.size());
      bc2_.resize(rows_.size());
      for (std::size_t i = 0; i < rows_.size(); ++i) {  // as step(): corrections from the double betas
        const double t = double(++steps[std::size_t(rows_[i])]);
        bc1_[i] = T(1.0 - std::pow(cfg_.beta1, t));
        bc2_[i] = T(1.0 - std::pow(cfg_.beta2, t));
      }
      BE::adamw_update_rows(params_->value(e), params_->grad(e), m_.data() + e.offset, v_.data() + e.offset,
                            rows_.data(), bc1_.data(), bc2_.data(), index(rows_.size()), e.size / rows(e), T(lr),
                            T(cfg_.beta1), T(cfg_.beta2), T(cfg_.eps), T(wd));
    } else {
      fail("adamw: '{}' has a row-sparse gradient, which the {} backend cannot update yet", e.spec.name, BE::name);
    }
  }

  nn::parameter_store<BE>* params_ = nullptr;
  adamw_config cfg_{};
  long long t_ = 0;
  typename BE::template buffer<T> m_, v_;
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> row_steps_;  // row-tracked tables
  std::vector<std::int32_t> rows_;                                          // scratch of step_rows
  std::vector<T> bc1_, bc2_;
};

}  // namespace slmrec::train
