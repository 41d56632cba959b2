#pragma once
// prune::magnitude: unstructured pruning of the smallest weights of the
// decoder's matrices (attention and feed-forward projections), to a target
// sparsity per matrix or with one threshold over all of them. Norms, biases
// and the item table are kept: they are small or every row of them is used.
//   auto masks = prune::magnitude(model.parameters(), {.sparsity = 0.5});
//   prune::finalize(masks, model.parameters());  // pruned weights become zero
// A model that is to be trained pruned says so in its type and owns its
// masks: recommender<BE, Arch, Depth, quant::none, prune::masked<Scope>>
// with model.prune_magnitude(0.5) (model/recommender.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/prune/mask.hpp>
#include <slmrec/prune/policy.hpp>

namespace slmrec::prune {

struct magnitude_options {
  double sparsity = 0.5;  // fraction of the prunable weights set to zero
  scope where = scope::per_matrix;
};


// The decoder's weight matrices: what magnitude pruning may remove.
template <backend::backend BE>
std::vector<std::string> prunable_matrices(const nn::parameter_store<BE>& ps) {
  std::vector<std::string> names;
  for (const auto& e : ps.entries())
    if (e.spec.name.starts_with("model.layers.") && e.spec.name.ends_with(".weight") && e.spec.shape.size() == 2)
      names.push_back(e.spec.name);
  return names;
}

namespace detail {

// Keeps all but the `drop` smallest magnitudes (ties broken by position, so
// the count is exact).
template <class T>
std::vector<std::uint8_t> keep_largest(const T* w, index n, index drop) {
  std::vector<index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), index(0));
  const auto smaller = [&](index a, index b) {
    const auto x = std::abs(w[a]), y = std::abs(w[b]);
    return x < y || (x == y && a < b);
  };
  std::vector<std::uint8_t> keep(static_cast<std::size_t>(n), 1);
  if (drop <= 0) return keep;
  std::nth_element(order.begin(), order.begin() + (drop - 1), order.end(), smaller);
  for (index i = 0; i < drop; ++i) keep[std::size_t(order[std::size_t(i)])] = 0;
  return keep;
}

}  // namespace detail

template <backend::backend BE>
mask_set<BE> magnitude(const nn::parameter_store<BE>& ps, const magnitude_options& o) {
  require(o.sparsity >= 0.0 && o.sparsity < 1.0, "magnitude pruning: sparsity {} is outside [0, 1)", o.sparsity);
  const auto names = prunable_matrices(ps);
  require(!names.empty(), "magnitude pruning: the model has no decoder matrices");
  mask_set<BE> masks;
  if (o.where == scope::per_matrix) {
    for (const auto& name : names) {
      const auto& e = ps.at(name);
      const auto w = host_values(ps, e);
      masks.add(ps, name, detail::keep_largest(w.data(), e.size, index(std::llround(o.sparsity * double(e.size)))));
    }
    return masks;
  }
  // Global: one magnitude threshold over all matrices, the same exact count.
  std::vector<typename BE::scalar> all;
  for (const auto& name : names) {
    const auto w = host_values(ps, ps.at(name));
    all.insert(all.end(), w.begin(), w.end());
  }
  auto keep = detail::keep_largest(all.data(), index(all.size()), index(std::llround(o.sparsity * double(all.size()))));
  index at = 0;
  for (const auto& name : names) {
    const auto n = ps.at(name).size;
    masks.add(ps, name, std::vector<std::uint8_t>(keep.begin() + at, keep.begin() + at + n));
    at += n;
  }
  return masks;
}

// Makes the pruning permanent: the pruned weights become zero in the values
// (a checkpoint of them is an ordinary model; mask_set::from_zeros recovers
// the masks for further fine-tuning).
template <backend::backend BE>
void finalize(const mask_set<BE>& masks, nn::parameter_store<BE>& ps) {
  masks.apply_values(ps);
}

}  // namespace slmrec::prune
