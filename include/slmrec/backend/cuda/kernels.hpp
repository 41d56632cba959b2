#pragma once
// The operations of the CUDA backend, declared for the host compiler and
// defined in src/cuda/ (compiled by nvcc into slmrec::cuda). Each has the
// signature and the semantics of its CPU twin in backend/cpu/ (row-major
// matrices, `*_backward` adds into its gradient outputs, int32 ids), which is
// what the parity tests in tests/cuda hold them to. Pointers are device
// pointers unless a comment says otherwise.
//
// Matrix products go through cuBLAS; `cuda_math` says how:
//   fp32  full float32 products (TF32 off), for parity with the CPU;
//   bf16  float32 data, products on the bf16 tensor cores with float32
//         accumulation (CUBLAS_COMPUTE_32F_FAST_16BF): bf16 compute, float32
//         master weights and optimizer state, nothing else changes.
#include <cstdint>

#include <slmrec/core/types.hpp>

namespace slmrec::backend {

enum class cuda_math { fp32, bf16 };

struct cuda_kernels {
  // ---- products and vectors (src/cuda/blas.cu) ----------------------------------------
  static void gemm_as(cuda_math math, bool trans_a, bool trans_b, index m, index n, index k, float alpha,
                      const float* a, index lda, const float* b, index ldb, float beta, float* c, index ldc);
  static void gemm_strided_batched_as(cuda_math math, bool trans_a, bool trans_b, index m, index n, index k,
                                      float alpha, const float* a, index lda, index stride_a, const float* b, index ldb,
                                      index stride_b, float beta, float* c, index ldc, index stride_c, index count);
  static void fill(float* x, index n, float value);
  static void copy(const float* x, float* y, index n);
  static void axpy(float alpha, const float* x, float* y, index n);
  static void add(const float* a, const float* b, float* y, index n);
  static void scale(float* x, index n, float alpha);
  static double sum_squares(const float* x, index n);  // synchronises: the result comes back to the host
  static void add_bias(float* y, const float* bias, index rows, index cols);
  static void bias_backward(const float* dy, float* dbias, index rows, index cols);

  // ---- norms (src/cuda/norms.cu) ------------------------------------------------------
  static void rms_norm_forward(const float* x, const float* w, float* y, float* rstd, index rows, index cols,
                               float eps);
  static void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* dy, float* dx,
                                float* dw, index rows, index cols);
  static void layer_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                                 index rows, index cols, float eps);
  static void layer_norm_backward(const float* x, const float* w, const float* mean, const float* rstd,
                                  const float* dy, float* dx, float* dw, float* db, index rows, index cols);

  // ---- activations, dropout, embeddings (src/cuda/activations.cu) ---------------------
  static void swiglu_forward(const float* gate, const float* up, float* out, index n);
  static void swiglu_backward(const float* gate, const float* up, const float* dout, float* dgate, float* dup,
                              index n);
  static void relu_forward(const float* x, float* y, index n);
  static void relu_backward(const float* x, const float* dy, float* dx, index n);
  static void gelu_forward(const float* x, float* y, index n);
  static void gelu_backward(const float* x, const float* dy, float* dx, index n);
  // The same counter-based mask as the CPU (mix64 of seed and element index):
  // one seed drops the same elements on both backends.
  static void dropout_forward(const float* x, float* y, std::uint8_t* keep, index n, float p, std::uint64_t seed);
  static void dropout_backward(const std::uint8_t* keep, const float* dy, float* dx, index n, float p);
  static void apply_mask(const std::uint8_t* keep, float* x, index n);  // x[i] = 0 where keep[i] == 0
  static void embedding_forward(const std::int32_t* ids, const float* table, float* out, index n, index dim);
  static void embedding_backward(const std::int32_t* ids, const float* dout, float* dtable, index n, index dim);

  // ---- int8 products (src/cuda/quant.cu; quant::device_int8_matrix) -------------------
  // Codes of each row of x [rows, cols] (absmax, one scale a row, as the CPU's
  // absmax_quantize), rows `stride` codes apart (a multiple of 4, zero padded).
  static void quantize_rows_int8(const float* x, index rows, index cols, index stride, std::int8_t* codes,
                                 float* scales);
  // y [m, n] = xs[r] * ws[o] * (xq[r, :] . wq[o, :]) (+ bias[o]), exact int32 dots.
  static void int8_gemm_nt(const std::int8_t* xq, const float* xs, index m, const std::int8_t* wq, const float* ws,
                           index n, index stride, const float* bias, float* y);
  // out [n, cols] = scales[ids[i]] * codes[ids[i], :cols]
  static void dequantize_int8_rows(const std::int32_t* ids, const std::int8_t* codes, const float* scales, index n,
                                   index cols, index stride, float* out);

  // ---- rotary embedding and attention (src/cuda/attention.cu) -------------------------
  static void rope_forward(float* x, const std::int32_t* positions, const float* cos, const float* sin, index rows,
                           index heads, index head_dim);
  static void rope_backward(float* dx, const std::int32_t* positions, const float* cos, const float* sin, index rows,
                            index heads, index head_dim);
  static void attention_forward_as(cuda_math math, const float* q, const float* k, const float* v,
                                   const std::int32_t* key_mask, float* out, float* probs, index batch, index length,
                                   index heads, index kv_heads, index head_dim);
  static void attention_last(const float* q, const float* k, const float* v, const std::int32_t* key_mask, float* out,
                             index batch, index length, index heads, index kv_heads, index head_dim);
  static void attention_backward_as(cuda_math math, const float* q, const float* k, const float* v,
                                    const float* probs, const float* dout, float* dq, float* dk, float* dv,
                                    index batch, index length, index heads, index kv_heads, index head_dim);

  // ---- rows and losses (src/cuda/loss.cu) ---------------------------------------------
  static void gather_rows(const float* src, const std::int32_t* rows, float* dst, index n, index dim);
  static void scatter_add_rows(const float* src, const std::int32_t* rows, float* dst, index n, index dim);
  static void scatter_rows(const float* src, const std::int32_t* rows, float* dst, index n, index dim);
  static void scale_rows_add(const float* x, const float* s, float* y, index n, index dim);
  static void row_dot(const float* a, const float* b, float* out, index n, index dim);
  static void softmax_rows(float* x, index n, index cols);
  // Both losses return their sum to the host (they synchronise).
  static double softmax_xent_rows(float* logits, const std::int32_t* targets, index n, index cols, float scale);
  static double sigmoid_bce_pairs(const float* pos, const float* neg, float* dpos, float* dneg, index n, float scale);

  // ---- serving (src/cuda/top_k.cu) -----------------------------------------------------
  // The k best items of each row of scores [rows, cols], best first, ties to the
  // smaller id, column 0 (padding) never chosen: serving's top_k on the device.
  // exclude [rows, exclude_cols] (or null) lists item ids whose scores are first
  // set to -inf (a user's history; 0 = padding, ignored). out [rows, k].
  static constexpr index max_top_k = 64;
  static void top_k_rows(float* scores, index rows, index cols, const std::int32_t* exclude, index exclude_cols,
                         index k, std::int32_t* out);

  // ---- optimiser (src/cuda/optim.cu) --------------------------------------------------
  static void adamw_update(float* p, const float* g, float* m, float* v, index n, float lr, float beta1, float beta2,
                           float eps, float weight_decay, float bias_correction1, float bias_correction2);
};

}  // namespace slmrec::backend
