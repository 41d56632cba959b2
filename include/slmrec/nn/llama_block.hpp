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
#include <slmrec/nn/pre_norm_block.hpp>

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
template <backend::backend BE, class Lin, class MlpProj>
struct llama_layout {
  using config = llama_block_config;
  using norm = rms_norm<BE>;
  using attention = self_attention<BE, Lin>;
  using mlp = swiglu_mlp<BE, MlpProj>;
  static constexpr const char* input_norm_name = "input_layernorm";
  static constexpr const char* post_norm_name = "post_attention_layernorm";
  static constexpr const char* mlp_name = "mlp";
  static constexpr index attention_dropout_slot = 0, mlp_dropout_slot = 1;
  static mlp make_mlp(const config& c, index) { return mlp(c.dim, c.ffn, c.mlp_bias, c.weight_init); }
};

template <backend::backend BE, class Lin = linear<BE>, class MlpProj = Lin>
using llama_block = pre_norm_block<BE, llama_layout<BE, Lin, MlpProj>>;

}  // namespace slmrec::nn
