#pragma once
// What the MPI tests share: toy data of an exact number of training users, a
// folder every rank sees (rank 0's), and the relative distance of two weight vectors.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <slmrec/data/synthetic.hpp>

#include <memory>
#include <utility>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/dist/mpi.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/model/recommender_config.hpp>
#include <slmrec/nn/parameters.hpp>
#include <slmrec/train/trainer.hpp>

#include "support/temp_dir.hpp"

namespace slmrec::test {

// `users` users of 5..12 items: each one training example, so an epoch of
// batch B is ceil(users / B) steps.
inline data::dataset dist_data(index users, std::int32_t items = 60) {
  data::synthetic_options o;
  o.users = users;
  o.items = items;
  o.min_len = 5;
  o.max_len = 12;
  o.seed = 11;
  return data::make_synthetic(o);
}

inline model::recommender_config dist_model(index num_items, index layers = 1) {
  model::recommender_config c;
  c.arch = "llama";
  c.num_items = num_items;
  c.dim = 16;
  c.heads = 2;
  c.layers = layers;
  c.max_len = 10;
  c.dropout = 0.0;  // masks come from (seed, step, rank): with dropout the ranks draw differently from one process
  return c;
}

inline train::train_config dist_train(index epochs, index batch) {
  train::train_config t;
  t.epochs = epochs;
  t.batch_size = batch;
  t.lr = 3e-3;
  t.weight_decay = 0.01;
  t.clip = 1.0;
  t.patience = 100;
  t.seed = 5;
  t.eval_users = 40;
  t.verbosity = 0;
  return t;
}

// A float64 llama of `cfg` initialised from seed 3 and trained by fit under
// `comm` (cross-entropy) into `out`: the model and the run.
template <class Comm>
auto fit_llama64(const model::recommender_config& cfg, const data::split& split, const data::dataset& ds,
                 const train::train_config& tc, const std::filesystem::path& out, const Comm& comm) {
  auto m = std::make_unique<model::recommender<backend::eigen_cpu_f64, arch::llama>>(cfg);
  m->initialize(3);
  train::next_item_objective o(*m, train::loss_kind::cross_entropy);
  auto r = train::fit(o, split, ds, tc, out, false, comm);
  return std::pair{std::move(m), std::move(r)};
}

// A scratch folder of rank 0's, the same path on every rank (one machine).
class shared_dir {
 public:
  explicit shared_dir(const dist::mpi& comm) {
    std::string mine = comm.root() ? own_.path().string() : std::string();
    std::vector<char> all;
    std::vector<index> counts;
    comm.allgatherv(std::span<const char>(mine.data(), mine.size()), all, counts);
    path_ = std::string(all.begin(), all.end());
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  temp_dir own_;  // removed by rank 0's destructor
  std::filesystem::path path_;
};

// ||a - b|| / ||b|| over n values.
template <class T>
double relative_distance(const T* a, const T* b, index n) {
  double diff = 0, ref = 0;
  for (index i = 0; i < n; ++i) {
    const double x = double(a[i]), y = double(b[i]);
    diff += (x - y) * (x - y);
    ref += y * y;
  }
  return std::sqrt(diff / ref);
}
// ... over the store's values.
template <class BE>
double relative_distance(const nn::parameter_store<BE>& a, const nn::parameter_store<BE>& b) {
  return relative_distance(a.values_data(), b.values_data(), a.total_size());
}

// Two evaluations agree exactly: users, every metric bit for bit, the protocol's description.
inline void check_same_metrics(const eval::eval_result& a, const eval::eval_result& b) {
  CHECK(a.users == b.users);
  CHECK(a.population == b.population);
  CHECK(a.metrics.count() == b.metrics.count());
  for (std::size_t k = 0; k < a.metrics.means().size(); ++k) CHECK(a.metrics.means()[k] == b.metrics.means()[k]);
  CHECK(a.protocol == b.protocol);
}

}  // namespace slmrec::test
