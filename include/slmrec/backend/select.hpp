#pragma once
// From a run-time device name to a compile-time backend type, for tools that
// take `--device`: with_device("cuda", f) calls f(std::type_identity<cuda>{}),
// so the tool's body is written once as a template over the backend. The
// CUDA names exist only in a build with the slmrec::cuda library
// (SLMREC_HAVE_CUDA); elsewhere they are refused with a message saying why.
#include <string>
#include <type_traits>
#include <utility>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/error.hpp>
#if defined(SLMREC_HAVE_CUDA)
#include <slmrec/backend/cuda.hpp>
#endif

namespace slmrec::backend {

inline constexpr const char* device_names = "cpu | cuda (float32 on the GPU) | cuda-bf16 (bf16 tensor-core products)";

template <class F>
decltype(auto) with_device(const std::string& device, F&& f) {
  if (device == "cpu") return std::forward<F>(f)(std::type_identity<eigen_cpu>{});
  if (device == "cuda" || device == "cuda-bf16") {
#if defined(SLMREC_HAVE_CUDA)
    if (device == "cuda") return std::forward<F>(f)(std::type_identity<cuda>{});
    return std::forward<F>(f)(std::type_identity<cuda_bf16>{});
#else
    fail("--device {}: this build has no CUDA backend (configure with -DSLMREC_WITH_CUDA=ON and link slmrec::cuda)",
         device);
#endif
  }
  fail("--device '{}' is not one of cpu, cuda, cuda-bf16", device);
}

}  // namespace slmrec::backend
