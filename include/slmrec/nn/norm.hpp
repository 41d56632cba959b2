#pragma once
// rms_norm (LLaMA) and layer_norm (SASRec) over the last dimension.
#include <string>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/context.hpp>
#include <slmrec/nn/param.hpp>

namespace slmrec::nn {

template <backend::backend BE>
class rms_norm {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;

  rms_norm() = default;
  explicit rms_norm(index dim, double eps = 1e-6) : dim_(dim), eps_(eps) {}

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    v(param_spec{prefix + ".weight", {dim_}, init_kind::ones, 0.0, !frozen_, false}, weight);
  }
  // A frozen norm (a pretrained backbone's) keeps its weight and gets no gradient (set before attach).
  void set_frozen(bool frozen) { frozen_ = frozen; }

  // x, y: [rows, dim]; keeps 1/rms per row for the backward.
  void forward(const T* x, T* y, index rows) {
    ensure_size(rstd_, rows);
    BE::rms_norm_forward(x, weight.value, y, rstd_.data(), rows, dim_, T(eps_));
  }
  void backward(const T* x, const T* dy, T* dx, index rows) {
    BE::rms_norm_backward(x, weight.value, rstd_.data(), dy, dx, weight.grad, rows, dim_);
  }

  [[nodiscard]] index dim() const { return dim_; }
  param<T> weight;

 private:
  index dim_ = 0;
  double eps_ = 1e-6;
  bool frozen_ = false;
  typename BE::template buffer<T> rstd_;  // [rows]
};

template <backend::backend BE>
class layer_norm {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;

  layer_norm() = default;
  explicit layer_norm(index dim, double eps = 1e-8) : dim_(dim), eps_(eps) {}

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    v(param_spec{prefix + ".weight", {dim_}, init_kind::ones, 0.0, true, false}, weight);
    v(param_spec{prefix + ".bias", {dim_}, init_kind::zeros, 0.0, true, false}, bias);
  }

  void forward(const T* x, T* y, index rows) {
    ensure_size(mean_, rows);
    ensure_size(rstd_, rows);
    BE::layer_norm_forward(x, weight.value, bias.value, y, mean_.data(), rstd_.data(), rows, dim_, T(eps_));
  }
  void backward(const T* x, const T* dy, T* dx, index rows) {
    BE::layer_norm_backward(x, weight.value, mean_.data(), rstd_.data(), dy, dx, weight.grad, bias.grad, rows, dim_);
  }

  [[nodiscard]] index dim() const { return dim_; }
  param<T> weight, bias;

 private:
  index dim_ = 0;
  double eps_ = 1e-8;
  typename BE::template buffer<T> mean_, rstd_;  // [rows]
};

}  // namespace slmrec::nn
