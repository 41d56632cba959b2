#pragma once
// quant::linear<BE, Q>: y = x W^T + b with W stored in scheme Q's format.
// Inference only: it has no backward and no gradient, so a model built from
// it cannot be trained (the float model is trained, then quantized).
#include <string>
#include <type_traits>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/param.hpp>
#include <slmrec/quant/matrix_for.hpp>

namespace slmrec::quant {

template <backend::backend BE, class Q>
class linear {
  static_assert(std::is_same_v<typename BE::scalar, float>, "quant::linear: quantized layers compute in float");
  static_assert(BE::is_host, "quant::linear: quantized kernels run on the CPU backend");

 public:
  using backend_type = BE;
  using scheme = Q;
  using T = float;
  using matrix_type = matrix_t<Q>;

  linear() = default;
  // Same signature as nn::linear, so blocks build either; the initialiser is unused.
  linear(index in_features, index out_features, bool bias = false, const nn::param_spec& = {})
      : in_(in_features), out_(out_features), has_bias_(bias) {}

  // Lists the packed weight (its own storage) and the float bias (in the model's store).
  template <class V>
  void visit(V&& v, const std::string& prefix) {
    v(nn::param_spec{prefix + ".weight", {out_, in_}, nn::init_kind::zeros, 0.0, false, false}, weight);
    if (has_bias_) v(nn::param_spec{prefix + ".bias", {out_}, nn::init_kind::zeros, 0.0, false, false}, bias);
  }

  // x [rows, in] -> y [rows, out]
  void forward(const float* x, float* y, index rows) const {
    gemm_nt(x, rows, weight, has_bias_ ? bias.value : nullptr, y);
  }

  void set_frozen(bool) {}  // always frozen
  [[nodiscard]] index in_features() const { return in_; }
  [[nodiscard]] index out_features() const { return out_; }
  [[nodiscard]] bool has_bias() const { return has_bias_; }

  matrix_type weight;
  nn::param<float> bias;

 private:
  index in_ = 0, out_ = 0;
  bool has_bias_ = false;
};

}  // namespace slmrec::quant
