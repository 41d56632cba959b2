#pragma once
// linear: y = x W^T + b, weights [out, in] as Hugging Face and PyTorch store them.
#include <string>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/param.hpp>

namespace slmrec::nn {

template <backend::backend BE>
class linear {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;

  linear() = default;
  linear(index in_features, index out_features, bool bias = false, param_spec weight_init = {})
      : in_(in_features), out_(out_features), has_bias_(bias), weight_init_(std::move(weight_init)) {}

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    param_spec w = weight_init_;
    w.name = prefix + ".weight";
    w.shape = {out_, in_};
    w.trainable = !frozen_;
    v(w, weight);
    if (has_bias_) v(param_spec{prefix + ".bias", {out_}, init_kind::zeros, 0.0, !frozen_, false}, bias);
  }

  // x [rows, in] -> y [rows, out]
  void forward(const T* x, T* y, index rows) {
    BE::gemm(false, true, rows, out_, in_, T(1), x, in_, weight.value, in_, T(0), y, out_);
    if (has_bias_) BE::add_bias(y, bias.value, rows, out_);
  }

  // The interface quantized layers use to read one input in several layers
  // (see quant::linear::prepare); for float weights it is the plain forward.
  struct prepared {
    const T* x = nullptr;
    index rows = 0;
  };
  prepared prepare(const T* x, index rows) const { return {x, rows}; }
  void forward(const prepared& in, T* y) { forward(in.x, y, in.rows); }

  // dx += dy W (when dx is given); dW += dy^T x; db += column sums of dy.
  void backward(const T* x, const T* dy, T* dx, index rows) {
    if (dx != nullptr) BE::gemm(false, false, rows, in_, out_, T(1), dy, out_, weight.value, in_, T(1), dx, in_);
    if (weight.grad != nullptr)
      BE::gemm(true, false, out_, in_, rows, T(1), dy, out_, x, in_, T(1), weight.grad, in_);
    if (has_bias_ && bias.grad != nullptr) BE::bias_backward(dy, bias.grad, rows, out_);
  }

  // A frozen layer keeps its weights but gets no gradient (set before attach).
  void set_frozen(bool frozen) { frozen_ = frozen; }
  [[nodiscard]] index in_features() const { return in_; }
  [[nodiscard]] index out_features() const { return out_; }
  [[nodiscard]] bool has_bias() const { return has_bias_; }

  param<T> weight, bias;

 private:
  index in_ = 0, out_ = 0;
  bool has_bias_ = false;
  bool frozen_ = false;
  param_spec weight_init_;
};

}  // namespace slmrec::nn
