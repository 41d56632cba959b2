// Must not compile: an int4 recommender on the CUDA backend. int8 runs on the
// GPU (quant::device_int8_matrix); the int4 and 16-bit formats are CPU kernels.
#include <slmrec/backend/cuda.hpp>
#include <slmrec/model/recommender.hpp>

using namespace slmrec;
using gpu_int4 = model::recommender<backend::cuda, arch::llama, depth<2>, quant::int4_block<32>>;

void build(const model::recommender_config& cfg) { gpu_int4 m(cfg, false); }
