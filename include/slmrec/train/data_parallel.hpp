#pragma once
// The trainer's step under a communicator (dist/communicator.hpp).
//
// dist::none: the batcher's batch and the objective's own step, untouched.
// A distributed communicator: every rank walks the same global batch order
// (seed, epoch) and takes its share of each global batch (data::share_of:
// contiguous rows, the first rows % N ranks one more); the ranks sum their
// loss units, each divides its losses by the global counts, the gradients are
// summed (dist::gradient_exchange), and every rank then takes the same
// optimiser step. The sum of the ranks' gradients is the gradient of the mean
// over the global batch, so N ranks x B/N equal one process x B up to the
// order of floating-point additions. Dropout masks and sampled negatives
// derive from (seed, global step, rank): rank 0 uses the one-process seed.
#include <cstdint>
#include <string>
#include <vector>

#include <slmrec/core/digest.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/hash.hpp>
#include <slmrec/data/batch.hpp>
#include <slmrec/dist/communicator.hpp>
#include <slmrec/dist/gradient_exchange.hpp>
#include <slmrec/dist/loss_units.hpp>
#include <slmrec/nn/parameters.hpp>
#include <slmrec/train/objective.hpp>

namespace slmrec::train {

template <dist::communicator Comm, backend::backend BE>
class data_parallel {
 public:
  data_parallel(const Comm& comm, nn::parameter_store<BE>& ps) : comm_(comm), ps_(ps), exchange_(comm, ps) {}

  bool next(data::batcher& batches, data::batch& b) { return batches.next(b, comm_.rank(), comm_.size()); }

  // One step's forward, backward and gradient sum; returns the global batch's mean loss.
  template <objective O>
  double train_step(O& obj, const data::batch& b, std::uint64_t seed) {
    static_assert(shardable_objective<O>,
                  "slmrec: data-parallel training needs an objective with loss_units(batch) and "
                  "train_step(batch, seed, units), so the ranks' losses average over the global batch");
    auto units = b.size > 0 ? obj.loss_units(b).as_array() : std::array<double, 2>{};
    comm_.allreduce_sum(units.data(), index(units.size()));
    double loss = 0.0;  // a rank with an empty share (a last batch smaller than the ranks) adds nothing
    if (b.size > 0) loss = obj.train_step(b, rank_seed(seed), dist::loss_units::from_array(units));
    exchange_.run();
    comm_.allreduce_sum(&loss, 1);
    return loss;
  }

  // After an epoch: every rank must hold the same weights (the same summed
  // gradient and step everywhere); a difference is a bug or a broken MPI, and
  // training on would silently average diverged models.
  void check_replicas(index epoch) {
    if (!BE::is_host || comm_.size() == 1) return;
    const std::uint64_t mine = digest64(std::string_view(reinterpret_cast<const char*>(ps_.values_data()),
                                                         std::size_t(ps_.total_size()) * sizeof(typename BE::scalar)));
    std::vector<std::uint64_t> all;
    std::vector<index> counts;
    comm_.allgatherv(std::span<const std::uint64_t>(&mine, 1), all, counts);
    for (std::size_t r = 1; r < all.size(); ++r)
      require(all[r] == all[0], "data parallel: after epoch {} the weights of rank {} differ from rank 0's", epoch, r);
  }

  [[nodiscard]] const dist::exchange_stats& last_exchange() const { return exchange_.last(); }

 private:
  [[nodiscard]] std::uint64_t rank_seed(std::uint64_t seed) const {
    return comm_.rank() == 0 ? seed : mix64(seed ^ (0xD1B54A32D192ED03ull * std::uint64_t(comm_.rank())));
  }

  const Comm& comm_;
  nn::parameter_store<BE>& ps_;
  dist::gradient_exchange<Comm, BE> exchange_;
};

template <backend::backend BE>
class data_parallel<dist::none, BE> {
 public:
  data_parallel(const dist::none&, nn::parameter_store<BE>&) {}
  bool next(data::batcher& batches, data::batch& b) { return batches.next(b); }
  template <objective O>
  double train_step(O& obj, const data::batch& b, std::uint64_t seed) {
    return obj.train_step(b, seed);
  }
  void check_replicas(index) {}
};

}  // namespace slmrec::train
