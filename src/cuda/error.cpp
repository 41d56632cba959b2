// The one place where a CUDA or cuBLAS failure becomes a slmrec::error. It is
// compiled by the host compiler, so the kernels' files need neither fmt nor
// the exception type.
#include <string>

#include <fmt/format.h>

#include <slmrec/core/error.hpp>

namespace slmrec::backend::cuda_detail {

[[noreturn]] void cuda_fail(const std::string& call, const char* what, const char* file, int line) {
  throw slmrec::error(fmt::format("CUDA: {} failed: {} ({}:{})", call, what, file, line));
}

}  // namespace slmrec::backend::cuda_detail
