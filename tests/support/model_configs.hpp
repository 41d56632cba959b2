#pragma once
// Small model configurations the tests share (one place, so they do not drift).
#include <string>

#include <slmrec/model/recommender_config.hpp>

namespace slmrec::test {

// A one-layer llama of width 32 with the given head (an item table narrower
// than the model, item_dim > 0, goes with the projected head).
inline model::recommender_config small_llama(const std::string& head, index num_items, index max_len,
                                             index item_dim = 0) {
  model::recommender_config c;
  c.arch = "llama";
  c.num_items = num_items;
  c.dim = 32;
  c.item_dim = item_dim;
  c.heads = 2;
  c.layers = 1;
  c.max_len = max_len;
  c.head = head;
  return c;
}

}  // namespace slmrec::test
