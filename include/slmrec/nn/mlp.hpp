#pragma once
// The two feed-forward networks: LLaMA's SwiGLU, down(silu(gate x) * up x),
// and the transformer / SASRec one, fc2(dropout(act(fc1 x))) with ReLU or GELU.
#include <cstdint>
#include <string>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/context.hpp>
#include <slmrec/nn/dropout.hpp>
#include <slmrec/nn/linear.hpp>

namespace slmrec::nn {

// Proj is linear<BE>, lora_linear<BE> (a frozen backbone with adapters) or a
// quantized inference layer.
template <backend::backend BE, class Proj = linear<BE>>
class swiglu_mlp {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;

  swiglu_mlp() = default;
  swiglu_mlp(index dim, index hidden, bool bias = false, param_spec weight_init = {})
      : gate_proj(dim, hidden, bias, weight_init),
        up_proj(dim, hidden, bias, weight_init),
        down_proj(hidden, dim, bias, weight_init),
        dim_(dim),
        hidden_(hidden) {}

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    gate_proj.visit(v, prefix + ".gate_proj");
    up_proj.visit(v, prefix + ".up_proj");
    down_proj.visit(v, prefix + ".down_proj");
  }

  void forward(const T* x, T* y, index rows) {
    const index n = rows * hidden_;
    ensure_size(gate_, n);
    ensure_size(up_, n);
    ensure_size(act_, n);
    const auto in = gate_proj.prepare(x, rows);  // one x for two projections
    gate_proj.forward(in, gate_.data());
    up_proj.forward(in, up_.data());
    BE::swiglu_forward(gate_.data(), up_.data(), act_.data(), n);
    down_proj.forward(act_.data(), y, rows);
  }

  void backward(const T* x, const T* dy, T* dx, index rows) {
    const index n = rows * hidden_;
    ensure_size(dact_, n);
    ensure_size(dgate_, n);
    ensure_size(dup_, n);
    BE::fill(dact_.data(), n, T(0));
    BE::fill(dgate_.data(), n, T(0));
    BE::fill(dup_.data(), n, T(0));
    down_proj.backward(act_.data(), dy, dact_.data(), rows);
    BE::swiglu_backward(gate_.data(), up_.data(), dact_.data(), dgate_.data(), dup_.data(), n);
    gate_proj.backward(x, dgate_.data(), dx, rows);
    up_proj.backward(x, dup_.data(), dx, rows);
  }

  // The block-level interface (feed_forward's): the MLP has no dropout of its own, so only the rows matter.
  void forward(const T* x, T* y, const context& ctx) { forward(x, y, ctx.rows()); }
  void backward(const T* x, const T* dy, T* dx, const context& ctx) { backward(x, dy, dx, ctx.rows()); }

  Proj gate_proj, up_proj, down_proj;

 private:
  index dim_ = 0, hidden_ = 0;
  typename BE::template buffer<T> gate_, up_, act_;     // [rows, hidden] forward cache
  typename BE::template buffer<T> dact_, dgate_, dup_;  // backward scratch
};

enum class activation { relu, gelu };

template <backend::backend BE, class Lin = linear<BE>>
class feed_forward {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;

  feed_forward() = default;
  feed_forward(index dim, index hidden, activation act, double dropout_rate, std::uint64_t dropout_stream,
               param_spec weight_init = {})
      : fc1(dim, hidden, true, weight_init),
        fc2(hidden, dim, true, weight_init),
        drop_(dropout_rate, dropout_stream),
        act_kind_(act),
        hidden_(hidden) {}

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    fc1.visit(v, prefix + ".fc1");
    fc2.visit(v, prefix + ".fc2");
  }

  void forward(const T* x, T* y, const context& ctx) {
    const index rows = ctx.rows(), n = rows * hidden_;
    ensure_size(pre_, n);
    ensure_size(act_, n);
    fc1.forward(x, pre_.data(), rows);
    if (act_kind_ == activation::relu) {
      BE::relu_forward(pre_.data(), act_.data(), n);
    } else {
      BE::gelu_forward(pre_.data(), act_.data(), n);
    }
    drop_.forward(act_.data(), act_.data(), n, ctx);
    fc2.forward(act_.data(), y, rows);
  }

  void backward(const T* x, const T* dy, T* dx, const context& ctx) {
    const index rows = ctx.rows(), n = rows * hidden_;
    ensure_size(dact_, n);
    ensure_size(dpre_, n);
    BE::fill(dact_.data(), n, T(0));
    BE::fill(dpre_.data(), n, T(0));
    fc2.backward(act_.data(), dy, dact_.data(), rows);
    // Reuse dpre_ as the gradient before dropout, then dact_ before the activation.
    drop_.backward(dact_.data(), dpre_.data(), n, ctx);
    BE::fill(dact_.data(), n, T(0));
    if (act_kind_ == activation::relu) {
      BE::relu_backward(pre_.data(), dpre_.data(), dact_.data(), n);
    } else {
      BE::gelu_backward(pre_.data(), dpre_.data(), dact_.data(), n);
    }
    fc1.backward(x, dact_.data(), dx, rows);
  }

  Lin fc1, fc2;

 private:
  dropout<BE> drop_;
  activation act_kind_ = activation::relu;
  index hidden_ = 0;
  typename BE::template buffer<T> pre_, act_;    // [rows, hidden]: before / after activation (+dropout)
  typename BE::template buffer<T> dact_, dpre_;  // backward scratch
};

}  // namespace slmrec::nn
