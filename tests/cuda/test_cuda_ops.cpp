// Every operation of backend::cuda against its eigen_cpu twin on the same
// data: products, vector kernels, norms, activations, dropout (the same mask),
// embeddings, RoPE, attention (padding, grouped-query heads), the row kernels,
// the losses and AdamW.
#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

#include <slmrec/quant/device_int8_matrix.hpp>

#include "cuda/parity.hpp"

namespace slmrec {

namespace {
using test::cpu;
using test::random_vector;
using test::relative_error;
using test::to_device;
using test::to_host;

#define SLMREC_CHECK_CLOSE(what, gpu, ref, tol)                                       \
  do {                                                                                \
    const double err_ = relative_error(gpu, ref);                                     \
    INFO(what << ": relative error " << err_ << " (limit " << (tol) << ")");          \
    CHECK(err_ < (tol));                                                              \
  } while (0)
}  // namespace

TEMPLATE_TEST_CASE("cuda gemm and strided-batched gemm match the CPU, every transpose", "[cuda]", backend::cuda,
                   backend::cuda_bf16) {
  using BE = TestType;
  const double tol = test::tolerance<BE>;
  const index m = 37, n = 29, k = 53, pad = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const index lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      const auto a = random_vector(static_cast<std::size_t>((ta ? k : m) * lda), 1);
      const auto b = random_vector(static_cast<std::size_t>((tb ? n : k) * ldb), 2);
      auto c = random_vector(static_cast<std::size_t>(m * ldc), 3);
      auto da = to_device<BE>(a), db = to_device<BE>(b), dc = to_device<BE>(c);
      cpu::gemm(ta, tb, m, n, k, 0.7f, a.data(), lda, b.data(), ldb, 0.3f, c.data(), ldc);
      BE::gemm(ta, tb, m, n, k, 0.7f, da.data(), lda, db.data(), ldb, 0.3f, dc.data(), ldc);
      SLMREC_CHECK_CLOSE("gemm ta=" << ta << " tb=" << tb, to_host<BE>(dc), c, tol);
    }
  // Four products a fixed stride apart, beta = 0 over a NaN-filled output (must be ignored).
  const index count = 4, sa = m * k + 5, sb = k * n + 7, sc = m * n + 2;
  const auto a = random_vector(static_cast<std::size_t>(count * sa), 4), b = random_vector(static_cast<std::size_t>(count * sb), 5);
  std::vector<float> c(static_cast<std::size_t>(count * sc), 0.f), nan_fill(c.size(), std::nanf(""));
  auto da = to_device<BE>(a), db = to_device<BE>(b), dc = to_device<BE>(nan_fill);
  cpu::gemm_strided_batched(false, true, m, n, k, 1.f, a.data(), k, sa, b.data(), k, sb, 0.f, c.data(), n, sc, count);
  BE::gemm_strided_batched(false, true, m, n, k, 1.f, da.data(), k, sa, db.data(), k, sb, 0.f, dc.data(), n, sc,
                           count);
  auto got = to_host<BE>(dc);
  for (index i = 0; i < count; ++i)  // the gaps between products stay untouched
    for (index j = m * n; j < sc; ++j) got[static_cast<std::size_t>(i * sc + j)] = 0.f;
  SLMREC_CHECK_CLOSE("gemm_strided_batched", got, c, tol);
}

TEMPLATE_TEST_CASE("cuda vector kernels match the CPU", "[cuda]", backend::cuda, backend::cuda_bf16) {
  using BE = TestType;
  const index n = 100'003, rows = 301, cols = 333;
  const auto x = random_vector(static_cast<std::size_t>(n), 1), y0 = random_vector(static_cast<std::size_t>(n), 2);
  auto dx = to_device<BE>(x);
  {
    auto y = y0;
    auto dy = to_device<BE>(y0);
    cpu::axpy(-0.5f, x.data(), y.data(), n);
    BE::axpy(-0.5f, dx.data(), dy.data(), n);
    SLMREC_CHECK_CLOSE("axpy", to_host<BE>(dy), y, 1e-6);
    cpu::add(x.data(), y.data(), y.data(), n);
    BE::add(dx.data(), dy.data(), dy.data(), n);
    SLMREC_CHECK_CLOSE("add (aliased output)", to_host<BE>(dy), y, 1e-6);
    cpu::scale(y.data(), n, 1.5f);
    BE::scale(dy.data(), n, 1.5f);
    SLMREC_CHECK_CLOSE("scale", to_host<BE>(dy), y, 1e-6);
    BE::copy(dx.data(), dy.data(), n);
    CHECK(to_host<BE>(dy) == x);
    BE::fill(dy.data(), n, 2.5f);
    CHECK(to_host<BE>(dy) == std::vector<float>(static_cast<std::size_t>(n), 2.5f));
    BE::fill(dy.data(), n, 0.f);
    CHECK(to_host<BE>(dy) == std::vector<float>(static_cast<std::size_t>(n), 0.f));
  }
  CHECK(BE::sum_squares(dx.data(), n) == Approx(cpu::sum_squares(x.data(), n)).epsilon(1e-9));
  const auto bias = random_vector(static_cast<std::size_t>(cols), 3), m0 = random_vector(static_cast<std::size_t>(rows * cols), 4);
  auto mat = m0;
  auto dmat = to_device<BE>(m0), dbias = to_device<BE>(bias);
  cpu::add_bias(mat.data(), bias.data(), rows, cols);
  BE::add_bias(dmat.data(), dbias.data(), rows, cols);
  SLMREC_CHECK_CLOSE("add_bias", to_host<BE>(dmat), mat, 1e-6);
  auto db = bias;
  cpu::bias_backward(m0.data(), db.data(), rows, cols);
  auto dm0 = to_device<BE>(m0);
  BE::bias_backward(dm0.data(), dbias.data(), rows, cols);
  SLMREC_CHECK_CLOSE("bias_backward", to_host<BE>(dbias), db, 1e-5);
}

TEMPLATE_TEST_CASE("cuda RMSNorm and LayerNorm, forward and backward, match the CPU", "[cuda]", backend::cuda,
                   backend::cuda_bf16) {
  using BE = TestType;
  for (index cols : {index(8), index(128), index(333)}) {
    const index rows = 257;
    const auto x = random_vector(static_cast<std::size_t>(rows * cols), 1), dy = random_vector(static_cast<std::size_t>(rows * cols), 2);
    const auto w = random_vector(static_cast<std::size_t>(cols), 3), b = random_vector(static_cast<std::size_t>(cols), 4);
    const auto dx0 = random_vector(static_cast<std::size_t>(rows * cols), 5), dw0 = random_vector(static_cast<std::size_t>(cols), 6);
    auto gx = to_device<BE>(x), gdy = to_device<BE>(dy), gw = to_device<BE>(w), gb = to_device<BE>(b);
    INFO("cols " << cols);
    {  // RMSNorm
      std::vector<float> y(x.size()), rstd(static_cast<std::size_t>(rows)), dx = dx0, dw = dw0;
      typename BE::template buffer<float> gy(x.size()), grstd(static_cast<std::size_t>(rows));
      auto gdx = to_device<BE>(dx0), gdw = to_device<BE>(dw0);
      cpu::rms_norm_forward(x.data(), w.data(), y.data(), rstd.data(), rows, cols, 1e-6f);
      BE::rms_norm_forward(gx.data(), gw.data(), gy.data(), grstd.data(), rows, cols, 1e-6f);
      SLMREC_CHECK_CLOSE("rms_norm_forward y", to_host<BE>(gy), y, 1e-5);
      SLMREC_CHECK_CLOSE("rms_norm_forward rstd", to_host<BE>(grstd), rstd, 1e-5);
      cpu::rms_norm_backward(x.data(), w.data(), rstd.data(), dy.data(), dx.data(), dw.data(), rows, cols);
      BE::rms_norm_backward(gx.data(), gw.data(), grstd.data(), gdy.data(), gdx.data(), gdw.data(), rows, cols);
      SLMREC_CHECK_CLOSE("rms_norm_backward dx", to_host<BE>(gdx), dx, 1e-5);
      SLMREC_CHECK_CLOSE("rms_norm_backward dw", to_host<BE>(gdw), dw, 1e-5);
    }
    {  // LayerNorm
      std::vector<float> y(x.size()), mean(static_cast<std::size_t>(rows)), rstd(static_cast<std::size_t>(rows)), dx = dx0, dw = dw0, db = w;
      typename BE::template buffer<float> gy(x.size()), gmean(static_cast<std::size_t>(rows)), grstd(static_cast<std::size_t>(rows));
      auto gdx = to_device<BE>(dx0), gdw = to_device<BE>(dw0), gdb = to_device<BE>(w);
      cpu::layer_norm_forward(x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(), rows, cols, 1e-5f);
      BE::layer_norm_forward(gx.data(), gw.data(), gb.data(), gy.data(), gmean.data(), grstd.data(), rows, cols, 1e-5f);
      SLMREC_CHECK_CLOSE("layer_norm_forward y", to_host<BE>(gy), y, 1e-5);
      SLMREC_CHECK_CLOSE("layer_norm_forward mean", to_host<BE>(gmean), mean, 1e-5);
      cpu::layer_norm_backward(x.data(), w.data(), mean.data(), rstd.data(), dy.data(), dx.data(), dw.data(), db.data(),
                               rows, cols);
      BE::layer_norm_backward(gx.data(), gw.data(), gmean.data(), grstd.data(), gdy.data(), gdx.data(), gdw.data(),
                              gdb.data(), rows, cols);
      SLMREC_CHECK_CLOSE("layer_norm_backward dx", to_host<BE>(gdx), dx, 1e-5);
      SLMREC_CHECK_CLOSE("layer_norm_backward dw", to_host<BE>(gdw), dw, 1e-5);
      SLMREC_CHECK_CLOSE("layer_norm_backward db", to_host<BE>(gdb), db, 1e-5);
    }
  }
}

TEMPLATE_TEST_CASE("cuda activations, dropout and embeddings match the CPU", "[cuda]", backend::cuda,
                   backend::cuda_bf16) {
  using BE = TestType;
  const index n = 50'001;
  const auto a = random_vector(static_cast<std::size_t>(n), 1, 2.0), b = random_vector(static_cast<std::size_t>(n), 2);
  const auto g = random_vector(static_cast<std::size_t>(n), 3), d0 = random_vector(static_cast<std::size_t>(n), 4);
  auto ga = to_device<BE>(a), gb = to_device<BE>(b), gg = to_device<BE>(g);
  std::vector<float> y(static_cast<std::size_t>(n));
  typename BE::template buffer<float> gy(static_cast<std::size_t>(n));
  cpu::swiglu_forward(a.data(), b.data(), y.data(), n);
  BE::swiglu_forward(ga.data(), gb.data(), gy.data(), n);
  SLMREC_CHECK_CLOSE("swiglu_forward", to_host<BE>(gy), y, 1e-5);
  {
    auto da = d0, db = d0;
    auto gda = to_device<BE>(d0), gdb = to_device<BE>(d0);
    cpu::swiglu_backward(a.data(), b.data(), g.data(), da.data(), db.data(), n);
    BE::swiglu_backward(ga.data(), gb.data(), gg.data(), gda.data(), gdb.data(), n);
    SLMREC_CHECK_CLOSE("swiglu_backward dgate", to_host<BE>(gda), da, 1e-5);
    SLMREC_CHECK_CLOSE("swiglu_backward dup", to_host<BE>(gdb), db, 1e-5);
  }
  cpu::relu_forward(a.data(), y.data(), n);
  BE::relu_forward(ga.data(), gy.data(), n);
  CHECK(to_host<BE>(gy) == y);
  cpu::gelu_forward(a.data(), y.data(), n);
  BE::gelu_forward(ga.data(), gy.data(), n);
  SLMREC_CHECK_CLOSE("gelu_forward", to_host<BE>(gy), y, 1e-5);
  {
    auto dr = d0, dg = d0;
    auto gdr = to_device<BE>(d0), gdg = to_device<BE>(d0);
    cpu::relu_backward(a.data(), g.data(), dr.data(), n);
    BE::relu_backward(ga.data(), gg.data(), gdr.data(), n);
    SLMREC_CHECK_CLOSE("relu_backward", to_host<BE>(gdr), dr, 1e-6);
    cpu::gelu_backward(a.data(), g.data(), dg.data(), n);
    BE::gelu_backward(ga.data(), gg.data(), gdg.data(), n);
    SLMREC_CHECK_CLOSE("gelu_backward", to_host<BE>(gdg), dg, 1e-5);
  }
  {  // dropout: one seed drops the same elements on both backends
    std::vector<std::uint8_t> keep(static_cast<std::size_t>(n));
    typename BE::template buffer<std::uint8_t> gkeep(static_cast<std::size_t>(n));
    cpu::dropout_forward(a.data(), y.data(), keep.data(), n, 0.3f, 1234);
    BE::dropout_forward(ga.data(), gy.data(), gkeep.data(), n, 0.3f, 1234);
    CHECK(to_host<BE>(gkeep) == keep);
    SLMREC_CHECK_CLOSE("dropout_forward", to_host<BE>(gy), y, 1e-7);
    auto dx = d0;
    auto gdx = to_device<BE>(d0);
    cpu::dropout_backward(keep.data(), g.data(), dx.data(), n, 0.3f);
    BE::dropout_backward(gkeep.data(), gg.data(), gdx.data(), n, 0.3f);
    SLMREC_CHECK_CLOSE("dropout_backward", to_host<BE>(gdx), dx, 1e-7);
  }
  {  // pruning masks: exactly the dropped elements become zero, the rest untouched
    std::vector<std::uint8_t> keep(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < keep.size(); ++i) keep[i] = std::uint8_t((i * 7919) % 3 != 0);
    auto x = a;
    auto gx = to_device<BE>(a);
    auto gkeep = to_device<BE>(keep);
    cpu::apply_mask(keep.data(), x.data(), n);
    BE::apply_mask(gkeep.data(), gx.data(), n);
    CHECK(to_host<BE>(gx) == x);
    CHECK(std::count(x.begin(), x.end(), 0.0f) >= n / 3);
  }
  {  // embeddings: repeated ids add up, id 0 (padding) never learns
    const index items = 50, dim = 24, rows = 400;
    std::vector<std::int32_t> ids(static_cast<std::size_t>(rows));
    rng gen(5);
    for (auto& id : ids) id = std::int32_t(gen.below(items));
    ids[0] = 0;
    const auto table = random_vector(static_cast<std::size_t>(items * dim), 6), dout = random_vector(static_cast<std::size_t>(rows * dim), 7);
    auto gids = to_device<BE>(ids);
    auto gtable = to_device<BE>(table), gdout = to_device<BE>(dout);
    std::vector<float> out(static_cast<std::size_t>(rows * dim));
    typename BE::template buffer<float> gout(out.size());
    cpu::embedding_forward(ids.data(), table.data(), out.data(), rows, dim);
    BE::embedding_forward(gids.data(), gtable.data(), gout.data(), rows, dim);
    CHECK(to_host<BE>(gout) == out);
    auto dtable = table;
    cpu::embedding_backward(ids.data(), dout.data(), dtable.data(), rows, dim);
    BE::embedding_backward(gids.data(), gdout.data(), gtable.data(), rows, dim);
    SLMREC_CHECK_CLOSE("embedding_backward", to_host<BE>(gtable), dtable, 1e-6);
  }
}

TEMPLATE_TEST_CASE("cuda RoPE and attention (padding, grouped-query heads) match the CPU", "[cuda]", backend::cuda,
                   backend::cuda_bf16) {
  using BE = TestType;
  const double tol = test::tolerance<BE>;
  const index batch = 3, length = 9, heads = 4, kv_heads = 2, head_dim = 16, half = head_dim / 2;
  const index rows = batch * length, qn = rows * heads * head_dim, kvn = rows * kv_heads * head_dim;
  // Left padding: sequence 0 has 3 padded positions, sequence 1 none, sequence 2 all but the last.
  std::vector<std::int32_t> mask(static_cast<std::size_t>(rows), 1), positions(static_cast<std::size_t>(rows));
  for (index t = 0; t < 3; ++t) mask[static_cast<std::size_t>(t)] = 0;
  for (index t = 0; t < length - 1; ++t) mask[static_cast<std::size_t>(2 * length + t)] = 0;
  for (index r = 0; r < rows; ++r) positions[static_cast<std::size_t>(r)] = std::int32_t(r % length);
  const auto cos = random_vector(static_cast<std::size_t>(length * half), 1), sin = random_vector(static_cast<std::size_t>(length * half), 2);
  auto gmask = to_device<BE>(mask), gpos = to_device<BE>(positions);
  auto gcos = to_device<BE>(cos), gsin = to_device<BE>(sin);
  {
    auto x = random_vector(static_cast<std::size_t>(qn), 3);
    auto gx = to_device<BE>(x);
    cpu::rope_forward(x.data(), positions.data(), cos.data(), sin.data(), rows, heads, head_dim);
    BE::rope_forward(gx.data(), gpos.data(), gcos.data(), gsin.data(), rows, heads, head_dim);
    SLMREC_CHECK_CLOSE("rope_forward", to_host<BE>(gx), x, 1e-6);
    cpu::rope_backward(x.data(), positions.data(), cos.data(), sin.data(), rows, heads, head_dim);
    BE::rope_backward(gx.data(), gpos.data(), gcos.data(), gsin.data(), rows, heads, head_dim);
    SLMREC_CHECK_CLOSE("rope_backward", to_host<BE>(gx), x, 1e-6);
  }
  const auto q = random_vector(static_cast<std::size_t>(qn), 4), k = random_vector(static_cast<std::size_t>(kvn), 5);
  const auto v = random_vector(static_cast<std::size_t>(kvn), 6), dout = random_vector(static_cast<std::size_t>(qn), 7);
  auto gq = to_device<BE>(q), gk = to_device<BE>(k), gv = to_device<BE>(v), gdout = to_device<BE>(dout);
  std::vector<float> out(static_cast<std::size_t>(qn)), probs(static_cast<std::size_t>(batch * heads * length * length));
  typename BE::template buffer<float> gout(out.size()), gprobs(probs.size());
  cpu::attention_forward(q.data(), k.data(), v.data(), mask.data(), out.data(), probs.data(), batch, length, heads,
                         kv_heads, head_dim);
  BE::attention_forward(gq.data(), gk.data(), gv.data(), gmask.data(), gout.data(), gprobs.data(), batch, length,
                        heads, kv_heads, head_dim);
  SLMREC_CHECK_CLOSE("attention_forward probs", to_host<BE>(gprobs), probs, tol);
  SLMREC_CHECK_CLOSE("attention_forward out", to_host<BE>(gout), out, tol);
  const auto dq0 = random_vector(static_cast<std::size_t>(qn), 8), dk0 = random_vector(static_cast<std::size_t>(kvn), 9);
  auto dq = dq0, dk = dk0, dv = dk0;
  auto gdq = to_device<BE>(dq0), gdk = to_device<BE>(dk0), gdv = to_device<BE>(dk0);
  cpu::attention_backward(q.data(), k.data(), v.data(), probs.data(), dout.data(), dq.data(), dk.data(), dv.data(),
                          batch, length, heads, kv_heads, head_dim);
  BE::attention_backward(gq.data(), gk.data(), gv.data(), gprobs.data(), gdout.data(), gdq.data(), gdk.data(),
                         gdv.data(), batch, length, heads, kv_heads, head_dim);
  SLMREC_CHECK_CLOSE("attention_backward dq", to_host<BE>(gdq), dq, tol);
  SLMREC_CHECK_CLOSE("attention_backward dk", to_host<BE>(gdk), dk, tol);
  SLMREC_CHECK_CLOSE("attention_backward dv", to_host<BE>(gdv), dv, tol);
  // The last query of each sequence: q_last [B, H, D].
  const auto q_last = random_vector(static_cast<std::size_t>(batch * heads * head_dim), 10);
  auto gq_last = to_device<BE>(q_last);
  std::vector<float> last(q_last.size());
  typename BE::template buffer<float> glast(last.size());
  cpu::attention_last(q_last.data(), k.data(), v.data(), mask.data(), last.data(), batch, length, heads, kv_heads,
                      head_dim);
  BE::attention_last(gq_last.data(), gk.data(), gv.data(), gmask.data(), glast.data(), batch, length, heads, kv_heads,
                     head_dim);
  SLMREC_CHECK_CLOSE("attention_last", to_host<BE>(glast), last, 1e-5);
}

TEMPLATE_TEST_CASE("cuda row kernels, losses and AdamW match the CPU", "[cuda]", backend::cuda, backend::cuda_bf16) {
  using BE = TestType;
  const index n = 70, dim = 40, table_rows = 30;
  std::vector<std::int32_t> rows(static_cast<std::size_t>(n)), unique(static_cast<std::size_t>(table_rows));
  rng gen(3);
  for (auto& r : rows) r = std::int32_t(gen.below(table_rows));
  for (index i = 0; i < table_rows; ++i) unique[static_cast<std::size_t>(i)] = std::int32_t((i * 7) % table_rows);
  const auto table = random_vector(static_cast<std::size_t>(table_rows * dim), 1), src = random_vector(static_cast<std::size_t>(n * dim), 2);
  auto grows = to_device<BE>(rows), gunique = to_device<BE>(unique);
  auto gtable = to_device<BE>(table), gsrc = to_device<BE>(src);
  {
    std::vector<float> dst(static_cast<std::size_t>(n * dim));
    typename BE::template buffer<float> gdst(dst.size());
    cpu::gather_rows(table.data(), rows.data(), dst.data(), n, dim);
    BE::gather_rows(gtable.data(), grows.data(), gdst.data(), n, dim);
    CHECK(to_host<BE>(gdst) == dst);
    auto acc = table;
    auto gacc = to_device<BE>(table);
    cpu::scatter_add_rows(src.data(), rows.data(), acc.data(), n, dim);
    BE::scatter_add_rows(gsrc.data(), grows.data(), gacc.data(), n, dim);
    SLMREC_CHECK_CLOSE("scatter_add_rows (repeated rows)", to_host<BE>(gacc), acc, 1e-6);
    auto put = table;
    auto gput = to_device<BE>(table);
    cpu::scatter_rows(src.data(), unique.data(), put.data(), table_rows, dim);
    BE::scatter_rows(gsrc.data(), gunique.data(), gput.data(), table_rows, dim);
    CHECK(to_host<BE>(gput) == put);
    const auto s = random_vector(static_cast<std::size_t>(n), 4);
    auto gs = to_device<BE>(s);
    auto y = src;
    auto gy = to_device<BE>(src);
    cpu::scale_rows_add(dst.data(), s.data(), y.data(), n, dim);
    BE::scale_rows_add(gdst.data(), gs.data(), gy.data(), n, dim);
    SLMREC_CHECK_CLOSE("scale_rows_add", to_host<BE>(gy), y, 1e-6);
    std::vector<float> dots(static_cast<std::size_t>(n));
    typename BE::template buffer<float> gdots(dots.size());
    cpu::row_dot(dst.data(), src.data(), dots.data(), n, dim);
    BE::row_dot(gdst.data(), gsrc.data(), gdots.data(), n, dim);
    SLMREC_CHECK_CLOSE("row_dot", to_host<BE>(gdots), dots, 1e-6);
  }
  {  // softmax over rows, and the cross-entropy over 1..cols-1 with its gradient
    const index m = 33, cols = 12'102;
    auto logits = random_vector(static_cast<std::size_t>(m * cols), 5, 3.0);
    std::vector<std::int32_t> targets(static_cast<std::size_t>(m));
    for (auto& t : targets) t = std::int32_t(1 + gen.below(cols - 1));
    auto glogits = to_device<BE>(logits);
    auto gtargets = to_device<BE>(targets);
    auto soft = logits;
    auto gsoft = to_device<BE>(logits);
    cpu::softmax_rows(soft.data(), m, cols);
    BE::softmax_rows(gsoft.data(), m, cols);
    SLMREC_CHECK_CLOSE("softmax_rows", to_host<BE>(gsoft), soft, 1e-5);
    const double loss = cpu::softmax_xent_rows(logits.data(), targets.data(), m, cols, 0.25f);
    const double gloss = BE::softmax_xent_rows(glogits.data(), gtargets.data(), m, cols, 0.25f);
    CHECK(gloss == Approx(loss).epsilon(1e-6));
    SLMREC_CHECK_CLOSE("softmax_xent_rows gradient", to_host<BE>(glogits), logits, 1e-5);
  }
  {
    const index m = 1000;
    const auto pos = random_vector(static_cast<std::size_t>(m), 6, 3.0), neg = random_vector(static_cast<std::size_t>(m), 7, 3.0);
    std::vector<float> dpos(static_cast<std::size_t>(m)), dneg(static_cast<std::size_t>(m));
    auto gpos = to_device<BE>(pos), gneg = to_device<BE>(neg);
    typename BE::template buffer<float> gdpos(dpos.size()), gdneg(dneg.size());
    const double loss = cpu::sigmoid_bce_pairs(pos.data(), neg.data(), dpos.data(), dneg.data(), m, 0.5f);
    const double gloss = BE::sigmoid_bce_pairs(gpos.data(), gneg.data(), gdpos.data(), gdneg.data(), m, 0.5f);
    CHECK(gloss == Approx(loss).epsilon(1e-9));
    SLMREC_CHECK_CLOSE("sigmoid_bce_pairs dpos", to_host<BE>(gdpos), dpos, 1e-6);
    SLMREC_CHECK_CLOSE("sigmoid_bce_pairs dneg", to_host<BE>(gdneg), dneg, 1e-6);
  }
  {  // three AdamW steps
    const index m = 10'007;
    auto p = random_vector(static_cast<std::size_t>(m), 8), g = random_vector(static_cast<std::size_t>(m), 9);
    std::vector<float> mom(static_cast<std::size_t>(m), 0.f), var(static_cast<std::size_t>(m), 0.f);
    auto gp = to_device<BE>(p), gg = to_device<BE>(g), gm = to_device<BE>(mom), gv = to_device<BE>(var);
    for (int t = 1; t <= 3; ++t) {
      const float bc1 = 1.f - std::pow(0.9f, float(t)), bc2 = 1.f - std::pow(0.999f, float(t));
      cpu::adamw_update(p.data(), g.data(), mom.data(), var.data(), m, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, bc1, bc2);
      BE::adamw_update(gp.data(), gg.data(), gm.data(), gv.data(), m, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, bc1, bc2);
    }
    SLMREC_CHECK_CLOSE("adamw parameters", to_host<BE>(gp), p, 1e-6);
    SLMREC_CHECK_CLOSE("adamw first moment", to_host<BE>(gm), mom, 1e-6);
    SLMREC_CHECK_CLOSE("adamw second moment", to_host<BE>(gv), var, 1e-6);
  }
}

TEMPLATE_TEST_CASE("cuda int8 products: the CPU's codes, exact dots and epilogue", "[cuda]", backend::cuda,
                   backend::cuda_bf16) {
  using BE = TestType;
  const std::vector<std::tuple<index, index, index>> shapes = {{7, 70, 33}, {64, 256, 130}, {1, 3, 5}};
  for (const auto& [m, k, n] : shapes) {
    auto x = random_vector(static_cast<std::size_t>(m * k), 21, 1.5);
    x[0] = 0.0f;  // a zero, a tie and a row of zeros among the inputs
    if (m > 1) std::fill_n(x.begin() + k, k, 0.0f);
    const auto w = random_vector(static_cast<std::size_t>(n * k), 22);
    const auto bias = random_vector(static_cast<std::size_t>(n), 23);
    const auto host = quant::int8_matrix::quantize(w.data(), n, k);
    std::vector<float> want(static_cast<std::size_t>(m * n));
    quant::gemm_nt_ref(x.data(), m, host, bias.data(), want.data());
    const auto dev = quant::device_int8_matrix<BE>::from_host(host);
    CHECK(dev.codes() == host.codes());
    CHECK(dev.scales() == host.scales());
    auto gx = to_device<BE>(x);
    auto gbias = to_device<BE>(bias);
    typename BE::template buffer<float> gy(want.size());
    quant::gemm_nt(gx.data(), m, dev, gbias.data(), gy.data());
    INFO("m " << m << ", k " << k << ", n " << n);
    CHECK(to_host<BE>(gy) == want);  // the reference kernel's arithmetic, bit for bit
    // The dequantizing gather of an item table.
    std::vector<std::int32_t> ids = {0, std::int32_t(n - 1), 2 % std::int32_t(n), 0};
    std::vector<float> rows(ids.size() * std::size_t(k));
    for (std::size_t i = 0; i < ids.size(); ++i) host.dequantize_row(ids[i], rows.data() + i * std::size_t(k));
    auto gids = to_device<BE>(ids);
    typename BE::template buffer<float> grows(rows.size());
    dev.dequantize_rows(gids.data(), grows.data(), index(ids.size()));
    CHECK(to_host<BE>(grows) == rows);
  }
}

}  // namespace slmrec
