#pragma once
// Helpers of the GPU parity tests: host data, device copies, the relative
// error ||a - b|| / ||b||, and each backend's tolerance.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include <slmrec/backend/cuda.hpp>
#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/rng.hpp>

#include "support/compare.hpp"

namespace slmrec::test {

using cpu = backend::eigen_cpu;

// fp32: products in float32 (only summation order differs); bf16: products
// on bf16 tensor cores (8 mantissa bits on the inputs).
template <class BE>
constexpr double tolerance = BE::math == backend::cuda_math::fp32 ? 1e-5 : 2e-2;

inline std::vector<float> random_vector(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  rng gen(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float(scale * gen.normal());
  return v;
}

template <class BE, class T>
typename BE::template buffer<T> to_device(const std::vector<T>& host) {
  typename BE::template buffer<T> dev(host.size());
  BE::upload(host.data(), dev.data(), index(host.size()));
  return dev;
}

template <class BE, class T>
std::vector<T> to_host(const T* dev, std::size_t n) {
  std::vector<T> host(n);
  BE::download(dev, host.data(), index(n));
  return host;
}
template <class BE, class Buffer>
auto to_host(const Buffer& dev) {
  return to_host<BE>(dev.data(), dev.size());
}

}  // namespace slmrec::test
