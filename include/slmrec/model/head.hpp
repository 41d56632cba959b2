#pragma once
// The head of a recommender: how the final hidden states h [rows, dim] score
// every item (row 0 of every table is the padding item). Three policies, each
// owning its weights, its scoring and the frame its losses run in:
//   head::tied        scores = h E^T, E the item table (SASRec's);
//   head::projected   scores = (h P^T) E^T, P [item_dim, dim]: an item table
//                     narrower than the model (E4SRec's table from a
//                     trained SASRec) read through a learned projection;
//   head::classifier  scores = h W^T with its own W [num_items + 1, dim].
// A checkpoint records which (config "head"), so the choice is made when a
// model is built, once (head::emplace_named), not at every call.
//
// Every policy has the same members:
//   visit(v, prefix)        its parameters, under the checkpoint's names;
//   weights(items)          the rows items are scored against (E or W),
//                           scored_tensor their name in a checkpoint;
//   width(cfg)              their width;
//   queries(h, rows)        the vectors scored against weights(): h itself or
//                           its projection (valid until the next call);
//   score(h, rows, dst, E)  dst [rows, num_items + 1] = the scores;
//   loss(h, dh, m, E, f)    runs f(q, table, dq, dtable, width), a loss over
//                           item rows that returns its sum and adds its
//                           gradients, with q and table what this head scores
//                           with, then carries dq back into dh.
#include <string>
#include <string_view>
#include <variant>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/model/recommender_config.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::model::head {

template <class BE, class Linear, class Table>
class tied {
 public:
  using T = typename BE::scalar;
  static constexpr std::string_view name = "tied";
  static constexpr std::string_view scored_tensor = "item_embedding.weight";

  tied() = default;  // the variant's first state, before emplace_named
  tied(const recommender_config&, const nn::param_spec&) {}
  template <class V>
  void visit(V&&, const std::string&) {}
  auto& weights(Table& items) { return items.weight; }
  static index width(const recommender_config& c) { return c.resolved_item_dim(); }
  const T* queries(const T* h, index) { return h; }
  void score(const T* h, index rows, T* dst, Table& items) { items.score(h, rows, dst); }
  template <class Loss>
  double loss(const T* h, T* dh, index, Table& items, index dim, Loss&& f) {
    return f(h, items.weight.value, dh, items.weight.grad, dim);
  }
};

template <class BE, class Linear, class Table>
class classifier {
 public:
  using T = typename BE::scalar;
  static constexpr std::string_view name = "classifier";
  static constexpr std::string_view scored_tensor = "classifier.weight";

  classifier(const recommender_config& c, const nn::param_spec& init) : weights_(c.dim, c.num_items + 1, false, init) {}
  template <class V>
  void visit(V&& v, const std::string& prefix) {
    weights_.visit(v, prefix + "classifier");
  }
  auto& weights(Table&) { return weights_.weight; }
  static index width(const recommender_config& c) { return c.dim; }
  const T* queries(const T* h, index) { return h; }
  void score(const T* h, index rows, T* dst, Table&) { weights_.forward(h, dst, rows); }
  template <class Loss>
  double loss(const T* h, T* dh, index, Table&, index dim, Loss&& f) {
    return f(h, weights_.weight.value, dh, weights_.weight.grad, dim);
  }
  [[nodiscard]] bool has_bias() const { return weights_.has_bias(); }

 private:
  Linear weights_;
};

template <class BE, class Linear, class Table>
class projected {
 public:
  using T = typename BE::scalar;
  static constexpr std::string_view name = "projected";
  static constexpr std::string_view scored_tensor = "item_embedding.weight";

  projected(const recommender_config& c, const nn::param_spec& init)
      : projection_(c.dim, c.resolved_item_dim(), false, init), width_(c.resolved_item_dim()) {}
  template <class V>
  void visit(V&& v, const std::string& prefix) {
    projection_.visit(v, prefix + "output_proj");
  }
  auto& weights(Table& items) { return items.weight; }
  static index width(const recommender_config& c) { return c.resolved_item_dim(); }
  const T* queries(const T* h, index rows) {
    nn::ensure_size(q_, rows * width_);
    projection_.forward(h, q_.data(), rows);
    return q_.data();
  }
  void score(const T* h, index rows, T* dst, Table& items) { items.score(queries(h, rows), rows, dst); }
  template <class Loss>
  double loss(const T* h, T* dh, index m, Table& items, index, Loss&& f) {
    nn::ensure_size(dq_, m * width_);
    BE::fill(dq_.data(), m * width_, T(0));
    const double total = f(queries(h, m), items.weight.value, dq_.data(), items.weight.grad, width_);
    projection_.backward(h, dq_.data(), dh, m);
    return total;
  }

 private:
  Linear projection_;
  index width_;
  typename BE::template buffer<T> q_, dq_;
};

// The one place a config's head name becomes a type.
template <class BE, class Linear, class Table>
using any = std::variant<tied<BE, Linear, Table>, classifier<BE, Linear, Table>, projected<BE, Linear, Table>>;

template <class BE, class Linear, class Table>
void emplace_named(any<BE, Linear, Table>& head, const recommender_config& c, const nn::param_spec& init) {
  if (c.head == classifier<BE, Linear, Table>::name) {
    head.template emplace<classifier<BE, Linear, Table>>(c, init);
  } else if (c.head == projected<BE, Linear, Table>::name) {
    head.template emplace<projected<BE, Linear, Table>>(c, init);
  } else {
    require(c.head == tied<BE, Linear, Table>::name, "model config: head '{}' (tied, classifier or projected)", c.head);
    head.template emplace<tied<BE, Linear, Table>>(c, init);
  }
}

}  // namespace slmrec::model::head
