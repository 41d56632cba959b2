#pragma once
// The model part of a checkpoint directory: config.json and
// model.safetensors (the best weights), written as a whole directory swapped
// into place atomically, read by name with every shape checked. What
// inference, serving and export need; training adds state.safetensors and
// state.json (train/checkpoint.hpp) and the optimizer with them.
#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/io/json.hpp>
#include <slmrec/io/safetensors.hpp>
#include <slmrec/io/safetensors_writer.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::nn {

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
// Float host buffers are borrowed, not copied: `values` must stay unchanged
// until `w` is written (at a million items a checkpoint is gigabytes).
template <backend::backend BE>
void add_tensors(io::safetensors_writer& w, const parameter_store<BE>& ps, const typename BE::scalar* values,
                 const std::string& prefix) {
  for (const auto& e : ps.entries()) {
    const std::vector<std::int64_t> shape(e.spec.shape.begin(), e.spec.shape.end());
    if constexpr (BE::is_host && std::is_same_v<typename BE::scalar, float>) {
      w.add_f32_borrowed(prefix + e.spec.name, shape, {values + e.offset, std::size_t(e.size)});
    } else {
      w.add_f32(prefix + e.spec.name, shape, to_host_floats<BE>(values + e.offset, e.size));
    }
  }
}

// Reads every parameter of `ps` from `f` into `values` (the store's layout).
template <backend::backend BE>
void read_tensors(const io::safetensors_file& f, const parameter_store<BE>& ps, typename BE::scalar* values,
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

}  // namespace detail

// A model alone, without training state (a pruned or converted model):
// config.json and model.safetensors, which eval, recommend, quantize, prune and
// distill --teacher read; `--resume` needs a training checkpoint instead.
template <backend::backend BE>
void save_model(const std::filesystem::path& dir, const nlohmann::json& config, const parameter_store<BE>& ps) {
  io::safetensors_writer w;
  w.set_metadata("format", "slmrec");
  detail::add_tensors(w, ps, ps.values_data(), "");
  nlohmann::json c = config;
  c["format"] = "slmrec-checkpoint";
  io::write_directory_atomically(dir, {io::directory_file::bytes("config.json", c.dump(2) + "\n"),
                                       {"model.safetensors", [&w](std::ostream& out) { w.write_to(out); }}});
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
void load_model_weights(const std::filesystem::path& dir, parameter_store<BE>& ps) {
  const auto f = io::safetensors_file::open(dir / "model.safetensors");
  detail::read_tensors(f, ps, ps.values_data(), "");
}

}  // namespace slmrec::nn
