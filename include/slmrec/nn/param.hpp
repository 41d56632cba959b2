#pragma once
// What a layer says about each of its parameters, and the handle it keeps.
// Layers never own parameter memory: a model gathers every parameter into
// one flat buffer (see parameters.hpp), so that optimisers, clipping, pruning
// and quantisation walk one array instead of a tree of layers.
#include <string>
#include <type_traits>
#include <vector>

#include <slmrec/core/types.hpp>

namespace slmrec::nn {

enum class init_kind {
  zeros,
  ones,
  normal,          // N(0, scale^2)
  xavier_uniform,  // U(-a, a), a = sqrt(6 / (fan_in + fan_out)), for [out, in] matrices
};

struct param_spec {
  std::string name;           // Hugging Face style, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<index> shape;   // row-major; matrices are [out, in]
  init_kind init = init_kind::normal;
  double scale = 0.02;
  bool trainable = true;      // false: no gradient buffer, the optimiser skips it (frozen LoRA base)
  bool decay = true;          // subject to weight decay (matrices yes, norms and biases no)
};

inline index numel(const std::vector<index>& shape) {
  index n = 1;
  for (index d : shape) n *= d;
  return n;
}

// A layer's view of one parameter inside the model's flat buffers. `grad` is
// null when the parameter is frozen or the model was built for inference.
template <class T>
struct param {
  T* value = nullptr;
  T* grad = nullptr;
  index size = 0;
};

// Whether a slot a module's visit() lists is a float parameter of scalar T
// (the other kind is a quantized layer's packed matrix, which owns its memory).
template <class Slot, class T>
inline constexpr bool is_param_slot = std::is_same_v<std::remove_cvref_t<Slot>, param<T>>;

}  // namespace slmrec::nn
