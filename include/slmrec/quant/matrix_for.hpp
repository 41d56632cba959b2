#pragma once
// Which weight-matrix format each scheme stores: scheme tag -> matrix type;
// and on a device backend (storage_t<BE, Q>), which of them runs there.
#include <type_traits>

#include <slmrec/quant/device_int8_matrix.hpp>
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

// The storage of scheme Q's matrices on backend BE: the host formats above
// on a host backend; on a device backend int8_per_channel only (the int4 and
// 16-bit formats' kernels are CPU kernels).
template <class BE, class Q, bool Host = BE::is_host>
struct storage_for {
  using type = matrix_t<Q>;
};
template <class BE, class Q>
struct storage_for<BE, Q, false> {
  static_assert(std::is_same_v<Q, int8_per_channel>,
                "slmrec::quant: on a device backend (backend::cuda) only quant::int8_per_channel runs; int4_block, "
                "bf16 and fp16 have CPU kernels only");
  using type = device_int8_matrix<BE>;
};

template <class BE, class Q>
using storage_t = typename storage_for<BE, Q>::type;

}  // namespace slmrec::quant
