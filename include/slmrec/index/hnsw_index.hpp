#pragma once
// An HNSW graph (hnswlib) over item vectors for maximum inner product search:
// the candidates a server re-scores exactly when scoring every item of a
// catalog of millions is too slow. Built from a float table [rows, dim] whose
// row 0 is padding: rows 1..rows-1 are inserted with their row number as the
// label, so row 0 is never returned.
//
// The namespace is slmrec::ann (approximate nearest neighbours): slmrec::index
// is already the signed size type.
//
// Two ways to put inner products into a graph search (measured by
// benchmarks/bench_index.cpp, see docs/index.md):
//  * inner_product: hnswlib's distance 1 - <q, x> as it is (not a metric; the
//    graph is built on it anyway);
//  * l2_mips: the usual reduction to nearest neighbours, x' = [x, sqrt(M^2 -
//    |x|^2)] with M the largest item norm and q' = [q, 0], so |q' - x'|^2 =
//    |q|^2 + M^2 - 2 <q, x> and the nearest item is the best-scoring one.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#if !__has_include(<hnswlib/hnswlib.h>)
#error "slmrec/index needs hnswlib's header (Debian: libhnswlib-dev; CMake: SLMREC_WITH_HNSW)"
#endif
// hnswlib 0.6.2 (Debian 12) defines cpuid(), AVXCapable() and its SIMD
// function-pointer variables in its header without `inline`, so a program with
// two translation units that include it fails to link. With manual
// vectorization off it defines none of them; the distances below are ours
// (vectorised by the compiler), so what is lost is only its prefetching.
#ifndef NO_MANUAL_VECTORIZATION
#define NO_MANUAL_VECTORIZATION
#define SLMREC_UNDEF_NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>
#ifdef SLMREC_UNDEF_NO_MANUAL_VECTORIZATION
#undef NO_MANUAL_VECTORIZATION
#undef SLMREC_UNDEF_NO_MANUAL_VECTORIZATION
#endif

#include <slmrec/core/error.hpp>
#include <slmrec/core/first_error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/index/hnsw_format.hpp>
#include <slmrec/index/memory_file.hpp>

namespace slmrec::ann {

enum class space_kind { inner_product, l2_mips };

inline std::string_view space_name(space_kind s) { return s == space_kind::inner_product ? "ip" : "l2-mips"; }
inline space_kind parse_space(std::string_view name) {
  if (name == "ip") return space_kind::inner_product;
  require(name == "l2-mips", "index space '{}' (expected ip or l2-mips)", name);
  return space_kind::l2_mips;
}

struct build_options {
  // l2_mips: on trained tables its recall rises with ef up to the exact answer,
  // inner_product's stops short of it (0.98 on 1M items); inner_product is
  // cheaper at low ef there and better on random Gaussian tables (docs/index.md).
  space_kind space = space_kind::l2_mips;
  index m = 16;                 // links per node (2m on the bottom layer)
  index ef_construction = 200;  // candidate list while inserting
  std::uint64_t seed = 0;       // the level of each node
  int threads = 1;              // > 1 builds faster, but the graph then depends on scheduling
};

namespace detail {

// Sixteen independent partial sums: the compiler vectorises them without
// reassociating one sum (no -ffast-math needed), at any SIMD width.
inline float dot(const float* a, const float* b, std::size_t n) {
  float acc[16] = {};
  const std::size_t full = n - n % 16;
  for (std::size_t i = 0; i < full; i += 16)
    for (std::size_t j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0;
  for (float v : acc) s += v;
  for (std::size_t i = full; i < n; ++i) s += a[i] * b[i];
  return s;
}
inline float squared_distance(const float* a, const float* b, std::size_t n) {
  float acc[16] = {};
  const std::size_t full = n - n % 16;
  for (std::size_t i = 0; i < full; i += 16)
    for (std::size_t j = 0; j < 16; ++j) {
      const float t = a[i + j] - b[i + j];
      acc[j] += t * t;
    }
  float s = 0;
  for (float v : acc) s += v;
  for (std::size_t i = full; i < n; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}

// hnswlib's distance interface over the kernels above; the vector width is
// the parameter hnswlib hands back to the distance function.
class space final : public hnswlib::SpaceInterface<float> {
 public:
  space(space_kind kind, std::size_t width) : kind_(kind), width_(width) {}
  std::size_t get_data_size() override { return width_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override {
    return kind_ == space_kind::inner_product ? &inner_product_distance : &l2_distance;
  }
  void* get_dist_func_param() override { return &width_; }

 private:
  static float inner_product_distance(const void* a, const void* b, const void* n) {
    return 1.0f - dot(static_cast<const float*>(a), static_cast<const float*>(b), *static_cast<const std::size_t*>(n));
  }
  static float l2_distance(const void* a, const void* b, const void* n) {
    return squared_distance(static_cast<const float*>(a), static_cast<const float*>(b),
                            *static_cast<const std::size_t*>(n));
  }
  space_kind kind_;
  std::size_t width_;
};

}  // namespace detail

class hnsw_index {
 public:
  // table [rows, dim], row 0 padding. Rows 1..rows-1 become the searchable items.
  static hnsw_index build(std::span<const float> table, index rows, index dim, const build_options& o) {
    require(rows >= 2 && dim >= 1 && index(table.size()) == rows * dim,
            "hnsw_index: a table of {} values for [{}, {}] (expected at least one item after the padding row)",
            table.size(), rows, dim);
    require(o.m >= 2 && o.m <= 1000 && o.ef_construction >= 1, "hnsw_index: M = {} (expected 2..1000), ef_construction = {}",
            o.m, o.ef_construction);
    hnsw_index h(o.space, rows - 1, dim, o.m, std::max(o.ef_construction, o.m));
    for (index r = 1; r < rows; ++r) {
      const float norm = std::sqrt(detail::dot(&table[std::size_t(r * dim)], &table[std::size_t(r * dim)], std::size_t(dim)));
      require(std::isfinite(norm), "hnsw_index: item {} has a value that is not finite", r);
      h.max_norm_ = std::max(h.max_norm_, norm);
    }
    h.graph_ = std::make_unique<graph>(h.space_.get(), std::size_t(rows - 1), std::size_t(o.m),
                                       std::size_t(o.ef_construction), std::size_t(o.seed));
    const auto insert = [&](index r, std::vector<float>& x) {
      h.point(std::span(&table[std::size_t(r * dim)], std::size_t(dim)), x, true);
      h.graph_->addPoint(x.data(), hnswlib::labeltype(r));
    };
    std::vector<float> x;
    // The first node alone: hnswlib's entry point must exist before threads insert.
    insert(1, x);
    if (o.threads <= 1) {
      for (index r = 2; r < rows; ++r) insert(r, x);
    } else {
      first_error error;
#pragma omp parallel num_threads(o.threads)
      {
        std::vector<float> mine;
#pragma omp for schedule(dynamic, 256)
        for (index r = 2; r < rows; ++r) error.capture([&] { insert(r, mine); });
      }
      error.rethrow();
    }
    return h;
  }

  // The `count` best items for query q [dim] (ids 1..num_items, best first as
  // the graph sees them), searching with a candidate list of max(ef, count).
  // One search at a time per index (hnswlib keeps ef in the index).
  void search(std::span<const float> q, index count, index ef, std::vector<std::int32_t>& out) {
    require(index(q.size()) == dim_, "hnsw_index::search: a query of {} values, expected {}", q.size(), dim_);
    require(count >= 1 && ef >= 1, "hnsw_index::search: count {} and ef {} must be positive", count, ef);
    point(q, query_, false);
    graph_->setEf(std::size_t(ef));
    auto found = graph_->searchKnn(query_.data(), std::size_t(std::min(count, num_items_)));
    out.resize(found.size());
    for (std::size_t i = out.size(); i-- > 0; found.pop()) out[i] = std::int32_t(found.top().second);  // worst first
  }

  // hnswlib's own file format, as bytes.
  [[nodiscard]] std::string serialize() const {
    memory_file f("slmrec-hnsw-save");
    graph_->saveIndex(f.path());
    return f.read();
  }

  // Bytes of serialize() for an index of this shape: validated first (see
  // hnsw_format.hpp), so hnswlib's loader, which trusts every size it reads,
  // only ever sees a well-formed graph. `source` names the bytes in errors.
  static hnsw_index deserialize(std::string_view bytes, const std::string& source, space_kind kind, index num_items,
                                index dim, index m, index ef_construction, float max_norm) {
    require(num_items >= 1 && dim >= 1 && m >= 2, "{}: an index of {} items of width {} with M = {}", source, num_items,
            dim, m);
    hnsw_index h(kind, num_items, dim, m, std::max(ef_construction, m));
    h.max_norm_ = max_norm;
    detail::validate_hnsw_bytes(bytes, source,
                                {.elements = std::size_t(num_items),
                                 .data_bytes = h.width() * sizeof(float),
                                 .m = std::size_t(m),
                                 .ef_construction = std::size_t(h.ef_construction_)});
    memory_file f("slmrec-hnsw-load");
    f.write(bytes);
    h.graph_ = std::make_unique<graph>(h.space_.get());
    try {
      h.graph_->loadIndex(f.path(), h.space_.get(), std::size_t(num_items));
    } catch (const std::exception& e) {
      fail("{}: hnswlib could not load the index: {}", source, e.what());
    }
    return h;
  }

  [[nodiscard]] space_kind space() const { return kind_; }
  [[nodiscard]] index num_items() const { return num_items_; }
  [[nodiscard]] index dim() const { return dim_; }
  [[nodiscard]] index m() const { return m_; }
  [[nodiscard]] index ef_construction() const { return ef_construction_; }
  [[nodiscard]] float max_norm() const { return max_norm_; }  // the largest item norm (l2_mips' M)

 private:
  using graph = hnswlib::HierarchicalNSW<float>;

  hnsw_index(space_kind kind, index num_items, index dim, index m, index ef_construction)
      : kind_(kind), num_items_(num_items), dim_(dim), m_(m), ef_construction_(ef_construction),
        space_(std::make_unique<detail::space>(kind, width())) {}

  [[nodiscard]] std::size_t width() const { return std::size_t(dim_) + (kind_ == space_kind::l2_mips ? 1 : 0); }

  // A vector as the graph stores it: the item or query, plus l2_mips' extra coordinate.
  void point(std::span<const float> v, std::vector<float>& out, bool item) const {
    out.assign(v.begin(), v.end());
    if (kind_ != space_kind::l2_mips) return;
    const float n2 = item ? detail::dot(v.data(), v.data(), v.size()) : 0.0f;
    out.push_back(item ? std::sqrt(std::max(0.0f, max_norm_ * max_norm_ - n2)) : 0.0f);
  }

  space_kind kind_;
  index num_items_, dim_, m_, ef_construction_;
  float max_norm_ = 0;
  std::unique_ptr<detail::space> space_;  // before graph_: the graph holds a pointer to it
  std::unique_ptr<graph> graph_;
  std::vector<float> query_;
};

}  // namespace slmrec::ann
