#pragma once
// Seeded standard-normal test data (slmrec::rng, so the same on every machine).
#include <cstdint>
#include <vector>

#include <slmrec/core/rng.hpp>

namespace slmrec::test {

inline std::vector<float> normal_floats(std::size_t n, std::uint64_t seed) {
  rng gen(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float(gen.normal());
  return v;
}

}  // namespace slmrec::test
