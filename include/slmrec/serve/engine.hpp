#pragma once
// engine: one loaded checkpoint ready to answer — the model (its compile-time
// type hidden behind one virtual call per batch), its model::server, the
// HNSW index when asked for, the id codec, and what GET /v1/model reports.
// recommend is called by one thread at a time (the batcher's); everything
// else is immutable after loading, so any thread may read it.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include <fmt/chrono.h>
#include <nlohmann/json.hpp>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/data/id_map.hpp>
#include <slmrec/io/checkpoint_identity.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>
#include <slmrec/model/serving.hpp>
#include <slmrec/serve/item_codec.hpp>
#include <slmrec/nn/checkpoint_files.hpp>
#if SLMREC_WITH_HNSW
#include <slmrec/index/checkpoint_index.hpp>
#include <slmrec/model/indexed_search.hpp>
#endif

namespace slmrec::serve {

using data::id_map_file_name;

struct engine_options {
  bool use_index = false;  // candidates from the checkpoint's HNSW index (slmrec index), re-scored exactly
  index ef = 100;          // with use_index: the search's candidate list
  // with use_index: items of largest norm scored exactly beside the graph (unset: ann::default_exact_head)
  std::optional<index> exact_head;
  int threads = 0;         // the server's workers for a batch (0: OpenMP's thread count)
};

// What a loaded checkpoint is, for GET /v1/model.
struct model_info {
  std::filesystem::path checkpoint;
  std::string scheme;       // none | int8 | int4 | bf16 | fp16
  nlohmann::json config;    // the checkpoint's model section
  nlohmann::json identity;  // the weights file's size and digest
  bool indexed = false;
  bool id_map = false;    // ids are the names of the checkpoint's id map
  std::string loaded_at;  // UTC, ISO 8601

  [[nodiscard]] nlohmann::json to_json() const {
    return {{"checkpoint", checkpoint.string()},
            {"scheme", scheme},
            {"model", config},
            {"identity", identity},
            {"index", indexed},
            {"id_map", id_map},
            {"loaded_at", loaded_at},
            {"items", config.value("num_items", index(0))}};
  }
};

class engine {
 public:
  virtual ~engine() = default;
  // [rows, columns] left-padded internal ids: each row's k best items and their scores, [rows, k] each.
  virtual void recommend(std::span<const std::int32_t> items, index rows, index columns, index k, bool exclude_history,
                         std::span<std::int32_t> out, std::span<float> scores) = 0;
  // One history, oldest first, any length: its k best items and their scores.
  virtual void recommend(std::span<const std::int32_t> history, index k, bool exclude_history,
                         std::span<std::int32_t> out, std::span<float> scores) = 0;

  [[nodiscard]] const model_info& info() const { return info_; }
  [[nodiscard]] const item_codec& items() const { return codec_; }
  [[nodiscard]] index max_len() const { return max_len_; }

 protected:
  engine(model_info info, item_codec codec, index max_len)
      : info_(std::move(info)), codec_(std::move(codec)), max_len_(max_len) {}

 private:
  model_info info_;
  item_codec codec_;
  index max_len_;
};

template <class Model>
class engine_for final : public engine {
 public:
  engine_for(std::unique_ptr<Model> m, model_info info, item_codec codec, const engine_options& o)
      : engine(std::move(info), std::move(codec), m->config().max_len),
        model_(std::move(m)),
        server_(*model_, o.threads) {
    if (!o.use_index) return;
#if SLMREC_WITH_HNSW
    index_ = std::make_unique<ann::hnsw_index>(ann::load_checkpoint_index(this->info().checkpoint));
    search_ = std::make_unique<model::indexed_search<Model>>(
        *model_, *index_, o.ef, o.exact_head.value_or(ann::default_exact_head(model_->config().num_items)));
    server_.set_approximate(search_.get());
#else
    fail("--index: this slmrec was built without hnswlib (configure with SLMREC_WITH_HNSW=ON)");
#endif
  }

  void recommend(std::span<const std::int32_t> items, index rows, index columns, index k, bool exclude_history,
                 std::span<std::int32_t> out, std::span<float> scores) override {
    server_.recommend(items, rows, columns, k, exclude_history, out, scores);
  }
  void recommend(std::span<const std::int32_t> history, index k, bool exclude_history, std::span<std::int32_t> out,
                 std::span<float> scores) override {
    server_.recommend(history, k, exclude_history, out, scores);
  }

 private:
  std::unique_ptr<Model> model_;
  model::server<Model> server_;
#if SLMREC_WITH_HNSW
  std::unique_ptr<ann::hnsw_index> index_;
  std::unique_ptr<model::indexed_search<Model>> search_;
#endif
};

// Loads a float or quantized checkpoint (and its index and id map) into a new engine.
inline std::shared_ptr<engine> load_engine(const std::filesystem::path& dir, const engine_options& o = {}) {
  model_info info;
  info.checkpoint = dir;
  const auto config = nn::read_checkpoint_config(dir);
  require(config.contains("model"), "{}: config.json has no 'model' section", (dir / "config.json").string());
  info.config = config["model"];
  info.scheme = model::checkpoint_scheme(dir);
  info.identity = io::checkpoint_identity(dir);
  info.indexed = o.use_index;
  info.loaded_at = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                               fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
  std::optional<data::id_map> names;
  if (std::filesystem::exists(dir / id_map_file_name)) {
    names = data::load_id_map(dir / id_map_file_name);
    info.id_map = true;
  }
  return model::open_any_checkpoint<backend::eigen_cpu>(dir, [&](auto m) -> std::shared_ptr<engine> {
    using Model = typename decltype(m)::element_type;
    const index n = m->config().num_items;
    require(!names || names->num_items == n, "{}: the id map names {} items, the model has {}",
            (dir / id_map_file_name).string(), names ? names->num_items : 0, n);
    item_codec codec(n, names ? &*names : nullptr);
    return std::make_shared<engine_for<Model>>(std::move(m), std::move(info), std::move(codec), o);
  });
}

}  // namespace slmrec::serve
