#pragma once
// backend::cuda — the GPU backend: the same policy vocabulary as eigen_cpu
// (see concept.hpp), with parameters, activations and optimizer state in GPU
// memory, cuBLAS for every matrix product and small CUDA kernels for the rest.
// Swapping the backend type is the whole change a model, distiller or trainer
// needs to run on the GPU.
//
//   backend::cuda       float32 everywhere (parity with the CPU to 1e-5)
//   backend::cuda_bf16  float32 storage and optimizer, bf16 tensor-core products
//
// The kernels are compiled once into the slmrec::cuda library (CMake option
// SLMREC_WITH_CUDA); this header itself needs no CUDA toolkit to compile.
// Without a GPU at run time the first allocation throws slmrec::error saying so.
#include <cstdint>

#include <slmrec/backend/concept.hpp>
#include <slmrec/backend/cuda/buffer.hpp>
#include <slmrec/backend/cuda/kernels.hpp>
#include <slmrec/backend/cuda/runtime.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::backend {

template <cuda_math Math>
struct cuda_t : cuda_kernels {
  using scalar = float;
  template <class U>
  using buffer = cuda_memory::device_buffer<U>;
  static constexpr const char* name = Math == cuda_math::fp32 ? "cuda" : "cuda_bf16";
  static constexpr bool is_host = false;  // buffers live on the device: read them through download()
  static constexpr cuda_math math = Math;
  // Waits for every queued kernel (timing; most callers never need it, as
  // each download waits for the work before it).
  static void synchronize() { cuda_runtime::synchronize(); }

  static void gemm(bool trans_a, bool trans_b, index m, index n, index k, float alpha, const float* a, index lda,
                   const float* b, index ldb, float beta, float* c, index ldc) {
    gemm_as(Math, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  static void gemm_strided_batched(bool trans_a, bool trans_b, index m, index n, index k, float alpha, const float* a,
                                   index lda, index stride_a, const float* b, index ldb, index stride_b, float beta,
                                   float* c, index ldc, index stride_c, index count) {
    gemm_strided_batched_as(Math, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                            stride_c, count);
  }
  static void attention_forward(const float* q, const float* k, const float* v, const std::int32_t* key_mask,
                                float* out, float* probs, index batch, index length, index heads, index kv_heads,
                                index head_dim) {
    attention_forward_as(Math, q, k, v, key_mask, out, probs, batch, length, heads, kv_heads, head_dim);
  }
  static void attention_backward(const float* q, const float* k, const float* v, const float* probs,
                                 const float* dout, float* dq, float* dk, float* dv, index batch, index length,
                                 index heads, index kv_heads, index head_dim) {
    attention_backward_as(Math, q, k, v, probs, dout, dq, dk, dv, batch, length, heads, kv_heads, head_dim);
  }

  // Host <-> device copies (synchronous: the host data may be reused at once).
  template <class U>
  static void upload(const U* host, U* dev, index n) {
    if (n > 0) cuda_runtime::copy_to_device(dev, host, sizeof(U) * std::size_t(n));
  }
  template <class U>
  static void download(const U* dev, U* host, index n) {
    if (n > 0) cuda_runtime::copy_to_host(host, dev, sizeof(U) * std::size_t(n));
  }
};

using cuda = cuda_t<cuda_math::fp32>;
using cuda_bf16 = cuda_t<cuda_math::bf16>;

static_assert(backend<cuda>);
static_assert(backend<cuda_bf16>);

// Whether a CUDA device can be used here (false without a driver or a GPU).
inline bool cuda_available() noexcept { return cuda_runtime::device_count() > 0; }

}  // namespace slmrec::backend
