// The model types behind any_model: every arch and quantization scheme a
// checkpoint can hold (model::open_any_checkpoint), on the CPU backend.
#include "any_model.hpp"

#include <mutex>
#include <utility>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/batch_api.hpp>
#include <slmrec/model/dispatch.hpp>
#include <slmrec/model/quantize.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>
#include <slmrec/model/replica.hpp>
#include <slmrec/model/serving.hpp>
#include <slmrec/prune/magnitude.hpp>
#include <slmrec/prune/structured.hpp>
#include <slmrec/train/checkpoint.hpp>

namespace slmrec::python {

namespace {

using cpu = backend::eigen_cpu;

template <class Model>
std::unique_ptr<any_model> wrap(std::unique_ptr<Model> m, int threads);

template <class Model>
class model_for final : public any_model {
  using Q = typename Model::quant_scheme;
  static constexpr bool is_float = !quant::is_quantized<Q>;

  struct worker {
    std::unique_ptr<Model> replica;
    model::server<Model> serve;
    explicit worker(Model& m, int threads) : replica(model::inference_replica(m)), serve(*replica, threads) {}
  };
  // A worker for the length of one call, back to the pool afterwards (kept: a
  // server allocates nothing after its first call).
  class lease {
   public:
    explicit lease(model_for& owner) : owner_(owner) {
      std::lock_guard lock(owner_.mutex_);
      if (owner_.idle_.empty()) {
        w_ = std::make_unique<worker>(*owner_.model_, owner_.threads_);
      } else {
        w_ = std::move(owner_.idle_.back());
        owner_.idle_.pop_back();
      }
    }
    ~lease() {
      std::lock_guard lock(owner_.mutex_);
      owner_.idle_.push_back(std::move(w_));
    }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    worker* operator->() { return w_.get(); }

   private:
    model_for& owner_;
    std::unique_ptr<worker> w_;
  };

 public:
  model_for(std::unique_ptr<Model> m, int threads) : model_(std::move(m)), threads_(threads) {}

  const model::recommender_config& config() const override { return model_->config(); }
  std::string scheme() const override {
    if constexpr (is_float) return "none";
    else return Q::name;
  }
  std::size_t weight_bytes() override { return model::weight_bytes(*model_); }

  nlohmann::json evaluate(const data::dataset& ds, const jobs::eval_job& job, const std::string& name) override {
    lease w(*this);
    return jobs::run_eval(*w->replica, job, ds, data::leave_one_out(ds), name).json;
  }

  void recommend(std::span<const std::int32_t> items, index rows, index columns, index k, bool exclude,
                 std::span<std::int32_t> out, std::span<float> scores) override {
    lease w(*this);
    w->serve.recommend(items, rows, columns, k, exclude, out, scores);
  }
  void recommend(std::span<const std::vector<std::int32_t>> histories, index k, bool exclude,
                 std::span<std::int32_t> out, std::span<float> scores) override {
    lease w(*this);
    model::recommend_histories(w->serve, histories, model_->config().max_len, k, exclude, out, scores);
  }

  void user_embeddings(std::span<const std::int32_t> items, index rows, index columns,
                       std::span<float> out) override {
    const auto& cfg = model_->config();
    model::require_valid_batch(items, rows, columns, cfg.max_len, cfg.num_items);
    require(index(out.size()) == rows * cfg.dim, "user_embeddings: output holds {} values, expected {} x {}",
            out.size(), rows, cfg.dim);
    lease w(*this);
    w->replica->last_hidden(items, rows, columns, out);
  }

  const float* item_table() override {
    if constexpr (is_float) return model_->item_table().weight.value;
    else return nullptr;
  }
  void dequantize_items(std::span<float> out) override {
    auto& table = model_->item_table();
    const index rows = table.rows(), dim = table.dim();
    require(index(out.size()) == rows * dim, "item_embeddings: output holds {} values, expected {} x {}", out.size(),
            rows, dim);
    if constexpr (is_float) {
      std::copy_n(table.weight.value, rows * dim, out.data());
    } else {
      for (index r = 0; r < rows; ++r) table.weight.dequantize_row(r, out.data() + r * dim);
    }
  }

  std::unique_ptr<any_model> quantize(const std::string& s) override {
    if constexpr (is_float) {
      if (s == "int8") return wrap(model::quantize<quant::int8_per_channel>(*model_), threads_);
      if (s == "int4") return wrap(model::quantize<quant::int4_block<32>>(*model_), threads_);
      if (s == "bf16") return wrap(model::quantize<quant::bf16>(*model_), threads_);
      require(s == "fp16", "quantize: scheme '{}' is not one of int8, int4, bf16, fp16", s);
      return wrap(model::quantize<quant::fp16>(*model_), threads_);
    } else {
      fail("quantize: this model is already quantized ({}); quantize the float model it was made from", Q::name);
    }
  }

  std::unique_ptr<any_model> prune(const prune_request& r) override {
    if constexpr (is_float) {
      require(r.method == "magnitude" || r.method == "structured", "--method '{}' is not one of magnitude, structured",
              r.method);
      const auto& cfg = model_->config();
      if (r.method == "magnitude") {
        auto pruned = std::make_unique<Model>(cfg, false);
        cpu::copy(model_->parameters().values_data(), pruned->parameters().values_data(),
                  model_->parameters().total_size());
        const auto where = model::with_prune_scope(r.scope, []<class Scope>(Scope) { return Scope::where; });
        const auto masks = prune::magnitude(pruned->parameters(), {r.sparsity, where});
        prune::finalize(masks, pruned->parameters());
        return wrap(std::move(pruned), threads_);
      }
      if constexpr (std::is_same_v<typename Model::arch_type, arch::llama>) {
        const auto plan = prune::plan_structured(*model_, {r.sparsity, r.heads});
        auto small = std::make_unique<Model>(prune::pruned_config(cfg, plan), false);
        prune::copy_structured(*model_, *small, plan);
        return wrap(std::move(small), threads_);
      } else {
        fail("structured pruning removes llama heads and SwiGLU channels; this model is '{}'", cfg.arch);
      }
    } else {
      fail("prune: this model is quantized ({}); prune the float model it was made from", Q::name);
    }
  }

  void save(const std::string& dir, const nlohmann::json& extra) override {
    if constexpr (is_float) {
      nlohmann::json config = extra.is_object() ? extra : nlohmann::json::object();
      config["model"] = model_->config();
      train::save_model<cpu>(dir, config, model_->parameters());
    } else {
      model::save_quantized(dir, *model_, extra);
    }
  }

 private:
  std::unique_ptr<Model> model_;
  int threads_ = 0;
  std::mutex mutex_;
  std::vector<std::unique_ptr<worker>> idle_;
};

template <class Model>
std::unique_ptr<any_model> wrap(std::unique_ptr<Model> m, int threads) {
  return std::make_unique<model_for<Model>>(std::move(m), threads);
}

}  // namespace

std::unique_ptr<any_model> load_model(const std::string& dir, int threads) {
  require(threads >= 0, "load: threads = {}, expected >= 0 (0: OpenMP's thread count)", threads);
  return model::open_any_checkpoint<cpu>(dir, [&](auto m) { return wrap(std::move(m), threads); });
}

}  // namespace slmrec::python
