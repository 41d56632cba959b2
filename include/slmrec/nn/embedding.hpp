#pragma once
// embedding: a lookup table [rows, dim]; row 0 is padding and never learns.
#include <cstdint>
#include <string>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/param.hpp>

namespace slmrec::nn {

template <backend::backend BE>
class embedding {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;

  embedding() = default;
  embedding(index rows, index dim, param_spec init = {}) : rows_(rows), dim_(dim), init_(std::move(init)) {}

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    param_spec s = init_;
    s.name = prefix + ".weight";
    s.shape = {rows_, dim_};
    s.trainable = !frozen_;
    s.decay = false;
    v(s, weight);
  }

  // ids [n] (each in [0, rows), checked by the caller on the host) -> out [n, dim]
  void forward(const std::int32_t* ids, T* out, index n) { BE::embedding_forward(ids, weight.value, out, n, dim_); }
  void backward(const std::int32_t* ids, const T* dout, index n) {
    if (weight.grad != nullptr) BE::embedding_backward(ids, dout, weight.grad, n, dim_);
  }

  // Scores of every row: out [n, rows] = q [n, dim] · table^T (a tied head).
  void score(const T* q, index n, T* out) const {
    BE::gemm(false, true, n, rows_, dim_, T(1), q, dim_, weight.value, dim_, T(0), out, rows_);
  }

  void set_frozen(bool frozen) { frozen_ = frozen; }
  [[nodiscard]] index rows() const { return rows_; }
  [[nodiscard]] index dim() const { return dim_; }
  param<T> weight;

 private:
  index rows_ = 0, dim_ = 0;
  bool frozen_ = false;
  param_spec init_;
};

}  // namespace slmrec::nn
