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
//
// Sharded data (--shard-data, data/shard.hpp): each rank holds only its own
// users, shuffled per epoch from (seed, epoch) over its own examples. The
// global batch keeps its size and the step count is the one process's
// (ceil(all examples / batch)); each step a rank takes its share_of the
// step's rows from its own order, and at the last step whatever it has
// left, so every example is seen once an epoch and every rank takes the same
// number of steps. The global batches differ from one process's (each is
// drawn rank by rank), so a sharded run is reproducible for a fixed N but
// is not one process's run.
#include <cstdint>
#include <string>
#include <vector>

#include <slmrec/core/digest.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/hash.hpp>
#include <slmrec/data/batch.hpp>
#include <slmrec/data/shard.hpp>
#include <slmrec/dist/communicator.hpp>
#include <slmrec/dist/gradient_exchange.hpp>
#include <slmrec/dist/loss_units.hpp>
#include <slmrec/nn/parameters.hpp>
#include <slmrec/train/objective.hpp>

namespace slmrec::train {

template <dist::communicator Comm, backend::backend BE>
class data_parallel {
 public:
  data_parallel(const Comm& comm, nn::parameter_store<BE>& ps, const data::batcher& batches, data::shard shard = {})
      : comm_(comm), ps_(ps), exchange_(comm, ps), sharded_(!shard.whole()), batch_(batches.batch_size()) {
    require(!sharded_ || (shard.parts == comm.size() && shard.part == comm.rank()),
            "data parallel: the data is shard {} of {}, but this is rank {} of {}", shard.part, shard.parts,
            comm.rank(), comm.size());
    examples_ = batches.num_examples();
    if (sharded_) {
      double all = double(examples_);
      comm_.allreduce_sum(&all, 1);
      examples_ = index(all);
    }
  }

  // Batches of an epoch, the same on every rank.
  [[nodiscard]] index num_batches(const data::batcher& batches) const {
    return sharded_ ? (examples_ + batch_ - 1) / batch_ : batches.num_batches();
  }
  void start_epoch(data::batcher& batches, std::uint64_t epoch) {
    batches.start_epoch(epoch);
    cursor_ = 0;
  }

  bool next(data::batcher& batches, data::batch& b) {
    if (!sharded_) return batches.next(b, comm_.rank(), comm_.size());
    if (cursor_ >= examples_) return false;
    const index rows = std::min(batch_, examples_ - cursor_);
    cursor_ += rows;
    const bool last = cursor_ >= examples_;
    batches.next_rows(b, last ? batches.remaining() : data::share_of(rows, comm_.rank(), comm_.size()).count);
    return true;
  }

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
    if (comm_.size() == 1) return;
    const auto* values = ps_.values_data();
    std::vector<typename BE::scalar> host;  // a device backend's weights, brought over to be digested
    if constexpr (!BE::is_host) {
      host.resize(std::size_t(ps_.total_size()));
      BE::download(values, host.data(), ps_.total_size());
      values = host.data();
    }
    const std::uint64_t mine = digest64(std::string_view(reinterpret_cast<const char*>(values),
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
  bool sharded_;
  index batch_, examples_ = 0, cursor_ = 0;  // the global batch; sharded: all examples, and those handed out
};

template <backend::backend BE>
class data_parallel<dist::none, BE> {
 public:
  data_parallel(const dist::none&, nn::parameter_store<BE>&, const data::batcher&, data::shard shard = {}) {
    require(shard.whole(), "data parallel: the data is shard {} of {}, but there is one process", shard.part,
            shard.parts);
  }
  [[nodiscard]] index num_batches(const data::batcher& batches) const { return batches.num_batches(); }
  void start_epoch(data::batcher& batches, std::uint64_t epoch) { batches.start_epoch(epoch); }
  bool next(data::batcher& batches, data::batch& b) { return batches.next(b); }
  template <objective O>
  double train_step(O& obj, const data::batch& b, std::uint64_t seed) {
    return obj.train_step(b, seed);
  }
  void check_replicas(index) {}
};

}  // namespace slmrec::train
