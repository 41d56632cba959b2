#pragma once
// Options shared by several subcommands: reading a dataset, model shape.
#include <CLI/CLI.hpp>

#include <string>

#include <slmrec/data/data.hpp>
#include <slmrec/model/recommender_config.hpp>

namespace slmrec::cli {

struct data_options {
  std::string file;
  std::string format = "auto";
  void add(CLI::App* cmd) {
    cmd->add_option("--data", file, "dataset file (sequences, interactions, RecBole .inter or CSV)")->required();
    cmd->add_option("--format", format, "auto|sequences|interactions|recbole|csv")->capture_default_str();
  }
  [[nodiscard]] data::dataset load() const {
    data::load_options o;
    o.input_format = data::parse_format(format);
    return data::read_dataset(file, o);
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

}  // namespace slmrec::cli
