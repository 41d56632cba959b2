#pragma once
// Timing shared by the benchmark programs: a call repeated after a warm-up,
// reported as median, min and max milliseconds.
#include <algorithm>
#include <chrono>
#include <vector>

namespace slmrec::bench {

struct timing {
  double median = 0, min = 0, max = 0;
};

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class F>
timing time_calls(F&& f, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), ms.back()};
}

}  // namespace slmrec::bench
