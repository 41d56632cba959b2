#pragma once
// Which weight-matrix format each scheme stores: scheme tag -> matrix type.
#include <slmrec/quant/half_matrix.hpp>
#include <slmrec/quant/int4_matrix.hpp>
#include <slmrec/quant/int8_matrix.hpp>
#include <slmrec/quant/scheme.hpp>

namespace slmrec::quant {

template <class Q>
struct matrix_for {
  static_assert(sizeof(Q) == 0, "slmrec::quant: unknown scheme (none, int8_per_channel, int4_block<B>, bf16, fp16)");
};
template <>
struct matrix_for<int8_per_channel> {
  using type = int8_matrix;
};
template <index Block>
struct matrix_for<int4_block<Block>> {
  using type = int4_matrix<Block>;
};
template <>
struct matrix_for<bf16> {
  using type = half_matrix<bf16>;
};
template <>
struct matrix_for<fp16> {
  using type = half_matrix<fp16>;
};

template <class Q>
using matrix_t = typename matrix_for<Q>::type;

}  // namespace slmrec::quant
