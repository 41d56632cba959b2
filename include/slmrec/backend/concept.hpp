#pragma once
// The Backend concept: a stateless policy type whose static operations are the
// whole numerical vocabulary of the layers. A layer only ever calls these on
// pointers it got from `Backend::buffer`, so swapping `eigen_cpu` for `cuda`
// changes where the numbers live and how they are computed, never the model,
// distiller or trainer code.
//
// Conventions shared by every backend (and checked by the tests):
// * matrices are row-major; a leading dimension is the distance between rows;
// * `*_backward` operations ADD into their gradient outputs (llm.c style), so
//   that residual branches and shared weights accumulate naturally; whoever
//   owns a gradient buffer zeroes it once per step;
// * integer inputs (item ids, positions, key masks) are std::int32_t.
#include <concepts>
#include <cstdint>

#include <slmrec/core/types.hpp>

namespace slmrec::backend {

template <class B>
concept backend = requires {
  typename B::scalar;
  typename B::template buffer<typename B::scalar>;
  typename B::template buffer<std::int32_t>;
  { B::name } -> std::convertible_to<const char*>;
  { B::is_host } -> std::convertible_to<bool>;  // buffers readable on the host (the CPU) or only on a device
} && std::floating_point<typename B::scalar> &&
    requires(typename B::scalar* y, const typename B::scalar* x, const std::int32_t* ids,
             typename B::scalar alpha, index n) {
  B::gemm(false, true, n, n, n, alpha, x, n, x, n, alpha, y, n);
  B::gemm_strided_batched(false, true, n, n, n, alpha, x, n, n, x, n, n, alpha, y, n, n, n);
  B::fill(y, n, alpha);
  B::copy(x, y, n);
  B::axpy(alpha, x, y, n);
  { B::sum_squares(x, n) } -> std::convertible_to<double>;
  B::rms_norm_forward(x, x, y, y, n, n, alpha);
  B::rms_norm_backward(x, x, x, x, y, y, n, n);
  B::layer_norm_forward(x, x, x, y, y, y, n, n, alpha);
  B::layer_norm_backward(x, x, x, x, x, y, y, y, n, n);
  B::embedding_forward(ids, x, y, n, n);
  B::embedding_backward(ids, x, y, n, n);
  B::swiglu_forward(x, x, y, n);
  B::swiglu_backward(x, x, x, y, y, n);
  B::upload(x, y, n);
  B::download(x, y, n);
};

}  // namespace slmrec::backend

namespace slmrec::backend {

// Optional kernel groups: the catalog-scale training path (sampled softmax
// over a shared candidate set, row-sparse AdamW on an embedding table). A
// backend without them still trains with the full cross-entropy and the
// dense optimiser; asking for the sampled loss there is a run-time error
// that names the backend (the command line picks the loss at run time).
template <class B>
concept sampled_softmax_ops = backend<B> && requires(typename B::scalar* y, const std::int32_t* ids, index n) {
  { B::sampled_softmax_xent_rows(y, y, ids, ids, n, n, typename B::scalar(1)) } -> std::convertible_to<double>;
};

template <class B>
concept row_sparse_optim_ops =
    backend<B> && requires(typename B::scalar* p, const typename B::scalar* g, const std::int32_t* rows,
                           typename B::scalar a, index n) {
  B::adamw_update_rows(p, g, p, p, rows, n, n, a, a, a, a, a, a, a);
  B::adamw_catch_up_rows(p, p, p, rows, n, n, g, g, g, g, a);
};

}  // namespace slmrec::backend
