
// `slmrec export --checkpoint DIR --what item-embeddings|user-embeddings
//   [--data FILE] --out FILE.npy`: NumPy files through xtensor's .npy writer.
// User embeddings are the final hidden state after each user's whole history
// (row u = user u + 1 of the dataset).
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>
#include <string>

#include <xtensor/xnpy.hpp>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/model/batch_api.hpp>
#include <slmrec/model/factory.hpp>

#include "cmd_common.hpp"

namespace slmrec::cli {

void add_export(CLI::App& app) {
  struct options {
    std::string checkpoint, what, out, data, format = "auto";
    index batch = 256;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("export", "Export item or user embeddings as .npy");
  cmd->add_option("--checkpoint", o->checkpoint, "checkpoint directory")->required();
  cmd->add_option("--what", o->what, "item-embeddings | user-embeddings")->required();
  cmd->add_option("--data", o->data, "dataset (user-embeddings)");
  cmd->add_option("--format", o->format, "dataset format")->capture_default_str();
  cmd->add_option("--out", o->out, "output .npy file")->required();
  cmd->callback([o] {
    require(o->what == "item-embeddings" || o->what == "user-embeddings",
            "--what '{}' is not one of item-embeddings, user-embeddings", o->what);
    model::with_checkpoint<backend::eigen_cpu>(o->checkpoint, [&](auto& m) {
      xt::xtensor<float, 2> result;
      if (o->what == "item-embeddings") {
        result = model::item_embeddings(m);
      } else {
        require(!o->data.empty(), "--what user-embeddings needs --data");
        data::load_options lo;
        lo.input_format = data::parse_format(o->format);
        const auto ds = data::read_dataset(o->data, lo);
        require(ds.num_items == m.config().num_items, "{} has {} items but the checkpoint was trained with {}",
                o->data, ds.num_items, m.config().num_items);
        result = xt::zeros<float>({std::size_t(ds.num_users()), std::size_t(m.config().dim)});
        for (index u0 = 0; u0 < ds.num_users(); u0 += o->batch) {
          const index n = std::min(o->batch, ds.num_users() - u0);
          const auto batch = model::pad_sequences(ds.sequences, std::size_t(u0), std::size_t(n), m.config().max_len);
          const auto e = model::user_embeddings(m, batch);
          std::copy(e.begin(), e.end(), result.begin() + u0 * m.config().dim);
        }
      }
      io::write_file_atomically(o->out, xt::dump_npy(result));
      fmt::print("wrote {} [{} x {}]\n", o->out, result.shape(0), result.shape(1));
    });
  });
}

}  // namespace slmrec::cli
