// Must not compile: a prune::masked model on a backend without the mask
// kernel group (backend::mask_ops), which holds its pruned weights at zero.
#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/recommender.hpp>

struct backend_without_masks : slmrec::backend::eigen_cpu {
  static void apply_mask() = delete;
};

using namespace slmrec;
using pruned = model::recommender<backend_without_masks, arch::llama, depth<2>, quant::none, prune::masked<>>;

void build(const model::recommender_config& cfg) { pruned m(cfg, false); }
