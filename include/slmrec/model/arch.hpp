#pragma once
// Architecture tags for recommender<Backend, Arch, Depth>: each names its
// block, its final norm, how items and positions enter, and how weights start.
//   arch::sasrec — Kang & McAuley 2018 as SASRec.pytorch: learned positions,
//                  item embeddings scaled by sqrt(d), LayerNorm, ReLU FFN,
//                  Xavier initialisation.
//   arch::llama  — E4SRec / SLMRec: item embeddings straight into a LLaMA
//                  decoder (RoPE, RMSNorm, SwiGLU), N(0, 0.02) initialisation.
#include <cmath>

#include <slmrec/model/recommender_config.hpp>
#include <slmrec/nn/llama_block.hpp>
#include <slmrec/nn/norm.hpp>
#include <slmrec/nn/param.hpp>
#include <slmrec/nn/sasrec_block.hpp>

namespace slmrec::arch {

struct sasrec {
  static constexpr const char* name = "sasrec";
  static constexpr bool learned_positions = true;
  template <class BE, class Lin = nn::linear<BE>>
  using block = nn::sasrec_block<BE, Lin>;
  template <class BE>
  using final_norm = nn::layer_norm<BE>;

  template <class BE>
  static nn::sasrec_block_config block_config(const model::recommender_config& c) {
    nn::sasrec_block_config b;
    b.dim = c.dim;
    b.heads = c.heads;
    b.ffn = c.resolved_ffn();
    b.dropout = c.dropout;
    b.norm_eps = c.resolved_norm_eps();
    b.weight_init = weight_init(c);
    return b;
  }
  static nn::param_spec weight_init(const model::recommender_config&) {
    return {"", {}, nn::init_kind::xavier_uniform, 1.0};
  }
  static nn::param_spec embedding_init(const model::recommender_config& c) { return weight_init(c); }
  static double embedding_scale(const model::recommender_config& c) { return std::sqrt(double(c.dim)); }
};

struct llama {
  static constexpr const char* name = "llama";
  static constexpr bool learned_positions = false;
  template <class BE, class Lin = nn::linear<BE>>
  using block = nn::llama_block<BE, Lin>;
  template <class BE>
  using final_norm = nn::rms_norm<BE>;

  template <class BE>
  static nn::llama_block_config block_config(const model::recommender_config& c) {
    nn::llama_block_config b;
    b.dim = c.dim;
    b.heads = c.heads;
    b.kv_heads = c.resolved_kv_heads();
    b.head_dim = c.head_dim;
    b.ffn = c.resolved_ffn();
    b.norm_eps = c.resolved_norm_eps();
    b.rope.theta = c.rope_theta;
    b.max_positions = c.max_len;
    b.dropout = c.dropout;
    b.weight_init = weight_init(c);
    return b;
  }
  static nn::param_spec weight_init(const model::recommender_config& c) {
    return {"", {}, nn::init_kind::normal, c.init_std};
  }
  static nn::param_spec embedding_init(const model::recommender_config& c) { return weight_init(c); }
  static double embedding_scale(const model::recommender_config&) { return 1.0; }
};

}  // namespace slmrec::arch
