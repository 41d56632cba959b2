#pragma once
// item_scorer<Model>: a recommender's scores split in two, so that the
// catalog can be streamed instead of held whole: the users' vectors (the
// final hidden state of the last position, through the output projection of
// a projected head) computed once per batch, then the scores of any range of
// item rows (the item table of a tied or projected head, the classifier's
// rows) on demand. A score does not depend on the range it is computed in
// (backend/cpu/dot_rows.hpp, quant/int8_range.hpp), so a block-by-block scan
// sees what one pass over the catalog would.
//
// It applies to float models on the CPU and to int8 ones (scores_item_ranges);
// other formats (int4, bf16, fp16), doubles and the GPU score whole rows.
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include <slmrec/backend/cpu/dot_rows.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/data/batch.hpp>
#include <slmrec/quant/int8_range.hpp>
#include <slmrec/quant/scheme.hpp>

namespace slmrec::model {

// Whether item_scorer<Model> exists: float models on the CPU, int8 models.
template <class Model>
inline constexpr bool scores_item_ranges =
    Model::backend_type::is_host&& std::is_same_v<typename Model::backend_type::scalar, float> &&
    (std::is_same_v<typename Model::quant_scheme, quant::none> ||
     std::is_same_v<typename Model::quant_scheme, quant::int8_per_channel>);

template <class Model>
class item_scorer {
 public:
  static constexpr bool int8_table = std::is_same_v<typename Model::quant_scheme, quant::int8_per_channel>;

  explicit item_scorer(Model& m) : model_(m) {
    // Here, not on the class: an owner of a unique_ptr<item_scorer> for any model must still compile.
    static_assert(scores_item_ranges<Model>, "item_scorer: float models on the CPU and int8 models only");
    width_ = m.scoring_width();
  }

  // The users' vectors of a left-padded batch [rows, columns] (validated as
  // the model's forward validates it).
  void set_users(std::span<const std::int32_t> items, index rows, index columns) {
    hidden_.resize(std::size_t(rows * model_.config().dim));
    model_.last_hidden(items, rows, columns, hidden_);
    const float* q = model_.scoring_queries(hidden_.data(), rows);
    if (q == hidden_.data()) {
      users_.swap(hidden_);
    } else {
      users_.assign(q, q + rows * width_);
    }
    set_user_vectors(users_.data(), rows, false);
  }
  void set_users(const data::batch& in) { set_users(in.items, in.size, in.length); }

  // Users' vectors computed elsewhere (replicas of the model): q [rows, width()].
  void set_user_vectors(const float* q, index rows, bool copy = true) {
    if (copy) users_.assign(q, q + rows * width_);
    rows_ = rows;
    if constexpr (int8_table) {
      quant::quantize_input(users_.data(), rows, matrix(), codes_);
      quant::detail::fill_biased(codes_);  // now, not inside the threads that score
    }
  }

  // out[u * ldo + j] = score of item first + j for user u, j < count; safe
  // to call from several threads at once, each with its own scratch.
  void score(index first, index count, float* out, index ldo, std::vector<float>& scratch) {
    if constexpr (int8_table) {
      quant::gemm_nt_range(codes_, matrix(), first, count, out, ldo, scratch);
    } else {
      (void)scratch;
      backend::cpu::dot_rows(users_.data(), rows_, matrix() + first * width_, count, width_, out, ldo);
    }
  }
  // The eval block-scorer form: out [users, count].
  void score(index first, index count, std::span<float> out) {
    require(first >= 0 && count >= 0 && first + count <= items(), "item_scorer::score: items [{}, {}) outside [0, {})",
            first, first + count, items());
    require(index(out.size()) == rows_ * count, "item_scorer::score: output holds {} values, expected {} x {}",
            out.size(), rows_, count);
    score(first, count, out.data(), count, scratch_);
  }

  // The plain twin: the same scores from the scalar kernels.
  void score_ref(index first, index count, float* out, index ldo) {
    if constexpr (int8_table) {
      quant::gemm_nt_range_ref(codes_, matrix(), first, count, out, ldo);
    } else {
      backend::cpu::dot_rows_ref(users_.data(), rows_, matrix() + first * width_, count, width_, out, ldo);
    }
  }

  [[nodiscard]] std::span<const float> user_vectors() const { return {users_.data(), std::size_t(rows_ * width_)}; }
  [[nodiscard]] index users() const { return rows_; }
  [[nodiscard]] index items() const { return model_.config().num_items + 1; }  // rows, padding included
  [[nodiscard]] index width() const { return width_; }
  // Bytes of the item rows one pass reads.
  [[nodiscard]] index row_bytes() const { return int8_table ? width_ : width_ * index(sizeof(float)); }

 private:
  decltype(auto) matrix() {
    if constexpr (int8_table) {
      return model_.scoring_weights();
    } else {
      const float* w = model_.scoring_weights().value;
      return w;
    }
  }

  Model& model_;
  index width_ = 0, rows_ = 0;
  std::vector<float> hidden_, users_, scratch_;
  quant::int8_rows codes_;
};

// The scorer held in `slot`, made on first use (objectives keep one for validation).
template <class Model>
item_scorer<Model>& item_scorer_of(Model& m, std::unique_ptr<item_scorer<Model>>& slot) {
  if (!slot) slot = std::make_unique<item_scorer<Model>>(m);
  return *slot;
}

}  // namespace slmrec::model
