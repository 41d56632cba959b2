
// `slmrec train --data FILE --arch sasrec|llama --layers N ... --out DIR`:
// trains a recommender with early stopping on validation, writes a
// checkpoint directory, then reports the best model on the test split (full
// ranking, history excluded) as a JSON last line.
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>
#include <string>

#include <slmrec/backend/select.hpp>
#include <slmrec/jobs/train_job.hpp>

#include "cmd_common.hpp"

namespace slmrec::cli {

void add_train(CLI::App& app) {
  struct options {
    data_options data;
    jobs::train_job job;
    bool no_log_q = false;
    std::string device = "cpu";
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("train", "Train a recommender (early stopping on validation)");
  o->data.add(cmd);
  add_model_options(cmd, o->job.model);
  cmd->add_option("--loss", o->job.loss,
                  "ce (softmax over all items) | bce (one sampled negative) | sampled (softmax over a shared sampled "
                  "candidate set: catalog scale)")
      ->capture_default_str();
  cmd->add_option("--negatives", o->job.sampled.negatives, "--loss sampled: candidates drawn per batch")
      ->capture_default_str();
  cmd->add_option("--sampler", o->job.sampler, "--loss sampled: uniform | popularity | mixed (half each)")
      ->capture_default_str();
  cmd->add_option("--popularity-power", o->job.sampled.popularity_power,
                  "--loss sampled: popularity draws from (count + 1)^P; below 1 flattens toward uniform")
      ->capture_default_str();
  cmd->add_flag("--in-batch", o->job.sampled.in_batch, "--loss sampled: the batch's targets are candidates too");
  cmd->add_flag("--no-logq", o->no_log_q, "--loss sampled: no log Q correction of the logits (for ablation)");
  add_train_options(cmd, o->job.train);
  cmd->add_option("--items-from", o->job.items_from,
                  "start the item table from this checkpoint's (a trained SASRec: E4SRec stage 2), frozen unless "
                  "--train-items; a table narrower than --dim is read through a learned projection");
  cmd->add_flag("--train-items", o->job.train_items, "with --items-from: keep training the item table");
  cmd->add_option("--out", o->job.out, "checkpoint directory")->required();
  cmd->add_flag("--resume", o->job.resume, "continue from the checkpoint in --out");
  cmd->add_option("--device", o->device, backend::device_names)->capture_default_str();
  cmd->callback([o] {
    const auto ds = o->data.load();
    o->job.log_q = !o->no_log_q;
    backend::with_device(o->device, [&](auto device) {
      using BE = typename decltype(device)::type;
      // dist::mpi under SLMREC_WITH_MPI (mpirun): this rank's share of every batch; rank 0 alone writes.
      print_test(jobs::run_train<BE>(o->job, ds, communicator{}));
    });
  });
}

}  // namespace slmrec::cli
