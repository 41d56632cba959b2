#pragma once
// What a forward pass needs to know besides its input tensor: the batch
// geometry, where the padding is, and whether dropout is active.
#include <cstdint>

#include <slmrec/core/types.hpp>

namespace slmrec::nn {

struct context {
  index batch = 0;                          // B sequences
  index length = 0;                         // T positions each; rows = B * T
  const std::int32_t* positions = nullptr;  // [B, T] position ids (backend memory); RoPE layers need them
  const std::int32_t* key_mask = nullptr;   // [B, T] 1 = real item, 0 = padding; nullptr = no padding
  bool training = false;                    // dropout on
  std::uint64_t seed = 0;                   // dropout masks of this step derive from it
  // Inference of the last position only (forward_last): the row index of each
  // sequence's last cell and its position id, [B] each (backend memory).
  const std::int32_t* last_rows = nullptr;
  const std::int32_t* last_positions = nullptr;

  [[nodiscard]] index rows() const { return batch * length; }
};

// Grows a backend buffer to at least n elements; never shrinks, so a training
// loop reaches a steady state with no allocation inside a step.
template <class Buffer>
void ensure_size(Buffer& buf, index n) {
  if (index(buf.size()) < n) buf.resize(std::size_t(n));
}

}  // namespace slmrec::nn
