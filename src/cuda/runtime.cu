// Device memory, copies, the device query and the process-wide CUDA state
// (cuBLAS handle, the host-visible sum, the scratch workspace).
#include <string>
#include <utility>

#include <slmrec/backend/cuda/runtime.hpp>

#include "common.cuh"

namespace slmrec::backend::cuda_runtime {

int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

void require_device() {
  static const bool ok = [] {
    int n = 0;
    const cudaError_t status = cudaGetDeviceCount(&n);
    if (status != cudaSuccess) cudaGetLastError();
    if (status != cudaSuccess || n == 0) {
      const std::string why = std::string(status != cudaSuccess ? cudaGetErrorString(status) : "no CUDA device") +
                              "; backend::cuda needs an NVIDIA GPU with a driver for this CUDA runtime: run on a GPU "
                              "machine or use the CPU backend (--device cpu)";
      cuda_detail::cuda_fail("cudaGetDeviceCount", why.c_str(), __FILE__, __LINE__);
    }
    return true;
  }();
  (void)ok;
}

std::string device_description() {
  require_device();
  int dev = 0;
  SLMREC_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  SLMREC_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
         std::to_string(prop.totalGlobalMem >> 30) + " GiB)";
}

void* allocate(std::size_t bytes) {
  require_device();
  void* p = nullptr;
  cuda_detail::check(cudaMalloc(&p, bytes), ("cudaMalloc of " + std::to_string(bytes) + " bytes").c_str(), __FILE__,
                     __LINE__);
  return p;
}

void release(void* p) noexcept {
  if (p != nullptr) cudaFree(p);
}

void copy_to_device(void* dst, const void* src, std::size_t bytes) {
  if (bytes > 0) SLMREC_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
void copy_to_host(void* dst, const void* src, std::size_t bytes) {
  if (bytes > 0) SLMREC_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
void copy_on_device(void* dst, const void* src, std::size_t bytes) {
  if (bytes > 0 && dst != src) SLMREC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0));
}
void zero(void* dst, std::size_t bytes) {
  if (bytes > 0) SLMREC_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, 0));
}
void synchronize() { SLMREC_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace slmrec::backend::cuda_runtime

namespace slmrec::backend::cuda_detail {

cublasHandle_t cublas() {
  static cublasHandle_t handle = [] {
    cuda_runtime::require_device();
    cublasHandle_t h = nullptr;
    SLMREC_CUDA_CHECK(cublasCreate(&h));
    // Products run as the caller asks (cuda_math): no silent TF32.
    SLMREC_CUDA_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    return h;
  }();
  return handle;
}

namespace {
double* sum_slot() {
  static double* sum = static_cast<double*>(cuda_runtime::allocate(sizeof(double)));
  return sum;
}
}  // namespace

double* device_sum_reset() {
  double* sum = sum_slot();
  SLMREC_CUDA_CHECK(cudaMemsetAsync(sum, 0, sizeof(double), 0));
  return sum;
}

double device_sum_read() {
  double host = 0.0;
  SLMREC_CUDA_CHECK(cudaMemcpy(&host, sum_slot(), sizeof(double), cudaMemcpyDeviceToHost));
  return host;
}

float* workspace(std::size_t floats) {
  static float* data = nullptr;
  static std::size_t capacity = 0;
  if (floats > capacity) {
    // cudaFree waits for every kernel that used the old space.
    cuda_runtime::release(std::exchange(data, nullptr));
    capacity = 0;  // stays consistent if the allocation below throws
    data = static_cast<float*>(cuda_runtime::allocate(floats * sizeof(float)));
    capacity = floats;
  }
  return data;
}

}  // namespace slmrec::backend::cuda_detail
