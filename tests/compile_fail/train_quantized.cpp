// Must not compile: training (a backward pass) through a quantized recommender.
#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/recommender.hpp>

using namespace slmrec;
using quantized = model::recommender<backend::eigen_cpu, arch::llama, depth<2>, quant::int8_per_channel>;

void train_step(quantized& m, const float* dhidden) { m.backward_encoder(dhidden); }
