#pragma once
// `slmrec train` as a function, shared by the command-line tool and the
// Python module (slmrec.train): the options with the tool's defaults, and the
// run: model built and initialised (or resumed), an optional item table from
// another checkpoint (E4SRec stage 2), fit with early stopping into a
// checkpoint directory, the best weights reported on the test split.
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <slmrec/backend/concept.hpp>
#include <slmrec/data/data.hpp>
#include <slmrec/io/safetensors.hpp>
#include <slmrec/jobs/report.hpp>
#include <slmrec/model/adapted_llama.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/pretrained_backbone.hpp>
#include <slmrec/train/candidate_sampler.hpp>
#include <slmrec/train/objective.hpp>
#include <slmrec/train/split.hpp>
#include <slmrec/train/trainer.hpp>

namespace slmrec::jobs {

// The projections that get LoRA adapters when none are named (--lora-targets):
// the feed-forward ones, where a frozen backbone's capacity for a new task lies.
inline const std::vector<std::string> default_lora_targets{"gate", "up", "down"};

struct train_job {
  model::recommender_config model;  // num_items comes from the data
  train::train_config train;
  std::string loss = "ce";  // ce | bce | sampled
  train::sampled_softmax_options sampled;
  std::string sampler = "popularity";  // --loss sampled: uniform | popularity | mixed
  bool log_q = true;                   // --loss sampled: log Q correction of the logits
  std::string init;                    // hf:DIR: the backbone from a Hugging Face LLaMA (E4SRec's teacher)
  index init_layers = 0;               // with init: its first N blocks (0 = all of them)
  std::string items_from;              // a trained checkpoint whose item table starts this one
  bool train_items = false;            // with items_from: keep training the table
  std::string out;                     // the checkpoint directory
  bool resume = false;                 // continue the checkpoint in out
};

// Copies the item table of a trained checkpoint into m (E4SRec stage 2).
template <class Model>
void load_item_table(const std::string& dir, Model& m, bool verbose) {
  const auto f = io::safetensors_file::open(std::filesystem::path(dir) / "model.safetensors");
  auto& table = m.item_table();
  const auto values = f.to_float_checked("item_embedding.weight", {table.rows(), table.dim()});
  std::vector<typename Model::T> converted(values.begin(), values.end());
  Model::backend_type::upload(converted.data(), table.weight.value, index(converted.size()));
  if (verbose)
    fmt::print("item table from {} ({} x {}, {})\n", dir, table.rows(), table.dim(),
               m.config().freeze_items ? "frozen" : "trained further");
}

// Trains on ds (split leave-one-out) into job.out and reports the best
// weights on the test split (DIR/test_metrics.json). Under a distributed
// communicator (dist::mpi) each rank takes its share of every batch and rank
// 0 alone writes.
template <backend::backend BE, class Comm = dist::none>
test_report_t run_train(const train_job& job, const data::dataset& ds, const Comm& comm = {}) {
  const bool verbose = job.train.verbosity > 0;
  const auto split = train::leave_one_out(ds, comm);
  auto cfg = job.model;
  cfg.num_items = ds.num_items;
  std::filesystem::path backbone;
  if (!job.init.empty()) {
    require(job.init.starts_with("hf:") && job.init.size() > 3, "--init '{}': expected hf:DIR", job.init);
    backbone = job.init.substr(3);
    cfg = model::with_hf_backbone(cfg, backbone, job.init_layers);
  }
  require(!cfg.freeze_backbone || !backbone.empty(), "--freeze-backbone needs a pretrained backbone (--init hf:DIR)");
  if (!job.items_from.empty()) {
    const auto source = model::checkpoint_model_config(job.items_from);
    require(source.num_items == ds.num_items, "--items-from {}: {} items, the data has {}", job.items_from,
            source.num_items, ds.num_items);
    cfg.item_dim = source.resolved_item_dim() == cfg.dim ? 0 : source.resolved_item_dim();
    cfg.freeze_items = !job.train_items;
  }
  require(job.loss == "ce" || job.loss == "bce" || job.loss == "sampled", "--loss '{}' is not one of ce, bce, sampled",
          job.loss);
  auto sampled = job.sampled;
  sampled.sampler = train::parse_proposal(job.sampler);
  sampled.log_q = job.log_q;
  if (verbose)
    fmt::print("data {}: {} users, {} items; {} validation/test users ({} with < 3 items train only)\n", ds.source,
               ds.num_users(), ds.num_items, split.test.size(), split.train_only_users);
  // A frozen backbone is its own model type (arch::llama_adapted): only training builds it.
  return model::with_trainable_recommender<BE>(cfg, [&](auto& m) {
    if (!job.resume || !std::filesystem::exists(std::filesystem::path(job.out) / "state.json"))
      m.initialize(job.train.seed);
    if (verbose) {
      index trainable = 0;
      for (const auto& e : m.parameters().entries()) trainable += e.spec.trainable ? e.size : 0;
      fmt::print("model {} x{} d={} heads={} head={}: {} parameters, {} trained\n", cfg.arch, cfg.layers, cfg.dim,
                 cfg.heads, cfg.head, m.parameters().count(), trainable);
    }
    if (!backbone.empty() && !job.resume) {
      const index copied = model::load_hf_backbone(m.parameters(), backbone);
      if (verbose)
        fmt::print("backbone: {} tensors from {}{}\n", copied, backbone.string(),
                   cfg.freeze_backbone
                       ? fmt::format(", frozen, LoRA rank {} on {}", cfg.lora_rank, fmt::join(cfg.lora_targets, ","))
                       : ", fully fine-tuned");
    }
    if (!job.items_from.empty() && !job.resume) load_item_table(job.items_from, m, verbose);
    auto run = [&](auto& obj) {
      const auto r = train::fit(obj, split, ds, job.train, job.out, job.resume, comm);
      return test_report(m, split, ds, r, job.train, job.out, comm);
    };
    if (job.loss == "sampled") {
      train::next_item_objective obj(m, train::candidate_sampler(ds.num_items, split.train_item_counts, sampled));
      return run(obj);
    }
    train::next_item_objective obj(m,
                                   job.loss == "ce" ? train::loss_kind::cross_entropy : train::loss_kind::sampled_bce);
    return run(obj);
  });
}

}  // namespace slmrec::jobs
