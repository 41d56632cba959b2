#pragma once
// dropout: active only in training; each layer's mask stream is derived from
// the step seed and the layer's own stream id, so runs are reproducible and
// independent of thread count.
#include <cstdint>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/hash.hpp>
#include <slmrec/nn/context.hpp>

namespace slmrec::nn {

template <backend::backend BE>
class dropout {
 public:
  using T = typename BE::scalar;

  dropout() = default;
  dropout(double p, std::uint64_t stream) : p_(p), stream_(stream) {}

  [[nodiscard]] bool active(const context& ctx) const { return ctx.training && p_ > 0.0; }

  // y = dropout(x) over n elements (y may alias x).
  void forward(const T* x, T* y, index n, const context& ctx) {
    if (!active(ctx)) {
      BE::copy(x, y, n);
      return;
    }
    ensure_size(keep_, n);
    BE::dropout_forward(x, y, keep_.data(), n, T(p_), mix64(ctx.seed ^ (stream_ * 0xD1B54A32D192ED03ull)));
  }
  // dx += d dropout / dx applied to dy
  void backward(const T* dy, T* dx, index n, const context& ctx) const {
    if (!active(ctx)) {
      BE::axpy(T(1), dy, dx, n);
      return;
    }
    BE::dropout_backward(keep_.data(), dy, dx, n, T(p_));
  }
  [[nodiscard]] double rate() const { return p_; }

 private:
  double p_ = 0.0;
  std::uint64_t stream_ = 0;
  typename BE::template buffer<std::uint8_t> keep_;
};

}  // namespace slmrec::nn
