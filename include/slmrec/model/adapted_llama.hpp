#pragma once
// arch::llama_adapted: the llama arch over a frozen backbone with LoRA
// adapters (E4SRec). A separate type rather than a flag inside arch::llama, so
// the plain model's layers stay plain linears (no adapter branch in the
// teacher and student that serve), and only the tools that train a frozen
// backbone instantiate this one; every tool that only reads a checkpoint gets
// the adapters merged into a plain llama model on load (model/lora_merge.hpp).
#include <memory>
#include <utility>

#include <slmrec/model/arch.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/nn/adapted_llama_block.hpp>

namespace slmrec::arch {

struct llama_adapted : llama {
  // Float weights only: a frozen backbone is for training; serving merges it first.
  template <class BE, class Lin = nn::linear<BE>>
  using block = nn::adapted_llama_block<BE>;
  template <class BE>
  using final_norm = nn::frozen_rms_norm<BE>;

  template <class BE>
  static nn::adapted_llama_block_config block_config(const model::recommender_config& c) {
    nn::adapted_llama_block_config b;
    static_cast<nn::llama_block_config&>(b) = llama::block_config<BE>(c);
    b.lora = {c.lora_rank, c.lora_alpha, c.lora_targets};
    return b;
  }
};

}  // namespace slmrec::arch

namespace slmrec::model {

// with_new_recommender for training: a config with a frozen backbone builds
// recommender<BE, arch::llama_adapted>, any other the plain model.
template <backend::backend BE, class F>
decltype(auto) with_new_trainable_recommender(const recommender_config& cfg, F&& f) {
  if (cfg.freeze_backbone)
    return std::forward<F>(f)(std::make_unique<recommender<BE, arch::llama_adapted>>(cfg, true));
  return with_new_recommender<BE>(cfg, true, std::forward<F>(f));
}

template <backend::backend BE, class F>
decltype(auto) with_trainable_recommender(const recommender_config& cfg, F&& f) {
  return with_new_trainable_recommender<BE>(cfg, [&](auto m) -> decltype(auto) { return f(*m); });
}

}  // namespace slmrec::model
