#pragma once
// The leave-one-out split under a communicator. A sharded dataset (each rank
// holding its own users: data/shard.hpp) counts only its users' training
// items; the counts are summed over the ranks, so that popularity-drawn
// candidates (the sampled softmax) and negatives (popularity evaluation) come
// from the whole catalog's popularity on every rank, as in one process.
#include <slmrec/core/error.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/split.hpp>
#include <slmrec/dist/communicator.hpp>

namespace slmrec::train {

template <dist::communicator Comm>
[[nodiscard]] data::split leave_one_out(const data::dataset& ds, const Comm& comm) {
  auto s = data::leave_one_out(ds);
  if (ds.shard.whole()) return s;
  require(Comm::distributed && comm.size() == ds.shard.parts && comm.rank() == ds.shard.part,
          "{}: the data is shard {} of {}, but this is rank {} of {}", ds.source, ds.shard.part, ds.shard.parts,
          comm.rank(), comm.size());
  comm.allreduce_sum(s.train_item_counts.data(), index(s.train_item_counts.size()));
  return s;
}

}  // namespace slmrec::train
