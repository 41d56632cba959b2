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
#include <slmrec/model/recommender.hpp>
#include <slmrec/train/checkpoint.hpp>

namespace slmrec::model {

// f(std::unique_ptr<model>): f owns the model (a service keeps it past the call).
template <backend::backend BE, class F>
decltype(auto) with_new_recommender(const recommender_config& cfg, bool with_grads, F&& f) {
  if (cfg.arch == "sasrec") return std::forward<F>(f)(std::make_unique<recommender<BE, arch::sasrec>>(cfg, with_grads));
  if (cfg.arch == "llama") return std::forward<F>(f)(std::make_unique<recommender<BE, arch::llama>>(cfg, with_grads));
  fail("unknown arch '{}' (expected sasrec or llama)", cfg.arch);
}

// f(model&), the model alive for the call.
template <backend::backend BE, class F>
decltype(auto) with_recommender(const recommender_config& cfg, bool with_grads, F&& f) {
  return with_new_recommender<BE>(cfg, with_grads, [&](auto m) -> decltype(auto) { return f(*m); });
}

inline recommender_config checkpoint_model_config(const std::filesystem::path& dir) {
  const auto j = train::read_checkpoint_config(dir);
  require(j.contains("model"), "{}: config.json has no 'model' section", (dir / "config.json").string());
  try {
    return j.at("model").get<recommender_config>();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: bad model config: {}", (dir / "config.json").string(), e.what());
  }
}

// Loads a checkpoint's best weights into a fresh inference model and calls
// f(std::unique_ptr<model>), handing it the model.
template <backend::backend BE, class F>
decltype(auto) open_checkpoint(const std::filesystem::path& dir, F&& f) {
  require(!train::read_checkpoint_config(dir).contains("quant"),
          "{} is a quantized checkpoint: it serves inference (slmrec eval, recommend); training, distillation and "
          "export need the float checkpoint it was made from",
          dir.string());
  const auto cfg = checkpoint_model_config(dir);
  return with_new_recommender<BE>(cfg, false, [&](auto m) -> decltype(auto) {
    train::load_model_weights(dir, m->parameters());
    return f(std::move(m));
  });
}

// The same, calling f(model&).
template <backend::backend BE, class F>
decltype(auto) with_checkpoint(const std::filesystem::path& dir, F&& f) {
  return open_checkpoint<BE>(dir, [&](auto m) -> decltype(auto) { return f(*m); });
}

}  // namespace slmrec::model
