#pragma once
// Comparing vectors of numbers: the one place the tests' error measures live.
//   relative_error(got, reference)    ||got - ref|| / ||ref|| (absolute when ref is all zero):
//                                     a result against a trusted reference (the CPU, a _ref kernel);
//   symmetric_relative_error(a, b)    ||a - b|| / ||a + b||: two estimates neither of which is
//                                     the truth (analytic against central-difference gradients);
//   max_relative_error(got, reference) the worst element's |got - ref| / |ref|.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace slmrec::test {

template <class T>
double relative_error(const std::vector<T>& got, const std::vector<T>& reference) {
  REQUIRE(got.size() == reference.size());
  double diff = 0.0, ref = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = double(got[i]) - double(reference[i]);
    diff += d * d;
    ref += double(reference[i]) * double(reference[i]);
  }
  return ref == 0.0 ? std::sqrt(diff) : std::sqrt(diff / ref);
}

template <class T>
double symmetric_relative_error(const std::vector<T>& a, const std::vector<T>& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0.0, sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
    sum += (double(a[i]) + double(b[i])) * (double(a[i]) + double(b[i]));
  }
  return sum == 0.0 ? std::sqrt(diff) : std::sqrt(diff / sum);
}

// 0 where both are 0.
template <class T>
double max_relative_error(const std::vector<T>& got, const std::vector<T>& reference) {
  REQUIRE(got.size() == reference.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::abs(double(got[i]) - double(reference[i]));
    if (d > 0.0) worst = std::max(worst, d / std::max(std::abs(double(reference[i])), 1e-30));
  }
  return worst;
}

}  // namespace slmrec::test
