// `slmrec recommend --checkpoint DIR (--history "ID ID ..." | --data FILE)
//   [-k 10] [--keep-history] [--out FILE] [--index [--ef 100]]`: serving.
// With --index the candidates come from the checkpoint's HNSW index (`slmrec
// index`) and are re-scored exactly, instead of scoring every item. One history: its top-k
// and the median latency of a request. A dataset: the top-k after each user's
// whole history (batched), one line per user "user<TAB>id id ...", to --out
// (written atomically) or stdout, and the throughput on stderr.
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/limits.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/model/batch_api.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>
#include <slmrec/model/serving.hpp>
#if SLMREC_WITH_HNSW
#include <slmrec/index/checkpoint_index.hpp>
#include <slmrec/model/indexed_search.hpp>
#endif

#include "cmd_common.hpp"

namespace slmrec::cli {

namespace {

std::vector<std::int32_t> parse_history(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::istringstream in(text);
  std::string token;
  while (in >> token) {
    std::size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(token, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(used == token.size() && id >= 1 && id <= INT32_MAX, "--history: '{}' is not an item id (expected an integer >= 1)",
            token);
    ids.push_back(std::int32_t(id));
  }
  require(!ids.empty(), "--history is empty (expected item ids separated by spaces, oldest first)");
  return ids;
}

}  // namespace

void add_recommend(CLI::App& app) {
  struct options {
    std::string checkpoint, history, data, format = "auto", out;
    index k = 10, batch = 256, ef = 100;
    std::optional<index> exact_head;  // unset: ann::default_exact_head
    bool keep_history = false, use_index = false;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("recommend", "Top-k next items for a history or for every user of a dataset");
  cmd->add_option("--checkpoint", o->checkpoint, "checkpoint directory")->required();
  auto* h = cmd->add_option("--history", o->history, "one user's item ids, oldest first, separated by spaces");
  auto* d = cmd->add_option("--data", o->data, "dataset: recommend after each user's whole history");
  h->excludes(d);
  cmd->add_option("--format", o->format, "dataset format")->capture_default_str();
  cmd->add_option("-k", o->k, "items per recommendation (at most the model's items)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--keep-history", o->keep_history, "allow items of the history in the answer");
  cmd->add_option("--out", o->out, "write the dataset's recommendations here instead of stdout");
  cmd->add_flag("--index", o->use_index, "candidates from the checkpoint's HNSW index (slmrec index), re-scored exactly");
  cmd->add_option("--ef", o->ef, "with --index: the search's candidate list (at least k + history length)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--exact-head", o->exact_head,
                  "with --index: the items of largest norm scored exactly beside the graph (default: 2% of the "
                  "catalog, at most 20,000; 0: the graph alone; docs/index.md)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([o] {
    require(!o->history.empty() || !o->data.empty(), "give --history or --data");
    // Bounded before the checkpoint is read (and again by its item count below).
    require(o->k <= limits::max_items, "-k {}: at most {} items can be recommended", o->k, limits::max_items);
    model::with_any_checkpoint<backend::eigen_cpu>(o->checkpoint, [&](auto& m) {
      model::server serve(m);
#if SLMREC_WITH_HNSW
      std::optional<ann::hnsw_index> idx;
      std::optional<model::indexed_search<std::remove_cvref_t<decltype(m)>>> search;
      if (o->use_index) {
        idx.emplace(ann::load_checkpoint_index(o->checkpoint));
        search.emplace(m, *idx, o->ef, o->exact_head.value_or(ann::default_exact_head(m.config().num_items)));
        serve.set_approximate(&*search);
      }
#else
      require(!o->use_index, "--index: this slmrec was built without hnswlib (configure with SLMREC_WITH_HNSW=ON)");
#endif
      const index n_items = m.config().num_items;
      require(o->k <= n_items, "-k {}: this model ranks {} items", o->k, n_items);
      if (!o->history.empty()) {
        const auto history = parse_history(o->history);
        for (auto id : history)
          require(id <= n_items, "--history: item {} is outside this model's 1..{}", id, n_items);
        std::vector<std::int32_t> top(std::size_t(o->k));
        std::vector<double> ms;
        for (int rep = 0; rep < 21; ++rep) {  // the first call allocates; the median is a warm request
          const auto t0 = std::chrono::steady_clock::now();
          serve.recommend(history, o->k, !o->keep_history, top);
          ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(ms.begin(), ms.end());
        fmt::print("{}\n", fmt::join(top, " "));
        fmt::print(stderr, "median latency {:.3f} ms over 21 requests (first {:.3f} ms)\n", ms[10], ms.back());
        return;
      }
      data::load_options lo;
      lo.input_format = data::parse_format(o->format);
      const auto ds = data::read_dataset(o->data, lo);
      require(ds.num_items == n_items, "{} has {} items but the checkpoint was trained with {}", o->data, ds.num_items,
              n_items);
      std::vector<std::int32_t> top(std::size_t(ds.num_users() * o->k));
      const auto t0 = std::chrono::steady_clock::now();
      model::recommend_histories(serve, ds.sequences, m.config().max_len, o->k, !o->keep_history, top, {}, o->batch);
      std::string text;
      for (index u = 0; u < ds.num_users(); ++u)
        text += fmt::format("{}\t{}\n", u + 1,
                            fmt::join(std::span(top).subspan(std::size_t(u * o->k), std::size_t(o->k)), " "));
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (o->out.empty()) {
        fmt::print("{}", text);
      } else {
        io::write_file_atomically(o->out, text);
      }
      fmt::print(stderr, "{} users in {:.2f} s ({:.0f} users/s, batches of {}){}\n", ds.num_users(), secs,
                 double(ds.num_users()) / secs, o->batch, o->out.empty() ? "" : ", written to " + o->out);
    });
  });
}

}  // namespace slmrec::cli
