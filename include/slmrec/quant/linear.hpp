#pragma once
// quant::linear<BE, Q>: y = x W^T + b with W stored in scheme Q's format.
// Inference only: it has no backward and no gradient, so a model built from
// it cannot be trained (the float model is trained, then quantized).
#include <cstdint>
#include <string>
#include <type_traits>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/param.hpp>
#include <slmrec/quant/matrix_for.hpp>

namespace slmrec::quant {

template <backend::backend BE, class Q>
class linear {
  static_assert(std::is_same_v<typename BE::scalar, float>, "quant::linear: quantized layers compute in float");

 public:
  using backend_type = BE;
  using scheme = Q;
  using T = float;
  using matrix_type = storage_t<BE, Q>;  // host formats, or device_int8_matrix on the GPU

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

  // An input that several layers of one block read (q, k and v; gate and
  // up), quantized once by prepare() and multiplied by each layer's
  // forward(prepared, y). The codes live in one buffer per thread: a second
  // prepare() replaces them, and a stale handle is refused, never misread.
  struct prepared {
    const float* x = nullptr;
    index rows = 0;
    std::uint64_t generation = 0;
  };
  prepared prepare(const float* x, index rows) const {
    if constexpr (integer_codes) {
      auto& s = shared_input();
      quantize_input(x, rows, weight, s.rows);
      return {x, rows, ++s.generation};
    } else {
      return {x, rows, 0};
    }
  }
  void forward(const prepared& in, float* y) const {
    if constexpr (integer_codes) {
      auto& s = shared_input();
      require(in.generation == s.generation, "quant::linear: a prepared input was replaced before its use");
      gemm_nt_quantized(s.rows, weight, has_bias_ ? bias.value : nullptr, y);
    } else {
      forward(in.x, y, in.rows);
    }
  }

  void set_frozen(bool) {}  // always frozen
  [[nodiscard]] index in_features() const { return in_; }
  [[nodiscard]] index out_features() const { return out_; }
  [[nodiscard]] bool has_bias() const { return has_bias_; }

  matrix_type weight;
  nn::param<float> bias;

 private:
  // Input codes shared by the layers that read one input (host formats; the
  // device matrix quantizes its input itself).
  static constexpr bool integer_codes = BE::is_host && !std::is_same_v<Q, bf16> && !std::is_same_v<Q, fp16>;
  struct shared_codes {
    int8_rows rows;
    std::uint64_t generation = 0;
  };
  static shared_codes& shared_input() {
    thread_local shared_codes s;
    return s;
  }

  index in_ = 0, out_ = 0;
  bool has_bias_ = false;
};

}  // namespace slmrec::quant
