// The GPU tests' entry point: without a CUDA device, only the [no-device]
// tests can run; anything else exits with 77, which ctest reports as skipped
// (not passed), so a machine without a GPU never claims GPU parity.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include <slmrec/backend/cuda.hpp>

int main(int argc, char** argv) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  const auto& tests = session.configData().testsOrTags;
  const bool only_no_device = tests.size() == 1 && tests.front() == "[no-device]";
  if (!slmrec::backend::cuda_available() && !only_no_device) {
    std::printf("test_cuda: no CUDA device here: GPU parity tests skipped (exit 77)\n");
    return 77;
  }
  if (slmrec::backend::cuda_available())
    std::printf("test_cuda: %s\n", slmrec::backend::cuda_runtime::device_description().c_str());
  return session.run();
}
