// Must not compile: a training step on a quantized (inference-only) model.
#include <cstdint>
#include <span>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/recommender.hpp>

using quantized = slmrec::model::recommender<slmrec::backend::eigen_cpu, slmrec::arch::llama, slmrec::depth<2>,
                                             slmrec::quant::int8_per_channel>;

double train_step(quantized& m, std::span<const std::int32_t> targets) { return m.train_cross_entropy(targets); }
