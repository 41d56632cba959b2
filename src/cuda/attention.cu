// Rotary embedding and causal multi-head attention with grouped-query heads.
//
// Layouts as on the CPU: q, out [B, T, H, D]; k, v [B, T, KV, D]; probs
// [B, H, T, T]; key_mask [B, T] (1 = item, 0 = padding, null = none). Query
// head h reads key/value head h / (H / KV).
//
// The products are cuBLAS strided-batched calls, one per query head, batched
// over the B sequences (a sequence's head is a strided [T, D] block, and
// consecutive sequences sit a fixed stride apart). The masked row softmax
// and its backward are one warp per row of probabilities. Heads of one group
// add into the same dK, dV one call after another on the stream, so they
// never race.
#include <cmath>

#include <slmrec/backend/cuda/kernels.hpp>

#include "common.cuh"

namespace slmrec::backend {

namespace {

using cuda_detail::grid_for;
using cuda_detail::grid_for_rows;
using cuda_detail::threads_per_block;
using cuda_detail::warp_max;
using cuda_detail::warp_sum;

// Hugging Face rotate_half on x [rows, heads, head_dim]: i pairs with i + half.
__global__ void rope_kernel(float* x, const std::int32_t* positions, const float* cos, const float* sin, index rows,
                            index heads, index half, float direction) {
  const index n = rows * heads * half;
  for (index j = blockIdx.x * index(blockDim.x) + threadIdx.x; j < n; j += index(gridDim.x) * blockDim.x) {
    const index i = j % half, rh = j / half, r = rh / heads;
    float* xh = x + rh * 2 * half;
    const index p = index(positions[r]) * half + i;
    const float c = cos[p], s = direction * sin[p];
    const float a = xh[i], b = xh[i + half];
    xh[i] = a * c - b * s;
    xh[i + half] = b * c + a * s;
  }
}

// Row `row` of probs [B, H, T, T] (in place): scale, causal and padding mask,
// softmax; no visible key: all zero. One warp per row.
__global__ void causal_softmax_kernel(float* probs, const std::int32_t* key_mask, index batch, index heads,
                                      index length, float scale) {
  const int lane = threadIdx.x % 32;
  const index rows = batch * heads * length;
  for (index row = (blockIdx.x * index(blockDim.x) + threadIdx.x) / 32; row < rows;
       row += index(gridDim.x) * blockDim.x / 32) {
    const index t = row % length, b = row / (heads * length);
    float* p = probs + row * length;
    const std::int32_t* mask = key_mask != nullptr ? key_mask + b * length : nullptr;
    float m = -INFINITY;
    for (index s = lane; s <= t; s += 32)
      if (mask == nullptr || mask[s] != 0) m = fmaxf(m, p[s]);
    m = warp_max(m);
    if (m == -INFINITY) {
      for (index s = lane; s < length; s += 32) p[s] = 0.f;
      continue;
    }
    const float shift = m * scale;
    float total = 0.f;
    for (index s = lane; s < length; s += 32) {
      const bool visible = s <= t && (mask == nullptr || mask[s] != 0);
      const float e = visible ? expf(p[s] * scale - shift) : 0.f;
      p[s] = e;
      total += e;
    }
    const float inv = 1.f / warp_sum(total);
    for (index s = lane; s <= t; s += 32) p[s] *= inv;
  }
}

// dS = P o (dP - rowsum(P o dP)) * scale, in place on dP [rows, T].
__global__ void softmax_backward_kernel(const float* probs, float* dp, index rows, index length, float scale) {
  const int lane = threadIdx.x % 32;
  for (index row = (blockIdx.x * index(blockDim.x) + threadIdx.x) / 32; row < rows;
       row += index(gridDim.x) * blockDim.x / 32) {
    const float* p = probs + row * length;
    float* d = dp + row * length;
    float weighted = 0.f;
    for (index s = lane; s < length; s += 32) weighted += p[s] * d[s];
    weighted = warp_sum(weighted);
    for (index s = lane; s < length; s += 32) d[s] = p[s] * (d[s] - weighted) * scale;
  }
}

// One block per (head, sequence): the last query against its sequence's keys.
// Scores live in shared memory (length floats).
__global__ void attention_last_kernel(const float* q, const float* k, const float* v, const std::int32_t* key_mask,
                                      float* out, index length, index heads, index kv_heads, index head_dim,
                                      float scale) {
  extern __shared__ float scores[];
  __shared__ float reduce[32];
  const index h = blockIdx.x, b = blockIdx.y, g = h / (heads / kv_heads);
  const index q_row = heads * head_dim, kv_row = kv_heads * head_dim;
  const float* query = q + b * q_row + h * head_dim;
  const std::int32_t* mask = key_mask != nullptr ? key_mask + b * length : nullptr;
  float m = -INFINITY;
  for (index s = threadIdx.x; s < length; s += blockDim.x) {
    const float* key = k + (b * length + s) * kv_row + g * head_dim;
    float dot = 0.f;
    for (index d = 0; d < head_dim; ++d) dot += query[d] * key[d];
    const bool visible = mask == nullptr || mask[s] != 0;
    scores[s] = visible ? dot * scale : -INFINITY;
    if (visible) m = fmaxf(m, dot * scale);
  }
  m = cuda_detail::block_reduce(m, cuda_detail::max_op{}, reduce);
  float* o = out + b * q_row + h * head_dim;
  if (m == -INFINITY) {  // no visible key: a zero output, as on the CPU
    for (index d = threadIdx.x; d < head_dim; d += blockDim.x) o[d] = 0.f;
    return;
  }
  float total = 0.f;
  for (index s = threadIdx.x; s < length; s += blockDim.x) {
    const float e = scores[s] == -INFINITY ? 0.f : expf(scores[s] - m);
    scores[s] = e;
    total += e;
  }
  total = cuda_detail::block_reduce(total, cuda_detail::plus_op{}, reduce);  // also orders the scores' writes
  const float inv = 1.f / total;
  for (index d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float acc = 0.f;
    for (index s = 0; s < length; ++s) acc += scores[s] * v[(b * length + s) * kv_row + g * head_dim + d];
    o[d] = acc * inv;
  }
}

}  // namespace

void cuda_kernels::rope_forward(float* x, const std::int32_t* positions, const float* cos, const float* sin,
                                index rows, index heads, index head_dim) {
  if (rows <= 0) return;
  rope_kernel<<<grid_for(rows * heads * (head_dim / 2)), threads_per_block>>>(x, positions, cos, sin, rows, heads,
                                                                               head_dim / 2, 1.f);
  SLMREC_CUDA_LAUNCHED("rope_kernel");
}
// The rotation is orthogonal: its transpose rotates by the opposite angle.
void cuda_kernels::rope_backward(float* dx, const std::int32_t* positions, const float* cos, const float* sin,
                                 index rows, index heads, index head_dim) {
  if (rows <= 0) return;
  rope_kernel<<<grid_for(rows * heads * (head_dim / 2)), threads_per_block>>>(dx, positions, cos, sin, rows, heads,
                                                                               head_dim / 2, -1.f);
  SLMREC_CUDA_LAUNCHED("rope_kernel");
}

void cuda_kernels::attention_forward_as(cuda_math math, const float* q, const float* k, const float* v,
                                        const std::int32_t* key_mask, float* out, float* probs, index batch,
                                        index length, index heads, index kv_heads, index head_dim) {
  if (batch <= 0 || length <= 0) return;
  const index L = length, D = head_dim, group = heads / kv_heads;
  const index q_row = heads * D, kv_row = kv_heads * D;
  for (index h = 0; h < heads; ++h) {  // S = Q K^T, unscaled (the softmax scales)
    const index g = h / group;
    gemm_strided_batched_as(math, false, true, L, L, D, 1.f, q + h * D, q_row, L * q_row, k + g * D, kv_row,
                            L * kv_row, 0.f, probs + h * L * L, L, heads * L * L, batch);
  }
  causal_softmax_kernel<<<grid_for_rows(batch * heads * L), threads_per_block>>>(probs, key_mask, batch, heads, L,
                                                                                   1.f / std::sqrt(float(D)));
  SLMREC_CUDA_LAUNCHED("causal_softmax_kernel");
  for (index h = 0; h < heads; ++h) {  // O = P V
    const index g = h / group;
    gemm_strided_batched_as(math, false, false, L, D, L, 1.f, probs + h * L * L, L, heads * L * L, v + g * D, kv_row,
                            L * kv_row, 0.f, out + h * D, q_row, L * q_row, batch);
  }
}

void cuda_kernels::attention_last(const float* q, const float* k, const float* v, const std::int32_t* key_mask,
                                  float* out, index batch, index length, index heads, index kv_heads,
                                  index head_dim) {
  if (batch <= 0 || length <= 0) return;
  const dim3 grid{unsigned(heads), unsigned(batch)};
  attention_last_kernel<<<grid, 128, sizeof(float) * std::size_t(length)>>>(
      q, k, v, key_mask, out, length, heads, kv_heads, head_dim, 1.f / std::sqrt(float(head_dim)));
  SLMREC_CUDA_LAUNCHED("attention_last_kernel");
}

void cuda_kernels::attention_backward_as(cuda_math math, const float* q, const float* k, const float* v,
                                         const float* probs, const float* dout, float* dq, float* dk, float* dv,
                                         index batch, index length, index heads, index kv_heads, index head_dim) {
  if (batch <= 0 || length <= 0) return;
  const index L = length, D = head_dim, group = heads / kv_heads;
  const index q_row = heads * D, kv_row = kv_heads * D, pstride = heads * L * L;
  float* ds = cuda_detail::workspace(std::size_t(batch * pstride));  // [B, H, T, T], laid out as probs
  for (index h = 0; h < heads; ++h) {  // dP = dO V^T
    const index g = h / group;
    gemm_strided_batched_as(math, false, true, L, L, D, 1.f, dout + h * D, q_row, L * q_row, v + g * D, kv_row,
                            L * kv_row, 0.f, ds + h * L * L, L, pstride, batch);
  }
  softmax_backward_kernel<<<grid_for_rows(batch * heads * L), threads_per_block>>>(probs, ds, batch * heads * L, L,
                                                                                     1.f / std::sqrt(float(D)));
  SLMREC_CUDA_LAUNCHED("softmax_backward_kernel");
  for (index h = 0; h < heads; ++h) {
    const index g = h / group;
    // dQ += dS K
    gemm_strided_batched_as(math, false, false, L, D, L, 1.f, ds + h * L * L, L, pstride, k + g * D, kv_row,
                            L * kv_row, 1.f, dq + h * D, q_row, L * q_row, batch);
    // dK += dS^T Q
    gemm_strided_batched_as(math, true, false, L, D, L, 1.f, ds + h * L * L, L, pstride, q + h * D, q_row, L * q_row,
                            1.f, dk + g * D, kv_row, L * kv_row, batch);
    // dV += P^T dO
    gemm_strided_batched_as(math, true, false, L, D, L, 1.f, probs + h * L * L, L, pstride, dout + h * D, q_row,
                            L * q_row, 1.f, dv + g * D, kv_row, L * kv_row, batch);
  }
}

}  // namespace slmrec::backend
