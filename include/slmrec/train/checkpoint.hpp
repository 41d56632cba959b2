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
// the directory is then renamed into place, so a crash leaves either the old
// checkpoint or the new one (at worst under DIR.old-<pid>), never a mixture.
// The run is reproducible from (seed, epoch, step) alone: batch order, dropout
// masks and sampled negatives all derive from them, so that is the RNG state.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/io/atomic_file.hpp>
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

inline train_state train_state_from_json(const nlohmann::json& j) {
  train_state s;
  s.epoch = j.at("epoch").get<index>();
  s.step = j.at("step").get<index>();
  s.seed = j.at("rng").at("seed").get<std::uint64_t>();
  s.best_metric =
      j.at("best_metric").is_null() ? -std::numeric_limits<double>::infinity() : j.at("best_metric").get<double>();
  s.best_epoch = j.at("best_epoch").get<index>();
  s.bad_epochs = j.at("bad_epochs").get<index>();
  s.finished = j.value("finished", false);
  s.history = j.at("history").get<std::vector<nlohmann::json>>();
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
  try {
    return nlohmann::json::parse(io::read_file(file));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", file.string(), e.what());
  }
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
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(io::read_file(dir / "state.json"));
    train_state s = train_state_from_json(j);
    opt.set_steps(s.step);
    return s;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed training state: {}", (dir / "state.json").string(), e.what());
  }
}

}  // namespace slmrec::train
