#pragma once
// self_attention: q/k/v projections, optional RoPE, causal grouped-query
// attention with a key padding mask, output projection. LLaMA uses RoPE and
// no biases; SASRec uses biases and learned positions added before the stack.
#include <string>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/nn/context.hpp>
#include <slmrec/nn/linear.hpp>
#include <slmrec/nn/rope.hpp>

namespace slmrec::nn {

struct attention_config {
  index dim = 0;        // model width C
  index heads = 0;      // query heads H
  index kv_heads = 0;   // key/value heads (H = multi-head, 1 = multi-query)
  index head_dim = 0;   // D; 0 means dim / heads
  bool bias = false;    // biases on q/k/v/o
  bool rope = true;
  rope_config rope_cfg{};
  index max_positions = 512;
  param_spec weight_init{};

  [[nodiscard]] index resolved_head_dim() const { return head_dim > 0 ? head_dim : dim / heads; }
  void validate() const {
    require(dim > 0 && heads > 0 && kv_heads > 0, "attention: dim, heads and kv_heads must be positive (got {}, {}, {})",
            dim, heads, kv_heads);
    require(heads % kv_heads == 0, "attention: {} heads cannot be grouped over {} key/value heads", heads, kv_heads);
    require(head_dim > 0 || dim % heads == 0, "attention: width {} is not divisible by {} heads", dim, heads);
  }
};

// Lin is the projection type: linear<BE>, or a quantized inference layer
// (quant::linear) that has no backward.
template <backend::backend BE, class Lin = linear<BE>>
class self_attention {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;

  self_attention() = default;
  explicit self_attention(const attention_config& cfg) : cfg_(cfg) {
    cfg.validate();
    d_ = cfg.resolved_head_dim();
    q_proj = Lin(cfg.dim, cfg.heads * d_, cfg.bias, cfg.weight_init);
    k_proj = Lin(cfg.dim, cfg.kv_heads * d_, cfg.bias, cfg.weight_init);
    v_proj = Lin(cfg.dim, cfg.kv_heads * d_, cfg.bias, cfg.weight_init);
    o_proj = Lin(cfg.heads * d_, cfg.dim, cfg.bias, cfg.weight_init);
    if (cfg.rope) rope_ = rotary_embedding<BE>(d_, cfg.max_positions, cfg.rope_cfg);
  }

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    q_proj.visit(v, prefix + ".q_proj");
    k_proj.visit(v, prefix + ".k_proj");
    v_proj.visit(v, prefix + ".v_proj");
    o_proj.visit(v, prefix + ".o_proj");
  }

  // x [B*T, C] -> y [B*T, C]
  void forward(const T* x, T* y, const context& ctx) {
    const index rows = ctx.rows(), hd = cfg_.heads * d_, kvd = cfg_.kv_heads * d_;
    ensure_size(q_, rows * hd);
    ensure_size(k_, rows * kvd);
    ensure_size(v_, rows * kvd);
    ensure_size(att_, rows * hd);
    ensure_size(probs_, ctx.batch * cfg_.heads * ctx.length * ctx.length);
    const auto in = q_proj.prepare(x, rows);  // one x for three projections
    q_proj.forward(in, q_.data());
    k_proj.forward(in, k_.data());
    v_proj.forward(in, v_.data());
    if (cfg_.rope) {
      rope_.forward(q_.data(), ctx.positions, rows, cfg_.heads);
      rope_.forward(k_.data(), ctx.positions, rows, cfg_.kv_heads);
    }
    BE::attention_forward(q_.data(), k_.data(), v_.data(), ctx.key_mask, att_.data(), probs_.data(), ctx.batch,
                          ctx.length, cfg_.heads, cfg_.kv_heads, d_);
    o_proj.forward(att_.data(), y, rows);
  }

  // Inference: the output at each sequence's last position only, y [B, C]
  // (ctx.last_rows, ctx.last_positions set). Keys and values still cover
  // every position; the query, attention and output projections shrink to B
  // rows. Leaves no cache for a backward.
  void forward_last(const T* x, T* y, const context& ctx) {
    require(ctx.last_rows != nullptr && ctx.last_positions != nullptr, "self_attention::forward_last: no last rows");
    const index rows = ctx.rows(), b = ctx.batch, hd = cfg_.heads * d_, kvd = cfg_.kv_heads * d_;
    ensure_size(k_, rows * kvd);
    ensure_size(v_, rows * kvd);
    ensure_size(q_, b * hd);
    ensure_size(att_, b * hd);
    ensure_size(x_last_, b * cfg_.dim);
    const auto in = k_proj.prepare(x, rows);
    k_proj.forward(in, k_.data());
    v_proj.forward(in, v_.data());
    BE::gather_rows(x, ctx.last_rows, x_last_.data(), b, cfg_.dim);
    q_proj.forward(x_last_.data(), q_.data(), b);
    if (cfg_.rope) {
      rope_.forward(q_.data(), ctx.last_positions, b, cfg_.heads);
      rope_.forward(k_.data(), ctx.positions, rows, cfg_.kv_heads);
    }
    BE::attention_last(q_.data(), k_.data(), v_.data(), ctx.key_mask, att_.data(), b, ctx.length, cfg_.heads,
                       cfg_.kv_heads, d_);
    o_proj.forward(att_.data(), y, b);
  }

  // dx += d/dx given dy (x is the forward's input).
  void backward(const T* x, const T* dy, T* dx, const context& ctx) {
    const index rows = ctx.rows(), hd = cfg_.heads * d_, kvd = cfg_.kv_heads * d_;
    ensure_size(datt_, rows * hd);
    ensure_size(dq_, rows * hd);
    ensure_size(dk_, rows * kvd);
    ensure_size(dv_, rows * kvd);
    BE::fill(datt_.data(), rows * hd, T(0));
    BE::fill(dq_.data(), rows * hd, T(0));
    BE::fill(dk_.data(), rows * kvd, T(0));
    BE::fill(dv_.data(), rows * kvd, T(0));
    o_proj.backward(att_.data(), dy, datt_.data(), rows);
    BE::attention_backward(q_.data(), k_.data(), v_.data(), probs_.data(), datt_.data(), dq_.data(), dk_.data(),
                           dv_.data(), ctx.batch, ctx.length, cfg_.heads, cfg_.kv_heads, d_);
    if (cfg_.rope) {
      rope_.backward(dq_.data(), ctx.positions, rows, cfg_.heads);
      rope_.backward(dk_.data(), ctx.positions, rows, cfg_.kv_heads);
    }
    q_proj.backward(x, dq_.data(), dx, rows);
    k_proj.backward(x, dk_.data(), dx, rows);
    v_proj.backward(x, dv_.data(), dx, rows);
  }

  [[nodiscard]] const attention_config& config() const { return cfg_; }
  [[nodiscard]] index head_dim() const { return d_; }

  Lin q_proj, k_proj, v_proj, o_proj;

 private:
  attention_config cfg_{};
  index d_ = 0;
  rotary_embedding<BE> rope_;
  // forward cache: q, k after RoPE; attention output before o_proj; probabilities
  typename BE::template buffer<T> q_, k_, v_, att_, probs_;  // [B*T, H*D], [B*T, KV*D] x2, [B*T, H*D], [B, H, T, T]
  typename BE::template buffer<T> datt_, dq_, dk_, dv_;     // backward scratch, same shapes
  typename BE::template buffer<T> x_last_;                  // forward_last: the last rows of x
};

}  // namespace slmrec::nn
