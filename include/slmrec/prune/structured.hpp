#pragma once
// prune::structured: removes whole attention heads and feed-forward channels
// of a llama model, chosen per layer by an importance score, by copying the
// kept rows and columns into a smaller model, so that every matrix product
// of the result shrinks. Every layer keeps the same number of heads and
// channels, so the result is an ordinary recommender with a smaller `ffn`
// and `heads` (and an explicit `head_dim`): it trains, distills, quantizes
// and serves like any other.
//   auto plan = prune::plan_structured(model, {.ffn = 0.5});
//   recommender<cpu, arch::llama> small(prune::pruned_config(model.config(), plan));
//   prune::copy_structured(model, small, plan);
//
// Importance (weights only, no data): an FFN channel j writes
// down[:, j] * silu(gate_j x) * (up_j x), scored ||gate_j|| ||up_j|| ||down[:, j]||;
// a head writes o[:, h] (softmax-weighted v_h x), scored ||v_h||_F ||o[:, h]||_F.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <slmrec/core/error.hpp>
#include <slmrec/model/arch.hpp>
#include <slmrec/model/recommender_config.hpp>
#include <slmrec/prune/mask.hpp>

namespace slmrec::prune {

struct structured_options {
  double ffn = 0.5;    // fraction of each layer's feed-forward channels removed
  double heads = 0.0;  // fraction of each layer's attention heads removed
};

struct structured_plan {
  std::vector<std::vector<index>> ffn_keep, head_keep;  // per layer, ascending
  index head_dim = 0;
};

namespace detail {

inline std::string layer_name(index l, const char* what) { return fmt::format("model.layers.{}.{}.weight", l, what); }

// Squared L2 norms of row r of a [rows, cols] matrix, or of column c.
template <class T>
double row_norm2(const T* w, index cols, index r, index first = 0, index count = -1) {
  double s = 0;
  const index n = count < 0 ? cols : count;
  for (index c = first; c < first + n; ++c) s += double(w[r * cols + c]) * double(w[r * cols + c]);
  return s;
}
template <class T>
double col_norm2(const T* w, index rows, index cols, index c) {
  double s = 0;
  for (index r = 0; r < rows; ++r) s += double(w[r * cols + c]) * double(w[r * cols + c]);
  return s;
}

// The `keep` highest scores' indices, ascending.
inline std::vector<index> top_indices(const std::vector<double>& score, index keep) {
  std::vector<index> order(score.size());
  std::iota(order.begin(), order.end(), index(0));
  std::stable_sort(order.begin(), order.end(), [&](index a, index b) { return score[std::size_t(a)] > score[std::size_t(b)]; });
  order.resize(std::size_t(keep));
  std::sort(order.begin(), order.end());
  return order;
}

inline index kept(index n, double fraction, const char* what) {
  require(fraction >= 0.0 && fraction < 1.0, "structured pruning: {} fraction {} is outside [0, 1)", what, fraction);
  const index k = n - index(std::llround(fraction * double(n)));
  require(k >= 1, "structured pruning: removing {} of {} {} leaves none", fraction, n, what);
  return k;
}

}  // namespace detail

// A llama model of any backend: the weights are read on the host.
template <class Model>
structured_plan plan_structured(const Model& m, const structured_options& o) {
  static_assert(std::is_same_v<typename Model::arch_type, arch::llama>,
                "prune::structured removes attention heads and SwiGLU channels: it is defined for arch::llama only");
  const auto& cfg = m.config();
  const index f = cfg.resolved_ffn(), h = cfg.heads, kvh = cfg.resolved_kv_heads(), d = cfg.dim;
  const index hd = cfg.resolved_head_dim();
  require(o.heads == 0.0 || kvh == h, "structured pruning of heads needs kv_heads == heads (got {} and {})", kvh, h);
  const index keep_f = detail::kept(f, o.ffn, "feed-forward channels"), keep_h = detail::kept(h, o.heads, "heads");
  const auto& ps = m.parameters();
  structured_plan plan;
  plan.head_dim = hd;
  for (index l = 0; l < cfg.layers; ++l) {
    const auto gate_w = host_values(ps, ps.at(detail::layer_name(l, "mlp.gate_proj")));
    const auto up_w = host_values(ps, ps.at(detail::layer_name(l, "mlp.up_proj")));
    const auto down_w = host_values(ps, ps.at(detail::layer_name(l, "mlp.down_proj")));
    const auto *gate = gate_w.data(), *up = up_w.data(), *down = down_w.data();
    std::vector<double> score(static_cast<std::size_t>(f));
    for (index j = 0; j < f; ++j)
      score[std::size_t(j)] = std::sqrt(detail::row_norm2(gate, d, j) * detail::row_norm2(up, d, j) *
                                        detail::col_norm2(down, d, f, j));
    plan.ffn_keep.push_back(detail::top_indices(score, keep_f));
    const auto v_w = host_values(ps, ps.at(detail::layer_name(l, "self_attn.v_proj")));
    const auto out_w = host_values(ps, ps.at(detail::layer_name(l, "self_attn.o_proj")));
    const auto *v = v_w.data(), *out = out_w.data();
    std::vector<double> hs(static_cast<std::size_t>(h));
    for (index k = 0; k < h; ++k) {
      double vn = 0, on = 0;
      for (index r = k * hd; r < (k + 1) * hd; ++r) vn += detail::row_norm2(v, d, r);
      for (index r = 0; r < d; ++r) on += detail::row_norm2(out, h * hd, r, k * hd, hd);
      hs[std::size_t(k)] = std::sqrt(vn * on);
    }
    plan.head_keep.push_back(detail::top_indices(hs, keep_h));
  }
  return plan;
}

inline model::recommender_config pruned_config(model::recommender_config cfg, const structured_plan& plan) {
  require(!plan.ffn_keep.empty() && index(plan.ffn_keep.size()) == cfg.layers, "structured plan: {} layers, model {}",
          plan.ffn_keep.size(), cfg.layers);
  const index heads = index(plan.head_keep.front().size());
  if (heads != cfg.heads) {
    cfg.head_dim = plan.head_dim;
    cfg.heads = heads;
    cfg.kv_heads = heads;
  }
  cfg.ffn = index(plan.ffn_keep.front().size());
  return cfg;
}

namespace detail {

// Visits each pruned tensor of layer l: (name, kept rows or columns, block
// width of one kept index, whether the indices select columns).
template <class F>
void for_each_pruned(const structured_plan& p, index l, F&& f) {
  f(layer_name(l, "mlp.gate_proj"), p.ffn_keep[std::size_t(l)], index(1), false);
  f(layer_name(l, "mlp.up_proj"), p.ffn_keep[std::size_t(l)], index(1), false);
  f(layer_name(l, "mlp.down_proj"), p.ffn_keep[std::size_t(l)], index(1), true);
  for (const char* w : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"})
    f(layer_name(l, w), p.head_keep[std::size_t(l)], p.head_dim, false);
  f(layer_name(l, "self_attn.o_proj"), p.head_keep[std::size_t(l)], p.head_dim, true);
}

}  // namespace detail

// Copies `from` into the smaller `to` (built from pruned_config): kept rows
// and columns of the pruned tensors, everything else as it is.
template <class From, class To>
void copy_structured(const From& from, To& to, const structured_plan& plan) {
  const auto& src = from.parameters();
  auto& dst = to.parameters();
  std::vector<std::string> done;
  for (index l = 0; l < index(plan.ffn_keep.size()); ++l)
    detail::for_each_pruned(plan, l, [&](const std::string& name, const std::vector<index>& keep, index width,
                                         bool columns) {
      const auto& se = src.at(name);
      const auto& de = dst.at(name);
      const index rows = se.spec.shape[0], cols = se.spec.shape[1];
      const index out_cols = de.spec.shape[1];
      require(index(keep.size()) * width == (columns ? out_cols : de.spec.shape[0]),
              "structured pruning: '{}' in the target model has shape [{}, {}]", name, de.spec.shape[0], out_cols);
      const auto host = host_values(src, se);
      const auto* s = host.data();
      std::vector<typename To::backend_type::scalar> target(std::size_t(de.size));
      auto* t = target.data();
      if (columns) {
        for (index r = 0; r < rows; ++r)
          for (std::size_t k = 0; k < keep.size(); ++k)
            for (index c = 0; c < width; ++c)
              t[r * out_cols + index(k) * width + c] = s[r * cols + keep[k] * width + c];
      } else {
        for (std::size_t k = 0; k < keep.size(); ++k)
          for (index r = 0; r < width; ++r)
            std::copy_n(s + (keep[k] * width + r) * cols, cols, t + (index(k) * width + r) * cols);
      }
      To::backend_type::upload(t, dst.value(de), de.size);
      done.push_back(name);
    });
  for (const auto& e : dst.entries()) {
    if (std::find(done.begin(), done.end(), e.spec.name) != done.end()) continue;
    const auto& se = src.at(e.spec.name);
    require(se.spec.shape == e.spec.shape, "structured pruning: '{}' changed shape", e.spec.name);
    if constexpr (std::is_same_v<typename From::backend_type, typename To::backend_type>) {
      To::backend_type::copy(src.value(se), dst.value(e), e.size);
    } else {
      To::backend_type::upload(host_values(src, se).data(), dst.value(e), e.size);
    }
  }
}

// The same pruning as masks on the dense model: the removed rows and columns
// set to zero. Its outputs equal the smaller model's (tested).
template <class Model>
void mask_structured(Model& m, const structured_plan& plan) {
  auto& ps = m.parameters();
  for (index l = 0; l < index(plan.ffn_keep.size()); ++l)
    detail::for_each_pruned(plan, l, [&](const std::string& name, const std::vector<index>& keep, index width,
                                         bool columns) {
      const auto& e = ps.at(name);
      const index rows = e.spec.shape[0], cols = e.spec.shape[1], n = (columns ? cols : rows) / width;
      auto host = host_values(ps, e);
      auto* w = host.data();
      for (index g = 0; g < n; ++g) {
        if (std::binary_search(keep.begin(), keep.end(), g)) continue;
        if (columns) {
          for (index r = 0; r < rows; ++r) std::fill_n(w + r * cols + g * width, width, 0);
        } else {
          std::fill_n(w + g * width * cols, width * cols, 0);
        }
      }
      Model::backend_type::upload(w, ps.value(e), e.size);
    });
}

}  // namespace slmrec::prune
