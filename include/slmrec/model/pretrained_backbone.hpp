#pragma once
// Starting a recommender's backbone from a pretrained Hugging Face LLaMA
// (E4SRec / SLMRec: `slmrec train --init hf:DIR`): its shape, RMSNorm epsilon,
// RoPE theta and grouped key/value heads become the model's, and its block
// and final-norm weights are copied by name. The item table, the input
// projection (when the items are narrower than the backbone) and the head are
// the recommender's own and start as configured; the token embedding and the
// LM head of the language model are not used.
#include <filesystem>
#include <string>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/model/hf_llama.hpp>
#include <slmrec/model/recommender_config.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::model {

// `c` with the backbone of the checkpoint in `dir`: its first `layers` blocks (0 = all).
inline recommender_config with_hf_backbone(recommender_config c, const std::filesystem::path& dir, index layers = 0) {
  const hf_llama_config hf = read_hf_llama_config(dir);
  const auto& b = hf.block;
  const std::string where = (dir / "config.json").string();
  require(layers >= 0 && layers <= hf.layers, "{}: {} layers asked for, the checkpoint has {}", where, layers,
          hf.layers);
  require(b.rope.type == "default", "{}: rope type '{}': a recommender's backbone supports default RoPE only", where,
          b.rope.type);
  require(!b.attention_bias && !b.mlp_bias, "{}: projections with biases are not supported in a backbone", where);
  require(c.max_len <= hf.max_position_embeddings, "{}: --max-len {} is beyond the model's {} positions", where,
          c.max_len, hf.max_position_embeddings);
  c.arch = "llama";
  c.dim = b.dim;
  c.heads = b.heads;
  c.kv_heads = b.kv_heads;
  c.head_dim = b.head_dim > 0 && b.head_dim * b.heads != b.dim ? b.head_dim : 0;
  c.ffn = b.ffn;
  c.norm_eps = b.norm_eps;
  c.rope_theta = b.rope.theta;
  c.layers = layers > 0 ? layers : hf.layers;
  c.validate();
  return c;
}

// Copies the backbone's weights (every "model.…" parameter of the store but
// the LoRA adapters) from the checkpoint, shapes checked; returns how many.
template <backend::backend BE>
index load_hf_backbone(nn::parameter_store<BE>& store, const std::filesystem::path& dir) {
  using T = typename BE::scalar;
  const hf_weights weights = hf_weights::open(dir);
  index copied = 0;
  for (const auto& e : store.entries()) {
    const std::string& name = e.spec.name;
    if (!name.starts_with("model.") || name.find(".lora_") != std::string::npos) continue;
    const io::safetensors_file* f = weights.find(name);
    require(f != nullptr, "{}: no tensor '{}' for the backbone", weights.describe(), name);
    const std::vector<std::int64_t> shape(e.spec.shape.begin(), e.spec.shape.end());
    const auto values = f->to_float_checked(name, shape);
    const std::vector<T> converted(values.begin(), values.end());
    BE::upload(converted.data(), store.value(e), e.size);
    ++copied;
  }
  require(copied > 0, "{}: the model has no backbone tensor to load", dir.string());
  return copied;
}

}  // namespace slmrec::model
