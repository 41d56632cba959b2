// The serving path's top-k on the device: one block per row. Each thread keeps
// a sorted list of its k best columns (a strided share of the row), then k
// rounds of a block-wide arg-max over the threads' list heads pick the winners
// in order; the winner's owner advances its head. "Better" is the CPU's
// top_k order: the higher score, then the smaller id.
#include <climits>

#include <slmrec/backend/cuda/kernels.hpp>

#include "common.cuh"

namespace slmrec::backend {

namespace {

constexpr int top_k_threads = 256;

__device__ inline bool better(float a, int ia, float b, int ib) { return a > b || (a == b && ia < ib); }

template <int KMax>
__global__ void top_k_kernel(float* scores, index cols, const std::int32_t* exclude, index exclude_cols, int k,
                             std::int32_t* out) {
  __shared__ float best_score[32];
  __shared__ int best_id[32];
  float* s = scores + blockIdx.x * cols;
  if (exclude != nullptr) {
    const std::int32_t* ex = exclude + blockIdx.x * exclude_cols;
    for (index c = threadIdx.x; c < exclude_cols; c += blockDim.x)
      if (ex[c] > 0 && index(ex[c]) < cols) s[ex[c]] = -INFINITY;
    __syncthreads();
  }
  float list_score[KMax];
  int list_id[KMax];
  int count = 0;
  for (index c = 1 + threadIdx.x; c < cols; c += blockDim.x) {
    const float v = s[c];
    const int id = int(c);
    if (count == k && !better(v, id, list_score[k - 1], list_id[k - 1])) continue;
    int j = count < k ? count++ : k - 1;
    while (j > 0 && better(v, id, list_score[j - 1], list_id[j - 1])) {
      list_score[j] = list_score[j - 1];
      list_id[j] = list_id[j - 1];
      --j;
    }
    list_score[j] = v;
    list_id[j] = id;
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  int head = 0;
  for (int r = 0; r < k; ++r) {
    float v = head < count ? list_score[head] : -INFINITY;
    int id = head < count ? list_id[head] : INT_MAX;  // an empty list loses to any real item
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, v, o);
      const int oid = __shfl_xor_sync(0xffffffffu, id, o);
      if (better(ov, oid, v, id)) v = ov, id = oid;
    }
    if (lane == 0) best_score[warp] = v, best_id[warp] = id;
    __syncthreads();
    if (warp == 0) {
      v = lane < warps ? best_score[lane] : -INFINITY;
      id = lane < warps ? best_id[lane] : INT_MAX;
      for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, v, o);
        const int oid = __shfl_xor_sync(0xffffffffu, id, o);
        if (better(ov, oid, v, id)) v = ov, id = oid;
      }
      if (lane == 0) best_id[0] = id;
    }
    __syncthreads();
    const int winner = best_id[0];
    if (threadIdx.x == 0) out[blockIdx.x * k + r] = winner;
    if (head < count && list_id[head] == winner) ++head;  // ids are unique: one owner
    __syncthreads();  // best_id is rewritten in the next round
  }
}

}  // namespace

void cuda_kernels::top_k_rows(float* scores, index rows, index cols, const std::int32_t* exclude, index exclude_cols,
                              index k, std::int32_t* out) {
  if (rows <= 0) return;
  if (k < 1 || k > max_top_k || k >= cols)
    cuda_detail::cuda_fail("top_k_rows", ("k = " + std::to_string(k) + " outside 1.." +
                                          std::to_string(std::min<index>(max_top_k, cols - 1))).c_str(),
                           __FILE__, __LINE__);
  if (k <= 16) {
    top_k_kernel<16><<<unsigned(rows), top_k_threads>>>(scores, cols, exclude, exclude_cols, int(k), out);
  } else {
    top_k_kernel<max_top_k><<<unsigned(rows), top_k_threads>>>(scores, cols, exclude, exclude_cols, int(k), out);
  }
  SLMREC_CUDA_LAUNCHED("top_k_kernel");
}

}  // namespace slmrec::backend
