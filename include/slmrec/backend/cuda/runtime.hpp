#pragma once
// The CUDA runtime as the CUDA backend needs it: device memory, copies, the
// device query. Declared here in plain C++ and defined in the compiled part of
// the backend (src/cuda/, target slmrec::cuda), so that code using
// backend::cuda compiles with the ordinary host compiler and never includes a
// CUDA header. Every call checks its CUDA status and throws slmrec::error
// naming the call, the source file and line.
//
// All work goes to the default stream in issue order: a kernel, a cuBLAS call
// and a copy that follow each other see each other's results, and a copy to
// the host waits for everything before it. An error inside a kernel surfaces
// at the next synchronising call (a download), which is where it is reported.
#include <cstddef>
#include <string>

namespace slmrec::backend::cuda_runtime {

// Number of usable CUDA devices; 0 when there is no driver, no device, or the
// driver is older than the runtime. Never throws.
int device_count() noexcept;
// Throws slmrec::error when device_count() is 0, with the runtime's reason.
void require_device();
// "NVIDIA H200 (sm_90, 139 GiB)" for the current device.
std::string device_description();

void* allocate(std::size_t bytes);  // cudaMalloc; throws with the size on failure
void release(void* p) noexcept;     // cudaFree; errors at release are ignored (destructors)
void copy_to_device(void* dst, const void* src, std::size_t bytes);
void copy_to_host(void* dst, const void* src, std::size_t bytes);
void copy_on_device(void* dst, const void* src, std::size_t bytes);
void zero(void* dst, std::size_t bytes);
void synchronize();  // waits for every queued kernel; reports asynchronous errors

}  // namespace slmrec::backend::cuda_runtime
