#pragma once
// recommender<Backend, Arch, Depth, Quant, Prune>: item ids -> item table (->
// projection) (+ learned positions for SASRec) -> a stack of Arch's blocks ->
// final norm -> a head that scores every item. The architecture, the depth and
// the weight format are types, so `recommender<eigen_cpu, arch::llama,
// depth<8>>` is a teacher the compiler sees whole; `depth<dynamic>` reads the
// depth from the config. A quantized model (Quant other than quant::none,
// made by model::quantize) is inference-only: its training members do not
// exist for it, so a training step on it is a compile error. Prune says
// whether the decoder is pruned (prune/policy.hpp): a prune::masked model
// owns its masks and holds its pruned weights at zero through training
// (model/pruning.hpp); a prune::structured one is a llama whose heads and
// channels were removed.
//
// The model owns its parameters (one flat buffer) and every activation
// buffer, so it is neither copied nor moved: hold it by value or unique_ptr.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/model/arch.hpp>
#include <slmrec/model/head.hpp>
#include <slmrec/model/length_buckets.hpp>
#include <slmrec/model/pruning.hpp>
#include <slmrec/model/recommender_config.hpp>
#include <slmrec/model/sequence_input.hpp>
#include <slmrec/model/training_losses.hpp>
#include <slmrec/nn/context.hpp>
#include <slmrec/nn/embedding.hpp>
#include <slmrec/nn/linear.hpp>
#include <slmrec/nn/parameters.hpp>
#include <slmrec/nn/sampled_softmax_loss.hpp>
#include <slmrec/nn/softmax_loss.hpp>
#include <slmrec/nn/stack.hpp>
#include <slmrec/prune/policy.hpp>
#include <slmrec/quant/scheme.hpp>
#include <slmrec/quant/select.hpp>

namespace slmrec::model {

template <backend::backend BE, class Arch, class Depth = depth<dynamic>, class Quant = quant::none,
          class Prune = prune::none>
class recommender : public training_losses<recommender<BE, Arch, Depth, Quant, Prune>, BE>,
                    public pruning<recommender<BE, Arch, Depth, Quant, Prune>, BE, Prune, !quant::is_quantized<Quant>> {
  friend class training_losses<recommender, BE>;
  static_assert(prune::policy<Prune>, "recommender<..., Prune>: Prune is prune::none, prune::masked<Scope> or "
                                      "prune::structured");
  static_assert(!std::is_same_v<Prune, prune::structured> || std::is_same_v<Arch, arch::llama>,
                "prune::structured removes attention heads and SwiGLU channels: it is defined for arch::llama only");
  static_assert(!prune::is_masked<Prune> || backend::mask_ops<BE>,
                "prune::masked holds pruned weights at zero with the backend's mask kernel group (backend::mask_ops: "
                "B::apply_mask), which this backend lacks");

 public:
  using backend_type = BE;
  using arch_type = Arch;
  using depth_type = Depth;
  using quant_scheme = Quant;
  using prune_policy = Prune;
  using T = typename BE::scalar;
  using linear_type = quant::linear_t<BE, Quant>;
  using table_type = quant::embedding_t<BE, Quant>;
  using block_type = typename Arch::template block<BE, linear_type>;
  using stack_type = nn::stack<block_type, Depth>;
  using head_type = head::any<BE, linear_type, table_type>;  // the config's head, chosen once (model/head.hpp)
  static constexpr bool trainable = !quant::is_quantized<Quant>;
  static constexpr bool masked = prune::is_masked<Prune>;

  // `with_grads` false builds an inference-only model (a frozen teacher,
  // serving). The weights start random (seed 0); see initialize().
  explicit recommender(const recommender_config& cfg, bool with_grads = true) : recommender(cfg, layers_only{}) {
    params_.attach(*this, with_grads);
    find_item_entries();
    initialize(0);  // never an all-zero model (constant scores); initialize(seed) or a checkpoint replaces it
  }
  // A shell whose float weights are bound from another model's
  // (model::inference_replica): nothing is allocated or initialised for them.
  recommender(const recommender_config& cfg, nn::borrowed_weights_t) : recommender(cfg, layers_only{}) {
    params_.attach(*this, nn::borrowed_weights);
    find_item_entries();
  }
  recommender(const recommender&) = delete;
  recommender& operator=(const recommender&) = delete;

 private:
  struct layers_only {};
  recommender(const recommender_config& cfg, layers_only)
      : cfg_(checked(cfg)),
        items_(cfg.num_items + 1, cfg.resolved_item_dim(), Arch::embedding_init(cfg)),
        stack_(make_stack(cfg)),
        final_norm_(cfg.dim, cfg.resolved_norm_eps()),
        emb_drop_(cfg.dropout, 0xE3B0) {
    if (cfg.resolved_item_dim() != cfg.dim)
      input_proj_ = linear_type(cfg.resolved_item_dim(), cfg.dim, false, weight_init());
    if (Arch::learned_positions) positions_ = nn::embedding<BE>(cfg.max_len, cfg.dim, Arch::embedding_init(cfg));
    head::emplace_named(head_, cfg, weight_init());
    items_.set_frozen(cfg.freeze_items);
    for (std::size_t j = 0; j < cfg.aux_layers.size(); ++j) aux_norms_.emplace_back(cfg.dim, cfg.resolved_norm_eps());
  }
  void find_item_entries() {
    items_entry_ = params_.find("item_embedding.weight");   // null for a quantized table (not in the store)
    classifier_entry_ = params_.find("classifier.weight");  // null without the classifier head
  }

 public:
  template <class V>
  void visit(V&& v, const std::string& prefix) {
    items_.visit(v, prefix + "item_embedding");
    if (has(input_proj_)) input_proj_.visit(v, prefix + "input_proj");
    if (Arch::learned_positions) positions_.visit(v, prefix + "position_embedding");
    stack_.visit(v, prefix + "model.layers");
    final_norm_.visit(v, prefix + "model.norm");
    std::visit([&](auto& h) { h.visit(v, prefix); }, head_);
    for (std::size_t j = 0; j < aux_norms_.size(); ++j)
      aux_norms_[j].visit(v, fmt::format("{}aux_heads.{}.norm", prefix, j));
  }

  // Fresh random weights (the padding rows of the tables stay zero). A
  // quantized model's packed weights come from model::quantize or a checkpoint.
  void initialize(std::uint64_t seed) {
    rng gen(seed);
    params_.initialize(gen);
    if constexpr (trainable) BE::fill(items_.weight.value, items_.dim(), T(0));
  }

  // ---- forward / backward of the sequence encoder ----------------------------------------

  // items: [rows, columns] left-padded ids. Returns the final hidden states
  // [batch * length, dim] of the trimmed batch (see input()).
  const T* encode(std::span<const std::int32_t> items, index rows, index columns, bool training, std::uint64_t seed) {
    embed(items, rows, columns, training, seed);
    const index n = in_.rows(), d = cfg_.dim;
    const T* h = stack_.forward(x_.data(), ctx_);
    nn::ensure_size(hidden_, n * d);
    final_norm_.forward(h, hidden_.data(), n);
    stack_out_ = h;
    return hidden_.data();
  }

  // Inference: the final hidden state at each row's last position only,
  // [rows, dim]; the last block computes just those rows (stack::forward_last).
  // No backward may follow. On the CPU a batch whose histories differ much in
  // length runs in buckets of similar length (see length_buckets.hpp); the
  // GPU, where padding costs little and launches much, takes it whole.
  const T* encode_last(std::span<const std::int32_t> items, index rows, index columns) {
    if constexpr (host_backend) {
      if (rows >= 2) {
        require_valid_batch(items, rows, columns, cfg_.max_len, cfg_.num_items);  // errors name the row as given
        buckets_.assign_by_cost(items, rows, columns, bucket_overhead_positions, max_bucket_rows);
        if (buckets_.count() > 1) return encode_last_bucketed(items, columns);  // else: one bucket, the padded batch
      }
    }
    return encode_last_padded(items, rows, columns);
  }

  // encode_last's buckets (length_buckets::assign_by_cost): a bucket costs
  // its positions plus this many for the forward pass itself, and holds at
  // most max_bucket_rows users. Measured on the Beauty student (d 64, 2
  // layers, one thread, model::server batches of 16-64 users): 32 beat 8 and
  // 96 at every batch size, by 2-14% (docs/serving.md).
  static constexpr index bucket_overhead_positions = 32, max_bucket_rows = 64;
  // Users per bucket where a batch is split over workers (serving.hpp), each
  // worker getting at least two.
  static constexpr index bucket_rows = 16;

  // Backward from d loss / d hidden [rows, dim] (as encode returned) to every parameter.
  // `extra` adds gradients at block outputs (distillation).
  void backward_encoder(const T* dhidden, std::span<const T* const> extra = {}) {
    static_assert(trainable,
                  "slmrec: a quantized recommender is inference-only; train the float model, then model::quantize it");
    const index n = in_.rows(), d = cfg_.dim;
    nn::ensure_size(dstack_, n * d);
    nn::ensure_size(dx_, n * d);
    BE::fill(dstack_.data(), n * d, T(0));
    BE::fill(dx_.data(), n * d, T(0));
    final_norm_.backward(stack_out_, dhidden, dstack_.data(), n);
    stack_.backward(dstack_.data(), dx_.data(), ctx_, extra);
    this->mask_gradients(params_);  // prune::masked: every decoder matrix's gradient is complete here
    nn::ensure_size(dx_drop_, n * d);
    BE::fill(dx_drop_.data(), n * d, T(0));
    emb_drop_.backward(dx_.data(), dx_drop_.data(), n * d, ctx_);
    T* dx = dx_drop_.data();
    if (Arch::learned_positions) {
      if (positions_.weight.grad) BE::scatter_add_rows(dx, pos_dev_.data(), positions_.weight.grad, n, d);
      BE::scale(dx, n * d, T(Arch::embedding_scale(cfg_)));
    }
    if (!items_.weight.grad && !has(input_proj_)) return;
    if (has(input_proj_)) {
      const index di = cfg_.resolved_item_dim();
      nn::ensure_size(ditem_, n * di);
      BE::fill(ditem_.data(), n * di, T(0));
      input_proj_.backward(item_rows_.data(), dx, items_.weight.grad ? ditem_.data() : nullptr, n);
      items_.backward(ids_dev_.data(), ditem_.data(), n);
    } else {
      items_.backward(ids_dev_.data(), dx, n);
    }
    touch_item_rows(in_.items);
  }

  // From now on the gradients of the item-sized tables (the item table, and
  // the classifier's weights with that head) are row-sparse: the store
  // zeroes, clips and the optimiser writes only the rows each step touched
  // (lazy AdamW with catch-up, train/adamw.hpp). For the sampled loss at
  // catalog scale; call before the optimiser is made. CPU backend only.
  void enable_sparse_item_gradients() {
    static_assert(trainable, "slmrec: a quantized recommender is inference-only");
    if constexpr (!backend::row_sparse_optim_ops<BE>) {
      fail("row-sparse item gradients do not run on the {} backend yet", BE::name);
    } else {
      for (const auto* e : {items_entry_, classifier_entry_})
        if (e != nullptr && params_.grad(*e) != nullptr) params_.enable_row_tracking(e->spec.name);
    }
  }

  // ---- scores and user vectors ---------------------------------------------------------

  // Scores of every item (column 0 = padding) for the last position of each
  // row: out [rows, num_items + 1] on the host.
  void score_last(std::span<const std::int32_t> items, index rows, index columns, std::span<float> out) {
    const index v = cfg_.num_items + 1;
    require(index(out.size()) == rows * v, "score_last: output holds {} values, expected {} x {}", out.size(), rows, v);
    // Host memory of the right type: the scores go straight into `out`.
    constexpr bool direct = host_backend && std::is_same_v<T, float>;
    if constexpr (direct) {
      score_last_into(items, rows, columns, out.data());
    } else if constexpr (std::is_same_v<T, float>) {
      BE::download(score_last_in_backend(items, rows, columns), out.data(), rows * v);
    } else {
      std::vector<T> host(static_cast<std::size_t>(rows * v));
      BE::download(score_last_in_backend(items, rows, columns), host.data(), rows * v);
      for (std::size_t i = 0; i < host.size(); ++i) out[i] = float(host[i]);
    }
  }

  // The same scores left in backend memory ([rows, num_items + 1], valid until
  // the next call, free to overwrite): on the GPU the serving path selects the
  // top-k there and downloads k ids per row instead of every score.
  T* score_last_in_backend(std::span<const std::int32_t> items, index rows, index columns) {
    nn::ensure_size(scores_, rows * (cfg_.num_items + 1));
    score_last_into(items, rows, columns, scores_.data());
    return scores_.data();
  }

  // Final hidden state of the last position of each row (a user embedding):
  // out [rows, dim] on the host.
  void last_hidden(std::span<const std::int32_t> items, index rows, index columns, std::span<float> out) {
    const index d = cfg_.dim;
    require(index(out.size()) == rows * d, "last_hidden: output holds {} values, expected {} x {}", out.size(), rows,
            d);
    const T* h = encode_last(items, rows, columns);
    if constexpr (std::is_same_v<T, float>) {
      BE::download(h, out.data(), rows * d);
    } else {
      std::vector<T> host(static_cast<std::size_t>(rows * d));
      BE::download(h, host.data(), rows * d);
      for (std::size_t i = 0; i < host.size(); ++i) out[i] = float(host[i]);
    }
  }

  // ---- access ---------------------------------------------------------------------------

  [[nodiscard]] const recommender_config& config() const { return cfg_; }
  nn::parameter_store<BE>& parameters() { return params_; }
  const nn::parameter_store<BE>& parameters() const { return params_; }
  stack_type& layers() { return stack_; }
  table_type& item_table() { return items_; }
  linear_type& input_projection() { return input_proj_; }
  head_type& scoring_head() { return head_; }
  const head_type& scoring_head() const { return head_; }
  // The rows the head scores items against ([num_items + 1, scoring_width()]:
  // the classifier's weights, else the item table) and their width.
  decltype(auto) scoring_weights() {
    return std::visit([&](auto& h) -> decltype(auto) { return h.weights(items_); }, head_);
  }
  [[nodiscard]] index scoring_width() const {
    return std::visit([&](const auto& h) { return h.width(cfg_); }, head_);
  }
  // The vectors scored against scoring_weights() from final states hidden
  // [rows, dim] (as last_hidden gives): hidden itself, or its projection
  // (then valid until the next call).
  const T* scoring_queries(const T* hidden, index rows) {
    return std::visit([&](auto& h) { return h.queries(hidden, rows); }, head_);
  }
  // The trimmed batch of the last forward (after a bucketed encode_last: its last bucket).
  [[nodiscard]] const sequence_input& input() const { return in_; }
  [[nodiscard]] const nn::context& context() const { return ctx_; }
  [[nodiscard]] index depth() const { return stack_.depth(); }

 private:
  static constexpr bool host_backend = BE::is_host;

  // encode_last on one padded batch.
  const T* encode_last_padded(std::span<const std::int32_t> items, index rows, index columns) {
    embed(items, rows, columns, false, 0);
    const index b = in_.batch, L = in_.length, d = cfg_.dim;
    last_rows_.resize(std::size_t(b));
    last_positions_.resize(std::size_t(b));
    for (index r = 0; r < b; ++r) {
      last_rows_[std::size_t(r)] = std::int32_t(r * L + L - 1);
      last_positions_[std::size_t(r)] = in_.positions[std::size_t(r * L + L - 1)];
    }
    upload_ints(last_rows_, last_rows_dev_);
    upload_ints(last_positions_, last_pos_dev_);
    ctx_.last_rows = last_rows_dev_.data();
    ctx_.last_positions = last_pos_dev_.data();
    const T* h = stack_.forward_last(x_.data(), ctx_);
    nn::ensure_size(last_hidden_, b * d);
    final_norm_.forward(h, last_hidden_.data(), b);
    stack_out_ = nullptr;
    return last_hidden_.data();
  }

  // encode_last bucket by bucket (buckets_ assigned): each bucket's states
  // land in its users' rows of bucket_hidden_.
  const T* encode_last_bucketed(std::span<const std::int32_t> items, index columns) {
    const index d = cfg_.dim;
    nn::ensure_size(bucket_hidden_, index(buckets_.order.size()) * d);
    for (index b = 0; b < buckets_.count(); ++b) {
      const index first = buckets_.starts[std::size_t(b)], n = buckets_.starts[std::size_t(b + 1)] - first;
      const T* h = encode_last_padded(buckets_.bucket_items(items, columns, b), n, buckets_.lengths[std::size_t(b)]);
      for (index i = 0; i < n; ++i)
        BE::copy(h + i * d, bucket_hidden_.data() + index(buckets_.order[std::size_t(first + i)]) * d, d);
    }
    return bucket_hidden_.data();
  }

  // Scores of the last position of each row into dst [rows, num_items + 1] (backend memory).
  void score_last_into(std::span<const std::int32_t> items, index rows, index columns, T* dst) {
    const T* h = encode_last(items, rows, columns);
    std::visit([&](auto& head) { head.score(h, rows, dst, items_); }, head_);
  }

  // Item ids -> the stack's input x_ [rows, dim]: item rows (through the
  // input projection), SASRec's scaled sum with learned positions, dropout.
  void embed(std::span<const std::int32_t> items, index rows, index columns, bool training, std::uint64_t seed) {
    in_.assign(items, rows, columns, cfg_.max_len, cfg_.num_items);
    const index n = in_.rows(), d = cfg_.dim, di = cfg_.resolved_item_dim();
    upload_ints(in_.items, ids_dev_);
    upload_ints(in_.mask, mask_dev_);
    upload_ints(in_.positions, pos_dev_);
    ctx_ = {in_.batch, in_.length, pos_dev_.data(), mask_dev_.data(), training, seed};
    nn::ensure_size(item_rows_, n * di);
    nn::ensure_size(x_, n * d);
    items_.forward(ids_dev_.data(), item_rows_.data(), n);
    if (has(input_proj_)) {
      input_proj_.forward(item_rows_.data(), x_.data(), n);
    } else {
      BE::copy(item_rows_.data(), x_.data(), n * d);
    }
    if (Arch::learned_positions) {
      BE::scale(x_.data(), n * d, T(Arch::embedding_scale(cfg_)));
      nn::ensure_size(pos_rows_, n * d);
      BE::gather_rows(positions_.weight.value, pos_dev_.data(), pos_rows_.data(), n, d);
      BE::axpy(T(1), pos_rows_.data(), x_.data(), n * d);
    }
    emb_drop_.forward(x_.data(), x_.data(), n * d, ctx_);
  }

  static const recommender_config& checked(const recommender_config& cfg) {
    cfg.validate();
    require(cfg.arch == Arch::name, "model config says arch '{}', but this model type is '{}'", cfg.arch, Arch::name);
    require(Depth::is_dynamic || cfg.layers == Depth::value, "model config says {} layers, this model type has {}",
            cfg.layers, Depth::value);
    return cfg;
  }
  static stack_type make_stack(const recommender_config& cfg) {
    if constexpr (Depth::is_dynamic) {
      return stack_type(Arch::template block_config<BE>(cfg), cfg.layers);
    } else {
      return stack_type(Arch::template block_config<BE>(cfg));
    }
  }
  [[nodiscard]] nn::param_spec weight_init() const { return Arch::weight_init(cfg_); }
  static bool has(const linear_type& l) { return l.out_features() > 0; }

  template <class Buffer>
  static void upload_ints(std::span<const std::int32_t> host, Buffer& dev) {
    nn::ensure_size(dev, index(host.size()));
    BE::upload(host.data(), dev.data(), index(host.size()));
  }
  // Host floats into backend memory of T, through a reused staging copy only when T is not float.
  template <class Buffer>
  void upload_floats(std::span<const float> host, Buffer& dev) {
    nn::ensure_size(dev, index(host.size()));
    if constexpr (std::is_same_v<T, float>) {
      BE::upload(host.data(), dev.data(), index(host.size()));
    } else {
      staging_.assign(host.begin(), host.end());
      BE::upload(staging_.data(), dev.data(), index(host.size()));
    }
  }

  // The head around a loss over item rows: loss(q, table, dq, dtable, dim)
  // scores the queries q [m, dim] against a [num_items + 1, dim] table and
  // returns its summed loss (model/head.hpp: which table, which queries).
  template <class Loss>
  double head_loss(const T* h, T* dh, index m, Loss&& loss) {
    return std::visit([&](auto& head) { return head.loss(h, dh, m, items_, cfg_.dim, loss); }, head_);
  }

  // The row-tracking bookkeeping of the item-sized tables' gradients (no-ops
  // unless enabled): every path that adds into one of them reports its rows.
  void touch_item_rows(std::span<const std::int32_t> rows) { touch_table_rows(items_.weight.grad, rows); }
  void touch_table_rows(const T* dtable, std::span<const std::int32_t> rows) {
    if (const auto* e = table_entry(dtable)) params_.touch_rows(*e, rows);
  }
  void touch_all_table_rows(const T* dtable) {
    if (const auto* e = table_entry(dtable)) params_.touch_all_rows(*e);
  }
  const typename nn::parameter_store<BE>::entry* table_entry(const T* dtable) {
    if (dtable == nullptr) return nullptr;
    for (const auto* e : {items_entry_, classifier_entry_})
      if (e != nullptr && params_.grad(*e) == dtable) return e;
    return nullptr;
  }

  recommender_config cfg_;
  table_type items_;
  linear_type input_proj_;
  nn::embedding<BE> positions_;
  stack_type stack_;
  typename Arch::template final_norm<BE> final_norm_;
  head_type head_;
  nn::dropout<BE> emb_drop_;
  std::vector<typename Arch::template final_norm<BE>> aux_norms_;
  nn::parameter_store<BE> params_;
  const typename nn::parameter_store<BE>::entry *items_entry_ = nullptr, *classifier_entry_ = nullptr;
  std::vector<T> staging_;  // upload_floats when T is not float

  sequence_input in_;
  nn::context ctx_{};
  const T* stack_out_ = nullptr;
  std::vector<std::int32_t> last_rows_, last_positions_;
  typename BE::template buffer<std::int32_t> ids_dev_, mask_dev_, pos_dev_;
  typename BE::template buffer<std::int32_t> last_rows_dev_, last_pos_dev_;
  typename BE::template buffer<T> item_rows_, x_, pos_rows_, hidden_;  // forward
  typename BE::template buffer<T> dstack_, dx_, dx_drop_, ditem_;      // backward
  typename BE::template buffer<T> scores_, last_hidden_, bucket_hidden_;
  length_buckets buckets_;  // encode_last on the CPU
};

}  // namespace slmrec::model
