#pragma once
// model::quantize<Scheme>(model): a trained float recommender -> the same
// network as an inference-only type whose linear layers and item table hold
// Scheme's weights (norms, biases and SASRec's position table stay float:
// they are a few thousand numbers, and the norms are sensitive).
//
//   auto student = slmrec::model::quantize<slmrec::quant::int8_per_channel>(fp32_student);
//   student->score_last(items, rows, columns, scores);   // int8 kernels
//   student->train_cross_entropy(...);                   // does not compile
#include <memory>
#include <type_traits>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/quant/scheme.hpp>

namespace slmrec::model {

// The pruning policy carries over: a pruned model's zeros quantize to zero codes.
template <class Scheme, backend::backend BE, class Arch, class Depth, class Prune>
std::unique_ptr<recommender<BE, Arch, Depth, Scheme, Prune>> quantize(
    const recommender<BE, Arch, Depth, quant::none, Prune>& from) {
  static_assert(quant::is_quantized<Scheme>, "model::quantize<quant::none> would be a copy: pick a quantized scheme");
  using target = recommender<BE, Arch, Depth, Scheme, Prune>;
  auto to = std::make_unique<target>(from.config(), false);
  const auto& src = from.parameters();
  to->visit([&](const nn::param_spec& spec, auto& slot) {
    const auto& e = src.at(spec.name);
    require(e.spec.shape == spec.shape, "quantize: '{}' has another shape in the float model", spec.name);
    if constexpr (nn::is_param_slot<decltype(slot), float>) {
      BE::copy(src.value(e), slot.value, e.size);
    } else {
      // Quantized on the host (the same codes on every backend), stored where the backend keeps it;
      // a host backend's weights are read in place, a device's through one copy.
      using matrix = std::remove_cvref_t<decltype(slot)>;
      if constexpr (BE::is_host) {
        slot = matrix::quantize(src.value(e), spec.shape[0], spec.shape[1]);
      } else {
        std::vector<float> host(static_cast<std::size_t>(e.size));
        BE::download(src.value(e), host.data(), e.size);
        slot = matrix::quantize(host.data(), spec.shape[0], spec.shape[1]);
      }
    }
  }, "");
  return to;
}

// Bytes of a model's weights as stored: float parameters at 4 bytes each,
// packed matrices at their format's size (codes and scales).
template <class Model>
std::size_t weight_bytes(Model& m) {
  std::size_t bytes = 0;
  m.visit([&](const nn::param_spec& spec, auto& slot) {
    if constexpr (nn::is_param_slot<decltype(slot), typename Model::T>) {
      bytes += std::size_t(nn::numel(spec.shape)) * sizeof(float);
    } else {
      bytes += slot.storage_bytes();
    }
  }, "");
  return bytes;
}

}  // namespace slmrec::model
