#pragma once
// What a server consults instead of scoring every item (serving.hpp): an
// approximate search that answers the same requests, such as an HNSW index
// with exact re-scoring of its candidates (model/indexed_search.hpp). An
// interface, so the server does not depend on any index library.
#include <cstdint>
#include <span>

#include <slmrec/core/types.hpp>

namespace slmrec::model {

class approximate_search {
 public:
  virtual ~approximate_search() = default;
  // One history, oldest first (the model reads its last max_len items, the
  // exclusion covers all of them): the k best next items, best first, and
  // (unless `scores` is empty) their scores.
  virtual void recommend(std::span<const std::int32_t> history, index k, bool exclude_history,
                         std::span<std::int32_t> out, std::span<float> scores) = 0;
  // [rows, columns] left-padded histories: each row's k best into out [rows, k]
  // (and their scores into `scores` [rows, k] unless it is empty).
  virtual void recommend(std::span<const std::int32_t> items, index rows, index columns, index k, bool exclude_history,
                         std::span<std::int32_t> out, std::span<float> scores) = 0;
};

}  // namespace slmrec::model
