#pragma once
// llama_block: the LLaMA decoder layer, pre-RMSNorm with two residual branches
//   h = x + attn(rms_norm(x));   y = h + swiglu_mlp(rms_norm(h))
// Parameter names follow Hugging Face (`input_layernorm`, `self_attn.q_proj`,
// `post_attention_layernorm`, `mlp.gate_proj`, ...), so a checkpoint loads by name.
// Optional dropout on both branches (off by default, as in LLaMA) regularises
// models trained from scratch on small recommendation data.
#include <cstdint>
#include <string>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/attention.hpp>
#include <slmrec/nn/context.hpp>
#include <slmrec/nn/dropout.hpp>
#include <slmrec/nn/mlp.hpp>
#include <slmrec/nn/norm.hpp>

namespace slmrec::nn {

struct llama_block_config {
  index dim = 128;
  index heads = 4;
  index kv_heads = 4;
  index head_dim = 0;  // 0 = dim / heads
  index ffn = 344;
  double norm_eps = 1e-6;
  rope_config rope{};
  index max_positions = 512;
  bool attention_bias = false;
  bool mlp_bias = false;
  double dropout = 0.0;  // on each residual branch (0 in pretrained LLaMA; a regulariser when trained from scratch)
  param_spec weight_init{};

  [[nodiscard]] attention_config attention() const {
    return {dim, heads, kv_heads, head_dim, attention_bias, true, rope, max_positions, weight_init};
  }
};

// Lin: the attention's projections (linear<BE> or a quantized layer); MlpProj:
// the SwiGLU's (the same, or lora_linear<BE> for a frozen backbone).
template <backend::backend BE, class Lin = linear<BE>, class MlpProj = Lin>
class llama_block {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;
  using config_type = llama_block_config;

  llama_block() = default;
  llama_block(const llama_block_config& cfg, index layer_index)
      : input_layernorm(cfg.dim, cfg.norm_eps),
        self_attn(cfg.attention()),
        post_attention_layernorm(cfg.dim, cfg.norm_eps),
        mlp(cfg.dim, cfg.ffn, cfg.mlp_bias, cfg.weight_init),
        attn_drop_(cfg.dropout, std::uint64_t(layer_index) * 16 + 1),
        mlp_drop_(cfg.dropout, std::uint64_t(layer_index) * 16 + 2),
        dim_(cfg.dim) {}

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    input_layernorm.visit(v, prefix + ".input_layernorm");
    self_attn.visit(v, prefix + ".self_attn");
    post_attention_layernorm.visit(v, prefix + ".post_attention_layernorm");
    mlp.visit(v, prefix + ".mlp");
  }

  // x, y: [B*T, C]
  void forward(const T* x, T* y, const context& ctx) {
    const index n = ctx.rows() * dim_;
    ensure_size(norm1_, n);
    ensure_size(branch_, n);
    ensure_size(mid_, n);
    ensure_size(norm2_, n);
    input_layernorm.forward(x, norm1_.data(), ctx.rows());
    self_attn.forward(norm1_.data(), branch_.data(), ctx);
    attn_drop_.forward(branch_.data(), branch_.data(), n, ctx);
    BE::add(x, branch_.data(), mid_.data(), n);
    post_attention_layernorm.forward(mid_.data(), norm2_.data(), ctx.rows());
    mlp.forward(norm2_.data(), branch_.data(), ctx.rows());
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
    input_layernorm.forward(x, norm1_.data(), ctx.rows());
    self_attn.forward_last(norm1_.data(), branch_.data(), ctx);
    BE::gather_rows(x, ctx.last_rows, mid_.data(), b, dim_);
    BE::axpy(T(1), branch_.data(), mid_.data(), b * dim_);
    post_attention_layernorm.forward(mid_.data(), norm2_.data(), b);
    mlp.forward(norm2_.data(), branch_.data(), b);
    BE::add(mid_.data(), branch_.data(), y, b * dim_);
  }

  // dx += d/dx given dy.
  void backward(const T* x, const T* dy, T* dx, const context& ctx) {
    const index rows = ctx.rows(), n = rows * dim_;
    ensure_size(dmid_, n);
    ensure_size(dnorm_, n);
    ensure_size(dbranch_, n);
    BE::copy(dy, dmid_.data(), n);  // the residual path
    const T* dmlp = dy;
    if (mlp_drop_.active(ctx)) {
      BE::fill(dbranch_.data(), n, T(0));
      mlp_drop_.backward(dy, dbranch_.data(), n, ctx);
      dmlp = dbranch_.data();
    }
    BE::fill(dnorm_.data(), n, T(0));
    mlp.backward(norm2_.data(), dmlp, dnorm_.data(), rows);
    post_attention_layernorm.backward(mid_.data(), dnorm_.data(), dmid_.data(), rows);
    const T* dattn = dmid_.data();
    if (attn_drop_.active(ctx)) {
      BE::fill(dbranch_.data(), n, T(0));
      attn_drop_.backward(dmid_.data(), dbranch_.data(), n, ctx);
      dattn = dbranch_.data();
    }
    BE::fill(dnorm_.data(), n, T(0));
    self_attn.backward(norm1_.data(), dattn, dnorm_.data(), ctx);
    input_layernorm.backward(x, dnorm_.data(), dx, rows);
    BE::axpy(T(1), dmid_.data(), dx, n);
  }

  rms_norm<BE> input_layernorm;
  self_attention<BE, Lin> self_attn;
  rms_norm<BE> post_attention_layernorm;
  swiglu_mlp<BE, MlpProj> mlp;

 private:
  dropout<BE> attn_drop_, mlp_drop_;
  index dim_ = 0;
  typename BE::template buffer<T> norm1_, branch_, mid_, norm2_;  // [rows, C] forward cache (branch_ is scratch)
  typename BE::template buffer<T> dmid_, dnorm_, dbranch_;        // backward scratch
};

}  // namespace slmrec::nn
