// Must not compile: magnitude-pruning masks over the CUDA backend, whose
// buffers live on the device (mask_set edits the weights in place on the host).
#include <slmrec/backend/cuda.hpp>
#include <slmrec/prune/mask.hpp>

slmrec::prune::mask_set<slmrec::backend::cuda> instance;
