#pragma once
// pre_norm_block: the one transformer layer both architectures use,
//   h = x + dropout(attn(norm(x)));   y = h + dropout(mlp(norm(h)))
// A Layout names what differs: the norm, attention and MLP types, how the MLP
// is built, the parameters' names (Hugging Face's for LLaMA) and the dropout
// streams. llama_block and sasrec_block are this template over their layouts,
// so their forward, last-position and backward passes are one code.
#include <cstdint>
#include <string>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/context.hpp>
#include <slmrec/nn/dropout.hpp>
#include <slmrec/nn/param.hpp>

namespace slmrec::nn {

// The dropout stream of a block's dropout `slot` in layer `layer`: one seed
// rule for every layout, so two layers (or two slots) never share a mask.
inline std::uint64_t block_dropout_stream(index layer, index slot) {
  return std::uint64_t(layer) * 16 + std::uint64_t(slot) + 1;
}

template <backend::backend BE, class Layout>
class pre_norm_block {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;
  using config_type = typename Layout::config;
  using norm_type = typename Layout::norm;
  using attention_type = typename Layout::attention;
  using mlp_type = typename Layout::mlp;

  pre_norm_block() = default;
  pre_norm_block(const config_type& cfg, index layer_index)
      : input_norm(cfg.dim, cfg.norm_eps),
        self_attn(cfg.attention()),
        post_norm(cfg.dim, cfg.norm_eps),
        mlp(Layout::make_mlp(cfg, layer_index)),
        attn_drop_(cfg.dropout, block_dropout_stream(layer_index, Layout::attention_dropout_slot)),
        mlp_drop_(cfg.dropout, block_dropout_stream(layer_index, Layout::mlp_dropout_slot)),
        dim_(cfg.dim) {}

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    input_norm.visit(v, prefix + "." + Layout::input_norm_name);
    self_attn.visit(v, prefix + ".self_attn");
    post_norm.visit(v, prefix + "." + Layout::post_norm_name);
    mlp.visit(v, prefix + "." + Layout::mlp_name);
  }

  // x, y: [B*T, C]
  void forward(const T* x, T* y, const context& ctx) {
    const index n = ctx.rows() * dim_;
    ensure_size(norm1_, n);
    ensure_size(branch_, n);
    ensure_size(mid_, n);
    ensure_size(norm2_, n);
    input_norm.forward(x, norm1_.data(), ctx.rows());
    self_attn.forward(norm1_.data(), branch_.data(), ctx);
    attn_drop_.forward(branch_.data(), branch_.data(), n, ctx);
    BE::add(x, branch_.data(), mid_.data(), n);
    post_norm.forward(mid_.data(), norm2_.data(), ctx.rows());
    mlp.forward(norm2_.data(), branch_.data(), ctx);
    mlp_drop_.forward(branch_.data(), branch_.data(), n, ctx);
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
    input_norm.forward(x, norm1_.data(), ctx.rows());
    self_attn.forward_last(norm1_.data(), branch_.data(), ctx);
    BE::gather_rows(x, ctx.last_rows, mid_.data(), b, dim_);
    BE::axpy(T(1), branch_.data(), mid_.data(), b * dim_);
    post_norm.forward(mid_.data(), norm2_.data(), b);
    const context rows_only{b, 1, nullptr, nullptr, false, 0};
    mlp.forward(norm2_.data(), branch_.data(), rows_only);
    BE::add(mid_.data(), branch_.data(), y, b * dim_);
  }

  // dx += d/dx given dy. An inactive dropout passes its gradient through untouched.
  void backward(const T* x, const T* dy, T* dx, const context& ctx) {
    const index rows = ctx.rows(), n = rows * dim_;
    ensure_size(dmid_, n);
    ensure_size(dnorm_, n);
    ensure_size(dbranch_, n);
    BE::copy(dy, dmid_.data(), n);  // the residual path
    const T* dmlp = through_dropout(mlp_drop_, dy, n, ctx);
    BE::fill(dnorm_.data(), n, T(0));
    mlp.backward(norm2_.data(), dmlp, dnorm_.data(), ctx);
    post_norm.backward(mid_.data(), dnorm_.data(), dmid_.data(), rows);
    const T* dattn = through_dropout(attn_drop_, dmid_.data(), n, ctx);
    BE::fill(dnorm_.data(), n, T(0));
    self_attn.backward(norm1_.data(), dattn, dnorm_.data(), ctx);
    input_norm.backward(x, dnorm_.data(), dx, rows);
    BE::axpy(T(1), dmid_.data(), dx, n);
  }

  norm_type input_norm;
  attention_type self_attn;
  norm_type post_norm;
  mlp_type mlp;

 private:
  const T* through_dropout(dropout<BE>& d, const T* dy, index n, const context& ctx) {
    if (!d.active(ctx)) return dy;
    BE::fill(dbranch_.data(), n, T(0));
    d.backward(dy, dbranch_.data(), n, ctx);
    return dbranch_.data();
  }

  dropout<BE> attn_drop_, mlp_drop_;
  index dim_ = 0;
  typename BE::template buffer<T> norm1_, branch_, mid_, norm2_;  // [rows, C] forward cache (branch_ is scratch)
  typename BE::template buffer<T> dmid_, dnorm_, dbranch_;        // backward scratch
};

}  // namespace slmrec::nn
