#pragma once
// mask_set: 0/1 masks over some tensors of a model's flat parameter store,
// in the backend's memory (host or device). Applied to the gradients after
// every backward (and to the values once, when pruning), a mask keeps its
// pruned weights at exactly zero through fine-tuning: their gradient is zero,
// so AdamW's moments stay zero and its update and decay of a zero weight are
// zero. The masks are built on the host (magnitude pruning sorts weights
// there) and uploaded once; applying them is one backend kernel a tensor.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::prune {

// A tensor of the store copied to the host (a plain copy on the CPU backend).
template <backend::backend BE>
std::vector<typename BE::scalar> host_values(const nn::parameter_store<BE>& ps,
                                             const typename nn::parameter_store<BE>::entry& e) {
  std::vector<typename BE::scalar> out(static_cast<std::size_t>(e.size));
  BE::download(ps.value(e), out.data(), e.size);
  return out;
}

template <backend::backend BE>
class mask_set {
  static_assert(backend::mask_ops<BE>, "prune::mask_set needs the backend's mask kernel group (backend::mask_ops: "
                                       "B::apply_mask(keep, x, n))");

 public:
  using T = typename BE::scalar;
  struct entry {
    std::string name;
    index offset = 0;  // into the store's flat buffers
    index size = 0;
    index pruned = 0;
    typename BE::template buffer<std::uint8_t> keep;  // backend memory
  };

  void add(const nn::parameter_store<BE>& ps, const std::string& name, const std::vector<std::uint8_t>& keep) {
    const auto& e = ps.at(name);
    require(index(keep.size()) == e.size, "mask for '{}': {} entries, the tensor has {}", name, keep.size(), e.size);
    entry m{name, e.offset, e.size, index(std::count(keep.begin(), keep.end(), std::uint8_t(0))), {}};
    m.keep.resize(keep.size());
    BE::upload(keep.data(), m.keep.data(), e.size);
    entries_.push_back(std::move(m));
  }

  // The masks that fine-tuning must keep for a model whose pruned weights are
  // already zero (a finalized or reloaded pruned model): keep = (w != 0).
  static mask_set from_zeros(const nn::parameter_store<BE>& ps, const std::vector<std::string>& names) {
    mask_set m;
    for (const auto& name : names) {
      const auto w = host_values(ps, ps.at(name));
      std::vector<std::uint8_t> keep(w.size());
      for (std::size_t i = 0; i < w.size(); ++i) keep[i] = w[i] != T(0);
      m.add(ps, name, keep);
    }
    return m;
  }

  void apply_values(nn::parameter_store<BE>& ps) const { apply(ps.values_data()); }
  void apply_grads(nn::parameter_store<BE>& ps) const {
    if (ps.has_grads()) apply(ps.grads_data());
  }

  // One tensor's mask on the host (1 = kept).
  [[nodiscard]] std::vector<std::uint8_t> keep(const entry& e) const {
    std::vector<std::uint8_t> out(static_cast<std::size_t>(e.size));
    BE::download(e.keep.data(), out.data(), e.size);
    return out;
  }

  [[nodiscard]] const std::vector<entry>& entries() const { return entries_; }
  [[nodiscard]] bool empty() const { return entries_.empty(); }
  [[nodiscard]] index total() const {
    index n = 0;
    for (const auto& e : entries_) n += e.size;
    return n;
  }
  [[nodiscard]] index pruned() const {
    index n = 0;
    for (const auto& e : entries_) n += e.pruned;
    return n;
  }
  [[nodiscard]] double sparsity() const { return total() > 0 ? double(pruned()) / double(total()) : 0.0; }

 private:
  void apply(T* base) const {
    for (const auto& e : entries_) BE::apply_mask(e.keep.data(), base + e.offset, e.size);
  }

  std::vector<entry> entries_;
};

// What a checkpoint's config.json records of a model's pruning masks
// (nothing for a model without them).
template <class Model>
void record_pruning(const Model& m, nlohmann::json& config) {
  if constexpr (requires { m.masks(); }) {
    const auto& masks = m.masks();
    config["prune"] = {{"method", "magnitude"}, {"masked_weights", masks.pruned()}, {"sparsity", masks.sparsity()}};
  }
}

}  // namespace slmrec::prune
