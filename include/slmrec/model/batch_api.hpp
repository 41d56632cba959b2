#pragma once
// The batch-level API at the user boundary, in xtensor arrays: item-id
// batches in ([users, columns], left-padded with 0), scores, top-k item ids
// and embeddings out. xt::dump_npy / xt::load_npy carry them to NumPy.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include <xtensor/xtensor.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/data/batch.hpp>
#include <slmrec/data/sequence_table.hpp>
#include <slmrec/model/serving.hpp>

namespace slmrec::model {

// Scores of every item (column 0 = padding, -inf) for the next item of each row.
template <class Model>
xt::xtensor<float, 2> score(Model& m, const xt::xtensor<std::int32_t, 2>& items) {
  const index rows = index(items.shape(0)), columns = index(items.shape(1)), v = m.config().num_items + 1;
  xt::xtensor<float, 2> out = xt::zeros<float>({std::size_t(rows), std::size_t(v)});
  m.score_last(std::span(items.data(), items.size()), rows, columns, std::span(out.data(), out.size()));
  for (index r = 0; r < rows; ++r) out(r, 0) = -std::numeric_limits<float>::infinity();
  return out;
}

// The k best items for each row, best first; with `exclude_history` the
// row's own items are never recommended. Ties go to the smaller item id.
// The serving path's answer (server.hpp), for arrays.
template <class Model>
xt::xtensor<std::int32_t, 2> recommend(Model& m, const xt::xtensor<std::int32_t, 2>& items, index k,
                                       bool exclude_history = true) {
  const index rows = index(items.shape(0)), columns = index(items.shape(1)), n = m.config().num_items;
  require(k >= 1 && k <= n, "recommend: k = {} outside 1..{}", k, n);
  xt::xtensor<std::int32_t, 2> top = xt::zeros<std::int32_t>({std::size_t(rows), std::size_t(k)});
  server<Model> serve(m);
  serve.recommend(std::span(items.data(), items.size()), rows, columns, k, exclude_history,
                  std::span(top.data(), top.size()));
  return top;
}

// The item table [num_items + 1, item_dim] (row 0 = padding).
template <class Model>
xt::xtensor<float, 2> item_embeddings(Model& m) {
  auto& table = m.item_table();
  xt::xtensor<float, 2> out = xt::zeros<float>({std::size_t(table.rows()), std::size_t(table.dim())});
  using T = typename Model::T;
  std::vector<T> host(out.size());
  Model::backend_type::download(table.weight.value, host.data(), index(host.size()));
  std::copy(host.begin(), host.end(), out.begin());
  return out;
}

// The final hidden state after each row's last item [rows, dim]: a user embedding.
template <class Model>
xt::xtensor<float, 2> user_embeddings(Model& m, const xt::xtensor<std::int32_t, 2>& items) {
  const index rows = index(items.shape(0)), columns = index(items.shape(1));
  xt::xtensor<float, 2> out = xt::zeros<float>({std::size_t(rows), std::size_t(m.config().dim)});
  m.last_hidden(std::span(items.data(), items.size()), rows, columns, std::span(out.data(), out.size()));
  return out;
}

// Left-pads rows [first, first + count) of `sequences` into a [count, max_len]
// batch (the most recent items kept).
template <data::sequence_list List>
xt::xtensor<std::int32_t, 2> pad_sequences(const List& sequences, std::size_t first, std::size_t count, index max_len) {
  const auto width = std::size_t(max_len);
  xt::xtensor<std::int32_t, 2> out = xt::zeros<std::int32_t>({count, width});
  for (std::size_t r = 0; r < count; ++r)
    data::left_pad(std::span<const std::int32_t>(sequences[first + r]), std::span(out.data() + r * width, width));
  return out;
}
template <data::sequence_list List>
xt::xtensor<std::int32_t, 2> pad_sequences(const List& sequences, index max_len) {
  return pad_sequences(sequences, 0, sequences.size(), max_len);
}

// Each history's k best next items (best first) into out [n, k] and, unless
// `scores` is empty, their scores into scores [n, k]: `batch` users at a time
// through the server, left-padded to max_len (the most recent items read).
// With `exclude_history` a history longer than max_len goes through the
// one-user path, which excludes all of it, not only what the model read.
template <class Model, data::sequence_list List>
void recommend_histories(server<Model>& serve, const List& histories, index max_len, index k, bool exclude_history,
                         std::span<std::int32_t> out, std::span<float> scores = {}, index batch = 256) {
  const auto users = index(histories.size());
  require(index(out.size()) == users * k, "recommend: output holds {} ids, expected {} x {}", out.size(), users, k);
  require(scores.empty() || index(scores.size()) == users * k,
          "recommend: score output holds {} values, expected {} x {}", scores.size(), users, k);
  require(batch >= 1, "recommend: batches of {} users, expected at least 1", batch);
  const auto rows_of = [&](auto all, index first, index n) {
    return all.empty() ? all : all.subspan(std::size_t(first * k), std::size_t(n * k));
  };
  for (index u0 = 0; u0 < users; u0 += batch) {
    const index n = std::min(batch, users - u0);
    const auto padded = pad_sequences(histories, std::size_t(u0), std::size_t(n), max_len);
    serve.recommend(std::span(padded.data(), padded.size()), n, max_len, k, exclude_history, rows_of(out, u0, n),
                    rows_of(scores, u0, n));
    if (!exclude_history) continue;
    for (index r = 0; r < n; ++r)
      if (const std::span<const std::int32_t> h(histories[std::size_t(u0 + r)]); index(h.size()) > max_len)
        serve.recommend(h, k, true, rows_of(out, u0 + r, 1), rows_of(scores, u0 + r, 1));
  }
}

}  // namespace slmrec::model
