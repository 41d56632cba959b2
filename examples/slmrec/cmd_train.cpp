
// `slmrec train --data FILE --arch sasrec|llama --layers N ... --out DIR`:
// trains a recommender with early stopping on validation, writes a
// checkpoint directory, then reports the best model on the test split (full
// ranking, history excluded) as a JSON last line.
#include "commands.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <memory>
#include <sstream>
#include <string>

#include <slmrec/backend/select.hpp>
#include <slmrec/jobs/train_job.hpp>
#include <slmrec/model/pretrained_backbone.hpp>

#include "cmd_common.hpp"

namespace slmrec::cli {

void add_train(CLI::App& app) {
  struct options {
    data_options data;
    jobs::train_job job;
    bool no_log_q = false;
    std::string device = "cpu";
    std::string lora_targets = fmt::format("{}", fmt::join(jobs::default_lora_targets, ","));
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("train", "Train a recommender (early stopping on validation)");
  o->data.add(cmd);
  o->data.add_shard(cmd);
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
  cmd->add_option("--init", o->job.init,
                  "hf:DIR: start the backbone from a Hugging Face LLaMA (its width, heads, ffn, norm eps, RoPE "
                  "theta; its first --layers blocks, all by default)");
  cmd->add_flag("--freeze-backbone", o->job.model.freeze_backbone,
                "with --init: keep the backbone's weights fixed (the item table, projection and head learn)");
  cmd->add_option("--lora-rank", o->job.model.lora_rank,
                  "with --freeze-backbone: LoRA adapters of this rank (0 = none)")
      ->capture_default_str();
  cmd->add_option("--lora-alpha", o->job.model.lora_alpha, "LoRA scaling numerator (update x alpha / rank)")
      ->capture_default_str();
  cmd->add_option("--lora-targets", o->lora_targets, "projections with adapters, among q,k,v,o,gate,up,down")
      ->capture_default_str();
  cmd->add_option("--out", o->job.out, "checkpoint directory")->required();
  cmd->add_flag("--resume", o->job.resume, "continue from the checkpoint in --out");
  cmd->add_option("--device", o->device, backend::device_names)->capture_default_str();
  cmd->callback([o, cmd] {
    const auto ds = o->data.load();
    o->job.log_q = !o->no_log_q;
    if (o->job.model.lora_rank > 0) {
      std::stringstream list(o->lora_targets);
      for (std::string t; std::getline(list, t, ',');) o->job.model.lora_targets.push_back(t);
    }
    if (!o->job.init.empty()) {
      for (const char* shape : {"--dim", "--heads", "--kv-heads", "--ffn", "--rope-theta"})
        require(cmd->count(shape) == 0, "{} comes from the backbone with --init {}: leave it out", shape, o->job.init);
      o->job.init_layers = cmd->count("--layers") > 0 ? o->job.model.layers : 0;
    }
    backend::with_device(o->device, [&](auto device) {
      using BE = typename decltype(device)::type;
      // dist::mpi under SLMREC_WITH_MPI (mpirun): this rank's share of every batch; rank 0 alone writes.
      with_communicator<BE>([&](const auto& comm) { print_test(jobs::run_train<BE>(o->job, ds, comm)); });
    });
  });
}

}  // namespace slmrec::cli
