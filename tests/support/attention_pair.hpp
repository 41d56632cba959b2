#pragma once
// Attention through an ops type's kernels and through its _ref twins on the
// same inputs (tests/nn for every CPU backend, tests/simd for the run-time
// dispatch): the forward (out, probs), the backward (dq, dk, dv added onto
// `grad_init`, so accumulation is checked too), and the last position alone,
// whose reference is the reference forward's last row.
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include <slmrec/core/types.hpp>

namespace slmrec::test {

struct attention_shape {
  index batch, length, heads, kv_heads, head_dim;
};

template <class T>
struct attention_outputs {
  std::vector<T> out, probs, dq, dk, dv, last;
};

// Every output by name, for tests that hold each pair to one error measure:
// for (const auto& [name, field] : attention_fields<T>) CHECK(err(got.*field, want.*field) < tol).
template <class T>
inline constexpr std::array<std::pair<const char*, std::vector<T> attention_outputs<T>::*>, 6> attention_fields = {{
    {"out", &attention_outputs<T>::out},
    {"probs", &attention_outputs<T>::probs},
    {"dq", &attention_outputs<T>::dq},
    {"dk", &attention_outputs<T>::dk},
    {"dv", &attention_outputs<T>::dv},
    {"last", &attention_outputs<T>::last},
}};

// Ops: a type with static attention_forward / _backward / _last and the
// _forward_ref / _backward_ref twins (a backend, or cpu::attention_kernels<T>).
// q, dout [B, L, H, D]; k, v [B, L, KV, D]; mask [B, L].
template <class Ops, class T>
std::pair<attention_outputs<T>, attention_outputs<T>> run_attention_pair(
    const attention_shape& s, const std::vector<T>& q, const std::vector<T>& k, const std::vector<T>& v,
    const std::vector<T>& dout, const std::vector<std::int32_t>& mask, T grad_init) {
  const auto [B, L, H, KV, D] = s;
  attention_outputs<T> got, want;
  for (auto* o : {&got, &want}) {
    o->out.resize(q.size());
    o->probs.resize(std::size_t(B * H * L * L));
    o->dq.assign(q.size(), grad_init);
    o->dk.assign(k.size(), grad_init);
    o->dv.assign(k.size(), grad_init);
  }
  Ops::attention_forward(q.data(), k.data(), v.data(), mask.data(), got.out.data(), got.probs.data(), B, L, H, KV, D);
  Ops::attention_forward_ref(q.data(), k.data(), v.data(), mask.data(), want.out.data(), want.probs.data(), B, L, H, KV,
                             D);
  Ops::attention_backward(q.data(), k.data(), v.data(), got.probs.data(), dout.data(), got.dq.data(), got.dk.data(),
                          got.dv.data(), B, L, H, KV, D);
  Ops::attention_backward_ref(q.data(), k.data(), v.data(), want.probs.data(), dout.data(), want.dq.data(),
                              want.dk.data(), want.dv.data(), B, L, H, KV, D);
  std::vector<T> q_last(std::size_t(B * H * D));
  want.last.resize(q_last.size());
  got.last.resize(q_last.size());
  for (index b = 0; b < B; ++b)
    for (index i = 0; i < H * D; ++i) {
      q_last[std::size_t(b * H * D + i)] = q[std::size_t(((b + 1) * L - 1) * H * D + i)];
      want.last[std::size_t(b * H * D + i)] = want.out[std::size_t(((b + 1) * L - 1) * H * D + i)];
    }
  Ops::attention_last(q_last.data(), k.data(), v.data(), mask.data(), got.last.data(), B, L, H, KV, D);
  return {std::move(got), std::move(want)};
}

}  // namespace slmrec::test
