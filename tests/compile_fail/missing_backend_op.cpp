// Must not compile: a backend lacking SLMREC_MISSING_OP (hidden by a deleted
// overload that takes no arguments) used as a recommender's backend. The
// compiler's message names the operation (CMakeLists.txt checks it).
#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/recommender.hpp>

struct incomplete_backend : slmrec::backend::eigen_cpu {
  static void SLMREC_MISSING_OP() = delete;
};

using model_type = slmrec::model::recommender<incomplete_backend, slmrec::arch::llama, slmrec::depth<2>>;
model_type* instance = nullptr;
