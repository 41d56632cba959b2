// int8 products on the GPU (quant::device_int8_matrix): per-row run-time
// quantization of activations, the int8 x int8 -> int32 product (__dp4a) and
// the float epilogue, and the dequantizing row gather of an int8 item table.
// Each computes what its CPU twin in quant/ computes: the same codes
// (absmax_quantize: float scale, ties to even, the double path below 1e-30),
// the same exact int32 dots, and the same float epilogue as int8_output
// (s = xscale * wscale, then fma(s, dot, bias) or s * dot), so the GPU's int8
// model agrees with the CPU's reference kernel bit for bit on finite inputs.
#include <cfloat>

#include <slmrec/backend/cuda/kernels.hpp>

#include "common.cuh"

namespace slmrec::backend {

namespace {

using cuda_detail::block_reduce;
using cuda_detail::grid_for;
using cuda_detail::threads_per_block;

// One block per row: absmax (and whether any value is not finite), then codes.
// A row with a non-finite value gets scale NaN and zero codes: its outputs are
// NaN, as the float model's would be (the CPU refuses such a row instead).
__global__ void quantize_rows_int8_kernel(const float* x, index rows, index cols, index stride, std::int8_t* codes,
                                          float* scales) {
  __shared__ float shared[32];
  const index r = blockIdx.x;
  if (r >= rows) return;
  const float* xr = x + r * cols;
  std::int8_t* qr = codes + r * stride;
  float maxabs = 0.f, bad = 0.f;
  for (index k = threadIdx.x; k < cols; k += blockDim.x) {
    const float a = fabsf(xr[k]);
    if (a <= FLT_MAX) {
      maxabs = a > maxabs ? a : maxabs;
    } else {
      bad = 1.f;
    }
  }
  maxabs = block_reduce(maxabs, cuda_detail::max_op{}, shared);
  bad = block_reduce(bad, cuda_detail::max_op{}, shared);
  if (bad > 0.f || maxabs == 0.f) {
    for (index k = threadIdx.x; k < stride; k += blockDim.x) qr[k] = 0;
    if (threadIdx.x == 0) scales[r] = bad > 0.f ? __int_as_float(0x7fc00000) : 0.f;
    return;
  }
  if (threadIdx.x == 0) scales[r] = __fdiv_rn(maxabs, 127.f);
  if (maxabs < 1e-30f) {
    const double inv = 127.0 / double(maxabs);
    for (index k = threadIdx.x; k < cols; k += blockDim.x)
      qr[k] = static_cast<std::int8_t>(fmin(fmax(rint(double(xr[k]) * inv), -127.0), 127.0));
  } else {
    const float inv = __fdiv_rn(127.f, maxabs);
    for (index k = threadIdx.x; k < cols; k += blockDim.x)
      qr[k] = static_cast<std::int8_t>(fminf(fmaxf(rintf(__fmul_rn(xr[k], inv)), -127.f), 127.f));
  }
  for (index k = cols + threadIdx.x; k < stride; k += blockDim.x) qr[k] = 0;
}

// y[m, n] = epilogue(xq[m, k] . wq[n, k]): 16 x 16 outputs a block, the
// codes staged through shared memory 64 at a time as packed 4-byte words.
// Rows of both operands are `stride` bytes apart (a multiple of 4, zero
// padded), so every word read is aligned and whole.
constexpr int tile = 16;
constexpr int words = 16;  // 4-byte words of codes per stage (64 codes)

__global__ void int8_gemm_nt_kernel(const std::int8_t* xq, const float* xs, index m, const std::int8_t* wq,
                                    const float* ws, index n, index stride, const float* bias, float* y) {
  __shared__ int xt[tile][words + 1];
  __shared__ int wt[tile][words + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const index r = index(blockIdx.y) * tile + ty, o = index(blockIdx.x) * tile + tx;
  const index xr = r, wr = index(blockIdx.x) * tile + ty;  // the rows this thread stages
  int acc = 0;
  for (index k0 = 0; k0 < stride; k0 += 4 * words) {
    const index k = k0 + 4 * tx;
    xt[ty][tx] = xr < m && k < stride ? *reinterpret_cast<const int*>(xq + xr * stride + k) : 0;
    wt[ty][tx] = wr < n && k < stride ? *reinterpret_cast<const int*>(wq + wr * stride + k) : 0;
    __syncthreads();
#pragma unroll
    for (int j = 0; j < words; ++j) acc = __dp4a(xt[ty][j], wt[tx][j], acc);
    __syncthreads();
  }
  if (r < m && o < n) {
    const float s = __fmul_rn(xs[r], ws[o]);
    y[r * n + o] = bias != nullptr ? __fmaf_rn(s, float(acc), bias[o]) : __fmul_rn(s, float(acc));
  }
}

// out[i, :] = scales[ids[i]] * codes[ids[i], :]
__global__ void dequantize_int8_rows_kernel(const std::int32_t* ids, const std::int8_t* codes, const float* scales,
                                            index n, index cols, index stride, float* out) {
  for (index i = blockIdx.x * index(blockDim.x) + threadIdx.x; i < n * cols; i += index(gridDim.x) * blockDim.x) {
    const index row = ids[i / cols], c = i % cols;
    out[i] = __fmul_rn(scales[row], float(codes[row * stride + c]));
  }
}

}  // namespace

void cuda_kernels::quantize_rows_int8(const float* x, index rows, index cols, index stride, std::int8_t* codes,
                                      float* scales) {
  if (rows <= 0) return;
  quantize_rows_int8_kernel<<<unsigned(rows), threads_per_block>>>(x, rows, cols, stride, codes, scales);
  SLMREC_CUDA_LAUNCHED("quantize_rows_int8_kernel");
}

void cuda_kernels::int8_gemm_nt(const std::int8_t* xq, const float* xs, index m, const std::int8_t* wq,
                                const float* ws, index n, index stride, const float* bias, float* y) {
  if (m <= 0 || n <= 0) return;
  const dim3 threads(tile, tile), blocks(unsigned((n + tile - 1) / tile), unsigned((m + tile - 1) / tile));
  int8_gemm_nt_kernel<<<blocks, threads>>>(xq, xs, m, wq, ws, n, stride, bias, y);
  SLMREC_CUDA_LAUNCHED("int8_gemm_nt_kernel");
}

void cuda_kernels::dequantize_int8_rows(const std::int32_t* ids, const std::int8_t* codes, const float* scales,
                                        index n, index cols, index stride, float* out) {
  if (n <= 0 || cols <= 0) return;
  dequantize_int8_rows_kernel<<<grid_for(n * cols), threads_per_block>>>(ids, codes, scales, n, cols, stride, out);
  SLMREC_CUDA_LAUNCHED("dequantize_int8_rows_kernel");
}

}  // namespace slmrec::backend
