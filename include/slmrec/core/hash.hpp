#pragma once
// A stateless 64-bit mixer (the splitmix64 finaliser): counter-based
// randomness such as dropout masks depends only on (seed, element index),
// never on thread scheduling, so CPU and GPU runs with one seed agree.
#include <cstdint>

namespace slmrec {

constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace slmrec
