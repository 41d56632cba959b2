#pragma once
// The Backend concept: a stateless policy type whose static operations are the
// whole numerical vocabulary of the layers. A layer only ever calls these on
// pointers it got from `Backend::buffer`, so swapping `eigen_cpu` for `cuda`
// changes where the numbers live and how they are computed, never the model,
// distiller or trainer code.
//
// The vocabulary is split into kernel groups, one concept each, and every
// operation any layer calls is named in one of them: a new backend that
// satisfies `backend` compiles everywhere, and one that lacks an operation
// fails where the model type is instantiated with the compiler naming that
// operation ("the required expression 'B::rope_forward(...)' is invalid";
// tests/compile_fail checks this).
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

// What a backend is: its scalar, its buffers, where they live.
template <class B>
concept backend_traits = requires {
  typename B::scalar;
  typename B::template buffer<typename B::scalar>;
  typename B::template buffer<std::int32_t>;
  typename B::template buffer<std::uint8_t>;
  { B::name } -> std::convertible_to<const char*>;
  { B::is_host } -> std::convertible_to<bool>;  // buffers readable on the host (the CPU) or only on a device
} && std::floating_point<typename B::scalar>;

// Moving and filling memory; `synchronize` waits until every queued operation is done.
template <class B>
concept memory_ops = requires(typename B::scalar* y, const typename B::scalar* x, typename B::scalar a, index n) {
  B::fill(y, n, a);
  B::copy(x, y, n);
  B::upload(x, y, n);
  B::download(x, y, n);
  B::synchronize();
};

// Dense linear algebra and element-wise arithmetic.
template <class B>
concept blas_ops = requires(typename B::scalar* y, const typename B::scalar* x, typename B::scalar a, index n) {
  B::gemm(false, true, n, n, n, a, x, n, x, n, a, y, n);
  B::gemm_strided_batched(false, true, n, n, n, a, x, n, n, x, n, n, a, y, n, n, n);
  B::axpy(a, x, y, n);
  B::add(x, x, y, n);
  B::scale(y, n, a);
  { B::sum_squares(x, n) } -> std::convertible_to<double>;
  B::add_bias(y, x, n, n);
  B::bias_backward(x, y, n, n);
};

template <class B>
concept norm_ops = requires(typename B::scalar* y, const typename B::scalar* x, typename B::scalar a, index n) {
  B::rms_norm_forward(x, x, y, y, n, n, a);
  B::rms_norm_backward(x, x, x, x, y, y, n, n);
  B::layer_norm_forward(x, x, x, y, y, y, n, n, a);
  B::layer_norm_backward(x, x, x, x, x, y, y, y, n, n);
};

// Rotary positions and causal, grouped-query attention.
template <class B>
concept attention_ops =
    requires(typename B::scalar* y, const typename B::scalar* x, const std::int32_t* ids, index n) {
      B::rope_forward(y, ids, x, x, n, n, n);
      B::rope_backward(y, ids, x, x, n, n, n);
      B::attention_forward(x, x, x, ids, y, y, n, n, n, n, n);
      B::attention_last(x, x, x, ids, y, n, n, n, n, n);
      B::attention_backward(x, x, x, x, x, y, y, y, n, n, n, n, n);
    };

// Activations, dropout and the embedding lookup.
template <class B>
concept activation_ops = requires(typename B::scalar* y, const typename B::scalar* x, const std::int32_t* ids,
                                  std::uint8_t* keep, typename B::scalar a, index n, std::uint64_t seed) {
  B::swiglu_forward(x, x, y, n);
  B::swiglu_backward(x, x, x, y, y, n);
  B::relu_forward(x, y, n);
  B::relu_backward(x, x, y, n);
  B::gelu_forward(x, y, n);
  B::gelu_backward(x, x, y, n);
  B::dropout_forward(x, y, keep, n, a, seed);
  B::dropout_backward(static_cast<const std::uint8_t*>(keep), x, y, n, a);
  B::embedding_forward(ids, x, y, n, n);
  B::embedding_backward(ids, x, y, n, n);
};

// Row gathers and scatters, and the full-catalog losses.
template <class B>
concept loss_ops = requires(typename B::scalar* y, const typename B::scalar* x, const std::int32_t* ids,
                            typename B::scalar a, index n) {
  B::gather_rows(x, ids, y, n, n);
  B::scatter_add_rows(x, ids, y, n, n);
  B::scatter_rows(x, ids, y, n, n);
  B::scale_rows_add(x, x, y, n, n);
  B::row_dot(x, x, y, n, n);
  { B::softmax_xent_rows(y, ids, n, n, a) } -> std::convertible_to<double>;
  { B::sigmoid_bce_pairs(x, x, y, y, n, a) } -> std::convertible_to<double>;
};

template <class B>
concept optim_ops = requires(typename B::scalar* p, const typename B::scalar* g, typename B::scalar a, index n) {
  B::adamw_update(p, g, p, p, n, a, a, a, a, a, a, a);
};

// Every operation the layers, the losses and the trainer call.
template <class B>
concept backend = backend_traits<B> && memory_ops<B> && blas_ops<B> && norm_ops<B> && attention_ops<B> &&
                  activation_ops<B> && loss_ops<B> && optim_ops<B>;

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

// Optional: zeroing the elements a byte mask drops, which a pruned model
// (prune::masked) applies to its gradients after every backward.
template <class B>
concept mask_ops = backend<B> && requires(typename B::scalar* x, const std::uint8_t* keep, index n) {
  B::apply_mask(keep, x, n);
};

// Optional: int8 x int8 -> int32 products on the backend's memory, which
// quant::device_int8_matrix (an int8 model on a device backend) runs on.
template <class B>
concept int8_ops = backend<B> && requires(const float* x, float* y, std::int8_t* q, const std::int32_t* ids, index n) {
  B::quantize_rows_int8(x, n, n, n, q, y);
  B::int8_gemm_nt(q, x, n, q, x, n, n, x, y);
  B::dequantize_int8_rows(ids, q, x, n, n, n, y);
};

// Optional: a backend that selects the top-k of score rows itself (the GPU),
// so that serving never copies a [users, catalog] score matrix to the host.
template <class B>
concept device_top_k_ops =
    backend<B> && requires(typename B::scalar* scores, const std::int32_t* exclude, std::int32_t* out, index n) {
      { B::max_top_k } -> std::convertible_to<index>;
      B::top_k_rows(scores, n, n, exclude, n, n, out);
    };

}  // namespace slmrec::backend
