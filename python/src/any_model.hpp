#pragma once
// The Python module's model: one loaded checkpoint (float or quantized, any
// arch) behind a small virtual interface, so the binding code is compiled
// once and the model types only in models.cpp. Every call that runs the model
// borrows a worker (an inference replica and its model::server) from a pool,
// so two Python threads can run one model at once without sharing
// activations; the float weights are the model's own, not copies.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <slmrec/data/dataset.hpp>
#include <slmrec/jobs/eval_job.hpp>
#include <slmrec/model/recommender_config.hpp>

namespace slmrec::python {

struct prune_request {
  std::string method = "magnitude";  // magnitude | structured
  double sparsity = 0.5;             // magnitude: of the decoder weights; structured: of the FFN channels
  std::string scope = "layer";       // magnitude: layer | global
  double heads = 0.0;                // structured: fraction of attention heads removed
};

class any_model {
 public:
  virtual ~any_model() = default;
  [[nodiscard]] virtual const model::recommender_config& config() const = 0;
  [[nodiscard]] virtual std::string scheme() const = 0;  // none | int8 | int4 | bf16 | fp16
  [[nodiscard]] virtual std::size_t weight_bytes() = 0;
  virtual nlohmann::json evaluate(const data::dataset& ds, const jobs::eval_job& job, const std::string& name) = 0;
  // [rows, columns] left-padded ids (0 = padding): [rows, k] ids and scores.
  virtual void recommend(std::span<const std::int32_t> items, index rows, index columns, index k, bool exclude,
                         std::span<std::int32_t> out, std::span<float> scores) = 0;
  // Histories of any length, oldest first (model::recommend_histories).
  virtual void recommend(std::span<const std::vector<std::int32_t>> histories, index k, bool exclude,
                         std::span<std::int32_t> out, std::span<float> scores) = 0;
  // The last hidden state after each row's last item, [rows, dim].
  virtual void user_embeddings(std::span<const std::int32_t> items, index rows, index columns,
                               std::span<float> out) = 0;
  // The item table [num_items + 1, item_dim] in the model's own memory; nullptr
  // when the model stores it packed (quantized), then dequantize_items copies.
  virtual const float* item_table() = 0;
  virtual void dequantize_items(std::span<float> out) = 0;
  virtual std::unique_ptr<any_model> quantize(const std::string& scheme) = 0;
  virtual std::unique_ptr<any_model> prune(const prune_request& r) = 0;
  // Writes a checkpoint directory that slmrec.load and the tool read.
  virtual void save(const std::string& dir, const nlohmann::json& extra) = 0;
};

// A float or quantized checkpoint; `threads`: the workers of one batch (0: OpenMP's).
std::unique_ptr<any_model> load_model(const std::string& dir, int threads);

}  // namespace slmrec::python
