// `slmrec index --checkpoint DIR [--m 16] [--ef-construction 200] [--seed 0]
//   [--space l2-mips|ip] [--threads 1]`: builds an HNSW index over the rows the
// checkpoint's head scores items with (the item table, or the classifier's
// rows; a quantized checkpoint's rows dequantised) and writes it into DIR
// (index.hnsw, index.json), for `slmrec recommend --index`.
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/index/checkpoint_index.hpp>
#include <slmrec/model/indexed_search.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>

namespace slmrec::cli {

void add_index(CLI::App& app) {
  struct options {
    std::string checkpoint, space = "l2-mips";
    index m = 16, ef_construction = 200;
    std::uint64_t seed = 0;
    int threads = 1;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("index", "Build an HNSW index of a checkpoint's items for `recommend --index`");
  cmd->add_option("--checkpoint", o->checkpoint, "checkpoint directory (the index is written into it)")->required();
  cmd->add_option("--m", o->m, "links per node")->capture_default_str()->check(CLI::Range(2, 1000));
  cmd->add_option("--ef-construction", o->ef_construction, "candidate list while inserting")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "seed of the node levels")->capture_default_str();
  cmd->add_option("--space", o->space, "l2-mips (nearest neighbour after the MIPS reduction) or ip (inner product as the distance)")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "insertion threads (more than 1: faster, not reproducible)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([o] {
    const std::filesystem::path dir = o->checkpoint;
    const auto space = ann::parse_space(o->space);
    // Identity first: the index must never claim weights it was not built from.
    const auto identity = ann::checkpoint_identity(dir);
    model::with_any_checkpoint<backend::eigen_cpu>(dir, [&](auto& m) {
      const auto rows = model::scored_item_rows(m);
      const auto t0 = std::chrono::steady_clock::now();
      const auto idx = ann::hnsw_index::build(rows, m.config().num_items + 1, model::scored_width(m),
                                              {.space = space,
                                               .m = o->m,
                                               .ef_construction = o->ef_construction,
                                               .seed = o->seed,
                                               .threads = o->threads});
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      require(ann::checkpoint_identity(dir) == identity, "{}: the weights changed while the index was built; run again",
              (dir / ann::weights_file_name).string());
      ann::save_checkpoint_index(dir, idx, identity, model::scored_tensor_name(m), o->seed);
      fmt::print("index of {} items ({} of width {}, space {}, M {}, ef_construction {}) built in {:.1f} s, {:.1f} MB: {}\n",
                 idx.num_items(), model::scored_tensor_name(m), idx.dim(), ann::space_name(space), o->m,
                 idx.ef_construction(), secs,
                 double(std::filesystem::file_size(dir / ann::index_file_name)) / 1e6,
                 (dir / ann::index_file_name).string());
    });
  });
}

}  // namespace slmrec::cli
