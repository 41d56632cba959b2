#pragma once
// mask_set: 0/1 masks over some tensors of a model's flat parameter store.
// Applied to the gradients after every backward (and to the values before
// every forward), a mask keeps its pruned weights at exactly zero through
// fine-tuning: their gradient is zero, so AdamW's moments stay zero and its
// update and decay of a zero weight are zero.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::prune {

template <backend::backend BE>
class mask_set {
  static_assert(BE::is_host, "prune::mask_set edits parameters in place: it needs a host backend");

 public:
  using T = typename BE::scalar;
  struct entry {
    std::string name;
    index offset = 0;  // into the store's flat buffers
    std::vector<std::uint8_t> keep;
  };

  void add(const nn::parameter_store<BE>& ps, const std::string& name, std::vector<std::uint8_t> keep) {
    const auto& e = ps.at(name);
    require(index(keep.size()) == e.size, "mask for '{}': {} entries, the tensor has {}", name, keep.size(), e.size);
    entries_.push_back({name, e.offset, std::move(keep)});
  }

  // The masks that fine-tuning must keep for a model whose pruned weights are
  // already zero (a finalized or reloaded pruned model): keep = (w != 0).
  static mask_set from_zeros(const nn::parameter_store<BE>& ps, const std::vector<std::string>& names) {
    mask_set m;
    for (const auto& name : names) {
      const auto& e = ps.at(name);
      const T* w = ps.value(e);
      std::vector<std::uint8_t> keep(std::size_t(e.size));
      for (index i = 0; i < e.size; ++i) keep[std::size_t(i)] = w[i] != T(0);
      m.entries_.push_back({name, e.offset, std::move(keep)});
    }
    return m;
  }

  void apply_values(nn::parameter_store<BE>& ps) const { apply(ps.values_data()); }
  void apply_grads(nn::parameter_store<BE>& ps) const {
    if (ps.has_grads()) apply(ps.grads_data());
  }

  [[nodiscard]] const std::vector<entry>& entries() const { return entries_; }
  [[nodiscard]] index total() const {
    index n = 0;
    for (const auto& e : entries_) n += index(e.keep.size());
    return n;
  }
  [[nodiscard]] index pruned() const {
    index n = 0;
    for (const auto& e : entries_) n += index(std::count(e.keep.begin(), e.keep.end(), std::uint8_t(0)));
    return n;
  }
  [[nodiscard]] double sparsity() const { return total() > 0 ? double(pruned()) / double(total()) : 0.0; }

 private:
  void apply(T* base) const {
    for (const auto& e : entries_) {
      T* p = base + e.offset;
      for (std::size_t i = 0; i < e.keep.size(); ++i)
        if (!e.keep[i]) p[i] = T(0);
    }
  }

  std::vector<entry> entries_;
};

}  // namespace slmrec::prune
