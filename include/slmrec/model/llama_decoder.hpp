#pragma once
// llama_decoder: Hugging Face's LlamaModel without the token embedding —
// a stack of llama blocks and the final RMSNorm, reading input embeddings
// (where item embeddings enter in E4SRec / SLMRec). Parameter names are
// Hugging Face's ("model.layers.N....", "model.norm.weight").
#include <span>
#include <string>

#include <slmrec/backend/concept.hpp>
#include <slmrec/nn/context.hpp>
#include <slmrec/nn/llama_block.hpp>
#include <slmrec/nn/norm.hpp>
#include <slmrec/nn/stack.hpp>

namespace slmrec::model {

template <backend::backend BE, class Depth = depth<dynamic>>
class llama_decoder {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;
  using stack_type = nn::stack<nn::llama_block<BE>, Depth>;

  explicit llama_decoder(const nn::llama_block_config& cfg) requires(!Depth::is_dynamic)
      : layers(cfg), norm(cfg.dim, cfg.norm_eps), dim_(cfg.dim) {}
  llama_decoder(const nn::llama_block_config& cfg, index depth) requires(Depth::is_dynamic)
      : layers(cfg, depth), norm(cfg.dim, cfg.norm_eps), dim_(cfg.dim) {}

  template <class V>
  void visit(V&& v, const std::string& prefix) {
    layers.visit(v, prefix + "model.layers");
    norm.visit(v, prefix + "model.norm");
  }

  // x [B*T, C] input embeddings -> final hidden states [B*T, C] (valid until the next forward)
  const T* forward(const T* x, const nn::context& ctx) {
    const T* h = layers.forward(x, ctx);
    nn::ensure_size(final_, ctx.rows() * dim_);
    norm.forward(h, final_.data(), ctx.rows());
    last_stack_output_ = h;
    return final_.data();
  }

  // dx += d/dx given dy at the final hidden states (dx may be null).
  void backward(const T* dy, T* dx, const nn::context& ctx, std::span<const T* const> extra = {}) {
    const index n = ctx.rows() * dim_;
    nn::ensure_size(dstack_, n);
    BE::fill(dstack_.data(), n, T(0));
    norm.backward(last_stack_output_, dy, dstack_.data(), ctx.rows());
    layers.backward(dstack_.data(), dx, ctx, extra);
  }

  [[nodiscard]] index dim() const { return dim_; }
  [[nodiscard]] index depth() const { return layers.depth(); }

  stack_type layers;
  nn::rms_norm<BE> norm;

 private:
  index dim_ = 0;
  const T* last_stack_output_ = nullptr;
  typename BE::template buffer<T> final_, dstack_;
};

}  // namespace slmrec::model
