#pragma once
// Checkpoints: one directory, replaced as a whole.
//
//   config.json        what the model is ({"model": ..., "train": ...})
//   model.safetensors  the best weights so far (what eval, export and serving read)
//   state.safetensors  the latest weights and the AdamW moments ("adam_m.<name>", "adam_v.<name>")
//   state.json         epoch, step, seed, early-stopping state, per-epoch history
//   metrics.jsonl      the per-epoch history, one JSON object a line
//
// Every file is written into a fresh sibling directory first, flushed, and
// the directory is then swapped into place atomically, so a crash leaves
// either the old checkpoint or the new one, never a mixture (tests/hostile/
// kill9.py kills training runs to check it).
// The run is reproducible from (seed, epoch, step) alone: batch order, dropout
// masks and sampled negatives all derive from them, so that is the RNG state.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/limits.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/io/json.hpp>
#include <slmrec/io/safetensors.hpp>
#include <slmrec/io/safetensors_writer.hpp>
#include <slmrec/nn/checkpoint_files.hpp>
#include <slmrec/nn/parameters.hpp>
#include <slmrec/train/adamw.hpp>

namespace slmrec::train {

// The model-only files (config.json, model.safetensors), which inference
// reads without the optimizer: nn/checkpoint_files.hpp.
using nn::load_model_weights;
using nn::read_checkpoint_config;
using nn::save_model;

struct train_state {
  index epoch = 0;  // completed epochs
  index step = 0;   // completed optimiser steps
  std::uint64_t seed = 0;
  double best_metric = -std::numeric_limits<double>::infinity();
  index best_epoch = 0;
  index bad_epochs = 0;  // epochs since the best one (early stopping)
  bool finished = false;
  std::vector<nlohmann::json> history;
};

inline nlohmann::json to_json(const train_state& s) {
  return {{"epoch", s.epoch},
          {"step", s.step},
          {"rng", {{"seed", s.seed}, {"scheme", "every stream derived from (seed, epoch, step)"}}},
          {"best_metric", std::isfinite(s.best_metric) ? nlohmann::json(s.best_metric) : nlohmann::json(nullptr)},
          {"best_epoch", s.best_epoch},
          {"bad_epochs", s.bad_epochs},
          {"finished", s.finished},
          {"history", s.history}};
}

// Reads state.json (`source` names it): every field typed and range-checked,
// each history entry an object whose fields the trainer reads are numbers.
inline train_state train_state_from_json(const nlohmann::json& j, const std::string& source = "state.json") {
  const io::json_reader r(j, source);
  train_state s;
  s.epoch = index(r.integer("epoch", 0, limits::max_epochs));
  s.step = index(r.integer("step", 0, limits::max_epochs));
  s.seed = r.object("rng").unsigned_integer("seed");
  s.best_metric = r.has("best_metric") ? r.real("best_metric", -1e300, 1e300) : -std::numeric_limits<double>::infinity();
  s.best_epoch = index(r.integer("best_epoch", 0, s.epoch));
  s.bad_epochs = index(r.integer("bad_epochs", 0, s.epoch));
  s.finished = r.boolean_or("finished", false);
  const nlohmann::json& history = r.at("history");
  require(history.is_array(), "{}: expected an array, found {}", r.where("history"), io::describe_json(history));
  require(history.size() <= std::size_t(s.epoch), "{}: {} entries for {} completed epochs", r.where("history"),
          history.size(), s.epoch);
  for (std::size_t i = 0; i < history.size(); ++i) {
    const io::json_reader h(history[i], source, fmt::format("history[{}]", i));
    (void)h.integer_or("epoch", 0, 0, s.epoch);
    (void)h.real_or("elapsed_seconds", 0.0, 0.0, 1e12);
    (void)h.integer_or("eval_users", 0, 0, limits::max_items);
    if (h.has("eval_seed")) (void)h.unsigned_integer("eval_seed");
    s.history.push_back(history[i]);
  }
  return s;
}

// Saves a full training checkpoint. `best_values` has the store's layout;
// `extra_files` (name, bytes) are written into the directory with the rest
// (the id map of a renumbered dataset).
template <backend::backend BE>
void save_checkpoint(const std::filesystem::path& dir, const nlohmann::json& config,
                     nn::parameter_store<BE>& ps, const typename BE::scalar* best_values, adamw<BE>& opt,
                     const train_state& state, const std::vector<std::pair<std::string, std::string>>& extra_files = {}) {
  // A row-tracked table's rows are brought up to the current step first, so
  // the saved moments need no per-row state and any run can resume them.
  opt.settle();
  io::safetensors_writer best, last;
  best.set_metadata("format", "slmrec");
  nn::detail::add_tensors(best, ps, best_values, "");
  last.set_metadata("format", "slmrec");
  nn::detail::add_tensors(last, ps, ps.values_data(), "");
  nn::detail::add_tensors(last, ps, opt.first_moment(), "adam_m.");
  nn::detail::add_tensors(last, ps, opt.second_moment(), "adam_v.");
  std::string metrics;
  for (const auto& h : state.history) metrics += h.dump() + "\n";
  // The weights stream from the buffers they borrow into the files: no copy
  // of a gigabyte table is made on the way (nn::detail::add_tensors).
  std::vector<io::directory_file> files = {io::directory_file::bytes("config.json", config.dump(2) + "\n"),
                                           {"model.safetensors", [&best](std::ostream& out) { best.write_to(out); }},
                                           {"state.safetensors", [&last](std::ostream& out) { last.write_to(out); }},
                                           io::directory_file::bytes("state.json", to_json(state).dump(2) + "\n"),
                                           io::directory_file::bytes("metrics.jsonl", std::move(metrics))};
  for (const auto& [name, bytes] : extra_files) files.push_back(io::directory_file::bytes(name, bytes));
  io::write_directory_atomically(dir, files);
}

// Everything needed to resume: latest weights, best weights, AdamW moments and step, state.
template <backend::backend BE>
train_state load_training_state(const std::filesystem::path& dir, nn::parameter_store<BE>& ps,
                                typename BE::scalar* best_values, adamw<BE>& opt) {
  const auto last = io::safetensors_file::open(dir / "state.safetensors");
  nn::detail::read_tensors(last, ps, ps.values_data(), "");
  nn::detail::read_tensors(last, ps, opt.first_moment(), "adam_m.");
  nn::detail::read_tensors(last, ps, opt.second_moment(), "adam_v.");
  nn::detail::read_tensors(io::safetensors_file::open(dir / "model.safetensors"), ps, best_values, "");
  const auto file = dir / "state.json";
  train_state s = train_state_from_json(io::read_json_file(file), file.string());
  opt.set_steps(s.step);
  return s;
}

}  // namespace slmrec::train
