#pragma once
// Central-difference gradient checking in double precision.
//
// The loss is L = sum(y * R) for a fixed random R, so dL/dy = R. The analytic
// gradients (one backward) are compared with (L(w+h) - L(w-h)) / 2h for the
// input and every trainable parameter, tensor by tensor, by the relative
// error ||a - b|| / ||a + b|| (support/compare.hpp). Large tensors are checked on a seeded sample of
// coordinates to keep the test fast.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/nn/parameters.hpp>

#include "support/compare.hpp"

namespace slmrec::test {

using be64 = backend::eigen_cpu_f64;

inline std::vector<double> random_vector(index n, std::uint64_t seed, double scale = 1.0) {
  rng gen(seed);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (double& x : v) x = scale * gen.normal();
  return v;
}

// Analytic against numerical gradient samples. A gradient that is exactly zero
// in theory (the key bias: softmax ignores a per-query constant) leaves two
// round-off noises; those are compared absolutely.
inline double gradient_error(const std::vector<double>& analytic, const std::vector<double>& numeric) {
  double scale = 0.0;
  for (std::size_t i = 0; i < analytic.size(); ++i) scale += analytic[i] * analytic[i] + numeric[i] * numeric[i];
  return std::sqrt(scale) < 1e-8 ? std::sqrt(scale) : symmetric_relative_error(analytic, numeric);
}

struct gradcheck_problem {
  std::vector<double> x;  // the input (empty: parameters only)
  index y_size = 0;
  std::function<void(const double* x, double* y)> forward;
  std::function<void(const double* x, const double* dy, double* dx)> backward;  // dx may be unused
  nn::parameter_store<be64>* params = nullptr;
};

// Returns the worst relative error over the input and all trainable tensors,
// and REQUIREs each to be below `limit`.
inline double gradcheck(gradcheck_problem& p, double limit = 1e-6, index max_coords = 48, double h = 1e-6) {
  const std::vector<double> r = random_vector(p.y_size, 4242);
  std::vector<double> y(std::size_t(p.y_size));
  auto loss = [&] {
    p.forward(p.x.data(), y.data());
    double l = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) l += y[i] * r[i];
    return l;
  };
  if (p.params) p.params->zero_grads();
  p.forward(p.x.data(), y.data());
  std::vector<double> dx(p.x.size(), 0.0);
  p.backward(p.x.data(), r.data(), dx.data());

  rng pick(7);
  auto sample = [&](index n) {
    std::vector<index> idx;
    if (n <= max_coords) {
      for (index i = 0; i < n; ++i) idx.push_back(i);
    } else {
      for (index i = 0; i < max_coords; ++i) idx.push_back(index(pick.below(std::uint64_t(n))));
    }
    return idx;
  };
  auto numeric = [&](double* w, index i) {
    const double saved = w[i];
    w[i] = saved + h;
    const double plus = loss();
    w[i] = saved - h;
    const double minus = loss();
    w[i] = saved;
    return (plus - minus) / (2 * h);
  };
  double worst = 0.0;
  auto compare = [&](const std::string& what, double* w, const double* analytic, index n) {
    std::vector<double> a, b;
    for (index i : sample(n)) {
      a.push_back(analytic[i]);
      b.push_back(numeric(w, i));
    }
    const double err = gradient_error(a, b);
    INFO("gradient of " << what << ": relative error " << err);
    CHECK(err < limit);
    worst = std::max(worst, err);
  };
  if (!p.x.empty()) compare("input", p.x.data(), dx.data(), index(p.x.size()));
  if (p.params)
    for (const auto& e : p.params->entries()) {
      if (!e.spec.trainable) continue;
      std::vector<double> g(p.params->grad(e), p.params->grad(e) + e.size);
      compare(e.spec.name, p.params->value(e), g.data(), e.size);
    }
  return worst;
}

// Every trainable tensor of a whole model: `analytic` holds the store's flat
// gradients of `loss()` (taken by the caller after one backward), compared on
// `samples` seeded coordinates per tensor with (loss(w+h) - loss(w-h)) / 2h.
template <class Loss>
void check_store_gradients(nn::parameter_store<be64>& ps, const std::vector<double>& analytic, Loss&& loss,
                           int samples, std::uint64_t seed, double h = 1e-6, double limit = 1e-6,
                           const std::string& label = "") {
  rng pick(seed);
  for (const auto& e : ps.entries()) {
    if (!e.spec.trainable) continue;
    std::vector<double> a, b;
    for (int k = 0; k < samples; ++k) {
      const index i = index(pick.below(std::uint64_t(e.size)));
      double* w = ps.value(e) + i;
      const double saved = *w;
      *w = saved + h;
      const double plus = loss();
      *w = saved - h;
      const double minus = loss();
      *w = saved;
      a.push_back(analytic[std::size_t(e.offset + i)]);
      b.push_back((plus - minus) / (2 * h));
    }
    const double err = gradient_error(a, b);
    INFO(label << e.spec.name << ": relative error " << err);
    CHECK(err < limit);
  }
}

// Builds a store for `module` and fills it with random (not init-rule) values,
// so norms' weights are not all ones and biases not all zeros.
template <class Module>
void attach_random(nn::parameter_store<be64>& store, Module& module, std::uint64_t seed, double scale = 0.3,
                   const std::string& prefix = "p") {
  store.attach(module, true, prefix);
  rng gen(seed);
  for (const auto& e : store.entries()) {
    double* v = store.value(e);
    const bool is_norm = e.spec.name.find("norm") != std::string::npos && e.spec.name.ends_with("weight");
    for (index i = 0; i < e.size; ++i) v[i] = (is_norm ? 1.0 : 0.0) + scale * gen.normal();
  }
}

}  // namespace slmrec::test
