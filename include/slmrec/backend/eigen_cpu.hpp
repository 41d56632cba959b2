#pragma once
// backend::eigen_cpu — the CPU backend. A stateless policy type: its static
// operations are gathered from one kernel group per concern (blas, norms,
// attention, activations, losses, optimiser), each in its own header under cpu/.
#include <slmrec/backend/concept.hpp>
#include <slmrec/backend/cpu/activations.hpp>
#include <slmrec/backend/cpu/attention.hpp>
#include <slmrec/backend/cpu/blas.hpp>
#include <slmrec/backend/cpu/buffer.hpp>
#include <slmrec/backend/cpu/loss.hpp>
#include <slmrec/backend/cpu/norms.hpp>
#include <slmrec/backend/cpu/optim.hpp>

namespace slmrec::backend {

// Scalar-generic so that every layer can be gradient-checked in double.
template <class T>
struct eigen_cpu_t : cpu::blas_kernels<T>,
                     cpu::norm_kernels<T>,
                     cpu::attention_kernels<T>,
                     cpu::activation_kernels<T>,
                     cpu::loss_kernels<T>,
                     cpu::optim_kernels<T> {
  using scalar = T;
  template <class U>
  using buffer = cpu::buffer<U>;
  static constexpr const char* name = "eigen_cpu";
  static constexpr bool is_host = true;  // buffers are directly readable on the host
  static void synchronize() {}           // every operation has finished when it returns
};

using eigen_cpu = eigen_cpu_t<float>;
using eigen_cpu_f64 = eigen_cpu_t<double>;

static_assert(backend<eigen_cpu>);
static_assert(backend<eigen_cpu_f64>);

}  // namespace slmrec::backend
