// `slmrec synth --users N --items M --mean-len L --seed S --out FILE`:
// writes a synthetic dataset in the sequences format (one user per line:
// `user item1 item2 ...`) with the structure of the built-in generator (Zipf
// popularity, item-to-item transitions), streamed user by user so a million
// users never sit in memory, and atomically (a temporary file renamed onto
// FILE), so an interrupted run leaves no half file that would read as data.
#include "commands.hpp"

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <ostream>
#include <string>

#include <slmrec/core/error.hpp>
#include <slmrec/data/synthetic.hpp>
#include <slmrec/data/write_sequences.hpp>
#include <slmrec/io/atomic_file.hpp>

namespace slmrec::cli {

void add_synth(CLI::App& app) {
  struct options {
    // Wider than the library's types so an out-of-range value reaches our
    // check (which names the option and the bound) instead of wrapping.
    std::int64_t users = 0, items = 0, mean_len = 20, successors = 3;
    double follow = 0.7, zipf = 1.0;
    std::uint64_t seed = 1;
    std::string out;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("synth", "Write a synthetic dataset (Zipf popularity, item transitions) to a file");
  cmd->add_option("--users", o->users, "number of users (ids 1..N)")->required();
  cmd->add_option("--items", o->items, "number of items (ids 1..M)")->required();
  cmd->add_option("--mean-len", o->mean_len, "mean items per user (lengths uniform on 3..2L-3)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed: the same seed writes the same bytes")->capture_default_str();
  cmd->add_option("--successors", o->successors, "successors per item")->capture_default_str();
  cmd->add_option("--follow", o->follow, "probability that the next item is a successor of the current one")
      ->capture_default_str();
  cmd->add_option("--zipf", o->zipf, "popularity exponent")->capture_default_str();
  cmd->add_option("--out", o->out, "output file (sequences format)")->required();
  cmd->callback([o] {
    constexpr std::int64_t id_max = std::numeric_limits<std::int32_t>::max();
    // A bound on one user's length keeps the per-user buffer small; real
    // datasets have mean lengths in the tens to hundreds.
    constexpr std::int64_t mean_len_max = 100'000;
    require(o->users >= 1 && o->users <= id_max, "--users {}: expected 1..{} (user ids are int32)", o->users, id_max);
    require(o->items >= 2 && o->items <= id_max, "--items {}: expected 2..{} (item ids are int32)", o->items, id_max);
    require(o->mean_len >= 3 && o->mean_len <= mean_len_max,
            "--mean-len {}: expected 3..{} (leave-one-out needs 3 items a user)", o->mean_len, mean_len_max);
    require(2 * o->mean_len - 3 <= o->items,
            "--mean-len {} draws lengths up to {}, but --items is {}: expected --items >= {} (no item repeats "
            "within a user)",
            o->mean_len, 2 * o->mean_len - 3, o->items, 2 * o->mean_len - 3);
    // Every item must occur (else a reader renumbers the rest), and a user is
    // only sure to have 3 items.
    require(o->users * 3 >= o->items,
            "--users {} of at least 3 items each cannot hold all {} --items: expected --users x 3 >= --items", o->users,
            o->items);
    require(o->successors >= 1 && o->successors <= 1024, "--successors {}: expected 1..1024", o->successors);
    require(o->follow >= 0.0 && o->follow <= 1.0, "--follow {}: expected a probability in 0..1", o->follow);
    require(o->zipf >= 0.0 && o->zipf <= 10.0, "--zipf {}: expected 0..10", o->zipf);

    auto so = data::synthetic_with_mean_length(o->users, static_cast<std::int32_t>(o->items), o->mean_len, o->seed);
    so.successors = o->successors;
    so.follow = o->follow;
    so.zipf = o->zipf;
    const auto start = std::chrono::steady_clock::now();
    index interactions = 0;
    io::write_file_atomically(o->out, [&](std::ostream& out) {
      data::sequences_writer w(out);
      data::generate_synthetic(so, [&](index u, std::span<const std::int32_t> items) {
        w.add(u + 1, items);
        interactions += static_cast<index>(items.size());
      });
      w.finish();
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("{}: {} users, {} items, {} interactions (mean length {:.2f}, lengths {}..{}), seed {}, {:.1f}s\n",
               o->out, so.users, so.items, interactions, double(interactions) / double(so.users), so.min_len,
               so.max_len, so.seed, seconds);
  });
}

}  // namespace slmrec::cli
