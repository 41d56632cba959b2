#pragma once
// Quantization schemes: tag types that a recommender takes as a template
// parameter (recommender<BE, Arch, Depth, quant::int8_per_channel>). Each
// names how the linear layers and the item table store their weights at
// inference; `none` is the trainable float model. A quantized model is an
// inference-only type: its layers have no backward, so a training step on
// it does not compile.
#include <slmrec/core/types.hpp>

namespace slmrec::quant {

// Float weights, trainable.
struct none {
  static constexpr const char* name = "none";
};

// int8 weights, symmetric, one float scale per output channel (row of
// [out, in]); activations quantized per row at run time; int32 accumulation.
struct int8_per_channel {
  static constexpr const char* name = "int8";
};

// 4-bit weights in blocks of Block consecutive inputs with one scale each,
// dotted against int8 activations (as GGML's Q4_0 against Q8_0).
template <index Block = 32>
struct int4_block {
  static_assert(Block > 0 && Block % 32 == 0, "quant::int4_block<Block>: Block must be a positive multiple of 32");
  static constexpr index block = Block;
  static constexpr const char* name = "int4";
};

// 16-bit weight storage, float compute.
struct bf16 {
  static constexpr const char* name = "bf16";
};
struct fp16 {
  static constexpr const char* name = "fp16";
};

template <class Q>
inline constexpr bool is_quantized = true;
template <>
inline constexpr bool is_quantized<none> = false;

}  // namespace slmrec::quant
