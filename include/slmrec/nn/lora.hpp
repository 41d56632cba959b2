#pragma once
// lora_linear: a frozen base linear plus a trainable low-rank update,
//   y = x W^T + b + (alpha / r) * (x A^T) B^T,   A [r, in], B [out, r],
// with B starting at zero so the adapted layer starts as the base layer
// (Hu et al. 2021; PEFT tensor names lora_A / lora_B).
#include <cmath>
#include <string>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/nn/context.hpp>
#include <slmrec/nn/linear.hpp>

namespace slmrec::nn {

template <backend::backend BE>
class lora_linear {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;

  lora_linear() = default;
  lora_linear(index in_features, index out_features, bool bias = false, param_spec weight_init = {})
      : base(in_features, out_features, bias, std::move(weight_init)) {}

  // rank 0 = no adapter: the layer is its base linear, trainable.
  void enable_lora(index rank, double alpha) {
    require(rank >= 0, "LoRA rank must be non-negative, got {}", rank);
    rank_ = rank;
    alpha_ = alpha;
    base.set_frozen(rank > 0);
  }

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    base.visit(v, prefix);
    if (rank_ == 0) return;
    // A as PEFT's default (Kaiming-uniform with a = sqrt(5): bound 1/sqrt(in)).
    v(param_spec{prefix + ".lora_A.weight", {rank_, base.in_features()}, init_kind::xavier_uniform,
                 std::sqrt(double(rank_ + base.in_features()) / (6.0 * double(base.in_features()))), true, true},
      lora_a);
    v(param_spec{prefix + ".lora_B.weight", {base.out_features(), rank_}, init_kind::zeros, 0.0, true, true}, lora_b);
  }

  struct prepared {
    const T* x = nullptr;
    index rows = 0;
  };
  prepared prepare(const T* x, index rows) const { return {x, rows}; }
  void forward(const prepared& in, T* y) { forward(in.x, y, in.rows); }

  void forward(const T* x, T* y, index rows) {
    base.forward(x, y, rows);
    if (rank_ == 0) return;
    ensure_size(xa_, rows * rank_);
    BE::gemm(false, true, rows, rank_, base.in_features(), T(1), x, base.in_features(), lora_a.value,
             base.in_features(), T(0), xa_.data(), rank_);
    BE::gemm(false, true, rows, base.out_features(), rank_, T(scaling()), xa_.data(), rank_, lora_b.value, rank_,
             T(1), y, base.out_features());
  }

  void backward(const T* x, const T* dy, T* dx, index rows) {
    base.backward(x, dy, dx, rows);  // dW skipped: the base is frozen
    if (rank_ == 0) return;
    const index in = base.in_features(), out = base.out_features();
    ensure_size(dxa_, rows * rank_);
    // dB += s * dy^T (xA);  d(xA) = s * dy B;  dA += d(xA)^T x;  dx += d(xA) A
    BE::gemm(true, false, out, rank_, rows, T(scaling()), dy, out, xa_.data(), rank_, T(1), lora_b.grad, rank_);
    BE::gemm(false, false, rows, rank_, out, T(scaling()), dy, out, lora_b.value, rank_, T(0), dxa_.data(), rank_);
    BE::gemm(true, false, rank_, in, rows, T(1), dxa_.data(), rank_, x, in, T(1), lora_a.grad, in);
    if (dx != nullptr) BE::gemm(false, false, rows, in, rank_, T(1), dxa_.data(), rank_, lora_a.value, in, T(1), dx, in);
  }

  [[nodiscard]] double scaling() const { return rank_ > 0 ? alpha_ / double(rank_) : 0.0; }
  [[nodiscard]] index rank() const { return rank_; }
  [[nodiscard]] index in_features() const { return base.in_features(); }
  [[nodiscard]] index out_features() const { return base.out_features(); }

  linear<BE> base;
  param<T> lora_a, lora_b;

 private:
  index rank_ = 0;
  double alpha_ = 0.0;
  typename BE::template buffer<T> xa_, dxa_;  // [rows, rank]
};

}  // namespace slmrec::nn
