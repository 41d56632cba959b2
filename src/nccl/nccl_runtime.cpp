// The compiled part of dist::nccl (include/slmrec/dist/nccl_runtime.hpp):
// the only file that includes nccl.h.
#include <cstring>
#include <string>

#include <cuda_runtime.h>
#include <fmt/format.h>
#include <nccl.h>

#include <slmrec/core/error.hpp>
#include <slmrec/dist/nccl_runtime.hpp>

namespace slmrec::dist::nccl_runtime {
namespace {

static_assert(sizeof(ncclUniqueId) == sizeof(unique_id), "ncclUniqueId is not 128 bytes in this NCCL");

void check(ncclResult_t status, const char* call, void* comm = nullptr) {
  if (status == ncclSuccess) return;
  std::string why = ncclGetErrorString(status);
  if (const char* last = comm != nullptr ? ncclGetLastError(static_cast<ncclComm_t>(comm)) : nullptr;
      last != nullptr && *last != '\0')
    why += fmt::format(" ({})", last);
  throw error(fmt::format("NCCL: {} failed: {}", call, why));
}

void check(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  throw error(fmt::format("CUDA: {} failed: {}", call, cudaGetErrorString(status)));
}

}  // namespace

unique_id make_unique_id() {
  ncclUniqueId id;
  check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  unique_id out;
  std::memcpy(out.data(), &id, sizeof id);
  return out;
}

void* join(const unique_id& id, int size, int rank, int device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  ncclUniqueId nid;
  std::memcpy(&nid, id.data(), sizeof nid);
  ncclComm_t comm = nullptr;
  check(ncclCommInitRank(&comm, size, nid, rank), "ncclCommInitRank");
  return comm;
}

void destroy(void* comm) noexcept {
  if (comm != nullptr) (void)ncclCommDestroy(static_cast<ncclComm_t>(comm));
}

void abort(void* comm) noexcept {
  if (comm != nullptr) (void)ncclCommAbort(static_cast<ncclComm_t>(comm));
}

void allreduce_sum(void* comm, void* data, std::size_t count, element type) {
  if (count == 0) return;
  check(ncclAllReduce(data, data, count, type == element::f32 ? ncclFloat32 : ncclFloat64, ncclSum,
                      static_cast<ncclComm_t>(comm), cudaStreamLegacy),
        "ncclAllReduce", comm);
  check(cudaStreamSynchronize(cudaStreamLegacy), "cudaStreamSynchronize after ncclAllReduce");
}

int version() {
  int v = 0;
  check(ncclGetVersion(&v), "ncclGetVersion");
  return v;
}

}  // namespace slmrec::dist::nccl_runtime
