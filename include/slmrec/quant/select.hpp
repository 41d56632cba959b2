#pragma once
// The layer types a model uses under scheme Q: the float, trainable nn::
// layers for quant::none, the inference-only quant:: layers otherwise.
#include <type_traits>

#include <slmrec/nn/embedding.hpp>
#include <slmrec/nn/linear.hpp>
#include <slmrec/quant/embedding.hpp>
#include <slmrec/quant/linear.hpp>
#include <slmrec/quant/scheme.hpp>

namespace slmrec::quant {

template <class BE, class Q>
struct layers_for {
  using linear = quant::linear<BE, Q>;
  using embedding = quant::embedding<BE, Q>;
};
template <class BE>
struct layers_for<BE, none> {
  using linear = nn::linear<BE>;
  using embedding = nn::embedding<BE>;
};

template <class BE, class Q>
using linear_t = typename layers_for<BE, Q>::linear;
template <class BE, class Q>
using embedding_t = typename layers_for<BE, Q>::embedding;

}  // namespace slmrec::quant
