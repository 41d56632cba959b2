
// `slmrec train --data FILE --arch sasrec|llama --layers N ... --out DIR`:
// trains a recommender with early stopping on validation, writes a
// checkpoint directory, then reports the best model on the test split (full
// ranking, history excluded) as a JSON last line.
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>
#include <sstream>
#include <string>

#include <slmrec/backend/select.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/model/adapted_llama.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/pretrained_backbone.hpp>
#include <slmrec/train/trainer.hpp>

#include "cmd_common.hpp"

namespace slmrec::cli {

// Copies the item table of a trained checkpoint into m (E4SRec stage 2).
template <class Model>
void load_item_table(const std::string& dir, Model& m) {
  const auto f = io::safetensors_file::open(std::filesystem::path(dir) / "model.safetensors");
  auto& table = m.item_table();
  const auto values = f.to_float_checked("item_embedding.weight", {table.rows(), table.dim()});
  std::vector<typename Model::T> converted(values.begin(), values.end());
  Model::backend_type::upload(converted.data(), table.weight.value, index(converted.size()));
  fmt::print("item table from {} ({} x {}, {})\n", dir, table.rows(), table.dim(),
             m.config().freeze_items ? "frozen" : "trained further");
}

void add_train(CLI::App& app) {
  struct options {
    data_options data;
    model::recommender_config model;
    train::train_config train;
    std::string loss = "ce", out, items_from, sampler = "popularity";
    train::sampled_softmax_options sampled;
    bool no_log_q = false;
    std::string device = "cpu";
    bool resume = false, train_items = false;
    std::string init, lora_targets = "gate,up,down";  // --init hf:DIR: a pretrained backbone (E4SRec)
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("train", "Train a recommender (early stopping on validation)");
  o->data.add(cmd);
  add_model_options(cmd, o->model);
  cmd->add_option("--loss", o->loss,
                  "ce (softmax over all items) | bce (one sampled negative) | sampled (softmax over a shared sampled "
                  "candidate set: catalog scale)")
      ->capture_default_str();
  cmd->add_option("--negatives", o->sampled.negatives, "--loss sampled: candidates drawn per batch")
      ->capture_default_str();
  cmd->add_option("--sampler", o->sampler, "--loss sampled: uniform | popularity | mixed (half each)")
      ->capture_default_str();
  cmd->add_flag("--in-batch", o->sampled.in_batch, "--loss sampled: the batch's targets are candidates too");
  cmd->add_flag("--no-logq", o->no_log_q, "--loss sampled: no log Q correction of the logits (for ablation)");
  add_train_options(cmd, o->train);
  cmd->add_option("--items-from", o->items_from,
                  "start the item table from this checkpoint's (a trained SASRec: E4SRec stage 2), frozen unless "
                  "--train-items; a table narrower than --dim is read through a learned projection");
  cmd->add_flag("--train-items", o->train_items, "with --items-from: keep training the item table");
  cmd->add_option("--init", o->init,
                  "hf:DIR: start the backbone from a Hugging Face LLaMA (its width, heads, ffn, norm eps, RoPE "
                  "theta; its first --layers blocks, all by default)");
  cmd->add_flag("--freeze-backbone", o->model.freeze_backbone,
                "with --init: keep the backbone's weights fixed (the item table, projection and head learn)");
  cmd->add_option("--lora-rank", o->model.lora_rank, "with --freeze-backbone: LoRA adapters of this rank (0 = none)")
      ->capture_default_str();
  cmd->add_option("--lora-alpha", o->model.lora_alpha, "LoRA scaling numerator (update x alpha / rank)")
      ->capture_default_str();
  cmd->add_option("--lora-targets", o->lora_targets, "projections with adapters, among q,k,v,o,gate,up,down")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "checkpoint directory")->required();
  cmd->add_flag("--resume", o->resume, "continue from the checkpoint in --out");
  cmd->add_option("--device", o->device, backend::device_names)->capture_default_str();
  cmd->callback([o, cmd] {
    const auto ds = o->data.load();
    const auto split = data::leave_one_out(ds);
    auto cfg = o->model;
    cfg.num_items = ds.num_items;
    if (cfg.lora_rank > 0) {
      std::stringstream list(o->lora_targets);
      for (std::string t; std::getline(list, t, ',');) cfg.lora_targets.push_back(t);
    }
    std::filesystem::path backbone;
    if (!o->init.empty()) {
      require(o->init.starts_with("hf:") && o->init.size() > 3, "--init '{}': expected hf:DIR", o->init);
      backbone = o->init.substr(3);
      cfg = model::with_hf_backbone(cfg, backbone, cmd->count("--layers") > 0 ? cfg.layers : 0);
      for (const char* shape : {"--dim", "--heads", "--kv-heads", "--ffn", "--rope-theta"})
        require(cmd->count(shape) == 0, "{} comes from the backbone with --init {}: leave it out", shape, o->init);
    }
    require(!cfg.freeze_backbone || !backbone.empty(), "--freeze-backbone needs a pretrained backbone (--init hf:DIR)");
    if (!o->items_from.empty()) {
      const auto source = model::checkpoint_model_config(o->items_from);
      require(source.num_items == ds.num_items, "--items-from {}: {} items, the data has {}", o->items_from,
              source.num_items, ds.num_items);
      cfg.item_dim = source.resolved_item_dim() == cfg.dim ? 0 : source.resolved_item_dim();
      cfg.freeze_items = !o->train_items;
    }
    require(o->loss == "ce" || o->loss == "bce" || o->loss == "sampled", "--loss '{}' is not one of ce, bce, sampled",
            o->loss);
    o->sampled.sampler = train::parse_proposal(o->sampler);
    o->sampled.log_q = !o->no_log_q;
    fmt::print("data {}: {} users, {} items; {} validation/test users ({} with < 3 items train only)\n", ds.source,
               ds.num_users(), ds.num_items, split.test.size(), split.train_only_users);
    backend::with_device(o->device, [&](auto device) {
      using BE = typename decltype(device)::type;
      model::with_trainable_recommender<BE>(cfg, [&](auto& m) {
        if (!o->resume || !std::filesystem::exists(std::filesystem::path(o->out) / "state.json"))
          m.initialize(o->train.seed);
        index trainable = 0;
        for (const auto& e : m.parameters().entries()) trainable += e.spec.trainable ? e.size : 0;
        fmt::print("model {} x{} d={} heads={} head={}: {} parameters, {} trained\n", cfg.arch, cfg.layers, cfg.dim,
                   cfg.heads, cfg.head, m.parameters().count(), trainable);
        if (!backbone.empty() && !o->resume)
          fmt::print("backbone: {} tensors from {}{}\n", model::load_hf_backbone(m.parameters(), backbone),
                     backbone.string(),
                     cfg.freeze_backbone ? fmt::format(", frozen, LoRA rank {} on {}", cfg.lora_rank,
                                                       fmt::join(cfg.lora_targets, ","))
                                         : ", fully fine-tuned");
        if (!o->items_from.empty() && !o->resume) load_item_table(o->items_from, m);
        auto run = [&](auto& obj) {
          const auto r = train::fit(obj, split, ds, o->train, o->out, o->resume);
          report_test(m, split, ds, r, o->train, o->out);
        };
        if (o->loss == "sampled") {
          train::next_item_objective obj(m, train::candidate_sampler(ds.num_items, split.train_item_counts, o->sampled));
          run(obj);
        } else {
          train::next_item_objective obj(
              m, o->loss == "ce" ? train::loss_kind::cross_entropy : train::loss_kind::sampled_bce);
          run(obj);
        }
      });
    });
  });
}

}  // namespace slmrec::cli
