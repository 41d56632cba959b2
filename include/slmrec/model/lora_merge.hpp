#pragma once
// Merging LoRA adapters into their base weights, W' = W + (alpha / r) B A,
// so that a model trained on a frozen backbone (arch::llama_adapted) serves as
// a plain llama model: no adapter branch at inference, and every tool that
// reads checkpoints (eval, recommend, quantize, distill --teacher) takes it.
// The merged scores equal the adapted model's up to float rounding.
#include <string>
#include <vector>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/io/safetensors.hpp>
#include <slmrec/model/recommender_config.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::model {

// The config a frozen-backbone checkpoint serves as once merged: the same
// model with every weight trainable and no adapters.
inline recommender_config merged_config(recommender_config c) {
  c.freeze_backbone = false;
  c.lora_rank = 0;
  c.lora_targets.clear();
  return c;
}

// Adds (alpha / rank) B A from `f`'s "<name>.lora_A.weight" [rank, in] and
// "<name>.lora_B.weight" [out, rank] into each "<name>.weight" [out, in] of
// the store (which holds the base weights already). Every adapter of `f` must
// meet a base weight of the store and the config's rank, and every target of
// every layer must have one: an adapter left over or missing would be a model
// silently different from the one trained. Returns the number merged.
template <backend::backend BE>
index merge_lora(const io::safetensors_file& f, nn::parameter_store<BE>& store, const recommender_config& cfg) {
  using T = typename BE::scalar;
  const double scaling = cfg.lora_rank > 0 ? cfg.lora_alpha / double(cfg.lora_rank) : 0.0;
  const std::string suffix = ".weight", a_suffix = ".lora_A.weight", b_suffix = ".lora_B.weight";
  index merged = 0;
  for (const auto& e : store.entries()) {
    const std::string& name = e.spec.name;
    if (!name.ends_with(suffix) || e.spec.shape.size() != 2) continue;
    const std::string stem = name.substr(0, name.size() - suffix.size());
    if (!f.contains(stem + a_suffix) && !f.contains(stem + b_suffix)) continue;
    const index out = e.spec.shape[0], in = e.spec.shape[1], r = cfg.lora_rank;
    require(r > 0, "{}: '{}' has LoRA adapters, but the config's lora_rank is 0", f.path().string(), stem);
    const auto A = f.to_float_checked(stem + a_suffix, {r, in});
    const auto B = f.to_float_checked(stem + b_suffix, {out, r});
    std::vector<T> w(static_cast<std::size_t>(e.size));
    BE::download(store.value(e), w.data(), e.size);
    for (index o = 0; o < out; ++o)
      for (index i = 0; i < in; ++i) {
        double delta = 0.0;
        for (index k = 0; k < r; ++k) delta += double(B[std::size_t(o * r + k)]) * double(A[std::size_t(k * in + i)]);
        w[std::size_t(o * in + i)] = T(double(w[std::size_t(o * in + i)]) + scaling * delta);
      }
    BE::upload(w.data(), store.value(e), e.size);
    ++merged;
  }
  index adapters = 0;
  for (const auto& t : f.tensors()) adapters += t.name.ends_with(a_suffix) ? 1 : 0;
  require(adapters == merged, "{}: {} LoRA adapters, of which {} matched a weight of the model", f.path().string(),
          adapters, merged);
  const index expected = index(cfg.lora_targets.size()) * cfg.layers;
  require(merged == expected, "{}: {} LoRA adapters, the config's {} targets x {} layers need {}", f.path().string(),
          merged, cfg.lora_targets.size(), cfg.layers, expected);
  return merged;
}

}  // namespace slmrec::model
