// Must not compile: magnitude-pruning masks over a backend whose buffers live
// on a device (mask_set edits the weights in place on the host).
#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/prune/mask.hpp>

struct device_backend : slmrec::backend::eigen_cpu {
  static constexpr bool is_host = false;
};

slmrec::prune::mask_set<device_backend>* masks = nullptr;
slmrec::prune::mask_set<device_backend> instance;
