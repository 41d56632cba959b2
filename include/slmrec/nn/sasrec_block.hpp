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
#include <slmrec/nn/pre_norm_block.hpp>

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
template <backend::backend BE, class Lin>
struct sasrec_layout {
  using config = sasrec_block_config;
  using norm = layer_norm<BE>;
  using attention = self_attention<BE, Lin>;
  using mlp = feed_forward<BE, Lin>;
  static constexpr const char* input_norm_name = "attention_norm";
  static constexpr const char* post_norm_name = "ffn_norm";
  static constexpr const char* mlp_name = "ffn";
  // Slot 0 is the feed-forward's own (inner) dropout.
  static constexpr index attention_dropout_slot = 1, mlp_dropout_slot = 2;
  static mlp make_mlp(const config& c, index layer) {
    return mlp(c.dim, c.ffn, c.act, c.dropout, block_dropout_stream(layer, 0), c.weight_init);
  }
};

template <backend::backend BE, class Lin = linear<BE>>
using sasrec_block = pre_norm_block<BE, sasrec_layout<BE, Lin>>;

}  // namespace slmrec::nn
