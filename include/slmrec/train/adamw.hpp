#pragma once
// AdamW over a parameter_store: decoupled weight decay (applied only to the
// parameters whose spec says `decay`, i.e. matrices, not norms, biases or
// embeddings) and bias correction. State lives in flat buffers with the
// store's layout, so a checkpoint saves three arrays.
//
// A row-tracked table (nn::parameter_store::enable_row_tracking: the item
// table under a sampled loss) is written only in the rows its gradient
// touched, and still moves as under dense AdamW ("lazy AdamW with catch-up").
// Under dense AdamW a row with no gradient keeps moving: its momentum decays
// over the next steps (and weight decay shrinks it). Dropping those moves,
// as plain lazy Adam does, cost the sampled softmax 5% of its NDCG@10 on
// Beauty (docs/scaling.md). Here each row remembers the step it is current
// at; when it is touched again (or at settle(), which the trainer calls
// before it validates or saves), the steps it sat out are applied at once in
// closed form: with a zero gradient for s steps, m -> b1^s m, v -> b2^s v and
// the parameter moves by
//
//   p -> K p - (sum_j a_j r^j K_j) m / (sqrt(v) + eps),   r = b1 / sqrt(b2),
//
// a_j = lr_j sqrt(1 - b2^t_j) / (1 - b1^t_j) at each skipped step t_j, K the
// weight decay's product over the skipped steps and K_j its product after
// step t_j. This equals s dense steps exactly but for where eps enters (each
// dense step adds it to a decayed sqrt(v)), so a step costs what the batch
// touched, per row a short scalar sum, not a sweep of the table.
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <slmrec/core/error.hpp>

#include <slmrec/backend/concept.hpp>
#include <slmrec/backend/cpu/parallel.hpp>  // SLMREC_OMP for the catch-up's per-row sums
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
      if (params.row_tracked(e)) current_.push_back({e.spec.name, std::vector<std::int64_t>(std::size_t(rows(e)), 0)});
  }

  // One update with learning rate `lr` (the schedule's value for this step).
  void step(double lr) {
    ++t_;
    const double bc1 = 1.0 - std::pow(cfg_.beta1, double(t_));
    const double bc2 = 1.0 - std::pow(cfg_.beta2, double(t_));
    if (!current_.empty()) record_step(lr, bc1, bc2);
    for (const auto& e : params_->entries()) {
      if (!e.spec.trainable) continue;
      const double wd = e.spec.decay ? cfg_.weight_decay : 0.0;
      if (params_->row_tracked(e)) {
        step_rows(e, lr, wd, bc1, bc2);
        continue;
      }
      BE::adamw_update(params_->value(e), params_->grad(e), m_.data() + e.offset, v_.data() + e.offset, e.size, T(lr),
                       T(cfg_.beta1), T(cfg_.beta2), T(cfg_.eps), T(wd), T(bc1), T(bc2));
    }
  }
  void step() { step(cfg_.lr); }

  // Brings every row of the row-tracked tables up to the current step (the
  // steps each sat out since it was last touched): after it the parameters
  // and moments are those of dense AdamW. Call before reading the weights
  // (validation, a checkpoint); a sweep of the tables, so not every step.
  void settle() {
    for (const auto& e : params_->entries()) {
      if (!params_->row_tracked(e)) continue;
      const auto current = current_rows(e);
      rows_.clear();
      for (std::size_t r = 0; r < current.size(); ++r)
        if (current[r] < t_) rows_.push_back(std::int32_t(r));
      catch_up(e, rows_, t_);
    }
    history_.clear();
    history_start_ = t_;
  }

  [[nodiscard]] long long steps() const { return t_; }
  // A run resumed at step t: every row is current there (checkpoints are settled).
  void set_steps(long long t) {
    t_ = t;
    for (auto& [name, current] : current_) std::fill(current.begin(), current.end(), std::int64_t(t));
    history_.clear();
    history_start_ = t;
  }
  [[nodiscard]] const adamw_config& config() const { return cfg_; }
  T* first_moment() { return m_.data(); }
  T* second_moment() { return v_.data(); }
  [[nodiscard]] index state_size() const { return index(m_.size()); }
  // The step each row of a row-tracked table is current at (empty for any other parameter).
  std::span<const std::int64_t> current_rows(const typename nn::parameter_store<BE>::entry& e) const {
    for (const auto& [n, current] : current_)
      if (n == e.spec.name) return current;
    return {};
  }

 private:
  static index rows(const typename nn::parameter_store<BE>::entry& e) { return e.spec.shape.front(); }

  // Per step since the last settle: the step's a_t (see the top), the log of
  // the weight decay's factor summed from the settle (K over any range of
  // steps is a difference of two sums), and a_t / K(settle, t], so that a
  // decayed row's catch-up is one multiply-add a skipped step.
  struct step_record {
    double a = 0.0, log_keep_sum = 0.0, a_over_keep = 0.0;
  };
  void record_step(double lr, double bc1, double bc2) {
    const double a = lr * std::sqrt(bc2) / bc1;
    const double sum = (history_.empty() ? 0.0 : history_.back().log_keep_sum) + std::log1p(-lr * cfg_.weight_decay);
    history_.push_back({a, sum, a * std::exp(-sum)});
  }
  // log of the weight decay's product over steps (from, to].
  [[nodiscard]] double log_keep(long long from, long long to) const {
    auto sum = [&](long long t) {
      return t <= history_start_ ? 0.0 : history_[std::size_t(t - history_start_ - 1)].log_keep_sum;
    };
    return sum(to) - sum(from);
  }

  // Applies to each of `visit`'s rows behind `through` the steps (current, through] it sat out.
  void catch_up(const typename nn::parameter_store<BE>::entry& e, std::span<const std::int32_t> visit,
                long long through) {
    if constexpr (backend::row_sparse_optim_ops<BE>) {
      auto& current = mutable_current(e);
      const bool decays = e.spec.decay && cfg_.weight_decay != 0.0;
      const double r = cfg_.beta1 / std::sqrt(cfg_.beta2);
      behind_.clear();
      for (const auto row : visit) {
        const long long from = current[std::size_t(row)];
        if (from >= through) continue;
        require(from >= history_start_, "adamw: row {} of '{}' is current at step {}, before the last settle ({})",
                row, e.spec.name, from, history_start_);
        behind_.push_back(row);
      }
      const std::size_t kept = behind_.size();
      keep_.resize(kept);
      shift_.resize(kept);
      m_scale_.resize(kept);
      v_scale_.resize(kept);
      const double keep_through = decays ? std::exp(log_keep(history_start_, through)) : 1.0;
      // A short scalar sum per row (about 400 terms for a row far behind): in parallel at catalog scale.
      SLMREC_OMP(parallel for if (kept > 512))
      for (std::size_t i = 0; i < kept; ++i) {
        const long long from = current[std::size_t(behind_[i])];
        const long long s = through - from;
        double shift = 0.0, rj = 1.0;
        const step_record* rec = history_.data() + (from - history_start_);  // rec[j - 1]: step from + j
        for (long long j = 1; j <= s && rj >= 1e-18; ++j) {  // r^j vanishes long before s at catalog scale
          rj *= r;
          shift += (decays ? rec[j - 1].a_over_keep : rec[j - 1].a) * rj;
        }
        keep_[i] = T(decays ? std::exp(log_keep(from, through)) : 1.0);
        shift_[i] = T(shift * keep_through);
        m_scale_[i] = T(std::pow(cfg_.beta1, double(s)));
        v_scale_[i] = T(std::pow(cfg_.beta2, double(s)));
      }
      for (const auto row : behind_) current[std::size_t(row)] = through;
      if (kept > 0)
        BE::adamw_catch_up_rows(params_->value(e), m_.data() + e.offset, v_.data() + e.offset, behind_.data(),
                                index(kept), e.size / rows(e), keep_.data(), shift_.data(), m_scale_.data(),
                                v_scale_.data(), T(cfg_.eps));
    }
  }

  // rows_ = the rows of e's gradient the last step touched.
  void touched_rows(const typename nn::parameter_store<BE>::entry& e) {
    const auto touched = params_->touched_rows(e);
    rows_.clear();
    if (touched.all) {
      for (index r = 0; r < rows(e); ++r) rows_.push_back(std::int32_t(r));
    } else {
      rows_.assign(touched.rows.begin(), touched.rows.end());
    }
  }

  std::vector<std::int64_t>& mutable_current(const typename nn::parameter_store<BE>::entry& e) {
    for (auto& [n, current] : current_)
      if (n == e.spec.name) return current;
    fail("adamw: '{}' is row-tracked but was not when the optimiser was made", e.spec.name);
  }

  void step_rows(const typename nn::parameter_store<BE>::entry& e, double lr, double wd, double bc1, double bc2) {
    if constexpr (backend::row_sparse_optim_ops<BE>) {
      touched_rows(e);
      catch_up(e, rows_, t_ - 1);  // the steps these rows sat out, then this one
      auto& current = mutable_current(e);
      for (const auto row : rows_) current[std::size_t(row)] = t_;
      BE::adamw_update_rows(params_->value(e), params_->grad(e), m_.data() + e.offset, v_.data() + e.offset,
                            rows_.data(), index(rows_.size()), e.size / rows(e), T(lr), T(cfg_.beta1), T(cfg_.beta2),
                            T(cfg_.eps), T(wd), T(bc1), T(bc2));
    } else {
      fail("adamw: '{}' has a row-sparse gradient, which the {} backend cannot update yet", e.spec.name, BE::name);
    }
  }

  nn::parameter_store<BE>* params_ = nullptr;
  adamw_config cfg_{};
  long long t_ = 0;
  typename BE::template buffer<T> m_, v_;
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> current_;  // row-tracked tables: step per row
  std::vector<step_record> history_;  // steps history_start_ + 1 ... t_
  long long history_start_ = 0;
  std::vector<std::int32_t> rows_, behind_;  // scratch: the rows a step or settle() visits, those behind
  std::vector<T> keep_, shift_, m_scale_, v_scale_;
};

}  // namespace slmrec::train
