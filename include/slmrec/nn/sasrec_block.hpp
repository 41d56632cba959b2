#pragma once
// sasrec_block: the SASRec transformer layer (Kang & McAuley 2018), written
// pre-LayerNorm as in the widely used SASRec.pytorch:
//   h = x + dropout(attn(layer_norm(x)));   y = h + dropout(ffn(layer_norm(h)))
// Attention has biases and no RoPE: positions are learned and added to the
// item embeddings before the first block.
#include <cstdint>
#include <string>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/attention.hpp>
#include <slmrec/nn/context.hpp>
#include <slmrec/nn/dropout.hpp>
#include <slmrec/nn/mlp.hpp>
#include <slmrec/nn/norm.hpp>

namespace slmrec::nn {

struct sasrec_block_config {
  index dim = 64;
  index heads = 2;
  index ffn = 64;
  double dropout = 0.2;
  double norm_eps = 1e-8;
  activation act = activation::relu;
  param_spec weight_init{"", {}, init_kind::xavier_uniform, 1.0};

  [[nodiscard]] attention_config attention() const {
    return {dim, heads, heads, 0, true, false, {}, 0, weight_init};
  }
};

// Lin: the projection type (linear<BE>, or a quantized inference layer).
template <backend::backend BE, class Lin = linear<BE>>
class sasrec_block {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;
  using config_type = sasrec_block_config;

  sasrec_block() = default;
  sasrec_block(const sasrec_block_config& cfg, index layer_index)
      : attention_norm(cfg.dim, cfg.norm_eps),
        self_attn(cfg.attention()),
        ffn_norm(cfg.dim, cfg.norm_eps),
        ffn(cfg.dim, cfg.ffn, cfg.act, cfg.dropout, stream(layer_index, 0), cfg.weight_init),
        attn_drop_(cfg.dropout, stream(layer_index, 1)),
        ffn_drop_(cfg.dropout, stream(layer_index, 2)),
        dim_(cfg.dim) {}

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    attention_norm.visit(v, prefix + ".attention_norm");
    self_attn.visit(v, prefix + ".self_attn");
    ffn_norm.visit(v, prefix + ".ffn_norm");
    ffn.visit(v, prefix + ".ffn");
  }

  void forward(const T* x, T* y, const context& ctx) {
    const index n = ctx.rows() * dim_;
    ensure_size(norm1_, n);
    ensure_size(branch_, n);
    ensure_size(mid_, n);
    ensure_size(norm2_, n);
    attention_norm.forward(x, norm1_.data(), ctx.rows());
    self_attn.forward(norm1_.data(), branch_.data(), ctx);
    attn_drop_.forward(branch_.data(), branch_.data(), n, ctx);
    BE::add(x, branch_.data(), mid_.data(), n);
    ffn_norm.forward(mid_.data(), norm2_.data(), ctx.rows());
    ffn.forward(norm2_.data(), branch_.data(), ctx);
    ffn_drop_.forward(branch_.data(), branch_.data(), n, ctx);
    BE::add(mid_.data(), branch_.data(), y, n);
  }

  // Inference: x [B*T, C] -> y [B, C], the output at each sequence's last
  // position (see self_attention::forward_last). No dropout, no cache.
  void forward_last(const T* x, T* y, const context& ctx) {
    const index b = ctx.batch;
    ensure_size(norm1_, ctx.rows() * dim_);
    ensure_size(branch_, b * dim_);
    ensure_size(mid_, b * dim_);
    ensure_size(norm2_, b * dim_);
    attention_norm.forward(x, norm1_.data(), ctx.rows());
    self_attn.forward_last(norm1_.data(), branch_.data(), ctx);
    BE::gather_rows(x, ctx.last_rows, mid_.data(), b, dim_);
    BE::axpy(T(1), branch_.data(), mid_.data(), b * dim_);
    ffn_norm.forward(mid_.data(), norm2_.data(), b);
    context rows_only{b, 1, nullptr, nullptr, false, 0};
    ffn.forward(norm2_.data(), branch_.data(), rows_only);
    BE::add(mid_.data(), branch_.data(), y, b * dim_);
  }

  void backward(const T* x, const T* dy, T* dx, const context& ctx) {
    const index rows = ctx.rows(), n = rows * dim_;
    ensure_size(dmid_, n);
    ensure_size(dbranch_, n);
    ensure_size(dnorm_, n);
    BE::copy(dy, dmid_.data(), n);
    BE::fill(dbranch_.data(), n, T(0));
    ffn_drop_.backward(dy, dbranch_.data(), n, ctx);
    BE::fill(dnorm_.data(), n, T(0));
    ffn.backward(norm2_.data(), dbranch_.data(), dnorm_.data(), ctx);
    ffn_norm.backward(mid_.data(), dnorm_.data(), dmid_.data(), rows);
    BE::fill(dbranch_.data(), n, T(0));
    attn_drop_.backward(dmid_.data(), dbranch_.data(), n, ctx);
    BE::fill(dnorm_.data(), n, T(0));
    self_attn.backward(norm1_.data(), dbranch_.data(), dnorm_.data(), ctx);
    attention_norm.backward(x, dnorm_.data(), dx, rows);
    BE::axpy(T(1), dmid_.data(), dx, n);
  }

  layer_norm<BE> attention_norm;
  self_attention<BE, Lin> self_attn;
  layer_norm<BE> ffn_norm;
  feed_forward<BE, Lin> ffn;

 private:
  static std::uint64_t stream(index layer, index slot) { return std::uint64_t(layer) * 16 + std::uint64_t(slot) + 1; }

  dropout<BE> attn_drop_, ffn_drop_;
  index dim_ = 0;
  typename BE::template buffer<T> norm1_, branch_, mid_, norm2_;
  typename BE::template buffer<T> dmid_, dbranch_, dnorm_;
};

}  // namespace slmrec::nn
