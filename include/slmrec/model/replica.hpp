#pragma once
// model::inference_replica(m): a second instance of a model for another
// thread. A model keeps its activations in its layers, so two threads cannot
// run one model at once; a replica has its own activations and reads the same
// weights. Float parameters are shared, not copied: the replica sees every
// later change to the model's weights (training, loading a checkpoint). The
// packed matrices of a quantized model own their memory and are copied; they
// never change once made (a quantized model cannot train), but loading another
// checkpoint into that model needs a new replica.
//
//   auto worker = slmrec::model::inference_replica(model);
//   worker->score_last(...);   // on another thread, beside model.score_last(...)
//
// Training, or anything else that goes through the replica's parameter store,
// is not for a replica: its store has the layout and no buffer of its own.
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/nn/param.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::model {

template <class Model>
std::unique_ptr<Model> inference_replica(Model& from) {
  // A model that can be built around borrowed weights allocates nothing for
  // its float parameters (at a million items, 0.5 GB a replica saved).
  auto to = [&] {
    if constexpr (std::is_constructible_v<Model, decltype(from.config()), nn::borrowed_weights_t>)
      return std::make_unique<Model>(from.config(), nn::borrowed_weights);
    else
      return std::make_unique<Model>(from.config(), false);
  }();
  // Both list the same slots in the same order (one type, one config).
  std::vector<void*> slots;
  std::vector<std::string> names;
  from.visit(
      [&](const nn::param_spec& spec, auto& slot) {
        slots.push_back(&slot);
        names.push_back(spec.name);
      },
      "");
  std::size_t i = 0;
  to->visit(
      [&](const nn::param_spec& spec, auto& slot) {
        require(i < slots.size() && names[i] == spec.name, "inference_replica: '{}' is not the model's slot {}",
                spec.name, i);
        using slot_type = std::remove_cvref_t<decltype(slot)>;
        const auto& src = *static_cast<const slot_type*>(slots[i++]);
        if constexpr (nn::is_param_slot<slot_type, typename Model::T>) {
          slot.value = src.value;  // shared: the replica follows the model's weights
          slot.grad = nullptr;
        } else {
          slot = src;
        }
      },
      "");
  require(i == slots.size(), "inference_replica: the replica lists {} slots, the model {}", i, slots.size());
  return to;
}

}  // namespace slmrec::model
