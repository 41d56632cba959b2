#pragma once
// parameter_store: every parameter of a model in one flat value buffer (and
// one flat gradient buffer of the same layout). A module lists its parameters
// through `visit(visitor, prefix)`; the store walks that list twice — once to
// lay the buffer out, once to hand each layer its pointers — so the list in
// the layer is the single source of truth.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/nn/param.hpp>

namespace slmrec::nn {

// attach(module, borrowed_weights): the store lays its parameters out and
// owns no memory for them; the caller points every slot at weights that live
// elsewhere (model/replica.hpp: a serving thread's replica reads the model's
// own weights, and a million-item table is not allocated, zeroed and
// initialised once more per thread only to be dropped).
struct borrowed_weights_t {
  explicit borrowed_weights_t() = default;
};
inline constexpr borrowed_weights_t borrowed_weights{};

template <backend::backend BE>
class parameter_store {
 public:
  using backend_type = BE;
  using T = typename BE::scalar;
  struct entry {
    param_spec spec;
    index offset = 0;
    index size = 0;
  };

  parameter_store() = default;
  parameter_store(const parameter_store&) = delete;  // layers point into the buffers
  parameter_store& operator=(const parameter_store&) = delete;
  parameter_store(parameter_store&&) noexcept = default;
  parameter_store& operator=(parameter_store&&) noexcept = default;

  // Lays out and binds every parameter `module.visit(visitor, prefix)` lists.
  // With `with_grads` false (a frozen teacher, serving) no gradient memory exists.
  template <class Module>
  void attach(Module& module, bool with_grads, const std::string& prefix = "") {
    lay_out(module, prefix);
    const index total = entries_.empty() ? 0 : entries_.back().offset + padded(entries_.back().size);
    values_.assign(std::size_t(total), T(0));
    with_grads_ = with_grads;
    grads_.assign(with_grads ? std::size_t(total) : 0, T(0));
    std::size_t i = 0;
    module.visit([&](const param_spec& spec, auto& slot) {
      if constexpr (is_param_slot<decltype(slot), T>) {
        const entry& e = entries_[i++];
        slot.value = values_.data() + e.offset;
        slot.grad = with_grads && spec.trainable ? grads_.data() + e.offset : nullptr;
        slot.size = e.size;
      }
    }, prefix);
  }

  // The layout alone: every slot's value is left null for the caller to bind,
  // there are no gradients, and value(), initialize() and the optimiser's
  // views of this store are not to be used (total_size() is 0).
  template <class Module>
  void attach(Module& module, borrowed_weights_t, const std::string& prefix = "") {
    lay_out(module, prefix);
    values_.assign(0, T(0));
    with_grads_ = false;
    grads_.assign(0, T(0));
    std::size_t i = 0;
    module.visit([&](const param_spec&, auto& slot) {
      if constexpr (is_param_slot<decltype(slot), T>) {
        slot.value = nullptr;
        slot.grad = nullptr;
        slot.size = entries_[i++].size;
      }
    }, prefix);
  }

  // Fills every parameter from its spec's initialiser, in declaration order.
  void initialize(rng& gen) {
    std::vector<T> host;
    for (const entry& e : entries_) {
      host.assign(std::size_t(e.size), T(0));
      const param_spec& s = e.spec;
      switch (s.init) {
        case init_kind::zeros: break;
        case init_kind::ones:
          for (T& x : host) x = T(1);
          break;
        case init_kind::normal:
          for (T& x : host) x = T(s.scale * gen.normal());
          break;
        case init_kind::xavier_uniform: {
          const double fan_out = double(s.shape.front());
          const double fan_in = s.shape.size() > 1 ? double(e.size) / fan_out : fan_out;
          const double a = s.scale * std::sqrt(6.0 / (fan_in + fan_out));
          for (T& x : host) x = T(a * (2.0 * gen.uniform() - 1.0));
          break;
        }
      }
      BE::upload(host.data(), values_.data() + e.offset, e.size);
    }
  }

  // Zeroes every gradient; a row-tracked table only in the rows touched since the last call.
  void zero_grads() {
    if (trackers_.empty()) return BE::fill(grads_.data(), index(grads_.size()), T(0));
    for (const entry& e : entries_) {
      if (!with_grads_ || !e.spec.trainable) continue;
      if (!row_tracked(e)) {
        BE::fill(grads_.data() + e.offset, e.size, T(0));
        continue;
      }
      for_each_grad_run(e, [](T* g, index n) { BE::fill(g, n, T(0)); });
      tracker(e) = {};
    }
  }

  // ---- row-sparse gradients ----------------------------------------------------------
  // A large table under a sampled loss gets gradient in a few of its rows a
  // step. Once enable_row_tracking(name) is on, every code path that adds into
  // that table's gradient reports the rows it touched (touch_rows) or that it
  // touched them all (touch_all_rows); zero_grads, the gradient norm and the
  // optimiser then visit only those rows. Untracked parameters stay dense.
  void enable_row_tracking(std::string_view name) {
    const entry& e = at(name);
    require(e.spec.shape.size() == 2, "row tracking: '{}' is not a table (rank {})", name, e.spec.shape.size());
    tracker_of_.resize(entries_.size(), -1);
    auto& slot = tracker_of_[index_of(e)];
    if (slot >= 0) return;
    slot = int(trackers_.size());
    trackers_.emplace_back();
    trackers_.back().all = true;  // whatever the gradient holds now is unknown: clear it whole once
  }
  [[nodiscard]] bool row_tracked(const entry& e) const {
    const std::size_t i = index_of(e);
    return i < tracker_of_.size() && tracker_of_[i] >= 0;
  }
  void touch_rows(const entry& e, std::span<const std::int32_t> rows) {
    if (!row_tracked(e)) return;
    auto& t = tracker(e);
    t.rows.insert(t.rows.end(), rows.begin(), rows.end());
    t.sorted = false;
  }
  void touch_all_rows(const entry& e) {
    if (row_tracked(e)) tracker(e).all = true;
  }
  struct touched {
    bool all = false;                    // every row (then `rows` is empty)
    std::span<const std::int32_t> rows;  // sorted, unique
  };
  // The rows touched since the last zero_grads (a tracked entry only).
  touched touched_rows(const entry& e) {
    auto& t = tracker(e);
    if (t.all) return {true, {}};
    if (!t.sorted) {
      std::sort(t.rows.begin(), t.rows.end());
      t.rows.erase(std::unique(t.rows.begin(), t.rows.end()), t.rows.end());
      t.sorted = true;
    }
    return {false, t.rows};
  }
  // f(gradient, count) over the entry's gradient: whole, or one call per run
  // of consecutive touched rows of a tracked table.
  template <class F>
  void for_each_grad_run(const entry& e, F&& f) {
    T* g = grad(e);
    if (g == nullptr) return;
    if (!row_tracked(e)) return f(g, e.size);
    const touched t = touched_rows(e);
    if (t.all) return f(g, e.size);
    const index dim = e.size / e.spec.shape.front();
    for (std::size_t i = 0; i < t.rows.size();) {
      std::size_t j = i + 1;
      while (j < t.rows.size() && t.rows[j] == t.rows[j - 1] + 1) ++j;
      f(g + index(t.rows[i]) * dim, index(j - i) * dim);
      i = j;
    }
  }

  [[nodiscard]] const std::vector<entry>& entries() const { return entries_; }
  [[nodiscard]] const entry* find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : &entries_[it->second];
  }
  [[nodiscard]] const entry& at(std::string_view name) const {
    const entry* e = find(name);
    require(e != nullptr, "no parameter named '{}' in this model", name);
    return *e;
  }
  T* value(const entry& e) { return values_.data() + e.offset; }
  const T* value(const entry& e) const { return values_.data() + e.offset; }
  T* grad(const entry& e) { return with_grads_ && e.spec.trainable ? grads_.data() + e.offset : nullptr; }
  const T* grad(const entry& e) const {
    return with_grads_ && e.spec.trainable ? grads_.data() + e.offset : nullptr;
  }

  [[nodiscard]] bool has_grads() const { return with_grads_; }
  [[nodiscard]] index total_size() const { return index(values_.size()); }  // including alignment padding
  [[nodiscard]] index count() const {
    index n = 0;
    for (const entry& e : entries_) n += e.size;
    return n;
  }
  T* values_data() { return values_.data(); }
  const T* values_data() const { return values_.data(); }
  T* grads_data() { return grads_.data(); }

 private:
  static index padded(index size) { return (size + 15) / 16 * 16; }  // every tensor 64-byte aligned

  template <class Module>
  void lay_out(Module& module, const std::string& prefix) {
    entries_.clear();
    by_name_.clear();
    tracker_of_.clear();
    trackers_.clear();
    index total = 0;
    // Quantized weights (quant::linear, quant::embedding) are listed with their
    // own storage type: they own their memory and are not part of the store.
    module.visit([&](const param_spec& spec, auto& slot) {
      if constexpr (is_param_slot<decltype(slot), T>) {
        require(!by_name_.contains(spec.name), "parameter '{}' is declared twice", spec.name);
        const index size = numel(spec.shape);
        by_name_.emplace(spec.name, entries_.size());
        entries_.push_back({spec, total, size});
        total += padded(size);
      }
    }, prefix);
  }



  struct row_tracker {
    bool all = false, sorted = true;
    std::vector<std::int32_t> rows;
  };
  std::size_t index_of(const entry& e) const { return std::size_t(&e - entries_.data()); }
  row_tracker& tracker(const entry& e) { return trackers_[std::size_t(tracker_of_.at(index_of(e)))]; }

  std::vector<entry> entries_;
  std::unordered_map<std::string, std::size_t> by_name_;
  std::vector<int> tracker_of_;  // per entry: its index in trackers_, or -1
  std::vector<row_tracker> trackers_;
  typename BE::template buffer<T> values_, grads_;
  bool with_grads_ = false;
};

}  // namespace slmrec::nn
