// Must not compile: structured pruning of a SASRec model, whose blocks have
// neither SwiGLU channels nor the llama's head layout that it removes.
#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/recommender.hpp>

using namespace slmrec;
using pruned_sasrec = model::recommender<backend::eigen_cpu, arch::sasrec, depth<2>, quant::none, prune::structured>;

void build(const model::recommender_config& cfg) { pruned_sasrec m(cfg, false); }
