// bench_index: approximate item search against exact scoring, for serving at
// catalog scale. From a checkpoint (--checkpoint DIR, users' vectors from
// --data FILE or from random histories) or a random Gaussian table (--items N
// --dim D, Gaussian queries), it builds an HNSW index per space (build time,
// size on disk) and, for each ef, reports recall@k of the index path (search,
// then exact re-scoring of the k candidates) against exact top-k over the
// sampled queries, the same recall with near-ties forgiven (a returned item
// counts when its exact score is within --tie-tolerance, relative, of the
// k-th exact score: ann-benchmarks' definition, which tells a graph that
// misses the answer from one that picks among equals), how many queries
// found none and all of their k, and the median one-query latency of both
// paths, for each --exact-heads size (the items of largest norm scored
// exactly beside the graph, index/exact_head.hpp): exact is
// the tied head's product (the table times the user vector) and top-k over
// every item; the model's forward pass, common to both, is left out.
//
//   OMP_NUM_THREADS=1 ./build/benchmarks/bench_index --items 1000000 --dim 128
//   OMP_NUM_THREADS=1 ./build/benchmarks/bench_index --checkpoint runs/beauty --data Beauty.txt
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/data/read_dataset.hpp>
#include <slmrec/index/exact_head.hpp>
#include <slmrec/index/hnsw_index.hpp>
#include <slmrec/model/batch_api.hpp>
#include <slmrec/model/indexed_search.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>
#include <slmrec/model/serving.hpp>

#include "timing.hpp"

namespace slmrec {
namespace {
using cpu = backend::eigen_cpu;

struct table {
  std::vector<float> rows;     // [n + 1, d], row 0 padding
  std::vector<float> queries;  // [q, d]
  index n = 0, d = 0, q = 0;
  std::string what;
};

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

table random_table(index n, index d, index q, std::uint64_t seed) {
  table t{std::vector<float>(std::size_t((n + 1) * d), 0.0f), std::vector<float>(std::size_t(q * d)), n, d, q,
          fmt::format("random Gaussian table, {} items x {}", n, d)};
  rng gen(seed);
  for (std::size_t i = std::size_t(d); i < t.rows.size(); ++i) t.rows[i] = float(gen.normal());
  for (auto& x : t.queries) x = float(gen.normal());
  return t;
}

// The checkpoint's scored rows and q users' vectors (the head's view of them).
table checkpoint_table(const std::string& dir, const std::string& data, index q, std::uint64_t seed) {
  table t;
  model::with_any_checkpoint<cpu>(dir, [&](auto& m) {
    const auto& cfg = m.config();
    t.n = cfg.num_items;
    t.d = model::scored_width(m);
    t.rows = model::scored_item_rows(m);
    t.what = fmt::format("checkpoint {} ({}, head {}), {} items x {}", dir, model::scored_tensor_name(m), cfg.head, t.n,
                         t.d);
    std::vector<std::vector<std::int32_t>> histories;
    rng gen(seed);
    if (!data.empty()) {
      const auto ds = data::read_dataset(data, {});
      for (index i = 0; i < q; ++i) {
        const auto h = ds.sequences[gen.below(std::uint64_t(ds.num_users()))];
        histories.emplace_back(h.begin(), h.end());
      }
      t.what += ", users of " + data;
    } else {
      for (index i = 0; i < q; ++i) {
        histories.emplace_back(std::size_t(3 + gen.below(15)));
        for (auto& id : histories.back()) id = std::int32_t(1 + gen.below(std::uint64_t(t.n)));
      }
      t.what += ", random histories";
    }
    const auto batch = model::pad_sequences(histories, cfg.max_len);
    std::vector<float> hidden(std::size_t(q * cfg.dim));
    m.last_hidden(std::span(batch.data(), batch.size()), q, cfg.max_len, hidden);
    t.q = q;
    const float* queries = m.scoring_queries(hidden.data(), q);
    t.queries.assign(queries, queries + q * t.d);
  });
  return t;
}

// A catalog of n items that looks like a trained one: each a random row of
// t plus Gaussian noise of `noise` times the rows' RMS value (a trained
// table's clusters and norms, at a scale no dataset here has).
void expand(table& t, index n, double noise, std::uint64_t seed) {
  double sum2 = 0;
  for (std::size_t i = std::size_t(t.d); i < t.rows.size(); ++i) sum2 += double(t.rows[i]) * t.rows[i];
  const double sigma = noise * std::sqrt(sum2 / double(t.n * t.d));
  std::vector<float> rows(std::size_t((n + 1) * t.d), 0.0f);
  rng gen(seed + 1);
  for (index r = 1; r <= n; ++r) {
    const auto src = index(1 + gen.below(std::uint64_t(t.n)));
    for (index c = 0; c < t.d; ++c)
      rows[std::size_t(r * t.d + c)] = t.rows[std::size_t(src * t.d + c)] + float(sigma * gen.normal());
  }
  t.what += fmt::format(", expanded to {} items (a random row + noise {} x RMS)", n, noise);
  t.rows = std::move(rows);
  t.n = n;
}

// The k best rows for one query, exactly: the tied head's product and top-k;
// returns the k-th best score.
float exact_top_k(const table& t, const float* q, index k, std::vector<float>& scores, std::span<std::int32_t> out) {
  scores.resize(std::size_t(t.n + 1));
  cpu::gemm(false, true, 1, t.n + 1, t.d, 1.0f, q, t.d, t.rows.data(), t.d, 0.0f, scores.data(), t.n + 1);
  model::top_k(scores, k, out);
  return scores[std::size_t(out[std::size_t(k - 1)])];
}

// The index path for one query: k candidates from the graph and k from the
// exact head, re-scored exactly, best first (model::indexed_search's answer
// without the history).
void index_top_k(ann::hnsw_index& idx, const ann::exact_head& head, const table& t, const float* q, index k, index ef,
                 std::vector<std::int32_t>& cand, std::vector<std::pair<float, std::int32_t>>& scored,
                 std::span<std::int32_t> out) {
  idx.search(std::span(q, std::size_t(t.d)), k, ef, cand);
  scored.clear();
  ann::score_candidates(
      q, t.d, cand, head, k, [](std::int32_t) { return false; },
      [&](std::int32_t id) { return &t.rows[std::size_t(id) * std::size_t(t.d)]; }, scored);
  std::sort(scored.begin(), scored.end(), ann::scored_before);
  scored.resize(std::min(scored.size(), out.size()));
  for (std::size_t i = 0; i < scored.size(); ++i) out[i] = scored[i].second;
}

std::vector<index> parse_list(const std::string& text) {
  std::vector<index> values;
  for (std::stringstream ss(text); ss.good();) {
    std::string e;
    std::getline(ss, e, ',');
    if (!e.empty()) values.push_back(std::stoll(e));
  }
  return values;
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"HNSW index against exact scoring: build, recall@k, one-query latency"};
  std::string checkpoint, data, spaces = "ip,l2-mips", efs_text = "10,20,40,80,160,320,640", heads_text = "0";
  index items = 100000, dim = 128, queries = 300, k = 10, m = 16, ef_construction = 200;
  int threads = 1;
  std::uint64_t seed = 0;
  index expand_to = 0;
  double noise = 0.3, tie_tolerance = 1e-3;
  app.add_option("--checkpoint", checkpoint, "a checkpoint: its scored item rows");
  app.add_option("--data", data, "with --checkpoint: sample users of this dataset as queries");
  app.add_option("--expand-to", expand_to, "with --checkpoint: a catalog this large, from its rows plus noise");
  app.add_option("--noise", noise, "with --expand-to: noise, times the rows' RMS value")->capture_default_str();
  app.add_option("--items", items, "random table: items")->capture_default_str();
  app.add_option("--dim", dim, "random table: width")->capture_default_str();
  app.add_option("--queries", queries, "sampled users / queries")->capture_default_str();
  app.add_option("-k", k, "recall@k")->capture_default_str();
  app.add_option("--m", m, "HNSW links per node")->capture_default_str();
  app.add_option("--ef-construction", ef_construction, "HNSW build candidate list")->capture_default_str();
  app.add_option("--spaces", spaces, "ip, l2-mips, or both")->capture_default_str();
  app.add_option("--efs", efs_text, "search candidate lists to try")->capture_default_str();
  app.add_option("--exact-heads", heads_text, "items of largest norm scored exactly beside the graph, to try")
      ->capture_default_str();
  app.add_option("--build-threads", threads, "insertion threads (searches are timed on one)")->capture_default_str();
  app.add_option("--seed", seed, "seed of the table, the queries and the graph")->capture_default_str();
  app.add_option("--tie-tolerance", tie_tolerance,
                 "tied recall: a hit scores at least the k-th exact score minus this times its magnitude")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const char* omp = std::getenv("OMP_NUM_THREADS");
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  fmt::print("# CPU {}; OMP_NUM_THREADS={}; OPENBLAS_CORETYPE={}\n", cpu_model(), omp ? omp : "(unset)",
             coretype ? coretype : "(unset)");
  auto t = checkpoint.empty() ? random_table(items, dim, queries, seed) : checkpoint_table(checkpoint, data, queries, seed);
  if (!checkpoint.empty() && expand_to > 0) expand(t, expand_to, noise, seed);
  fmt::print("# {}; {} queries; recall@{}; M {}, ef_construction {}, {} build thread(s)\n", t.what, t.q, k, m,
             ef_construction, threads);

  // Exact answers and latency.
  std::vector<std::int32_t> exact(std::size_t(t.q * k));
  std::vector<float> scores, kth(std::size_t(t.q));
  std::vector<double> exact_ms;
  for (index i = 0; i < t.q; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    kth[std::size_t(i)] = exact_top_k(t, &t.queries[std::size_t(i * t.d)], k, scores,
                                      std::span(exact).subspan(std::size_t(i * k), std::size_t(k)));
    exact_ms.push_back(seconds_since(t0) * 1e3);
  }
  const double exact_median = bench::median(exact_ms);
  fmt::print("# exact: median {:.3f} ms per query\n\n", exact_median);

  const auto efs = parse_list(efs_text), heads = parse_list(heads_text);
  fmt::print(
      "| space | build s | MB | exact head | exact answers in the head | ef | recall@{} "
      "| tied recall@{} (tolerance {}) | queries with no hit | queries with all | index ms | exact ms | speed-up |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
      k, k, tie_tolerance);
  for (std::stringstream ss(spaces); ss.good();) {
    std::string name;
    std::getline(ss, name, ',');
    if (name.empty()) continue;
    const auto t0 = std::chrono::steady_clock::now();
    auto idx = ann::hnsw_index::build(t.rows, t.n + 1, t.d,
                                      {.space = ann::parse_space(name),
                                       .m = m,
                                       .ef_construction = ef_construction,
                                       .seed = seed,
                                       .threads = threads});
    const double build_s = seconds_since(t0);
    const double mb = double(idx.serialize().size()) / 1e6;
    std::vector<std::int32_t> cand, got(static_cast<std::size_t>(k));
    std::vector<std::pair<float, std::int32_t>> scored;
    for (const index head_size : heads) {
      const auto head = ann::exact_head::build(t.rows, t.n + 1, t.d, head_size);
      // The recall the head alone gives: how much of the answer lies among the largest norms.
      const double in_head =
          double(std::count_if(exact.begin(), exact.end(), [&](std::int32_t id) { return head.contains(id); })) /
          double(exact.size());
      for (const index ef : efs) {
        std::vector<double> ms;
        double hits = 0, tied = 0;
        index none = 0, all = 0;  // per query: whether the graph misses a region or misses a little everywhere
        for (index i = 0; i < t.q; ++i) {
          const auto q0 = std::chrono::steady_clock::now();
          index_top_k(idx, head, t, &t.queries[std::size_t(i * t.d)], k, ef, cand, scored, got);
          ms.push_back(seconds_since(q0) * 1e3);
          const auto want = std::span(exact).subspan(std::size_t(i * k), std::size_t(k));
          // Only the ids this search returned: fewer than k leave the rest of `got` from the query before.
          const float floor = kth[std::size_t(i)] - float(tie_tolerance) * std::abs(kth[std::size_t(i)]);
          index found = 0;
          for (std::size_t j = 0; j < std::min(got.size(), scored.size()); ++j) {
            found += std::find(want.begin(), want.end(), got[j]) != want.end() ? 1 : 0;
            tied += scored[j].first >= floor ? 1 : 0;
          }
          hits += double(found);
          none += found == 0 ? 1 : 0;
          all += found == k ? 1 : 0;
        }
        const double med = bench::median(ms);
        fmt::print(
            "| {} | {:.1f} | {:.1f} | {} | {:.4f} | {} | {:.4f} | {:.4f} | {} | {} | {:.3f} | {:.3f} | {:.1f}x |\n",
            name, build_s, mb, head_size, in_head, ef, hits / double(t.q * k), tied / double(t.q * k), none, all, med,
            exact_median, exact_median / med);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

}  // namespace slmrec

int main(int argc, char** argv) { return slmrec::run(argc, argv); }
