#pragma once
// Options shared by several subcommands: reading a dataset, model shape.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include <fmt/core.h>

#include <slmrec/data/data.hpp>
#include <slmrec/model/item_scorer.hpp>
#include <slmrec/model/recommender_config.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/jobs/report.hpp>
#include <slmrec/train/trainer.hpp>

#include "cmd_dist.hpp"

namespace slmrec::cli {

struct data_options {
  std::string file;
  std::string format = "auto";
  bool shard = false;  // --shard-data: under mpirun, this rank keeps its own users
  void add(CLI::App* cmd) {
    cmd->add_option("--data", file, "dataset file (sequences, interactions, RecBole .inter or CSV)")->required();
    cmd->add_option("--format", format, "auto|sequences|interactions|recbole|csv")->capture_default_str();
  }
  // train, distill and eval: data parallelism with each rank holding a shard of the users.
  void add_shard(CLI::App* cmd) {
    cmd->add_flag("--shard-data", shard,
                  "under mpirun: each rank keeps only its own users (user index % ranks) once the file is read");
  }
  [[nodiscard]] data::dataset load() const {
    data::load_options o;
    o.input_format = data::parse_format(format);
    auto d = data::read_dataset(file, o);
    if (const communicator comm{}; shard && comm.size() > 1) data::keep_shard(d, {comm.rank(), comm.size()});
    return d;
  }
};

inline void add_model_options(CLI::App* cmd, model::recommender_config& m) {
  cmd->add_option("--arch", m.arch, "sasrec|llama")->capture_default_str();
  cmd->add_option("--layers", m.layers, "number of blocks")->capture_default_str();
  cmd->add_option("--dim", m.dim, "model width")->capture_default_str();
  cmd->add_option("--item-dim", m.item_dim, "item table width (0 = dim)")->capture_default_str();
  cmd->add_option("--heads", m.heads, "attention heads")->capture_default_str();
  cmd->add_option("--kv-heads", m.kv_heads, "key/value heads (0 = heads)")->capture_default_str();
  cmd->add_option("--ffn", m.ffn, "feed-forward width (0 = arch default)")->capture_default_str();
  cmd->add_option("--max-len", m.max_len, "most recent items read")->capture_default_str();
  cmd->add_option("--dropout", m.dropout, "embedding and residual dropout")->capture_default_str();
  cmd->add_option("--head", m.head, "tied|classifier|projected")->capture_default_str();
  cmd->add_option("--init-std", m.init_std, "llama weight init std")->capture_default_str();
  cmd->add_option("--rope-theta", m.rope_theta, "llama RoPE theta")->capture_default_str();
}

inline void add_train_options(CLI::App* cmd, train::train_config& t) {
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
  cmd->add_option("--eval-users", t.eval_users,
                  "validate each epoch on a random sample of this many users, drawn with --seed (0 = all)")
      ->capture_default_str();
  cmd->add_option("--test-users", t.test_users,
                  "test the trained model on a random sample of this many users, drawn with --seed (0 = all)")
      ->capture_default_str();
}

using jobs::evaluate_model;

// The test report's two lines: the metrics, then the JSON (the last line).
inline void print_test(const jobs::test_report_t& rep) {
  fmt::print("test ({}): {}\n", rep.json["protocol"].get<std::string>(), rep.summary);
  fmt::print("{}\n", rep.json.dump());
}

// Evaluates a trained model on the test split (jobs::test_report: writes
// DIR/test_metrics.json) and prints it, the JSON last.
template <class Model, class Comm = dist::none>
nlohmann::json report_test(Model& m, const data::split& split, const data::dataset& ds, const train::fit_result& r,
                           const train::train_config& t, const std::string& out, const Comm& comm = {}) {
  const auto rep = jobs::test_report(m, split, ds, r, t, out, comm);
  print_test(rep);
  return rep.json;
}

}  // namespace slmrec::cli
