// The training job that tests/dist/kill_rank.py kills: a small SASRec on
// synthetic data (3,000 users), trained with dist::mpi for up to 1,000 epochs,
// a checkpoint after each.
//   mpirun -np 2 train_job train OUT     trains (rank 0 writes OUT)
//   train_job load OUT                   loads OUT's weights and training state; prints "loaded epoch E"
// Its own small program (not the slmrec tool) so that CI builds it in seconds.
#include <cstdio>
#include <string>

#include <fmt/core.h>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/data/synthetic.hpp>
#include <slmrec/dist/mpi.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/train/trainer.hpp>

namespace {
using model_t = slmrec::model::recommender<slmrec::backend::eigen_cpu, slmrec::arch::sasrec>;

slmrec::model::recommender_config config(slmrec::index items) {
  slmrec::model::recommender_config c;
  c.arch = "sasrec";
  c.num_items = items;
  c.dim = 32;
  c.heads = 2;
  c.layers = 1;
  c.max_len = 20;
  return c;
}
}  // namespace

int main(int argc, char** argv) {
  slmrec::dist::mpi_session session(argc, argv);
  const slmrec::dist::mpi comm;
  if (argc != 3 || (std::string(argv[1]) != "train" && std::string(argv[1]) != "load")) {
    fmt::print(stderr, "usage: train_job train|load OUT\n");
    return 2;
  }
  const std::string out = argv[2];
  return comm.guarded([&] {
    slmrec::data::synthetic_options so;
    so.users = 3000;
    so.items = 2000;
    so.seed = 5;
    const auto ds = slmrec::data::make_synthetic(so);
    const auto split = slmrec::data::leave_one_out(ds);
    model_t m(config(ds.num_items));
    if (std::string(argv[1]) == "load") {
      slmrec::train::load_model_weights(out, m.parameters());
      slmrec::train::adamw<slmrec::backend::eigen_cpu> opt(m.parameters(), {});
      std::vector<float> best(std::size_t(m.parameters().total_size()));
      const auto state = slmrec::train::load_training_state(out, m.parameters(), best.data(), opt);
      fmt::print("loaded epoch {} step {}\n", state.epoch, state.step);
      return 0;
    }
    m.initialize(3);
    slmrec::train::next_item_objective obj(m, slmrec::train::loss_kind::cross_entropy);
    slmrec::train::train_config tc;
    tc.epochs = 1000;
    tc.patience = 1000;
    tc.eval_users = 200;
    tc.seed = 3;
    tc.verbosity = comm.root() ? 1 : 0;
    (void)slmrec::train::fit(obj, split, ds, tc, out, false, comm);
    return 0;
  });
}
