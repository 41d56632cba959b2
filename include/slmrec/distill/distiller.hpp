#pragma once
// distiller<Teacher, Student>: an objective for the generic trainer.
// One step = the student's forward, the alignment losses at the block
// boundaries against the frozen teacher, the extra heads' cross-entropy
// (multi-supervision) and the student's own cross-entropy, then one backward:
//   L = L_ce + λ_cos (1 − mean cos) + λ_norm mean D + λ_ms mean L_ms
// The teacher runs without dropout and never learns, so its boundary states
// for a user's training sequence never change: they are computed the first
// time the user is seen and read from a cache ever after.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/data/batch.hpp>
#include <slmrec/distill/block_map.hpp>
#include <slmrec/distill/losses.hpp>
#include <slmrec/dist/loss_units.hpp>
#include <slmrec/model/item_scorer.hpp>
#include <slmrec/nn/context.hpp>
#include <slmrec/prune/mask.hpp>

namespace slmrec::distill {

struct distill_weights {
  double cos = 1.0;
  double norm = 0.1;
  double ms = 1.0;
  norm_kind norm_type = norm_kind::mse;
  bool all_positions = false;  // align every real position, not only the last
};

inline nlohmann::json to_json(const distill_weights& w) {
  return {{"lambda_cos", w.cos}, {"lambda_norm", w.norm}, {"lambda_ms", w.ms}, {"norm", norm_kind_name(w.norm_type)},
          {"align", w.all_positions ? "all" : "last"}};
}

// The terms of the last step, for logs and tests.
struct distill_terms {
  double ce = 0, cosine = 0, norm = 0, ms = 0, total = 0;
};

template <class Teacher, class Student>
class distiller {
 public:
  using BE = typename Student::backend_type;
  using T = typename BE::scalar;
  static_assert(std::is_same_v<BE, typename Teacher::backend_type>, "teacher and student must share a backend");

  // `train_sequences` sizes the teacher cache (one slot per user).
  distiller(Teacher& teacher, Student& student, block_map map, distill_weights w,
            const data::sequence_table& train_sequences)
      : teacher_(teacher), student_(student), map_(map), w_(w) {
    require(map.teacher_layers == teacher.depth() && map.student_layers == student.depth(),
            "block map {}->{} does not fit a {}-layer teacher and a {}-layer student", map.teacher_layers,
            map.student_layers, teacher.depth(), student.depth());
    require(teacher.config().dim == student.config().dim,
            "hidden states cannot be aligned: teacher width {} != student width {}", teacher.config().dim,
            student.config().dim);
    require(teacher.config().num_items == student.config().num_items && teacher.config().max_len == student.config().max_len,
            "teacher and student must read the same items and sequence length");
    require(w.ms == 0.0 || !student.config().aux_layers.empty() || map.blocks == 1,
            "multi-supervision (lambda_ms > 0) needs the student's extra heads (config aux_layers)");
    const index d = student.config().dim, max_len = student.config().max_len;
    offset_.assign(train_sequences.size() + 1, 0);
    for (std::size_t u = 0; u < train_sequences.size(); ++u) {
      const index len = std::min<index>(index(train_sequences[u].size()) - 1, max_len);
      offset_[u + 1] = offset_[u] + (len < 1 ? 0 : (w.all_positions ? len : 1));
    }
    cached_.assign(train_sequences.size(), 0);
    cache_.resize(std::size_t(offset_.back() * map.blocks * d));
  }

  // Rows of teacher states the cache holds room for (per block): one per
  // user of train_sequences, or one per aligned position. With sharded data
  // (data/shard.hpp) the other ranks' users are empty: each rank caches its own.
  [[nodiscard]] index cache_rows() const { return offset_.back(); }

  // `global` (data parallelism): the global batch's counts; each term's sum
  // is divided by them instead of this batch's own, and the terms returned
  // are this share's part of the global means (they add up over the ranks).
  double train_step(const data::batch& b, std::uint64_t seed, const dist::loss_units& global = {}) {
    const index d = student_.config().dim, blocks = map_.blocks;
    student_.encode(b.items, b.size, b.length, true, seed);
    const auto& in = student_.input();
    targets_.resize(std::size_t(in.rows()));
    for (index r = 0; r < in.batch; ++r)
      for (index t = 0; t < in.length; ++t)
        targets_[std::size_t(r * in.length + t)] = b.target(r, in.first_column + t);

    // The aligned rows of this batch, and the cache rows they read.
    align_rows_.clear();
    cache_rows_.clear();
    bool missing = false;
    for (index r = 0; r < in.batch; ++r) {
      const auto u = std::size_t(b.users[std::size_t(r)]);
      require(u + 1 < offset_.size(), "distiller: user {} is outside the training data it was built for", u);
      const index first = index(align_rows_.size());
      for (index t = 0; t < in.length; ++t) {
        const index cell = r * in.length + t;
        const bool last = t == in.length - 1;
        if (in.mask[std::size_t(cell)] == 0 || (!w_.all_positions && !last)) continue;
        align_rows_.push_back(std::int32_t(cell));
      }
      require(index(align_rows_.size()) - first == offset_[u + 1] - offset_[u],
              "distiller: user {} has {} aligned positions in this batch, {} when the cache was sized", u,
              index(align_rows_.size()) - first, offset_[u + 1] - offset_[u]);
      for (index k = offset_[u]; k < offset_[u + 1]; ++k) cache_rows_.push_back(std::int32_t(k));
      missing = missing || !cached_[u];
    }
    const index n = index(align_rows_.size());
    const double aligned = global.aligned > 0 ? global.aligned : double(n), share = double(n) / aligned;
    nn::ensure_size(rows_dev_, n);
    nn::ensure_size(cache_rows_dev_, n);
    BE::upload(align_rows_.data(), rows_dev_.data(), n);
    BE::upload(cache_rows_.data(), cache_rows_dev_.data(), n);
    if (missing) fill_cache(b, n);

    // Alignment at every block boundary; gradients into the student's layer outputs.
    const index rows = in.rows();
    extra_.resize(std::size_t(student_.depth()));
    extra_ptr_.assign(std::size_t(student_.depth()), nullptr);
    nn::ensure_size(t_rows_, n * d);
    nn::ensure_size(s_rows_, n * d);
    nn::ensure_size(ds_rows_, n * d);
    distill_terms terms;
    auto layer_grad = [&](index layer) {
      auto& buf = extra_[std::size_t(layer)];
      if (extra_ptr_[std::size_t(layer)] == nullptr) {
        nn::ensure_size(buf, rows * d);
        BE::fill(buf.data(), rows * d, T(0));
        extra_ptr_[std::size_t(layer)] = buf.data();
      }
      return buf.data();
    };
    for (index k = 1; k <= blocks; ++k) {
      const index layer = map_.student_layer(k);
      BE::gather_rows(cache_.data() + (k - 1) * offset_.back() * d, cache_rows_dev_.data(), t_rows_.data(), n, d);
      BE::gather_rows(student_.layers().output(layer), rows_dev_.data(), s_rows_.data(), n, d);
      BE::fill(ds_rows_.data(), n * d, T(0));
      const auto a = align_.forward_backward(t_rows_.data(), s_rows_.data(), ds_rows_.data(), n, d, w_.cos, w_.norm,
                                             w_.norm_type, 1.0 / (aligned * double(blocks)));
      terms.cosine += a.cosine * share / double(blocks);
      terms.norm += a.norm * share / double(blocks);
      BE::scatter_add_rows(ds_rows_.data(), rows_dev_.data(), layer_grad(layer), n, d);
    }
    // Multi-supervision: the student's extra heads on its intermediate boundaries.
    const auto& aux = student_.config().aux_layers;
    if (w_.ms > 0.0)
      for (std::size_t j = 0; j < aux.size(); ++j)
        terms.ms += student_.aux_cross_entropy(targets_, index(j), w_.ms / double(aux.size()), layer_grad(aux[j]),
                                               global.targets) /
                    double(aux.size());
    // The student's own cross-entropy runs the one backward, with all of the above as extra gradients.
    terms.ce = student_.train_cross_entropy(targets_, extra_ptr_, global.targets);
    terms.total = terms.ce + w_.cos * terms.cosine + w_.norm * terms.norm + w_.ms * terms.ms;
    last_ = terms;
    return terms.total;
  }

  // What this batch's means divide by: its target cells and aligned positions.
  [[nodiscard]] dist::loss_units loss_units(const data::batch& b) const {
    dist::loss_units u;
    u.targets = double(std::count_if(b.targets.begin(), b.targets.end(), [](std::int32_t t) { return t != 0; }));
    for (index r = 0; r < b.size; ++r) {
      const auto user = std::size_t(b.users[std::size_t(r)]);
      require(user + 1 < offset_.size(), "distiller: user {} is outside the training data it was built for", user);
      u.aligned += double(offset_[user + 1] - offset_[user]);
    }
    return u;
  }

  void score(const data::batch& b, std::span<float> scores) { student_.score_last(b.items, b.size, b.length, scores); }
  // Validation's full ranking streams the catalog through this where the student allows it.
  auto& block_scorer()
  requires model::scores_item_ranges<Student>
  {
    return model::item_scorer_of(student_, block_scorer_);
  }
  auto& parameters() { return student_.parameters(); }
  [[nodiscard]] index max_len() const { return student_.config().max_len; }
  [[nodiscard]] nlohmann::json config_json() const {
    nlohmann::json j = {{"model", student_.config()},
                        {"distill",
                         {{"teacher_layers", map_.teacher_layers}, {"blocks", map_.blocks}, {"weights", to_json(w_)}}}};
    prune::record_pruning(student_, j);
    return j;
  }
  [[nodiscard]] const distill_terms& last_terms() const { return last_; }
  [[nodiscard]] index teacher_forwards() const { return teacher_forwards_; }

 private:
  // Runs the frozen teacher on this batch and stores its boundary states for
  // the users not cached yet. The teacher sees the same trimmed batch, so its
  // rows line up with the student's.
  void fill_cache(const data::batch& b, index n) {
    const index d = student_.config().dim;
    teacher_.encode(b.items, b.size, b.length, false, 0);
    ++teacher_forwards_;
    require(teacher_.input().length == student_.input().length, "distiller: teacher and student trimmed differently");
    nn::ensure_size(t_rows_, n * d);
    for (index k = 1; k <= map_.blocks; ++k) {
      BE::gather_rows(teacher_.layers().output(map_.teacher_layer(k)), rows_dev_.data(), t_rows_.data(), n, d);
      BE::scatter_rows(t_rows_.data(), cache_rows_dev_.data(), cache_.data() + (k - 1) * offset_.back() * d, n, d);
    }
    for (index r = 0; r < b.size; ++r) cached_[std::size_t(b.users[std::size_t(r)])] = 1;
  }

  Teacher& teacher_;
  Student& student_;
  std::unique_ptr<model::item_scorer<Student>> block_scorer_;
  block_map map_;
  distill_weights w_;
  alignment_loss<BE> align_;
  std::vector<index> offset_;          // user -> first cache row (one past the last user: the total)
  std::vector<std::uint8_t> cached_;   // user -> states stored
  typename BE::template buffer<T> cache_;  // [blocks][cache rows][d]
  std::vector<std::int32_t> targets_, align_rows_, cache_rows_;
  typename BE::template buffer<std::int32_t> rows_dev_, cache_rows_dev_;
  typename BE::template buffer<T> t_rows_, s_rows_, ds_rows_;
  std::vector<typename BE::template buffer<T>> extra_;
  std::vector<const T*> extra_ptr_;  // [student layers]: the extra gradient at each block output, or null
  distill_terms last_;
  index teacher_forwards_ = 0;
};

}  // namespace slmrec::distill
