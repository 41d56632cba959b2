
// `slmrec data-stats --data FILE [--format auto|sequences|interactions|recbole|csv]`:
// loads a dataset and prints the numbers of ../shared/data/README.md (users,
// items, interactions, lengths, density) and the load report, so a user can
// check a file and see what the loader kept, removed or renumbered. With
// --split it also makes the leave-one-out split train/eval use, and both
// stages print their seconds (how the in-memory dataset is measured at scale).
#include <fmt/core.h>

#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <slmrec/data/read_dataset.hpp>
#include <slmrec/data/split.hpp>
#include <slmrec/data/stats.hpp>
#include <string>

namespace slmrec::cli {

void add_data_stats(CLI::App& app) {
  struct options {
    std::string path;
    std::string format = "auto";
    double min_rating = 0.0;
    bool deduplicate = false;
    index kcore = 0;
    bool split = false;
  };
  // CLI11 keeps pointers to the variables, so they live as long as the app.
  auto opt = std::make_shared<options>();
  auto* cmd = app.add_subcommand("data-stats", "Print a dataset's statistics and load report");
  cmd->add_option("--data", opt->path, "Dataset file")->required();
  cmd->add_option("--format", opt->format, "File format")
      ->check(CLI::IsMember({"auto", "sequences", "interactions", "recbole", "csv"}))
      ->capture_default_str();
  auto* min_rating = cmd->add_option("--min-rating", opt->min_rating,
                                     "Keep interactions rated at least this (recbole/csv files with ratings)");
  cmd->add_flag("--dedup", opt->deduplicate, "Keep only the earliest of repeated (user, item) interactions");
  cmd->add_option("--kcore", opt->kcore, "Iterative k-core: every user and item keeps >= K interactions")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--split", opt->split, "Also make the leave-one-out split and time it");

  cmd->callback([opt, min_rating] {
    data::load_options load;
    load.input_format = data::parse_format(opt->format);
    if (min_rating->count() > 0) load.min_rating = opt->min_rating;
    load.deduplicate = opt->deduplicate;
    load.min_interactions = opt->kcore;
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const data::dataset d = data::read_dataset(opt->path, load);
    const double load_seconds = std::chrono::duration<double>(clock::now() - start).count();
    const data::dataset_stats s = data::compute_stats(d);
    fmt::print("dataset: {}\n", d.source);
    fmt::print("users: {}\nitems: {}\ninteractions: {}\n", s.users, s.items, s.interactions);
    fmt::print("sequence length: average {:.2f}, median {:g}, min {}, max {}\n", s.avg_len, s.median_len, s.min_len,
               s.max_len);
    fmt::print("density: {:.4f}%\n", 100.0 * s.density);
    fmt::print("\nload report\n{}", d.report.summary());
    fmt::print("loaded in {:.2f}s\n", load_seconds);
    if (opt->split) {
      const auto split_start = clock::now();
      const data::split sp = data::leave_one_out(d);
      fmt::print("leave-one-out split in {:.2f}s: {} validation/test users, {} with < 3 items train only\n",
                 std::chrono::duration<double>(clock::now() - split_start).count(), sp.test.size(),
                 sp.train_only_users);
    }
  });
}

}  // namespace slmrec::cli
