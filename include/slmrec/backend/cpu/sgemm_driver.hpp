#pragma once
// The blocked float32 product both hand-written GEMMs share (sgemm_avx512.hpp,
// sgemm_avx2.hpp): C = alpha * op(A) op(B) + beta * C, row-major, in the
// classic Goto/BLIS structure. The k dimension is cut into slices of kc; for
// each slice op(B) is packed into panels of nr columns and op(A) into panels
// of mr rows, both zero-padded, so one micro-kernel serves every transpose
// and every tail (masked only when C is written). C is read (for beta) and
// written once per k slice, never zeroed first. Threads split C into
// disjoint rectangles, each packing what its rectangle needs, so nothing is
// synchronised inside.
//
// A Kernel supplies the sizes and the instruction-set specific steps, each
// compiled with its own target attribute:
//   mr, nr, kc, mc, nc           tile and block sizes; fma_lanes: float FMAs per cycle, for the thread grid
//   pack_a(trans, a, lda, i0, mc, p0, kc, dst), pack_b(trans, b, ldb, p0, kc, j0, nc, dst)
//   tiles(kc, mc, nc, ap, bp, c, ldc, alpha, beta)   every mr x nr tile of one packed block
//   block(...)                   block<Kernel> below, wrapped in the kernel's target attribute
// This driver holds no vector code and no target attribute; the kernel's
// `block` wrapper gives block<Kernel> its target, so the packing and the tiles
// inline into it as they do in a -march=native build (out of line they cost
// the portable build about 2% of a training step).
#include <algorithm>

#include <slmrec/backend/cpu/buffer.hpp>
#include <slmrec/backend/cpu/parallel.hpp>
#include <slmrec/core/types.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace slmrec::backend::cpu::sgemm_detail {

// Packing buffers, one pair per thread, grown once and reused by every call.
struct workspace {
  buffer<float> a, b;
  static workspace& local() {
    thread_local workspace ws;
    return ws;
  }
};

// One thread's rectangle C[i0:i1, j0:j1].
template <class Kernel>
[[gnu::always_inline]] inline void block(bool trans_a, bool trans_b, index i0, index i1, index j0, index j1, index k,
                                         float alpha, const float* a, index lda, const float* b, index ldb, float beta,
                                         float* c, index ldc) {
  auto& ws = workspace::local();
  const index kc_max = std::min(Kernel::kc, k);
  const index a_size = round_up(std::min(Kernel::mc, i1 - i0), Kernel::mr) * kc_max;
  const index b_size = round_up(std::min(Kernel::nc, j1 - j0), Kernel::nr) * kc_max;
  if (index(ws.a.size()) < a_size) ws.a.resize(std::size_t(a_size));
  if (index(ws.b.size()) < b_size) ws.b.resize(std::size_t(b_size));
  for (index jc = j0; jc < j1; jc += Kernel::nc) {
    const index nc = std::min(Kernel::nc, j1 - jc);
    for (index pc = 0; pc < k; pc += Kernel::kc) {
      const index kc = std::min(Kernel::kc, k - pc);
      const float beta_here = pc == 0 ? beta : 1.0f;
      Kernel::pack_b(trans_b, b, ldb, pc, kc, jc, nc, ws.b.data());
      for (index ic = i0; ic < i1; ic += Kernel::mc) {
        const index mc = std::min(Kernel::mc, i1 - ic);
        Kernel::pack_a(trans_a, a, lda, ic, mc, pc, kc, ws.a.data());
        Kernel::tiles(kc, mc, nc, ws.a.data(), ws.b.data(), c + ic * ldc + jc, ldc, alpha, beta_here);
      }
    }
  }
}

// Splits C among `threads` as a tm x tn grid of whole micro-tiles, choosing
// the grid that minimises the busiest thread's cost: its share of the
// multiply-adds (fma_lanes per cycle) plus the elements it packs (about one
// per cycle). Thread t owns rows [t / tn * rows, ...) and columns [t % tn * cols, ...).
struct thread_grid {
  index tm = 1, tn = 1;
  index rows = 0, cols = 0;  // the extent of one thread's rectangle
};
template <class Kernel>
thread_grid choose_grid(index m, index n, index k, int threads) {
  thread_grid best;
  double best_cost = -1.0;
  for (index tm = 1; tm <= threads; ++tm) {
    if (threads % tm != 0) continue;
    const index tn = threads / tm;
    const index rows = round_up(ceil_div(m, tm), Kernel::mr), cols = round_up(ceil_div(n, tn), Kernel::nr);
    const double cost = double(rows) * double(cols) * double(k) / Kernel::fma_lanes + double(rows + cols) * double(k);
    if (best_cost < 0.0 || cost < best_cost) best_cost = cost, best = {tm, tn, rows, cols};
  }
  return best;
}

template <class Kernel>
void sgemm(bool trans_a, bool trans_b, index m, index n, index k, float alpha, const float* a, index lda,
           const float* b, index ldb, float beta, float* c, index ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {  // C = beta * C, and C is not read when beta is 0
    for (index i = 0; i < m; ++i)
      for (index j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  int threads = 1;
#if defined(_OPENMP)
  // Below ~4 MFLOP a parallel region costs more than it saves; inside one
  // (attention per head, rows of a batch) the caller already uses the cores.
  if (double(m) * double(n) * double(k) > 2e6 && !omp_in_parallel()) threads = omp_get_max_threads();
#endif
  if (threads == 1) {
    Kernel::block(trans_a, trans_b, 0, m, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  SLMREC_OMP(parallel num_threads(threads)) {
    int t = 0, team = 1;
#if defined(_OPENMP)
    t = omp_get_thread_num();
    team = omp_get_num_threads();  // may be fewer than asked for
#endif
    const thread_grid grid = choose_grid<Kernel>(m, n, k, team);
    const index i0 = (t / grid.tn) * grid.rows, j0 = (t % grid.tn) * grid.cols;
    const index i1 = std::min(m, i0 + grid.rows), j1 = std::min(n, j0 + grid.cols);
    if (i0 < i1 && j0 < j1) Kernel::block(trans_a, trans_b, i0, i1, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

}  // namespace slmrec::backend::cpu::sgemm_detail
