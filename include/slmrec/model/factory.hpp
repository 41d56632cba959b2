#pragma once
// From a run-time config (command line, checkpoint) to a compile-time model
// type: the architecture string picks recommender<BE, arch::X, depth<dynamic>>
// and hands it to a callable, so tools are written once for every arch.
#include <filesystem>
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/model/arch.hpp>
#include <slmrec/model/dispatch.hpp>
#include <slmrec/model/lora_merge.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/nn/checkpoint_files.hpp>

namespace slmrec::model {

// f(std::unique_ptr<model>): f owns the model (a service keeps it past the
// call). The model is recommender<BE, Arch, depth<dynamic>, quant::none, Prune>.
template <backend::backend BE, class Prune = prune::none, class F>
decltype(auto) with_new_recommender(const recommender_config& cfg, bool with_grads, F&& f) {
  return with_arch(cfg.arch, [&]<class Arch>(Arch) -> decltype(auto) {
    return std::forward<F>(f)(
        std::make_unique<recommender<BE, Arch, depth<dynamic>, quant::none, Prune>>(cfg, with_grads));
  });
}

// f(model&), the model alive for the call.
template <backend::backend BE, class Prune = prune::none, class F>
decltype(auto) with_recommender(const recommender_config& cfg, bool with_grads, F&& f) {
  return with_new_recommender<BE, Prune>(cfg, with_grads, [&](auto m) -> decltype(auto) { return f(*m); });
}

// The "model" section of a checkpoint's parsed config.json.
inline recommender_config checkpoint_model_config(const nlohmann::json& config, const std::filesystem::path& dir) {
  return read_recommender_config(io::json_reader(config, (dir / "config.json").string()).object("model"));
}

// Refuses a config whose model needs more weights than `weights` holds
// (`bytes_per_parameter` at the least, 0.5 for int4), before any allocation.
inline void require_weights_fit(const recommender_config& cfg, const std::filesystem::path& weights,
                                double bytes_per_parameter) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(weights, ec);
  if (ec) return;  // missing or not a file: opening it reports that
  const index needed = cfg.minimum_parameters();
  require(double(needed) * bytes_per_parameter <= double(size),
          "{}: the config describes a model of at least {} parameters ({} items of width {}, {} layers of width {}), "
          "which need at least {:.0f} bytes, but the file has {}",
          weights.string(), needed, cfg.num_items, cfg.resolved_item_dim(), cfg.layers, cfg.dim,
          double(needed) * bytes_per_parameter, size);
}

// The model config of a checkpoint directory, checked against its weights
// (half a byte a parameter, the smallest of every format) before a caller
// builds a model from it (prune, distill --teacher, train --items-from).
inline recommender_config checkpoint_model_config(const std::filesystem::path& dir) {
  const recommender_config cfg = checkpoint_model_config(nn::read_checkpoint_config(dir), dir);
  require_weights_fit(cfg, dir / "model.safetensors", 0.5);
  return cfg;
}

// Loads a checkpoint's best weights into a fresh inference model and calls
// f(std::unique_ptr<model>), handing it the model. A frozen backbone's LoRA
// adapters are merged into its weights on the way (model/lora_merge.hpp).
template <backend::backend BE, class F>
decltype(auto) open_checkpoint(const std::filesystem::path& dir, F&& f) {
  const auto config = nn::read_checkpoint_config(dir);
  require(!config.contains("quant"),
          "{} is a quantized checkpoint: it serves inference (slmrec eval, recommend); training, distillation and "
          "export need the float checkpoint it was made from",
          dir.string());
  const auto cfg = checkpoint_model_config(config, dir);
  require_weights_fit(cfg, dir / "model.safetensors", 4.0);  // F32
  return with_new_recommender<BE>(merged_config(cfg), false, [&](auto m) -> decltype(auto) {
    nn::load_model_weights(dir, m->parameters());
    if (cfg.lora_rank > 0) merge_lora(io::safetensors_file::open(dir / "model.safetensors"), m->parameters(), cfg);
    return f(std::move(m));
  });
}

// The same, calling f(model&).
template <backend::backend BE, class F>
decltype(auto) with_checkpoint(const std::filesystem::path& dir, F&& f) {
  return open_checkpoint<BE>(dir, [&](auto m) -> decltype(auto) { return f(*m); });
}

}  // namespace slmrec::model
