#pragma once
// adapted_llama_block: a llama_block whose weights are a frozen pretrained
// backbone's (E4SRec): every projection and norm keeps its value and gets no
// gradient, and the projections named as LoRA targets carry a trainable
// low-rank update (nn/lora.hpp) — the only parameters of the block that learn.
// The Hugging Face names stay those of llama_block, so a pretrained checkpoint
// loads into it by name, and the adapters are named as PEFT names them
// ("…q_proj.lora_A.weight").
#include <string>
#include <vector>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/nn/llama_block.hpp>
#include <slmrec/nn/lora.hpp>
#include <slmrec/nn/norm.hpp>

namespace slmrec::nn {

struct lora_settings {
  index rank = 0;                    // 0: no adapters, the backbone only frozen
  double alpha = 16.0;               // the update is scaled by alpha / rank
  std::vector<std::string> targets;  // among q, k, v, o, gate, up, down
  [[nodiscard]] bool targets_projection(const std::string& name) const {
    for (const auto& t : targets)
      if (t == name) return true;
    return false;
  }
};

struct adapted_llama_block_config : llama_block_config {
  lora_settings lora;
};

template <backend::backend BE>
class adapted_llama_block : public llama_block<BE, lora_linear<BE>, lora_linear<BE>> {
  using base_block = llama_block<BE, lora_linear<BE>, lora_linear<BE>>;

 public:
  using config_type = adapted_llama_block_config;

  adapted_llama_block() = default;
  adapted_llama_block(const config_type& cfg, index layer_index) : base_block(cfg, layer_index) {
    this->input_norm.set_frozen(true);
    this->post_norm.set_frozen(true);
    auto adapt = [&](lora_linear<BE>& p, const char* name) {
      p.enable_lora(cfg.lora.targets_projection(name) ? cfg.lora.rank : 0, cfg.lora.alpha);
      p.base.set_frozen(true);  // enable_lora(0) leaves the base trainable; here it never is
    };
    auto& a = this->self_attn;
    adapt(a.q_proj, "q");
    adapt(a.k_proj, "k");
    adapt(a.v_proj, "v");
    adapt(a.o_proj, "o");
    auto& m = this->mlp;
    adapt(m.gate_proj, "gate");
    adapt(m.up_proj, "up");
    adapt(m.down_proj, "down");
  }
};

// The final norm of a frozen backbone.
template <backend::backend BE>
struct frozen_rms_norm : rms_norm<BE> {
  frozen_rms_norm() = default;
  frozen_rms_norm(index dim, double eps) : rms_norm<BE>(dim, eps) { this->set_frozen(true); }
};

}  // namespace slmrec::nn
