#pragma once
// `slmrec train --data FILE --arch sasrec|llama --layers N ... --out DIR`:
// trains a recommender with early stopping on validation, writes a
// checkpoint directory, then reports the best model on the test split (full
// ranking, history excluded) as a JSON last line.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>
#include <string>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/train/trainer.hpp>

#include "cmd_common.hpp"

namespace slmrec::cli {

inline void add_train(CLI::App& app) {
  struct options {
    data_options data;
    model::recommender_config model;
    train::train_config train;
    std::string loss = "ce", out;
    bool resume = false;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("train", "Train a recommender (early stopping on validation)");
  o->data.add(cmd);
  add_model_options(cmd, o->model);
  auto& t = o->train;
  cmd->add_option("--loss", o->loss, "ce (softmax over all items) | bce (one sampled negative)")->capture_default_str();
  cmd->add_option("--targets", t.targets, "all (every position) | last")->capture_default_str();
  cmd->add_option("--epochs", t.epochs, "maximum epochs")->capture_default_str();
  cmd->add_option("--batch", t.batch_size, "sequences per batch")->capture_default_str();
  cmd->add_option("--lr", t.lr, "peak learning rate")->capture_default_str();
  cmd->add_option("--weight-decay", t.weight_decay, "AdamW decoupled weight decay")->capture_default_str();
  cmd->add_option("--beta2", t.beta2, "AdamW beta2")->capture_default_str();
  cmd->add_option("--warmup", t.warmup_steps, "linear warm-up steps")->capture_default_str();
  cmd->add_option("--schedule", t.schedule, "cosine|constant")->capture_default_str();
  cmd->add_option("--clip", t.clip, "gradient clipping norm (0 = off)")->capture_default_str();
  cmd->add_option("--patience", t.patience, "epochs without improvement before stopping")->capture_default_str();
  cmd->add_option("--metric", t.metric, "validation metric for model selection")->capture_default_str();
  cmd->add_option("--seed", t.seed, "seed of everything random")->capture_default_str();
  cmd->add_option("--out", o->out, "checkpoint directory")->required();
  cmd->add_flag("--resume", o->resume, "continue from the checkpoint in --out");
  cmd->callback([o] {
    const auto ds = o->data.load();
    const auto split = data::leave_one_out(ds);
    auto cfg = o->model;
    cfg.num_items = ds.num_items;
    require(o->loss == "ce" || o->loss == "bce", "--loss '{}' is not one of ce, bce", o->loss);
    fmt::print("data {}: {} users, {} items; {} validation/test users ({} with < 3 items train only)\n", ds.source,
               ds.num_users(), ds.num_items, split.test.size(), split.train_only_users);
    model::with_recommender<backend::eigen_cpu>(cfg, true, [&](auto& m) {
      if (!o->resume || !std::filesystem::exists(std::filesystem::path(o->out) / "state.json"))
        m.initialize(o->train.seed);
      fmt::print("model {} x{} d={} heads={} head={}: {} parameters\n", cfg.arch, cfg.layers, cfg.dim, cfg.heads,
                 cfg.head, m.parameters().count());
      train::next_item_objective obj(m, o->loss == "ce" ? train::loss_kind::cross_entropy : train::loss_kind::sampled_bce);
      const auto r = train::fit(obj, split, ds, o->train, o->out, o->resume);
      eval::eval_options eo;
      eo.max_len = cfg.max_len;
      eo.batch_size = 256;
      auto scorer = [&](const data::batch& in, std::span<float> s) { m.score_last(in.items, in.size, in.length, s); };
      const auto test = eval::evaluate(eval::test_view(split, ds), scorer, eo);
      nlohmann::json j = test.metrics.to_json();
      j["protocol"] = test.protocol;
      j["split"] = "test";
      j["users"] = test.users;
      j["best_epoch"] = r.state.best_epoch;
      j["epochs"] = r.state.epoch;
      j["seconds"] = r.seconds;
      j["seconds_to_best"] = r.seconds_to_best;
      j["valid_" + o->train.metric] = r.state.best_metric;
      io::write_file_atomically(std::filesystem::path(o->out) / "test_metrics.json", j.dump(2) + "\n");
      fmt::print("test ({}): {}\n", test.protocol, test.metrics.to_string());
      fmt::print("{}\n", j.dump());
    });
  });
}

}  // namespace slmrec::cli
