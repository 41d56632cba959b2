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

#include <fcntl.h>  // renameat2, RENAME_EXCHANGE (glibc 2.28)
#include <stdio.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/limits.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/io/json.hpp>
#include <slmrec/io/safetensors.hpp>
#include <slmrec/nn/parameters.hpp>
#include <slmrec/train/adamw.hpp>

namespace slmrec::train {

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

namespace detail {

template <backend::backend BE>
std::vector<float> to_host_floats(const typename BE::scalar* dev, index n) {
  using T = typename BE::scalar;
  std::vector<T> host(static_cast<std::size_t>(n));
  BE::download(dev, host.data(), n);
  return std::vector<float>(host.begin(), host.end());
}

// Adds every parameter of `ps`, read from `values` (a buffer with the store's
// layout: its own values, a copy of the best ones, or an optimiser moment).
template <backend::backend BE>
void add_tensors(io::safetensors_writer& w, const nn::parameter_store<BE>& ps, const typename BE::scalar* values,
                 const std::string& prefix) {
  for (const auto& e : ps.entries()) {
    const std::vector<std::int64_t> shape(e.spec.shape.begin(), e.spec.shape.end());
    w.add_f32(prefix + e.spec.name, shape, to_host_floats<BE>(values + e.offset, e.size));
  }
}

// Reads every parameter of `ps` from `f` into `values` (the store's layout).
template <backend::backend BE>
void read_tensors(const io::safetensors_file& f, const nn::parameter_store<BE>& ps, typename BE::scalar* values,
                  const std::string& prefix) {
  using T = typename BE::scalar;
  for (const auto& e : ps.entries()) {
    const std::string name = prefix + e.spec.name;
    require(f.contains(name), "{}: no tensor '{}' (is this checkpoint for a different model?)", f.path().string(),
            name);
    const std::vector<std::int64_t> shape(e.spec.shape.begin(), e.spec.shape.end());
    const auto host = f.to_float_checked(name, shape);
    const std::vector<T> converted(host.begin(), host.end());
    BE::upload(converted.data(), values + e.offset, e.size);
  }
}

inline void write_directory_atomically(const std::filesystem::path& dir,
                                       const std::vector<std::pair<std::string, std::string>>& files) {
  namespace fs = std::filesystem;
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  const std::string tag = fmt::format("{}", static_cast<long long>(::getpid()));
  const fs::path tmp = parent / (dir.filename().string() + ".tmp-" + tag);
  const fs::path old = parent / (dir.filename().string() + ".old-" + tag);
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  require(!ec, "cannot create {}: {}", tmp.string(), ec.message());
  for (const auto& [name, bytes] : files) io::write_file_atomically(tmp / name, bytes);
  // Swapped in one atomic step where the file system can (Linux renameat2):
  // a SIGKILL at any moment leaves DIR holding the old checkpoint or the new
  // one. Elsewhere two renames, with DIR.old-<pid> between them.
  if (fs::exists(dir) && ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(tmp, ec);  // now the previous checkpoint
    return;
  }
  if (fs::exists(dir)) {
    fs::rename(dir, old, ec);
    require(!ec, "cannot move the previous checkpoint {} aside: {}", dir.string(), ec.message());
  }
  fs::rename(tmp, dir, ec);
  require(!ec, "cannot move the new checkpoint into {}: {}", dir.string(), ec.message());
  fs::remove_all(old, ec);
}

}  // namespace detail

// Saves a full training checkpoint. `best_values` has the store's layout.
template <backend::backend BE>
void save_checkpoint(const std::filesystem::path& dir, const nlohmann::json& config,
                     nn::parameter_store<BE>& ps, const typename BE::scalar* best_values, adamw<BE>& opt,
                     const train_state& state) {
  // A row-tracked table's rows are brought up to the current step first, so
  // the saved moments need no per-row state and any run can resume them.
  opt.settle();
  io::safetensors_writer best, last;
  best.set_metadata("format", "slmrec");
  detail::add_tensors(best, ps, best_values, "");
  last.set_metadata("format", "slmrec");
  detail::add_tensors(last, ps, ps.values_data(), "");
  detail::add_tensors(last, ps, opt.first_moment(), "adam_m.");
  detail::add_tensors(last, ps, opt.second_moment(), "adam_v.");
  std::string metrics;
  for (const auto& h : state.history) metrics += h.dump() + "\n";
  detail::write_directory_atomically(dir, {{"config.json", config.dump(2) + "\n"},
                                           {"model.safetensors", best.serialize()},
                                           {"state.safetensors", last.serialize()},
                                           {"state.json", to_json(state).dump(2) + "\n"},
                                           {"metrics.jsonl", metrics}});
}

// A model alone, without training state (a pruned or converted model):
// config.json and model.safetensors, which eval, recommend, quantize, prune and
// distill --teacher read; `--resume` needs a training checkpoint instead.
template <backend::backend BE>
void save_model(const std::filesystem::path& dir, const nlohmann::json& config, const nn::parameter_store<BE>& ps) {
  io::safetensors_writer w;
  w.set_metadata("format", "slmrec");
  detail::add_tensors(w, ps, ps.values_data(), "");
  nlohmann::json c = config;
  c["format"] = "slmrec-checkpoint";
  detail::write_directory_atomically(dir, {{"config.json", c.dump(2) + "\n"}, {"model.safetensors", w.serialize()}});
}

inline nlohmann::json read_checkpoint_config(const std::filesystem::path& dir) {
  const auto file = dir / "config.json";
  require(std::filesystem::exists(file), "{}: not a checkpoint directory (no config.json)", dir.string());
  nlohmann::json j = io::read_json_file(file);
  require(j.is_object(), "{}: expected a JSON object, found {}", file.string(), io::describe_json(j));
  return j;
}

// The best weights of a checkpoint into a model's parameters (shapes checked by name).
template <backend::backend BE>
void load_model_weights(const std::filesystem::path& dir, nn::parameter_store<BE>& ps) {
  const auto f = io::safetensors_file::open(dir / "model.safetensors");
  detail::read_tensors(f, ps, ps.values_data(), "");
}

// Everything needed to resume: latest weights, best weights, AdamW moments and step, state.
template <backend::backend BE>
train_state load_training_state(const std::filesystem::path& dir, nn::parameter_store<BE>& ps,
                                typename BE::scalar* best_values, adamw<BE>& opt) {
  const auto last = io::safetensors_file::open(dir / "state.safetensors");
  detail::read_tensors(last, ps, ps.values_data(), "");
  detail::read_tensors(last, ps, opt.first_moment(), "adam_m.");
  detail::read_tensors(last, ps, opt.second_moment(), "adam_v.");
  detail::read_tensors(io::safetensors_file::open(dir / "model.safetensors"), ps, best_values, "");
  const auto file = dir / "state.json";
  train_state s = train_state_from_json(io::read_json_file(file), file.string());
  opt.set_steps(s.step);
  return s;
}

}  // namespace slmrec::train
