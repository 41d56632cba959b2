// Must not compile (for now): a quantized recommender on the CUDA backend;
// the quantized kernels run on the CPU.
#include <slmrec/backend/cuda.hpp>
#include <slmrec/model/recommender.hpp>

using namespace slmrec;
using gpu_int8 = model::recommender<backend::cuda, arch::llama, depth<2>, quant::int8_per_channel>;

void build(const model::recommender_config& cfg) { gpu_int8 m(cfg, false); }
