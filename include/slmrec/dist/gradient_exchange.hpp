#pragma once
// Sums the ranks' gradients so that every rank holds the same total before
// the optimiser's step (which is then identical everywhere).
//
// Dense parameters (the blocks, norms, a dense item table): one in-place
// allreduce per bucket of the flat gradient buffer, over the runs of
// trainable parameters (a frozen table's gradient is never sent). Buckets
// bound MPI's int counts and the size of any one message; they are not
// overlapped with the backward pass (the model's backward is one call; see
// docs/distributed.md for what overlap could save).
//
// A row-tracked table (the item table under a sampled loss) is sparse: each
// rank sends the rows it touched (ids, then values) to all others, and every
// rank sums the pieces in rank order into a zeroed copy of those rows, so the
// result is bitwise the same on every rank. The union of the rows becomes
// each rank's touched set, which the clipping and lazy AdamW then visit.
// Bytes on the wire scale with rows touched, not with the catalog.
//
// A device backend (backend::cuda) needs a device communicator (dist::nccl):
// the dense buckets are summed in GPU memory. It has no row-sparse gradients
// yet (model::recommender refuses them there), so no sparse rows to exchange.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/dist/communicator.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::dist {

// What the last exchange moved: the payload this rank put into collectives.
struct exchange_stats {
  double seconds = 0.0;                     // wall time inside the exchange
  std::int64_t dense_bytes = 0;             // allreduced gradient bytes
  std::int64_t sparse_bytes = 0;            // this rank's row ids and values
  std::int64_t sparse_rows = 0;             // rows this rank sent
  std::int64_t dense_equivalent_bytes = 0;  // what the sparse tables would cost as dense allreduces
};

template <communicator Comm, backend::backend BE>
class gradient_exchange {
 public:
  using T = typename BE::scalar;
  // bucket_elements: the most gradient values one allreduce carries.
  gradient_exchange(const Comm& comm, nn::parameter_store<BE>& ps, index bucket_elements = index(1) << 22)
      : comm_(comm), ps_(ps), bucket_(bucket_elements) {
    // Compiles for every backend and communicator (the tool instantiates them all).
    require(BE::is_host || device_communicator<Comm> || comm.size() == 1,
            "data parallelism on the {} backend sums gradients in GPU memory: it needs dist::nccl (a build with "
            "SLMREC_WITH_MPI, SLMREC_WITH_CUDA and NCCL), not a host communicator",
            BE::name);
    require(bucket_elements > 0, "gradient_exchange: bucket of {} elements, expected > 0", bucket_elements);
  }

  void run() {
    const auto start = std::chrono::steady_clock::now();
    stats_ = {};
    if (comm_.size() == 1) return;
    dense_runs();
    for (const auto& [first, count] : runs_)
      for (index at = 0; at < count; at += bucket_) {
        const index n = std::min(bucket_, count - at);
        sum_dense(ps_.grads_data() + first + at, n);
        stats_.dense_bytes += n * index(sizeof(T));
      }
    for (const auto& e : ps_.entries())
      if (ps_.grad(e) != nullptr && ps_.row_tracked(e)) exchange_rows(e);
    stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  [[nodiscard]] const exchange_stats& last() const { return stats_; }

 private:
  // Sums n gradient values in place, wherever the backend keeps them.
  void sum_dense(T* data, index n) {
    if constexpr (BE::is_host)
      comm_.allreduce_sum(data, n);
    else if constexpr (device_communicator<Comm>)
      comm_.device_allreduce_sum(data, n);
    else
      fail("gradient_exchange: the {} backend's gradients need a device communicator", BE::name);
  }

  // Runs of consecutive trainable, dense entries: [offset, offset + count) of the flat buffer.
  void dense_runs() {
    runs_.clear();
    const auto& entries = ps_.entries();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      if (ps_.grad(e) == nullptr || ps_.row_tracked(e)) continue;
      const index end = e.offset + e.size;
      if (!runs_.empty() && runs_.back().first + runs_.back().second >= e.offset - 16)
        runs_.back().second = end - runs_.back().first;  // the alignment padding between them is zeros
      else
        runs_.push_back({e.offset, e.size});
    }
  }

  void exchange_rows(const typename nn::parameter_store<BE>::entry& e) {
    const index rows = e.spec.shape.front(), dim = e.size / rows;
    T* g = ps_.grad(e);
    stats_.dense_equivalent_bytes += e.size * index(sizeof(T));
    // A rank that touched every row (a full softmax through this table) makes it dense for all.
    double all = ps_.touched_rows(e).all ? 1.0 : 0.0;
    comm_.allreduce_sum(&all, 1);
    if (all > 0) {
      ps_.touch_all_rows(e);
      sum_dense(g, e.size);
      stats_.dense_bytes += e.size * index(sizeof(T));
      return;
    }
    if constexpr (!BE::is_host) {
      fail("gradient_exchange: '{}' has row-sparse gradients, which the {} backend does not have", e.spec.name,
           BE::name);
    }
    const auto mine = ps_.touched_rows(e).rows;
    ids_.assign(mine.begin(), mine.end());
    values_.resize(ids_.size() * std::size_t(dim));
    for (std::size_t i = 0; i < ids_.size(); ++i)
      std::copy_n(g + index(ids_[i]) * dim, dim, values_.data() + i * std::size_t(dim));
    comm_.allgatherv(std::span<const std::int32_t>(ids_), all_ids_, counts_);
    comm_.allgatherv(std::span<const T>(values_), all_values_, value_counts_);
    stats_.sparse_rows += index(ids_.size());
    stats_.sparse_bytes += index(ids_.size()) * index(sizeof(std::int32_t) + std::size_t(dim) * sizeof(T));
    // Zero this rank's rows, then add every rank's in rank order: the same sum everywhere.
    for (const auto r : ids_) std::fill_n(g + index(r) * dim, dim, T(0));
    for (std::size_t i = 0; i < all_ids_.size(); ++i) {
      const auto r = all_ids_[i];
      require(r >= 0 && r < rows, "dist: a rank sent row {} of '{}', which has {} rows", r, e.spec.name, rows);
      T* dst = g + index(r) * dim;
      const T* src = all_values_.data() + i * std::size_t(dim);
      for (index k = 0; k < dim; ++k) dst[k] += src[k];
    }
    ps_.touch_rows(e, all_ids_);
  }

  const Comm& comm_;
  nn::parameter_store<BE>& ps_;
  index bucket_;
  std::vector<std::pair<index, index>> runs_;
  std::vector<std::int32_t> ids_, all_ids_;
  std::vector<T> values_, all_values_;
  std::vector<index> counts_, value_counts_;
  exchange_stats stats_;
};

}  // namespace slmrec::dist
