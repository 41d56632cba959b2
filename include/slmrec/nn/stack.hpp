#pragma once
// stack: Depth repetitions of one block type. `depth<N>` gives a fixed-size
// std::array the compiler sees whole; `depth<dynamic>` a run-time count for
// tools that read it from the command line. The stack keeps every block's
// output (the residual stream at each block boundary), which is what the
// layer-wise distillation and the Hugging Face parity check read.
#include <array>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/nn/context.hpp>

namespace slmrec::nn {

namespace detail {
template <class Block, index N>
struct block_storage {
  using type = std::array<Block, std::size_t(N)>;
  template <class Config, std::size_t... I>
  static type make(const Config& cfg, std::index_sequence<I...>) {
    return {Block(cfg, index(I))...};
  }
  static type make(const typename Block::config_type& cfg, index) {
    return make(cfg, std::make_index_sequence<std::size_t(N)>{});
  }
};
template <class Block>
struct block_storage<Block, dynamic> {
  using type = std::vector<Block>;
  static type make(const typename Block::config_type& cfg, index layers) {
    require(layers >= 1, "a stack needs at least one layer, got {}", layers);
    type blocks;
    blocks.reserve(std::size_t(layers));
    for (index i = 0; i < layers; ++i) blocks.emplace_back(cfg, i);
    return blocks;
  }
};
}  // namespace detail

template <class Block, class Depth>
class stack {
 public:
  using block_type = Block;
  using backend_type = typename Block::backend_type;
  using BE = backend_type;
  using T = typename BE::scalar;
  using config_type = typename Block::config_type;
  static constexpr index static_depth = Depth::value;

  stack() requires(!Depth::is_dynamic) = default;
  explicit stack(const config_type& cfg) requires(!Depth::is_dynamic)
      : blocks_(detail::block_storage<Block, Depth::value>::make(cfg, Depth::value)), dim_(cfg.dim) {}
  stack(const config_type& cfg, index layers) requires(Depth::is_dynamic)
      : blocks_(detail::block_storage<Block, dynamic>::make(cfg, layers)), dim_(cfg.dim) {}

  [[nodiscard]] index depth() const { return index(blocks_.size()); }
  [[nodiscard]] index dim() const { return dim_; }
  Block& operator[](index i) { return blocks_[std::size_t(i)]; }
  const Block& operator[](index i) const { return blocks_[std::size_t(i)]; }

  // Block i's parameters are named "{prefix}.{i}.…" (Hugging Face: "model.layers").
  template <class V>
  void visit(V&& v, const std::string& prefix) {
    for (index i = 0; i < depth(); ++i) blocks_[std::size_t(i)].visit(v, fmt::format("{}.{}", prefix, i));
  }

  // x [B*T, C] -> the last block's output, which stays valid until the next forward.
  const T* forward(const T* x, const context& ctx) {
    const index n = ctx.rows() * dim_;
    outputs_.resize(std::size_t(depth()));
    const T* in = x;
    for (index i = 0; i < depth(); ++i) {
      ensure_size(outputs_[std::size_t(i)], n);
      blocks_[std::size_t(i)].forward(in, outputs_[std::size_t(i)].data(), ctx);
      in = outputs_[std::size_t(i)].data();
    }
    input_ = x;
    return in;
  }

  // Inference: x [B*T, C] -> the last block's output at each sequence's last
  // position only, [B, C] (ctx.last_rows, ctx.last_positions set). Every block
  // but the last runs in full, since the last one's keys read all positions.
  // Leaves no cache for backward(); output(depth() - 1) is not updated.
  const T* forward_last(const T* x, const context& ctx) {
    const index n = ctx.rows() * dim_;
    outputs_.resize(std::size_t(depth()));
    const T* in = x;
    for (index i = 0; i + 1 < depth(); ++i) {
      ensure_size(outputs_[std::size_t(i)], n);
      blocks_[std::size_t(i)].forward(in, outputs_[std::size_t(i)].data(), ctx);
      in = outputs_[std::size_t(i)].data();
    }
    ensure_size(last_, ctx.batch * dim_);
    blocks_[std::size_t(depth() - 1)].forward_last(in, last_.data(), ctx);
    input_ = nullptr;
    return last_.data();
  }

  // Block i's output from the last forward: the hidden state after i+1 layers.
  [[nodiscard]] const T* output(index i) const { return outputs_[std::size_t(i)].data(); }

  // dx += d/dx given dy, the gradient at the last block's output. Optional
  // `extra[i]` (nullptr to skip) adds a gradient arriving at block i's output
  // from elsewhere — the distillation losses at block boundaries.
  void backward(const T* dy, T* dx, const context& ctx, std::span<const T* const> extra = {}) {
    const index n = ctx.rows() * dim_;
    require(extra.empty() || index(extra.size()) == depth(), "stack::backward: {} extra gradients for {} layers",
            extra.size(), depth());
    ensure_size(grad_a_, n);
    ensure_size(grad_b_, n);
    T* cur = grad_a_.data();
    T* next = grad_b_.data();
    BE::copy(dy, cur, n);
    for (index i = depth() - 1; i >= 0; --i) {
      if (!extra.empty() && extra[std::size_t(i)] != nullptr) BE::axpy(T(1), extra[std::size_t(i)], cur, n);
      const T* in = i == 0 ? input_ : outputs_[std::size_t(i - 1)].data();
      if (i == 0) {
        if (dx != nullptr) blocks_[0].backward(in, cur, dx, ctx);
        else {
          BE::fill(next, n, T(0));  // the input gradient is unwanted, but the blocks always produce one
          blocks_[0].backward(in, cur, next, ctx);
        }
      } else {
        BE::fill(next, n, T(0));
        blocks_[std::size_t(i)].backward(in, cur, next, ctx);
        std::swap(cur, next);
      }
    }
  }

 private:
  typename detail::block_storage<Block, Depth::value>::type blocks_;
  index dim_ = 0;
  std::vector<typename BE::template buffer<T>> outputs_;  // [depth] x [B*T, C]
  typename BE::template buffer<T> grad_a_, grad_b_;        // ping-pong gradient of the residual stream
  typename BE::template buffer<T> last_;                   // forward_last's output [B, C]
  const T* input_ = nullptr;
};

}  // namespace slmrec::nn
