#pragma once
// quant::embedding<BE, Q>: the item table stored row-wise in scheme Q's
// format. A lookup dequantizes the rows it reads; scoring every item
// (q · table^T) is the scheme's matrix product, so the largest product of a
// small model's inference runs on int8 / int4 codes.
#include <cstdint>
#include <string>
#include <type_traits>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/param.hpp>
#include <slmrec/quant/matrix_for.hpp>

namespace slmrec::quant {

template <backend::backend BE, class Q>
class embedding {
  static_assert(std::is_same_v<typename BE::scalar, float>, "quant::embedding: quantized tables compute in float");

 public:
  using backend_type = BE;
  using scheme = Q;
  using T = float;
  using matrix_type = storage_t<BE, Q>;

  embedding() = default;
  embedding(index rows, index dim, const nn::param_spec& = {}) : rows_(rows), dim_(dim) {}

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    v(nn::param_spec{prefix + ".weight", {rows_, dim_}, nn::init_kind::zeros, 0.0, false, false}, weight);
  }

  // ids [n] (each in [0, rows), checked by the caller) -> out [n, dim], in the backend's memory
  void forward(const std::int32_t* ids, float* out, index n) const {
    if constexpr (BE::is_host) {
      for (index i = 0; i < n; ++i) weight.dequantize_row(ids[i], out + i * dim_);
    } else {
      weight.dequantize_rows(ids, out, n);
    }
  }

  // out [n, rows] = q [n, dim] · table^T
  void score(const float* q, index n, float* out) const { gemm_nt(q, n, weight, nullptr, out); }

  void set_frozen(bool) {}
  [[nodiscard]] index rows() const { return rows_; }
  [[nodiscard]] index dim() const { return dim_; }

  matrix_type weight;

 private:
  index rows_ = 0, dim_ = 0;
};

}  // namespace slmrec::quant
